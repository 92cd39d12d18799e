"""Headers and dats kept between reads: parsed once per change, never served stale."""

from __future__ import annotations

from board.events import EventType, new_event
from board.lib.kept import Kept
from board.readmodel import boardcache, projection
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.twoch import datfile
from tests.test_twoch_dat_store import BOARD, THREAD, apply_all, dat_bytes, fresh_store, post_event

SLOT = o.thread_key(BOARD, THREAD)


def thread_value(store) -> bytes:
    value = store.get(o.THREAD, SLOT)
    assert value is not None
    return value


def test_an_unchanged_header_is_parsed_once() -> None:
    store = apply_all(fresh_store(), [post_event(1), post_event(2)])
    first, _ = e.read_header(o.THREAD, SLOT, thread_value(store))
    again, _ = e.read_header(o.THREAD, SLOT, bytes(bytearray(thread_value(store))))
    assert again is first


def test_a_changed_header_is_read_anew() -> None:
    store = apply_all(fresh_store(), [post_event(1)])
    before, _ = e.read_header(o.THREAD, SLOT, thread_value(store))
    apply_all(store, [post_event(2)])
    after, start = e.read_header(o.THREAD, SLOT, thread_value(store))
    assert (before["thread"]["count"], after["thread"]["count"]) == (1, 2)
    assert (after, start) == e.split_at(thread_value(store))


def test_kept_headers_stay_within_their_bound(monkeypatch) -> None:
    kept = Kept(2000, lambda item: len(item[0]))
    monkeypatch.setattr(e, "_headers", kept)
    store = apply_all(fresh_store(), [post_event(1)])
    value = thread_value(store)
    for n in range(20):
        e.read_header(o.THREAD, f"{SLOT}-{n}", value)
    assert kept.used == sum(len(raw) for raw, _ in kept.items.values()) <= 2000
    assert f"{SLOT}-19" in {key for _, key in kept.items}


def test_kept_dats_stay_within_their_bound(monkeypatch) -> None:
    kept = Kept(3000, datfile._dat_size)
    monkeypatch.setattr(datfile, "_dats", kept)
    store = fresh_store()
    for n in range(12):
        first = {"name": "名無しさん", "mail": "", "body": "本文", "id": "AbCdEfGh", "subject": f"スレ{n}"}
        store = apply_all(store, [new_event(EventType.THREAD_CREATED, BOARD, f"17000000{n:02d}", 1, first)])
        datfile.open_dat(store, BOARD, f"17000000{n:02d}")
    assert kept.used == sum(datfile._dat_size(item) for item in kept.items.values()) <= 3000
    assert o.thread_key(BOARD, "1700000011") in kept.items


def test_a_polled_dat_grows_with_its_thread() -> None:
    store = apply_all(fresh_store(), [post_event(1)])
    before = datfile.open_dat(store, BOARD, THREAD)
    apply_all(store, [post_event(2)])
    after = datfile.open_dat(store, BOARD, THREAD)
    assert (before.lines, after.lines) == (1, 2)
    assert before.etag != after.etag
    assert datfile.open_dat(store, BOARD, THREAD) is after  # kept while the thread is unchanged


def test_a_kept_dat_follows_a_change_of_res_max() -> None:
    store = apply_all(fresh_store(), [post_event(1), post_event(2)])
    assert not datfile.open_dat(store, BOARD, THREAD).tail
    changed = new_event(EventType.BOARD_SETTINGS_CHANGED, BOARD, payload={"res_max": 2})
    projection.apply(store, changed)
    boardcache.forget()
    full = datfile.open_dat(store, BOARD, THREAD)
    assert full.tail and full.lines == 3
    assert dat_bytes(store).endswith(full.tail)


def test_a_poll_for_the_stop_line_of_a_full_thread_reads_no_page() -> None:
    store = apply_all(fresh_store(), [post_event(1), post_event(2)])
    projection.apply(store, new_event(EventType.BOARD_SETTINGS_CHANGED, BOARD, payload={"res_max": 2}))
    boardcache.forget()
    full = datfile.open_dat(store, BOARD, THREAD)
    fetched = []
    real = store.fetch_many
    store.fetch_many = lambda bucket, keys: fetched.append(list(keys)) or real(bucket, keys)
    got, body = datfile.read(store, full, full.size - 1)
    assert (got, body) == (full, full.tail[-1:])
    assert fetched == []

"""The SQLite store's kept reads: answered without a statement while nobody wrote them (board/store/changes.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from board.store import changes
from board.store.base import Conflict
from board.store.sqlite import SQLiteStore

B = "bucket"


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "store.sqlite3")


@pytest.fixture
def stores(path):
    made = []

    def make(**options) -> SQLiteStore:
        store = SQLiteStore(path, {key: str(value) for key, value in options.items()})
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def statements(store: SQLiteStore) -> list[str]:
    """The statements the store's connection runs from now on."""
    seen: list[str] = []
    store._db().set_trace_callback(seen.append)
    return seen


def test_a_read_is_answered_from_memory_while_nobody_writes_the_key(stores):
    writer, reader = stores(), stores()
    writer.store(B, "k", b"v1")
    assert reader.fetch(B, "k").values == (b"v1",)
    seen = statements(reader)
    assert reader.fetch(B, "k").values == (b"v1",)
    assert seen == []


def test_a_write_by_another_process_is_read_at_once(stores, path):
    reader = stores()
    reader.store(B, "k", b"v1")
    assert reader.fetch(B, "k").values == (b"v1",)
    write = (
        f"from board.store.sqlite import SQLiteStore; s = SQLiteStore({path!r}); "
        f"s.store('{B}', 'k', b'v2', s.fetch('{B}', 'k').context)"
    )
    subprocess.run([sys.executable, "-c", write], check=True)
    assert reader.fetch(B, "k").values == (b"v2",)


def test_a_key_read_as_absent_is_found_once_another_instance_creates_it(stores):
    writer, reader = stores(), stores()
    assert reader.fetch(B, "k") is None
    writer.store(B, "k", b"v")
    assert reader.fetch(B, "k").values == (b"v",)


def test_a_delete_is_read_at_once(stores):
    writer, reader = stores(), stores()
    writer.store(B, "k", b"v")
    assert reader.fetch(B, "k") is not None
    writer.delete(B, "k")
    assert reader.fetch(B, "k") is None


def test_a_batchs_writes_are_read_by_others_once_it_commits(stores):
    writer, reader = stores(), stores()
    writer.store(B, "k", b"v1")
    assert reader.fetch(B, "k").values == (b"v1",)
    with writer.batch():
        writer.store(B, "k", b"v2", writer.fetch(B, "k").context)
        assert reader.fetch(B, "k").values == (b"v1",)  # not committed yet
    assert reader.fetch(B, "k").values == (b"v2",)


def test_a_batch_reads_its_own_writes_not_what_was_kept_before_it(stores):
    store = stores()
    store.store(B, "k", b"v1")
    assert store.fetch(B, "k").values == (b"v1",)
    with store.batch():
        store.store(B, "k", b"v2", store.fetch(B, "k").context)
        assert store.fetch(B, "k").values == (b"v2",)
        assert store.fetch_many(B, ["k", "other"])["k"].values == (b"v2",)


def test_a_write_that_gave_no_token_is_read_after_max_age(stores, monkeypatch):
    reader = stores()
    reader.store(B, "k", b"v1")
    assert reader.fetch(B, "k").values == (b"v1",)
    write_behind_the_stores_back(reader, b"v2")
    assert reader.fetch(B, "k").values == (b"v1",)
    now = changes.time.monotonic()
    monkeypatch.setattr(changes.time, "monotonic", lambda: now + changes.MAX_AGE + 0.1)
    assert reader.fetch(B, "k").values == (b"v2",)


def test_fetch_many_reads_only_the_keys_not_kept(stores):
    writer, reader = stores(), stores()
    writer.store(B, "a", b"1")
    writer.store(B, "b", b"2")
    assert set(reader.fetch_many(B, ["a", "b"])) == {"a", "b"}
    writer.store(B, "c", b"3")
    seen = statements(reader)
    found = reader.fetch_many(B, ["a", "b", "c", "d"])
    assert {key: f.values for key, f in found.items()} == {"a": (b"1",), "b": (b"2",), "c": (b"3",)}
    assert len(seen) == 1
    assert "'c'" in seen[0] and "'a'" not in seen[0]


def test_kept_reads_are_bounded_in_bytes(stores):
    store = stores(read_cache=200_000)
    for n in range(100):
        store.store(B, f"k{n}", bytes(5000))
        store.fetch(B, f"k{n}")
    kept = store._kept_reads()
    assert 0 < kept.used <= 200_000
    assert len(kept.items) < 100


def test_kept_absences_count_their_keys_bytes(stores):
    store = stores(read_cache=200_000)
    for n in range(300):
        assert store.fetch(B, f"{n:04d}" + "x" * 2000) is None  # a key a request chose
    kept = store._kept_reads()
    assert sum(len(key) for _, _, key in kept.items) <= 200_000


def test_read_cache_zero_reads_every_time(stores):
    store = stores(read_cache=0)
    store.store(B, "k", b"v")
    store.fetch(B, "k")
    seen = statements(store)
    store.fetch(B, "k")
    assert len(seen) == 1


def test_a_key_shares_its_slot_in_every_process(path):
    here = changes.slot_of(B, "some-thread-key")
    there = subprocess.run(
        [sys.executable, "-c", f"from board.store.changes import slot_of; print(slot_of('{B}', 'some-thread-key'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert int(there) == here


def write_behind_the_stores_back(store: SQLiteStore, value: bytes) -> None:
    """Change every value in the file as a program without change tokens would."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute(f"UPDATE {store._table_name(store.generation())} SET value = ?, version = version + 1", (value,))
    conn.close()


def test_an_update_reads_what_is_stored_not_what_was_kept(stores):
    store = stores()
    store.store(B, "k", b"v1")
    assert store.fetch(B, "k").values == (b"v1",)
    write_behind_the_stores_back(store, b"v2")
    seen = []
    store.update(B, "k", lambda current: seen.append(current), lambda values: values[0])
    assert seen == [b"v2"]


def test_reads_to_write_many_read_what_is_stored_not_what_was_kept(stores):
    store = stores()
    store.store(B, "k", b"v1")
    store.store(B, "j", b"w1")
    store.fetch_many(B, ["k", "j"])
    write_behind_the_stores_back(store, b"v2")
    assert store.fetch_many(B, ["k", "j"])["k"].values == (b"v1",), "the kept read, while its token holds"
    found = store.fetch_many_to_write(B, ["k", "j"])
    assert {key: fetched.values for key, fetched in found.items()} == {"k": (b"v2",), "j": (b"v2",)}


def test_a_write_refused_as_stale_makes_the_next_read_fresh(stores):
    store = stores()
    store.store(B, "k", b"v1")
    context = store.fetch(B, "k").context
    write_behind_the_stores_back(store, b"v2")
    with pytest.raises(Conflict):
        store.store(B, "k", b"v3", context)
    assert store.fetch(B, "k").values == (b"v2",)


def test_a_database_made_again_at_the_same_path_is_not_answered_from_the_old_ones_reads(stores, path):
    old = stores()
    old.store(B, "k", b"v")
    assert old.fetch(B, "k").values == (b"v",)
    old.close()
    for suffix in ("", "-wal", "-shm"):  # the token file stays
        Path(path + suffix).unlink(missing_ok=True)
    assert stores().fetch(B, "k") is None


def test_a_write_committed_while_a_read_is_under_way_is_read_next_time(stores, monkeypatch):
    writer, reader = stores(), stores()
    writer.store(B, "k", b"v1")
    read = reader._read

    def read_then_someone_writes(bucket, key, generation):
        found = read(bucket, key, generation)
        if found.values == (b"v1",):
            writer.store(B, "k", b"v2", writer.fetch(B, "k").context)
        return found

    monkeypatch.setattr(reader, "_read", read_then_someone_writes)
    assert reader.fetch(B, "k").values == (b"v1",)
    assert reader.fetch(B, "k").values == (b"v2",)


def test_readers_never_see_a_count_go_back_and_see_the_last_one_while_processes_write(stores, path):
    counter = stores()
    counter.store(B, "n", b"0")
    writes = 150
    writer = (
        "import sys\n"
        "from board.store.sqlite import SQLiteStore\n"
        f"s = SQLiteStore({path!r})\n"
        f"for _ in range({writes}):\n"
        f"    s.update('{B}', 'n', lambda v: str(int(v) + 1).encode(), lambda vs: vs[0])\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", writer]) for _ in range(2)]
    went_back = []

    def read(store: SQLiteStore) -> None:
        seen = 0
        while any(w.poll() is None for w in writers):
            now = int(store.fetch(B, "n").values[0])
            if now < seen:
                went_back.append((seen, now))
            seen = now

    readers = [threading.Thread(target=read, args=(stores(),)) for _ in range(3)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(60)
    assert [w.wait(60) for w in writers] == [0, 0]
    assert went_back == []
    assert int(stores().fetch(B, "n").values[0]) == int(counter.fetch(B, "n").values[0]) == 2 * writes

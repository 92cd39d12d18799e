"""Helpers for the lifecycle tests: events committed at chosen times, and a board's rendered pages.

The web tier stamps events with the current time; rollups and point-in-time
restores need history spread over past hours, so these commit events with an
explicit time straight to the log, as the write path would have.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

from django.test import Client

from board.boards import UNLIMITED
from board.events import SITE, Event, EventType, encode, new_event
from board.lifecycle import keys as k
from board.lifecycle.tail import pending
from board.log import get_log
from board.log.layout import INCOMING, incoming_key
from board.readmodel import queries
from board.store import get_store

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# What differs per request in a page with a form: its CSRF token and its one-time posting token.
CSRF_RE = re.compile(r'(name="(?:csrfmiddlewaretoken|once)" value=")[^"]+(")')


def at(minutes: float) -> datetime:
    """T0 plus some minutes: history starts at 2026-11-30T09:00Z."""
    return T0 + timedelta(minutes=minutes)


def commit_at(
    type: str, board: str, when: datetime, thread: str | None = None, number: int | None = None, **payload
) -> Event:
    """Commit one event with time ``when`` to incoming/ (no fan-out)."""
    event = new_event(type, board, thread, number, payload, at=when)
    get_log().create(incoming_key(event), encode(event))
    return event


def board_at(name: str, when: datetime, **settings) -> Event:
    return commit_at(EventType.BOARD_CREATED, name, when, title=settings.pop("title", name), **settings)


def thread_at(board: str, when: datetime, subject: str = "スレタイ", body: str = "本文", mail: str = "") -> Event:
    key = str(int(when.timestamp()))
    return commit_at(
        EventType.THREAD_CREATED, board, when, key, 1, subject=subject, name="名無しさん", mail=mail, body=body, id=""
    )


def post_at(board: str, thread: str, number: int, when: datetime, body: str = "レス", mail: str = "") -> Event:
    return commit_at(
        EventType.POST_CREATED, board, when, thread, number, name="名無しさん", mail=mail, body=body, id=""
    )


def history(hours: int = 3, per_hour: int = 5, board: str = "test") -> list[Event]:
    """A board with one thread and ``per_hour`` replies in each of ``hours`` hours from T0."""
    made = [board_at(board, at(0), **UNLIMITED)]
    thread = thread_at(board, at(1))
    made.append(thread)
    number = 1
    for hour in range(hours):
        for i in range(per_hour):
            number += 1
            made.append(post_at(board, thread.thread, number, at(hour * 60 + 2 + i * 55 / per_hour), body=f"{number}"))
    return made


def long_history(hours: int = 8) -> list[Event]:
    """A reply every 20 s for hours, to one of the three newest threads (a new one every 40 posts).

    Far more objects than a small cache holds (pages, thread objects, the
    search index's 10-minute slots), few of them changing at any time.
    """
    rng = random.Random(5)
    when = T0
    made = [new_event(EventType.BOARD_CREATED, "b", payload={"title": "B"}, at=when)]
    live: list[list] = []  # [key, posts], newest first
    for n in range(hours * 180):
        when += timedelta(seconds=20)
        if n % 40 == 0:
            key = str(int(when.timestamp()))
            payload = {"name": "名無し", "mail": "", "body": "1", "id": "ID1", "subject": f"スレ{n}"}
            made.append(new_event(EventType.THREAD_CREATED, "b", key, 1, payload, at=when))
            live.insert(0, [key, 1])
            continue
        thread = live[min(int(rng.expovariate(1)), len(live) - 1, 2)]
        thread[1] += 1
        payload = {"name": "名無し", "mail": rng.choice(["", "sage"]), "body": f"レス{n}", "id": "ID2"}
        made.append(new_event(EventType.POST_CREATED, "b", thread[0], thread[1], payload, at=when))
    return made


def incoming_keys() -> list[str]:
    return [info.key for info in pending(get_log().list(INCOMING))]


def lifecycle_keys(prefix: str) -> list[str]:
    return [info.key for info in get_log().list(prefix)]


def hour(text: str) -> datetime:
    return k.parse_hour(text)


def normalise(html: str) -> str:
    """A page without what differs per request: the CSRF and one-time tokens in forms."""
    return CSRF_RE.sub(r"\1TOKEN\2", html)


def page_urls(store=None) -> list[str]:
    """Every page a reader or a 2ch client can reach: HTML pages, subject.txt, SETTING.TXT, dats, menus."""
    store = store or get_store()
    urls = ["/", "/bbsmenu.html", "/bbsmenu.json"]
    for entry in queries.all_boards(store):
        name = entry["name"]
        urls += [f"/{name}/", f"/{name}/kako/", f"/{name}/subject.txt", f"/{name}/SETTING.TXT"]
        urls += [f"/{name}/subback.html"] + [f"/{name}/kako/{m}/" for m in queries.archive_months(store, name)]
        for thread in queries.threads(store, name):
            urls += [f"/test/read.cgi/{name}/{thread.key}/", f"/{name}/dat/{thread.key}.dat"]
        for thread in archived_threads(name, store):
            key = thread.key
            urls += [f"/test/read.cgi/{name}/{key}/", f"/{name}/kako/{key[:4]}/{key[:5]}/{key}.dat"]
    return urls


def archived_threads(board: str, store=None) -> list:
    """Every archived thread of a board, month by month (the pages read one month at a time)."""
    store = store or get_store()
    found = []
    for month in queries.archive_months(store, board):
        page = queries.archived(store, board, month)
        found += page.threads
        while page.older is not None:
            page = queries.archived(store, board, month, page.older)
            found += page.threads
    return found


HEADERS = ("Content-Type", "Last-Modified", "ETag", "Content-Length")


def render_all(urls: list[str]) -> dict[str, tuple[int, dict[str, str], bytes]]:
    """Status, the headers clients rely on, and the body (CSRF token normalised) of each URL."""
    client = Client()
    pages = {}
    for url in urls:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if b"csrfmiddlewaretoken" in body:
            body = normalise(body.decode("utf-8")).encode("utf-8")
        headers = {name: response[name] for name in HEADERS if response.has_header(name)}
        if "csrfmiddlewaretoken" in body.decode("utf-8", errors="replace"):
            headers.pop("Content-Length", None)  # the token's length is the page's only variable part
        pages[url] = (response.status_code, headers, body)
    return pages


def store_dump(store=None) -> dict[tuple[str, str], bytes]:
    """Every object of a MemoryStore, siblings merged: to compare two stores byte for byte."""
    from board.readmodel.projection import merger
    from board.store.memory import MemoryStore

    store = store or get_store()
    assert isinstance(store, MemoryStore), "store_dump reads the in-memory store's data"
    dumped = {}
    for bucket, key, values in store.items():
        if bucket == "meta":  # bookkeeping of restores, not board state
            continue
        dumped[(bucket, key)] = values[0] if len(values) == 1 else merger(bucket, key)(list(values))
    return dumped


def apply_incoming() -> None:
    """Fan out every committed event in incoming/, as the workers would."""
    from board.tasks.fanout import apply_key

    for key in incoming_keys():
        apply_key(key)


def read_segment(key: str) -> list[Event]:
    """The events of a gzip JSONL object in the log, unchecked."""
    import gzip

    from board.events import decode

    return [decode(line) for line in gzip.decompress(get_log().read(key)).splitlines()]


class Timeline:
    """A board's history committed at chosen minutes after T0, numbering posts as the board would."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.counts: dict[str, int] = {}

    def _add(self, event: Event) -> Event:
        self.events.append(event)
        return event

    def board(self, minute: float, name: str = "test", **settings) -> Event:
        return self._add(board_at(name, at(minute), **settings))

    def thread(
        self, minute: float, board: str = "test", subject: str = "スレタイ", body: str = "本文", mail: str = ""
    ) -> str:
        event = self._add(thread_at(board, at(minute), subject=subject, body=body, mail=mail))
        self.counts[event.thread] = 1
        return event.thread

    def reply(self, minute: float, thread: str, board: str = "test", body: str = "レス", mail: str = "") -> int:
        self.counts[thread] += 1
        self._add(post_at(board, thread, self.counts[thread], at(minute), body=body, mail=mail))
        return self.counts[thread]

    def delete(self, minute: float, thread: str, number: int, board: str = "test") -> Event:
        post = next(e for e in self.events if (e.board, e.thread, e.number) == (board, thread, number))
        where = {"posted": post.time, "posted_event": post.id}  # as board.moderation.actions.delete_post says
        return self._add(
            commit_at(EventType.POST_DELETED, board, at(minute), thread, number, reason="削除依頼", by="mod", **where)
        )

    def archive(self, minute: float, thread: str, board: str = "test") -> Event:
        return self._add(commit_at(EventType.THREAD_ARCHIVED, board, at(minute), thread))

    def ban(self, minute: float, thread: str, number: int, poster: str, board: str = "test") -> Event:
        day = (at(minute) + timedelta(hours=9)).date().isoformat()  # the JST day, as bans name it
        return self._add(
            commit_at(
                EventType.POSTER_BANNED, board, at(minute), thread, number, poster=poster, day=day, reason="荒らし"
            )
        )

    def lift(self, minute: float, poster: str, board: str = "test") -> Event:
        day = (at(minute) + timedelta(hours=9)).date().isoformat()
        return self._add(commit_at(EventType.BAN_LIFTED, board, at(minute), poster=poster, day=day, reason="解除"))

    def settings(self, minute: float, board: str = "test", **settings) -> Event:
        return self._add(commit_at(EventType.BOARD_SETTINGS_CHANGED, board, at(minute), **settings))

    def moderate(self, minute: float, kind: str, thread: str, board: str = "test") -> Event:
        """Stop, resume or restore a thread (ThreadStopped, ThreadResumed, ThreadRestored)."""
        return self._add(commit_at(kind, board, at(minute), thread, reason="管理"))

    def report(self, minute: float, thread: str, number: int, board: str = "test") -> Event:
        return self._add(commit_at(EventType.POST_REPORTED, board, at(minute), thread, number, reason="荒らしです"))

    def resolve(self, minute: float, report: Event, state: str, board: str = "test") -> Event:
        from board.readmodel.moderation import day_of

        day = day_of(report.time)
        return self._add(
            commit_at(EventType.REPORT_RESOLVED, board, at(minute), report=report.id, day=day, state=state, by="mod")
        )

    def moderator(self, minute: float, username: str, **fields) -> Event:
        kind = EventType.MODERATOR_CHANGED if "uid" not in fields else EventType.MODERATOR_CREATED
        return self._add(commit_at(kind, SITE, at(minute), username=username, by="admin", **fields))

    def purge(self, minute: float, thread: str, number: int, board: str = "test") -> Event:
        """Purge a post as board.moderation.purge.purge_post does: the list entry, then the event."""
        from board.lifecycle import purgelist

        post = next(e for e in self.events if (e.board, e.thread, e.number) == (board, thread, number))
        purgelist.record_post(get_log(), board, thread, number, post.time, post.time)
        where = {"posted": post.time, "posted_event": post.id}
        return self._add(
            commit_at(EventType.POST_PURGED, board, at(minute), thread, number, reason="個人情報", by="root", **where)
        )

    def purge_account(self, minute: float, username: str) -> Event:
        from board.lifecycle import purgelist

        purgelist.record_account(get_log(), username)
        return self._add(commit_at(EventType.MODERATOR_PURGED, SITE, at(minute), username=username, by="root"))

    def until(self, when: datetime) -> list[Event]:
        return [e for e in self.events if e.time <= k.ms(when)]


def maintain(minute: float) -> None:
    """What the workers and beat do by then: fan out, roll up closed hours, snapshot and bundle."""
    from board.lifecycle.jobs import snapshot_and_bundle
    from board.lifecycle.rollup import rollup

    apply_incoming()
    rollup(get_log(), get_store(), now=at(minute))
    snapshot_and_bundle(get_log(), now=at(minute))


def three_days() -> Timeline:
    """Three days of a small board, maintained at the end of days 1 and 2 and halfway through day 3.

    Afterwards the log holds a snapshot, daily bundles, hourly segments the
    snapshot lacks and an incoming tail; the store holds what fan-out applied.
    """
    day = 60 * 24
    t = Timeline()
    t.board(0, title="テスト板", **UNLIMITED)
    threads = []
    for d in range(3):
        threads.append(t.thread(d * day + 10, subject=f"{d + 1}日目のスレ", body=f"{d + 1}日目"))
        for i in range(8):
            for j, thread in enumerate(threads[-2:]):
                t.reply(d * day + 30 + i * 150 + j, thread, body=f"{d}-{i}-{j}", mail="sage" if i % 3 == 0 else "")
        if d == 1:
            t.delete(d * day + 1000, threads[0], 3)
            t.archive(d * day + 1100, threads[0])
            t.ban(d * day + 1150, threads[1], 2, poster="Ab3dEf9h")
            t.ban(d * day + 1160, threads[1], 3, poster="Zz9yXx8w")
            t.lift(d * day + 1170, poster="Zz9yXx8w")
            t.settings(d * day + 1180, res_max=900, top_posts=3)
            t.moderate(d * day + 1190, EventType.THREAD_STOPPED, threads[1])
            t.moderate(d * day + 1195, EventType.THREAD_RESUMED, threads[1])
            reported = t.report(d * day + 1200, threads[1], 4)
            t.resolve(d * day + 1210, reported, "dismissed")
            t.moderator(d * day + 1220, "mod", uid=1234, password="pbkdf2_sha256$x", superuser=False, boards=["test"])
            t.moderator(d * day + 1230, "mod", boards=["test", "news"])
            # Purged: a post of day 1 (in its bundle and the first snapshot) and an account. (A purged cap's
            # keyed hash stays in the live store's cap index until a rehydrate: README, "Purge".)
            t.purge(d * day + 1240, threads[0], 4)
            t.moderator(d * day + 1250, "gone", uid=5678, password="pbkdf2_sha256$y", superuser=False, boards=[])
            t.moderator(d * day + 1255, "gone", password="pbkdf2_sha256$z")
            t.purge_account(d * day + 1260, "gone")
        if d == 2:
            t.moderate(d * day + 20, EventType.THREAD_RESTORED, threads[0])
        maintain(d * day + (day + 90 if d < 2 else 900))
    from board.lifecycle.rollup import rollup

    rollup(get_log(), get_store(), now=at(2 * day + 1200))  # hourly segments no snapshot holds yet
    t.reply(2 * day + 1300, threads[-1], body="まだロールアップされていない")
    apply_incoming()
    return t


def reference_store(events: list[Event]):
    """A fresh in-memory store with exactly these events applied one by one (the live path).

    As the log reads them: a post or account purged at any time is without its text at every time.
    """
    import uuid

    from board.lifecycle import purgelist
    from board.readmodel import projection
    from board.store.memory import MemoryStore

    store = MemoryStore(uuid.uuid4().hex)
    for event in purgelist.load(get_log()).cleaned(events):
        projection.apply(store, event)
    return store


def page_diff(before: dict, after: dict) -> str:
    """A readable account of the pages that differ (empty if none): URL, then a unified diff."""
    import difflib

    out = []
    for url in sorted(set(before) | set(after)):
        if before.get(url) == after.get(url):
            continue
        was, now = before.get(url), after.get(url)
        out.append(f"--- {url}: {was and was[:-1]} -> {now and now[:-1]}")
        if was and now:
            lines = difflib.unified_diff(
                was[-1].decode("utf-8", "replace").splitlines(True), now[-1].decode("utf-8", "replace").splitlines(True)
            )
            out.append("".join(lines)[:4000])
    return "\n".join(out)

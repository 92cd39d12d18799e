"""The soak's load: posters and readers on threads, and the ledger of everything they were answered.

A poster is one browser posting through the HTML form, as a person does:
it opens the thread (which gives the form its CSRF token and its one-time
``once`` token), sends a reply, and when the board answers that the post
may or may not be saved (not confirmed, still confirming, not saved, an
error page, a dropped connection) it sends the same form again, as the page
tells it to, until the board acknowledges it or the poster gives up. Every
post carries a tag of its own (``soak-<poster>-<n>``) in its body, so that
the log and the pages can be searched for it afterwards. Every hundred
replies, the poster starts a new thread (a post of its own, tagged too).

A reader is a 2ch browser and a person at once: it fetches thread pages,
dat files, subject.txt and the board top of the threads posted so far.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field

import requests

from board.posting import refusals as r
from tests.processes import BoardClient, NotPosted

BOARD = "test"
REPLIES_PER_THREAD = 100
RETRY_PAUSE = 1.0  # seconds a poster waits before sending a post again
GIVE_UP_AFTER = 120.0  # seconds a poster keeps sending one post
ONCE_RE = re.compile(r'name="once" value="([^"]*)"')
TAG_RE = re.compile(r"soak-\d+-\d+")

# Answers after which the same post is sent again (the page says so, or says nothing).
AGAIN = {"not confirmed", "still confirming", "not saved", "no answer"}


def reason(text: str) -> str:
    """A short name for a refusal page's message (the board's own messages, in board/posting/refusals.py)."""
    known = {
        r.UNCONFIRMED: "not confirmed",
        r.STILL_CONFIRMING: "still confirming",
        r.LOG_DOWN: "not saved",
        r.ARCHIVED: "archived",  # before STOPPED, whose text begins the same way
        r.STOPPED: "thread full",
        r.NO_THREAD: "no such thread",
        r.NO_BOARD: "no such board",
        r.THREADS_BUSY: "threads busy",
        r.COOLDOWN: "cooldown",
    }
    for message, name in known.items():
        if message.split("{")[0][:20] in text:
            return name
    return "other refusal"


def answer_of(response: requests.Response) -> str:
    """What a refused post was told: the board's reason, or the HTTP status of an error page without one."""
    found = reason(response.text)
    if found == "other refusal" and response.status_code >= 500:
        return f"HTTP {response.status_code}"
    return found


@dataclass
class Sample:
    kind: str  # post | read
    start: float  # seconds since the run began
    seconds: float
    outcome: str  # ok, or the reason it was not
    path: str = ""


@dataclass
class Submission:
    tag: str
    thread: str | None  # None: a new thread
    answers: list[str] = field(default_factory=list)
    acked: tuple[str, int] | None = None  # (thread, number) the board acknowledged


class Ledger:
    """What every poster and reader was answered, with times; shared by their threads."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.submissions: list[Submission] = []
        self.threads: list[str] = []  # thread keys acknowledged so far
        self.dat_lines: dict[str, list[tuple[float, int]]] = {}  # per thread: (end, res seen) of each read

    def now(self) -> float:
        return time.monotonic() - self.began

    def record(self, kind: str, start: float, outcome: str, path: str = "") -> None:
        with self.lock:
            self.samples.append(Sample(kind, start, self.now() - start, outcome, path))

    def submitted(self, submission: Submission) -> None:
        with self.lock:
            self.submissions.append(submission)

    def new_thread(self, key: str) -> None:
        with self.lock:
            self.threads.append(key)

    def saw(self, thread: str, lines: int, end: float) -> None:
        """Note that a reader's request that ended at end saw lines res in thread (1 for a thread page)."""
        with self.lock:
            self.dat_lines.setdefault(thread, []).append((end, lines))

    def seen_before(self, thread: str, start: float) -> int:
        """The most res any reader saw in thread by a request that ended before start (0: none seen)."""
        with self.lock:
            return max((lines for end, lines in self.dat_lines.get(thread, ()) if end < start), default=0)

    def dump(self, folder: str) -> None:
        """Every sample and submission as JSON lines in folder (samples.jsonl, posts.jsonl), for a post-mortem."""
        with open(f"{folder}/samples.jsonl", "w") as out:
            out.writelines(json.dumps(dataclasses.asdict(s), ensure_ascii=False) + "\n" for s in self.samples)
        with open(f"{folder}/posts.jsonl", "w") as out:
            out.writelines(json.dumps(dataclasses.asdict(s), ensure_ascii=False) + "\n" for s in self.submissions)

    def some_thread(self) -> str | None:
        with self.lock:
            return random.choice(self.threads) if self.threads else None


class Poster(threading.Thread):
    def __init__(self, number: int, url: str, ledger: Ledger, stop: threading.Event) -> None:
        super().__init__(name=f"poster-{number}", daemon=True)
        self.number = number
        self.url = url
        self.ledger = ledger
        self.stop = stop
        self.sent = 0

    def run(self) -> None:
        client = BoardClient(self.url, timeout=60)
        thread: str | None = None
        replies = 0
        while not self.stop.is_set():
            if thread is None or replies >= REPLIES_PER_THREAD:
                thread, replies = self.post(client, None), 0
            elif self.post(client, thread) is None:
                thread = None  # full, archived or gone: start another
            else:
                replies += 1

    def post(self, client: BoardClient, thread: str | None) -> str | None:
        """Send one post until it is acknowledged (its thread's key) or given up (None)."""
        self.sent += 1
        tag = f"soak-{self.number}-{self.sent}"
        submission = Submission(tag, thread)
        self.ledger.submitted(submission)
        body = f"ソーク書き込み {tag} >>1"
        fields = {"key": thread, "MESSAGE": body} if thread else {"subject": f"ソーク {tag}", "MESSAGE": body}
        once = self.open_form(client, thread)
        if once is None:
            return None
        first = time.monotonic()
        while not self.stop.is_set() or submission.answers:  # a post begun is finished, even at the end
            start = self.ledger.now()
            answer = self.send(client, {**fields, "once": once}, submission)
            self.ledger.record("post", start, answer)
            if (
                answer == "ok"
                or not (answer in AGAIN or answer.startswith("HTTP 5"))
                or time.monotonic() - first > GIVE_UP_AFTER
            ):
                break
            time.sleep(RETRY_PAUSE)
        if submission.acked is None:
            return None
        if thread is None:
            self.ledger.new_thread(submission.acked[0])
        return submission.acked[0]

    def open_form(self, client: BoardClient, thread: str | None) -> str | None:
        """Load the page with the form; its one-time token (None if the poster stopped first)."""
        path = f"/test/read.cgi/{BOARD}/{thread}/l50" if thread else f"/{BOARD}/"
        while not self.stop.is_set():
            try:
                page = client.get(path)
            except requests.RequestException:
                page = None
            found = ONCE_RE.search(page.text) if page is not None and page.status_code == 200 else None
            if found:
                return found.group(1)
            time.sleep(RETRY_PAUSE)
        return None

    def send(self, client: BoardClient, fields: dict[str, str], submission: Submission) -> str:
        try:
            response = client.post(BOARD, **fields)
        except requests.RequestException:
            submission.answers.append("no answer")
            return "no answer"
        try:
            submission.acked = client.posted(response)
            answer = "ok"
        except NotPosted:
            answer = answer_of(response)
        submission.answers.append(answer)
        return answer


class Reader(threading.Thread):
    def __init__(self, number: int, url: str, ledger: Ledger, stop: threading.Event) -> None:
        super().__init__(name=f"reader-{number}", daemon=True)
        self.url = url
        self.ledger = ledger
        self.stop = stop

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            thread = self.ledger.some_thread()
            if thread is None:
                time.sleep(0.1)
                continue
            page, path = random.choice(
                [
                    ("thread page", f"/test/read.cgi/{BOARD}/{thread}/l50"),
                    ("dat", f"/{BOARD}/dat/{thread}.dat"),
                    ("subject.txt", f"/{BOARD}/subject.txt"),
                    ("board top", f"/{BOARD}/"),
                ]
            )
            start = self.ledger.now()
            try:
                response = session.get(self.url + path, timeout=60)
                outcome = self.judge(page, thread, start, response)
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            self.ledger.record("read", start, outcome, path)

    def judge(self, page: str, thread: str, start: float, response: requests.Response) -> str:
        """ok, or what was wrong with the answer.

        A thread or res that some reader saw by a request that ended before
        this one began, and that this answer lacks, is named as such
        (requests that overlap may see either).
        """
        if page not in ("dat", "thread page"):
            return "ok" if response.status_code == 200 else f"HTTP {response.status_code} on a {page}"
        before = self.ledger.seen_before(thread, start)
        if response.status_code != 200:
            return f"HTTP {response.status_code} on a {page}" + (" served before" if before else " not yet applied")
        lines = response.content.count(b"\n") if page == "dat" else 1  # a thread page: the thread is there
        self.ledger.saw(thread, lines, self.ledger.now())
        return "ok" if page != "dat" or lines >= before else "dat shorter than a reader saw before"

"""Where the lifecycle's objects live in the log (see the package docstring for the picture).

Keys sort the way time runs: an hour's parts sit together under
``hourly/YYYY/MM/DD/HH.``, a day's bundles under ``daily/YYYY/MM/DD.``, and
snapshots by their sequence number.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

HOURLY = "hourly/"
DAILY = "daily/"
SNAPSHOTS = "snapshots/"
LATEST = "snapshots/LATEST"

DATA = ".jsonl.gz"
MANIFEST = ".manifest.json"
IMAGE = ".objects.gz"  # a snapshot's image: the store's objects it restores to (board/lifecycle/images.py)

# A segment's data rewritten by a purge sits beside its first key, named after its new bytes
# (``HH.1-<sha256[:16]>.jsonl.gz``); its manifest keeps its key and names it (board/lifecycle/purge.py).
_HOURLY_RE = re.compile(
    r"^hourly/(\d{4})/(\d{2})/(\d{2})/(\d{2})(?:\.(\d+))?(?:-[0-9a-f]{16}(?=\.jsonl))?(\.jsonl\.gz|\.manifest\.json)$"
)
_DAILY_RE = re.compile(
    r"^daily/(\d{4})/(\d{2})/(\d{2})(?:\.(\d+))?(?:-[0-9a-f]{16}(?=\.jsonl))?(\.jsonl\.gz|\.manifest\.json)$"
)
_REWRITTEN = re.compile(r"-[0-9a-f]{16}$")
_SNAPSHOT_MANIFEST_RE = re.compile(r"^snapshots/(\d{8})\.manifest\.json$")
_SNAPSHOT_DATA_RE = re.compile(r"^snapshots/(\d{8})-[0-9a-f]+\.jsonl\.gz$")
_SNAPSHOT_IMAGE_RE = re.compile(r"^snapshots/(\d{8})-[0-9a-f]+\.objects\.gz$")

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def hour_of(ms: int) -> datetime:
    """The UTC hour (a datetime on the hour) an event time in milliseconds falls in."""
    return datetime.fromtimestamp(ms // 3_600_000 * 3600, tz=UTC)


def ms(at: datetime) -> int:
    """Milliseconds since the epoch, the unit of Event.time."""
    return int(at.timestamp() * 1000)


def _part(part: int) -> str:
    return "" if part == 0 else f".{part}"


def hourly_prefix(hour: datetime) -> str:
    """The prefix every part of an hour (data and manifest) starts with."""
    return f"{HOURLY}{hour:%Y/%m/%d/%H}."


def hourly_key(hour: datetime, part: int = 0) -> str:
    return f"{HOURLY}{hour:%Y/%m/%d/%H}{_part(part)}{DATA}"


def daily_prefix(day: date) -> str:
    return f"{DAILY}{day:%Y/%m/%d}."


def daily_key(day: date, part: int = 0) -> str:
    return f"{DAILY}{day:%Y/%m/%d}{_part(part)}{DATA}"


def manifest_key(data_key: str) -> str:
    """The manifest that describes a segment (hourly or daily data key, first written or rewritten)."""
    if not data_key.endswith(DATA):
        raise ValueError(f"{data_key!r} is not a segment's data key")
    return _REWRITTEN.sub("", data_key[: -len(DATA)]) + MANIFEST


def rewritten_key(data_key: str, sha256: str) -> str:
    """Where a purge writes the cleaned bytes of a segment (hourly, daily or snapshot data key)."""
    seq = parse_snapshot_data(data_key)
    if seq is not None:
        return snapshot_data_key(seq, sha256)
    if not data_key.endswith(DATA):
        raise ValueError(f"{data_key!r} is not a segment's data key")
    return f"{_REWRITTEN.sub('', data_key[: -len(DATA)])}-{sha256[:16]}{DATA}"


def segment_manifest_key(data_key: str) -> str:
    """The manifest of any segment's data: a snapshot's by its sequence number, the others beside it."""
    seq = parse_snapshot_data(data_key)
    return snapshot_manifest_key(seq) if seq is not None else manifest_key(data_key)


def is_manifest(key: str) -> bool:
    return key.endswith(MANIFEST)


def parse_hourly(key: str) -> tuple[datetime, int] | None:
    """(hour, part) of an hourly data or manifest key; None for anything else."""
    found = _HOURLY_RE.match(key)
    if not found:
        return None
    y, m, d, h, part, _ = found.groups()
    return datetime(int(y), int(m), int(d), int(h), tzinfo=UTC), int(part or 0)


def parse_daily(key: str) -> tuple[date, int] | None:
    """(day, part) of a daily data or manifest key; None for anything else."""
    found = _DAILY_RE.match(key)
    if not found:
        return None
    y, m, d, part, _ = found.groups()
    return date(int(y), int(m), int(d)), int(part or 0)


def snapshot_manifest_key(seq: int) -> str:
    return f"{SNAPSHOTS}{seq:08d}{MANIFEST}"


def snapshot_data_key(seq: int, sha256: str) -> str:
    # The data key carries the content's hash: two builders racing for the same
    # seq never collide on the data, only on the manifest, which is the claim.
    return f"{SNAPSHOTS}{seq:08d}-{sha256[:16]}{DATA}"


def snapshot_image_key(seq: int, sha256: str) -> str:
    return f"{SNAPSHOTS}{seq:08d}-{sha256[:16]}{IMAGE}"


def parse_snapshot_image(key: str) -> int | None:
    found = _SNAPSHOT_IMAGE_RE.match(key)
    return int(found.group(1)) if found else None


def parse_snapshot_manifest(key: str) -> int | None:
    found = _SNAPSHOT_MANIFEST_RE.match(key)
    return int(found.group(1)) if found else None


def parse_snapshot_data(key: str) -> int | None:
    found = _SNAPSHOT_DATA_RE.match(key)
    return int(found.group(1)) if found else None


def parse_hour(text: str) -> datetime:
    """``YYYY-MM-DDTHH`` (UTC) as the datetime of that hour; ValueError otherwise."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not an hour like 2026-12-01T08 (UTC)") from None


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is taken as UTC. ValueError otherwise."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time like 2026-12-01T08:30:00Z or 2026-12-01T17:30+09:00") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)

"""Manifests: what a segment holds, stored next to it as ``<name>.manifest.json``.

Hourly and daily manifests hold nothing a reader could not recompute from the
data (no clock, no host): a rollup that finds data without its manifest (a
crash between the two) can write the very manifest the crashed one would have.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from board.lifecycle import keys
from board.lifecycle.errors import CorruptObject, MissingObject
from board.log import BaseLog, NotFound

# 2: a snapshot's manifest that names an image (images.py). Only those are written as 2, so code
# that knows no images still reads every other manifest during a rolling deploy.
MANIFEST_VERSION = 2


@dataclass(frozen=True, slots=True)
class Stats:
    """What a segment's data holds: enough to check it was written and read back whole."""

    count: int = 0
    sha256: str = hashlib.sha256(b"").hexdigest()
    size: int = 0
    first: str = ""
    last: str = ""
    min_time: int = 0
    max_time: int = 0
    types: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """A segment's description, stored next to it as ``<name>.manifest.json``.

    kind is "hourly", "daily" or "snapshot". sources are (key, sha256) pairs
    of hourly segments: those a daily bundle holds, or those a snapshot holds
    beyond its predecessor (all hourly segments present when it was built).

    A purge that rewrote the data (board/lifecycle/purge.py) moves the
    manifest to name the new key, keeps the segment's first identity in
    ``origin`` (bundles and snapshots list segments by it) and the keys its
    data replaced in ``replaced``, for whoever removes the segment to remove
    them too.

    ``image`` (snapshots only) describes the snapshot's image: the store's
    objects restoring its events gives (images.Image.as_dict).
    """

    kind: str
    key: str
    stats: Stats
    hour: str | None = None
    day: str | None = None
    part: int | None = None
    sources: tuple[tuple[str, str], ...] = ()
    covered_by: int | None = None
    seq: int | None = None
    prev: str | None = None
    created: str | None = None
    redacted: int | None = None
    duplicates: int | None = None
    origin: tuple[str, str] | None = None
    replaced: tuple[str, ...] | None = None
    image: dict | None = None

    @property
    def count(self) -> int:
        return self.stats.count

    @property
    def sha256(self) -> str:
        return self.stats.sha256

    @property
    def ident(self) -> tuple[str, str]:
        """(key, sha256) as first written: a segment's identity; a key alone may be reused after a bundle deleted it."""
        return self.origin if self.origin is not None else (self.key, self.stats.sha256)

    def to_bytes(self) -> bytes:
        raw: dict[str, Any] = {name: value for name, value in asdict(self).items() if value is not None}
        raw["v"] = MANIFEST_VERSION if self.image else 1
        raw["sources"] = [{"key": key, "sha256": sha} for key, sha in self.sources]
        return (json.dumps(raw, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Manifest:
        """Parse a manifest read from where; CorruptObject if it is not one."""
        try:
            raw = json.loads(data)
            if raw.get("v", 0) > MANIFEST_VERSION:
                raise ValueError(f"manifest version {raw['v']} is newer than this code ({MANIFEST_VERSION})")
            stats = Stats(**raw["stats"])
            sources = tuple((s["key"], s["sha256"]) for s in raw.get("sources") or ())
            fields = {k: v for k, v in raw.items() if k not in {"v", "stats", "sources"}}
            if fields.get("origin") is not None:
                key, sha = fields["origin"]
                fields["origin"] = (key, sha)
            if fields.get("replaced") is not None:
                fields["replaced"] = tuple(fields["replaced"])
            return cls(stats=stats, sources=sources, **fields)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptObject(where, f"not a manifest: {exc}") from exc


def read_manifest(log: BaseLog, key: str) -> Manifest:
    """Read and parse the manifest at key; MissingObject if it is not there."""
    try:
        data = log.read(key)
    except NotFound as exc:
        raise MissingObject(key, "no such manifest") from exc
    return Manifest.from_bytes(data, key)


def current(log: BaseLog, manifest: Manifest) -> Manifest | None:
    """The same segment's manifest as it is now, if a purge moved it to other data since it was read."""
    try:
        now = read_manifest(log, keys.segment_manifest_key(manifest.key))
    except (MissingObject, ValueError):
        return None
    return now if now.ident == manifest.ident and now.key != manifest.key else None


def with_stats(manifest: Manifest, stats: Stats) -> Manifest:
    """The same manifest describing other data (a purge's rewrite)."""
    return replace(manifest, stats=stats)

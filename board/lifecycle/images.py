"""Snapshot images: the store's objects as restoring a snapshot leaves them, copied instead of replayed.

Replaying a snapshot is mostly building objects: joining each event into its
posts page, thread object and lists, and rendering dat lines and HTML (a
restore ran at about a tenth of the speed of reading the events). The
snapshot builder does that once: it replays the new snapshot into a scratch
SQLite store and writes every object to ``snapshots/<seq>-<sha>.objects.gz``
beside the data; the manifest names it (``image``). A restore to the present
into an empty store copies those objects, then replays only what the
snapshot does not hold. Only LATEST keeps its image: the snapshot job's prune
removes an older one's at once (a point-in-time restore replays events).

An image is gzip of records, each a JSON line ``[bucket, key, length]`` and
then the value's bytes, in bucket and key order. A restore uses it only when
it is what replaying the snapshot would give here and now:

- its model version (the objects' layout) and renderer are this code's;
- the purge list is the one it was read through (a purge recorded since may
  be in it; the sweep removes the image when it rewrites the snapshot);
- the store is empty and not written twice (no dual write under way);
- its bytes match the manifest: it is fetched whole and checked before any
  object is written.

Otherwise the restore replays the snapshot's events, which is always right,
and its report says why. The events stay the truth: verifylog replays them.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import BinaryIO

import orjson

from board.formats.posthtml import RENDERER
from board.lifecycle import keys as k
from board.lifecycle import purgelist
from board.lifecycle.errors import CorruptObject, MissingObject
from board.lifecycle.manifests import Manifest
from board.lifecycle.progress import Progress, quiet
from board.lifecycle.purgelist import PurgeList
from board.lifecycle.segments import CHUNK, COMPRESSLEVEL, Hashing
from board.log import Archived, BaseLog, NotFound
from board.readmodel import encoding as e
from board.readmodel import objects as o
from board.readmodel.projection import write
from board.store import BaseStore
from board.store.base import Conflict

logger = logging.getLogger(__name__)

WRITE_CHUNK = 500  # objects per store_many (one SQLite transaction, parallel requests on Riak)


@dataclass(frozen=True)
class Image:
    """What a snapshot's manifest says of its image."""

    key: str
    sha256: str
    size: int
    objects: int
    model: str
    renderer: str
    purges: str  # purges_digest of the purge list the snapshot was read through

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, manifest: Manifest) -> Image | None:
        """The image the manifest names, or None."""
        if not manifest.image:
            return None
        try:
            return cls(**manifest.image)
        except TypeError as exc:
            raise CorruptObject(k.snapshot_manifest_key(manifest.seq or 0), f"its image is not one: {exc}") from exc


def named_keys(manifest: Manifest) -> set[str]:
    """The objects a manifest names: its data, and a snapshot's image."""
    image = Image.of(manifest)
    return {manifest.key} | ({image.key} if image else set())


def purges_digest(purges: PurgeList) -> str:
    """Names a purge list: equal lists, equal digests."""
    return hashlib.sha256(orjson.dumps([sorted(purges.posts), sorted(purges.accounts)])).hexdigest()


# --- writing ---------------------------------------------------------------------


class ImageWriter:
    """Records into a gzip temporary file; ``finish()`` gives (sha256, size) and rewinds it for upload."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="utakata-image-")  # noqa: SIM115 - closed in __exit__
        self._hashing = Hashing(self.file)
        self._gzip = gzip.GzipFile(filename="", fileobj=self._hashing, mode="wb", compresslevel=COMPRESSLEVEL, mtime=0)
        self.objects = 0

    def add(self, bucket: str, key: str, value: bytes) -> None:
        self._gzip.write(orjson.dumps([bucket, key, len(value)]) + b"\n")
        self._gzip.write(value)
        self.objects += 1

    def finish(self) -> tuple[str, int]:
        self._gzip.close()
        self.file.flush()
        self.file.seek(0)
        return self._hashing.digest.hexdigest(), self._hashing.size

    def __enter__(self) -> ImageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._gzip.close()
        self.file.close()


def build(log: BaseLog, manifest: Manifest, seq: int, progress: Progress | None = None) -> Image:
    """Replay a snapshot (uploaded, not yet claimed) into a scratch store and upload its objects as its image.

    progress counts the events replayed and the objects written: as long as a
    snapshot job, the job's lease is renewed as they go.
    """
    # rehydrate reads images, so it is imported here rather than at the top (one import direction).
    from board.lifecycle.rehydrate import replay
    from board.store.sqlite import SQLiteStore

    purges = purgelist.load(log)
    with tempfile.TemporaryDirectory(prefix="utakata-image-") as scratch, ImageWriter() as writer:
        store = SQLiteStore(os.path.join(scratch, "objects.sqlite3"), {"read_cache": "0"})
        try:
            progress = progress or quiet("image")
            replay(log, store, [manifest], purges, lambda n: progress.add("event(s) replayed for the image", n))
            for bucket, key, values in store.items():
                if bucket in o.JOINS:  # the board's objects, not the store's bookkeeping (a restore's mark)
                    writer.add(bucket, key, values[0])
                    progress.add("object(s) written to the image")
        finally:
            store.close()
        sha256, size = writer.finish()
        key = k.snapshot_image_key(seq, sha256)
        image = Image(key, sha256, size, writer.objects, store.model, RENDERER, purges_digest(purges))
        log.create_from_file(image.key, writer.file)
    _fetched(log, image).close()  # read back: what the manifest will name is there, whole
    return image


# --- reading ---------------------------------------------------------------------


def unusable(log: BaseLog, store: BaseStore, image: Image) -> str | None:
    """Why a restore into store (empty) must not use the image, or None if it may."""
    if image.model != store.model:
        return f"made for model version {image.model}, this code's is {store.model}"
    if image.renderer != RENDERER:
        return f"rendered by renderer {image.renderer}, this code's is {RENDERER}"
    if store.dual_twin() is not None:
        return "the store is written twice (a --replace is switching)"
    if image.purges != purges_digest(purgelist.load(log)):
        return "a purge was recorded after it was made"
    return None


def _fetched(log: BaseLog, image: Image) -> BinaryIO:
    """The image's bytes in a temporary file, checked against what the manifest says of them."""
    spool = tempfile.TemporaryFile(prefix="utakata-image-")  # noqa: SIM115 - returned, or closed on error
    try:
        try:
            raw = log.open(image.key)
        except NotFound as exc:
            raise MissingObject(image.key, "named by its snapshot's manifest but not in the log") from exc
        with raw:
            hashing = Hashing(spool)
            shutil.copyfileobj(raw, hashing, CHUNK)
        found = (hashing.digest.hexdigest(), hashing.size)
        if found != (image.sha256, image.size):
            raise CorruptObject(
                image.key, f"sha256 {found[0]}, {found[1]} bytes; its manifest says {image.sha256}, {image.size}"
            )
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


def _records(stream: BinaryIO, key: str) -> Iterator[tuple[str, str, bytes]]:
    """(bucket, key, value) of each object in an image's bytes."""
    read = 0
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as data:
            while line := data.readline():
                bucket, name, length = orjson.loads(line)
                value = data.read(length)
                if len(value) != length:
                    raise EOFError(f"it ends inside record {read + 1}")
                read += 1
                yield bucket, name, value
    except (OSError, EOFError, zlib.error, ValueError, TypeError) as exc:
        raise CorruptObject(key, f"not an image after {read} record(s): {exc}") from exc


def objects(log: BaseLog, image: Image) -> Iterator[tuple[str, str, bytes]]:
    """(bucket, key, value) of each object of the image, which is fetched whole and checked first."""
    with _fetched(log, image) as spool:
        yield from _records(spool, image.key)


def load(log: BaseLog, store: BaseStore, image: Image, progress: Callable[[int], None], events: int) -> None:
    """Write the image's objects into store; progress gets a share of the snapshot's events as they go."""
    chunk: list[tuple[str, bytes, None]] = []
    bucket_of_chunk = ""
    done = reported = 0
    for bucket, key, value in objects(log, image):
        if chunk and (bucket != bucket_of_chunk or len(chunk) >= WRITE_CHUNK):
            _write(store, bucket_of_chunk, chunk)
            done += len(chunk)
            chunk = []
            share = events * done // max(image.objects, 1)
            progress(share - reported)
            reported = share
        bucket_of_chunk = bucket
        chunk.append((key, value, None))
    if chunk:
        _write(store, bucket_of_chunk, chunk)
    progress(events - reported)


def _write(store: BaseStore, bucket: str, items: list[tuple[str, bytes, None]]) -> None:
    with store.batch():
        results = store.store_many(bucket, items)
    for key, value, _ in items:
        problem = results.get(key)
        if problem is None:
            continue
        if not isinstance(problem, Conflict):
            raise problem
        # Written meanwhile (fan-out reaches a store while it is restored): the two are joined.
        write(store, bucket, key, e.loads(value))


def copy(
    log: BaseLog, store: BaseStore, snapshot: Manifest, progress: Callable[[int], None], dry_run: bool = False
) -> tuple[Image | None, str]:
    """Copy the snapshot's image into store (empty) if it may be: the image copied (or None), and a line saying so.

    A dry run fetches and checks the image, and copies nothing.
    """
    image = Image.of(snapshot)
    if image is None:
        return None, ""
    why = unusable(log, store, image)
    if why is None:
        try:
            if dry_run:
                _fetched(log, image).close()
            else:
                load(log, store, image, progress, snapshot.count)
        except (MissingObject, CorruptObject, Archived) as exc:  # raised before any object is written
            why = str(exc)
    if why is not None:
        logger.warning("snapshot %s: its image is not used (%s); its events are replayed", snapshot.seq, why)
        return None, f"snapshot {snapshot.seq}'s image not used ({why}): its events were replayed"
    if dry_run:
        return None, f"snapshot {snapshot.seq}'s image checked: {image.objects} objects, which a restore copies"
    return image, f"snapshot {snapshot.seq}'s image copied: {image.objects} objects"

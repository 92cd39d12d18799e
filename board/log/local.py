"""The durable log in a local directory (``file:///abs/path``): one file per object.

A key ``a/b/c.json`` is the file ``<root>/a/b/c.json``. New objects are
written to a temporary file under ``<root>/.utakata-tmp/`` (same file system),
fsynced, then hard-linked into place: ``os.link`` is atomic and fails if the
name is taken, which is the local twin of S3's ``If-None-Match: *``. The
directory entry is fsynced before create() returns, so a created object
survives a power cut.

Limits compared with S3: a key cannot also be a "directory" of other keys
(``a`` and ``a/b`` cannot both exist), and key components may not be empty,
``.`` or ``..``.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from board.log.base import AlreadyExists, BaseLog, LogError, LogUnavailable, NotFound, ObjectInfo

TMP_DIR = ".utakata-tmp"


class LocalLog(BaseLog):
    """The durable log as files under one directory (the embedded default)."""

    def __init__(self, location: str, options: dict | None = None) -> None:
        super().__init__(location, options)
        if not location or not os.path.isabs(location):
            raise ValueError(f"LocalLog needs an absolute directory path, not {location!r}")
        self.root = Path(location)

    # --- keys and paths ------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file that holds key; ValueError for a key that could escape the root."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"invalid log key {key!r}: empty")
        if key.startswith("/") or "\\" in key or "\0" in key:
            raise ValueError(f"invalid log key {key!r}: absolute, or holds a backslash or NUL")
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"invalid log key {key!r}: empty, '.' or '..' component")
        if parts[0] == TMP_DIR:
            raise ValueError(f"invalid log key {key!r}: {TMP_DIR}/ is reserved")
        return self.root.joinpath(*parts)

    def _unavailable(self, exc: OSError, doing: str, key: str) -> LogUnavailable:
        reason = exc.strerror or str(exc)
        # A local write fails before its atomic last step or not at all: nothing can land later.
        return LogUnavailable(f"local log {self.root}: cannot {doing} {key!r}: {reason} ({exc.filename})", unsent=True)

    # --- writes --------------------------------------------------------------

    def create(self, key: str, data: bytes) -> None:
        final = self._path(key)

        def write(out: BinaryIO) -> None:
            out.write(data)

        self._create(key, final, write, lambda: _same_bytes(final, data))

    def create_from_file(self, key: str, fileobj: BinaryIO) -> None:
        final = self._path(key)
        tmp_holder: list[Path] = []

        def write(out: BinaryIO) -> None:
            shutil.copyfileobj(fileobj, out, 1 << 20)

        def same() -> bool:
            return filecmp.cmp(tmp_holder[0], final, shallow=False)

        self._create(key, final, write, same, tmp_holder)

    def _create(self, key, final: Path, write, same, tmp_holder: list[Path] | None = None) -> None:
        try:
            tmp = self._write_tmp(write)
        except OSError as exc:
            raise self._unavailable(exc, "write", key) from exc
        if tmp_holder is not None:
            tmp_holder.append(tmp)
        try:
            self._link(key, tmp, final)
        except FileExistsError:
            if final.is_dir():
                raise LogError(
                    f"local log {self.root}: {key!r} cannot be stored, other keys live under {key}/"
                ) from None
            try:
                identical = same()
            except OSError as exc:
                raise self._unavailable(exc, "compare", key) from exc
            if not identical:
                raise AlreadyExists(f"local log {self.root}: {key!r} already exists") from None
            # The same bytes are already there: a retried write, already done.
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _write_tmp(self, write) -> Path:
        tmp_dir = self.root / TMP_DIR
        self._makedirs(tmp_dir)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "xb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return tmp

    def _link(self, key: str, tmp: Path, final: Path) -> None:
        """Hard-link tmp to final (FileExistsError if taken), then fsync the directory."""
        for _ in range(10):
            try:
                self._makedirs(final.parent)
                os.link(tmp, final)
            except FileNotFoundError:
                continue  # a delete() pruned the empty parent meanwhile: make it again
            except FileExistsError:
                raise
            except NotADirectoryError as exc:
                raise self._shadowed(key) from exc
            except OSError as exc:
                if exc.errno == errno.ENOTDIR:
                    raise self._shadowed(key) from exc
                raise self._unavailable(exc, "write", key) from exc
            break
        else:
            raise LogUnavailable(f"local log {self.root}: the directory for {key!r} keeps vanishing")
        try:
            _fsync_dir(final.parent)
        except OSError as exc:
            raise self._unavailable(exc, "sync", key) from exc

    def _shadowed(self, key: str) -> LogError:
        return LogError(f"local log {self.root}: {key!r} cannot be stored, a prefix of it is an object")

    def _makedirs(self, directory: Path) -> None:
        """Create directory and its missing parents, fsyncing each new entry's parent."""
        if directory.is_dir():
            return
        missing = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            if current == current.parent:
                break
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                if not path.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path)) from None
                continue
            _fsync_dir(path.parent)

    def replace(self, key: str, data: bytes) -> None:
        final = self._path(key)
        try:
            tmp = self._write_tmp(lambda out: out.write(data))
        except OSError as exc:
            raise self._unavailable(exc, "write", key) from exc
        try:
            for _ in range(10):
                try:
                    self._makedirs(final.parent)
                    os.replace(tmp, final)
                except FileNotFoundError:
                    continue
                except IsADirectoryError as exc:
                    raise LogError(
                        f"local log {self.root}: {key!r} cannot be stored, other keys live under {key}/"
                    ) from exc
                except NotADirectoryError as exc:
                    raise self._shadowed(key) from exc
                break
            else:
                raise LogUnavailable(f"local log {self.root}: the directory for {key!r} keeps vanishing")
            _fsync_dir(final.parent)
        except OSError as exc:
            raise self._unavailable(exc, "write", key) from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                continue
            except IsADirectoryError:
                continue  # a "directory" of other keys, not an object
            except OSError as exc:
                raise self._unavailable(exc, "delete", key) from exc
            # Prune directories left empty, as S3 has none; create() copes with the race.
            parent = path.parent
            while parent != self.root:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

    # --- reads ---------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")  # noqa: SIM115 - the caller closes it
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"local log {self.root}: no object {key!r}") from None
        except OSError as exc:
            raise self._unavailable(exc, "read", key) from exc

    def read(self, key: str) -> bytes:
        with self.open(key) as stream:
            try:
                return stream.read()
            except OSError as exc:
                raise self._unavailable(exc, "read", key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        # Start in the deepest directory the prefix names; filter the rest.
        base, _, _ = prefix.rpartition("/")
        base_rel = f"{base}/" if base else ""
        if base:
            try:
                start = self._path(base)
            except ValueError:
                return
        else:
            start = self.root
        yield from self._walk(start, base_rel, prefix, start_after)

    def _walk(self, directory: Path, rel: str, prefix: str, start_after: str) -> Iterator[ObjectInfo]:
        """Yield objects under directory (whose keys start with rel) in full-key order.

        Sibling entries are sorted by "name/" for a directory and "name" for a
        file: every key below a directory starts with "name/", and no sibling's
        sort key is a proper prefix of a directory's, so this order is exactly
        the order of the full key strings (what S3 gives, e.g. "a-b" < "a/b").
        """
        try:
            with os.scandir(directory) as it:
                entries = []
                for entry in it:
                    if not rel and entry.name == TMP_DIR:
                        continue
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    entries.append((rel + entry.name + ("/" if is_dir else ""), is_dir, entry))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise self._unavailable(exc, "list", rel or "/") from exc
        entries.sort(key=lambda item: item[0])
        for sort_key, is_dir, entry in entries:
            if is_dir:
                if not (sort_key.startswith(prefix) or prefix.startswith(sort_key)):
                    continue
                if sort_key < start_after and not start_after.startswith(sort_key):
                    continue  # every key below is <= start_after
                yield from self._walk(Path(entry.path), sort_key, prefix, start_after)
            else:
                if not sort_key.startswith(prefix) or sort_key <= start_after:
                    continue
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted while we walked
                except OSError as exc:
                    raise self._unavailable(exc, "list", sort_key) from exc
                yield ObjectInfo(sort_key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def _same_bytes(path: Path, data: bytes) -> bool:
    with open(path, "rb") as existing:
        return existing.read(len(data) + 1) == data


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

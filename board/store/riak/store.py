"""The production store: a Riak KV cluster, through its HTTP API.

    riak://h1:8098,h2:8098,h3:8098?type=utakata&r=quorum&w=quorum

Concurrency the Riak way: the bucket type keeps concurrent writes as
siblings (allow_mult, dotted version vectors), every write carries the
vclock of the read it descends from, and update() merges siblings with the
objects' join and writes the result back. There is no Conflict here. A
tombstone (a delete concurrent with a write, ``X-Riak-Deleted``) is not a
value: a read that finds only tombstones finds nothing.

Each generation (see generations.py) is one Riak bucket,
``<prefix>.m<model>.g<n>``, holding every object as key ``<bucket>/<key>``;
every object carries the generation as a secondary index (``gen_int``) and
its data-model version as metadata, so a generation is tested for
emptiness and removed through the index, never by listing keys. The pointer
lives in ``<prefix>.meta``.

Options (the URL's query string):

    type             bucket type (default utakata); must have allow_mult true
                     and last_write_wins false, or the store refuses to run
    prefix           bucket name prefix (default utakata)
    r, w, dw, pr, pw quorums per request: quorum, one, all, or a number
                     (defaults: r=quorum, w=quorum, dw=quorum, pr=0, pw=0)
    n_val            if given, the n_val the type must have (checked at start)
    connect_timeout  seconds (default 2); read_timeout seconds (default 10)
    timeout          milliseconds Riak itself may spend on a request (default 5000)
    retry_after      seconds a failed node is skipped (default 5)
    pool_size        connections kept per node and process (default 16)
    concurrency      parallel requests of fetch_many/store_many (default 8)
    generation_ttl   seconds the generation pointer is cached (default 1)
    changes          redis://… where the store's change tokens are (settings
                     give REDIS_URL); without it no read is kept
    read_cache       bytes each process keeps of its reads (default 4194304;
                     0 for none), checked against the change tokens
                     (board/store/changes.py, board/store/redistokens.py)
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from board.lib.backends import option
from board.store.base import BaseStore, Fetched, StoreError, StoreMisconfigured
from board.store.changes import KeptReads, kept_for, slot_of
from board.store.redistokens import RedisTokens
from board.store.riak import multipart
from board.store.riak.transport import Response, cluster_for, path, request

logger = logging.getLogger(__name__)

QUORUMS = {"quorum", "one", "all", "default"}
INDEX_PAGE = 500
_executors: dict[tuple[int, int], ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()
_checked: set[tuple] = set()  # (location, type, bucket) whose properties were found safe in this process
_tokens: dict[tuple[str, str], RedisTokens] = {}  # one per Redis and store, shared by the process's threads
READ_CACHE = 4 * 1024 * 1024


def _quorum(name: str, value: str) -> str:
    if value in QUORUMS or value.isdigit():
        return value
    raise ValueError(f"riak option {name}={value!r}: use quorum, one, all or a number")


def _executor(size: int) -> ThreadPoolExecutor:
    key = (os.getpid(), size)
    executor = _executors.get(key)
    if executor is None:
        with _executors_lock:
            executor = _executors.get(key) or ThreadPoolExecutor(size, thread_name_prefix="riak")
            _executors[key] = executor
    return executor


class RiakStore(BaseStore):
    """Buckets of bytes in a Riak KV cluster; siblings merged by the caller's join."""

    makes_siblings = True

    KNOWN_OPTIONS = BaseStore.KNOWN_OPTIONS | {
        "type",
        "prefix",
        "r",
        "w",
        "dw",
        "pr",
        "pw",
        "n_val",
        "timeout",
        "concurrency",
        "connect_timeout",
        "read_timeout",
        "pool_size",
        "retry_after",
        "changes",
        "read_cache",
    }
    KIND = "Riak store"

    def __init__(self, location: str, options: dict | None = None) -> None:
        super().__init__(location, options)
        opts = self.options
        self.type = opts.get("type", "utakata")
        self.prefix = opts.get("prefix", "utakata")
        self.quorums = {
            name: _quorum(name, str(opts.get(name, default)))
            for name, default in (("r", "quorum"), ("w", "quorum"), ("dw", "quorum"), ("pr", "0"), ("pw", "0"))
        }
        self.n_val = option(opts, "n_val", None, int, self.KIND)
        self.server_timeout = option(opts, "timeout", 5000, int, self.KIND)
        self.concurrency = option(opts, "concurrency", 8, int, self.KIND)
        self.cluster = cluster_for(
            location,
            option(opts, "connect_timeout", 2.0, float, self.KIND),
            option(opts, "read_timeout", 10.0, float, self.KIND),
            option(opts, "pool_size", 16, int, self.KIND),
            option(opts, "retry_after", 5.0, float, self.KIND, zero=True),
        )
        self._tokens: RedisTokens | None = None
        self.read_cache = option(opts, "read_cache", READ_CACHE, int, self.KIND, zero=True)
        if opts.get("changes") and self.read_cache > 0:
            # Not named by the node list, which each machine may give in its own order: a store whose
            # writers and readers named it differently would never see the other's tokens move.
            self._tokens_name = (opts["changes"], f"{self.type}/{self.prefix}")
            self._tokens = _tokens.get(self._tokens_name) or _tokens.setdefault(
                self._tokens_name, RedisTokens(*self._tokens_name)
            )
        self._kept_of: tuple[int, KeptReads | None] = (0, None)

    # --- naming --------------------------------------------------------------

    def _bucket(self, generation: int) -> str:
        return f"{self.prefix}.m{self.model}.g{generation}"

    def _meta_bucket(self) -> str:
        return f"{self.prefix}.meta"

    def _read_query(self) -> dict[str, object]:
        return {"r": self.quorums["r"], "pr": self.quorums["pr"], "timeout": self.server_timeout}

    def _write_query(self) -> dict[str, object]:
        q = self.quorums
        return {"w": q["w"], "dw": q["dw"], "pw": q["pw"], "timeout": self.server_timeout}

    # --- the bucket type must keep concurrent writes ---------------------------

    def check(self, riak_bucket: str) -> None:
        """Refuse to run on a bucket whose properties would silently drop concurrent writes."""
        mark = (self.location, self.type, riak_bucket)
        if mark in _checked:
            return
        got = request(self.cluster, "GET", path("types", self.type, "buckets", riak_bucket, "props"))
        if got.status == 404:
            raise StoreMisconfigured(
                f"riak bucket type {self.type!r} does not exist or is not active; create it with "
                f"""riak admin bucket-type create {self.type} '{{"props":{{"allow_mult":true,"""
                f""""dvv_enabled":true}}}}' and riak admin bucket-type activate {self.type}"""
            )
        if got.status != 200:
            raise StoreError(f"riak: reading the properties of {self.type}/{riak_bucket}: HTTP {got.status}")
        props = json.loads(got.body)["props"]
        if not props.get("allow_mult") or props.get("last_write_wins"):
            raise StoreMisconfigured(
                f"riak bucket type {self.type!r} has allow_mult={props.get('allow_mult')} and "
                f"last_write_wins={props.get('last_write_wins')}: concurrent writes would be silently dropped. "
                f"Use a bucket type with allow_mult true and last_write_wins false (and dvv_enabled true)."
            )
        if self.n_val is not None and props.get("n_val") != self.n_val:
            raise StoreMisconfigured(
                f"riak bucket type {self.type!r} has n_val={props.get('n_val')}, the store URL asks for "
                f"n_val={self.n_val}; n_val is set when the bucket type is created"
            )
        if not props.get("dvv_enabled"):
            logger.warning("riak bucket type %r has dvv_enabled false: siblings may pile up", self.type)
        _checked.add(mark)

    # --- reading and writing one object ---------------------------------------------

    def _object_path(self, riak_bucket: str, key: str, query: dict[str, object]) -> str:
        return path("types", self.type, "buckets", riak_bucket, "keys", key, query=query)

    def _get(self, riak_bucket: str, key: str) -> Fetched | None:
        self.check(riak_bucket)
        url = self._object_path(riak_bucket, key, self._read_query())
        got = request(self.cluster, "GET", url, headers={"Accept": "multipart/mixed, */*;q=0.5"})
        if got.status == 404:
            return None
        if got.status == 200:
            if got.headers.get("X-Riak-Deleted", "").lower() == "true":
                return None
            return Fetched((got.body,), got.headers["X-Riak-Vclock"])
        if got.status == 300:
            parts = multipart.parse(got.headers.get("Content-Type", ""), got.body)
            values = tuple(part.value for part in parts if not part.deleted)
            if not values:
                return None
            return Fetched(values, got.headers["X-Riak-Vclock"])
        raise _failed("GET", riak_bucket, key, got)

    def _put(self, riak_bucket: str, key: str, value: bytes, context: Any, generation: int | None) -> None:
        self.check(riak_bucket)
        headers = {"Content-Type": "application/octet-stream", "x-riak-meta-model": self.model}
        if context is not None:
            headers["X-Riak-Vclock"] = context
        if generation is not None:
            headers["x-riak-index-gen_int"] = str(generation)
        got = request(self.cluster, "PUT", self._object_path(riak_bucket, key, self._write_query()), value, headers)
        if got.status not in (200, 201, 204):
            raise _failed("PUT", riak_bucket, key, got)

    def _delete(self, riak_bucket: str, key: str) -> None:
        got = request(self.cluster, "DELETE", self._object_path(riak_bucket, key, self._write_query()))
        if got.status not in (204, 404):
            raise _failed("DELETE", riak_bucket, key, got)

    # --- the store interface ---------------------------------------------------------

    def _kept(self) -> KeptReads | None:
        """The reads this process keeps of the store (one per process: a forked child starts its own)."""
        if self._tokens is None:
            return None
        pid, kept = self._kept_of
        if pid != os.getpid() or kept is None:
            kept = kept_for(("riak", *self._tokens_name), self._tokens, self.read_cache)
            self._kept_of = (os.getpid(), kept)
        return kept

    def fetch(self, bucket: str, key: str) -> Fetched | None:
        generation = self.generation()
        kept = self._kept()
        if kept is None:
            return self._get(self._bucket(generation), f"{bucket}/{key}")
        return kept.fetch(generation, bucket, key, lambda: self._get(self._bucket(generation), f"{bucket}/{key}"))

    def fetch_to_write(self, bucket: str, key: str) -> Fetched | None:
        # Never a kept read: a write must descend from the vclock Riak holds now, or it makes a sibling.
        return self._get(self._bucket(self.generation()), f"{bucket}/{key}")

    def fetch_many_to_write(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        # Never kept reads, as fetch_to_write.
        return self._get_many(self.generation(), bucket, list(dict.fromkeys(keys)))

    def store(self, bucket: str, key: str, value: bytes, context: Any = None) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"store values are bytes, not {type(value).__name__}")
        generation = self.generation()
        try:
            self._put(self._bucket(generation), f"{bucket}/{key}", bytes(value), context, generation)
        finally:  # a write that failed may still have landed on some replicas
            self._changed(bucket, (key,))

    def delete(self, bucket: str, key: str) -> None:
        try:
            self._delete(self._bucket(self.generation()), f"{bucket}/{key}")
        finally:
            self._changed(bucket, (key,))

    def _changed(self, bucket: str, keys: Iterable[str]) -> None:
        """Writes to bucket/keys returned: new tokens for their slots, so no process serves what it kept of them."""
        if self._tokens is not None:
            self._tokens.changed(slot_of(bucket, key) for key in keys)

    def fetch_many(self, bucket: str, keys: Iterable[str]) -> dict[str, Fetched]:
        """Bounded parallel GETs: HTTP has no multi-get."""
        keys = list(dict.fromkeys(keys))
        if len(keys) <= 1:
            found = {key: self.fetch(bucket, key) for key in keys}
            return {key: fetched for key, fetched in found.items() if fetched is not None}
        generation = self.generation()
        kept = self._kept()
        if kept is None:
            return self._get_many(generation, bucket, keys)
        return kept.fetch_many(generation, bucket, keys, lambda left: self._get_many(generation, bucket, left))

    def _get_many(self, generation: int, bucket: str, keys: list[str]) -> dict[str, Fetched]:
        riak_bucket = self._bucket(generation)
        self.check(riak_bucket)
        results = _executor(self.concurrency).map(lambda k: self._get(riak_bucket, f"{bucket}/{k}"), keys)
        return {key: fetched for key, fetched in zip(keys, results, strict=True) if fetched is not None}

    def store_many(self, bucket: str, items: list[tuple[str, bytes, Any]]) -> dict[str, StoreError | None]:
        """Parallel PUTs; Riak keeps siblings rather than refusing, so no write conflicts."""
        if len(items) <= 1:
            return super().store_many(bucket, items)
        generation = self.generation()
        riak_bucket = self._bucket(generation)
        self.check(riak_bucket)

        def put(item: tuple[str, bytes, Any]) -> None:
            key, value, context = item
            self._put(riak_bucket, f"{bucket}/{key}", bytes(value), context, generation)

        try:
            list(_executor(self.concurrency).map(put, items))
        finally:
            self._changed(bucket, [key for key, _, _ in items])
        return {key: None for key, _, _ in items}

    def is_empty(self) -> bool:
        return not self._index_page(self.generation(), 1)[0]

    # --- generations -----------------------------------------------------------------

    def _meta_fetch(self, key: str) -> Fetched | None:
        return self._get(self._meta_bucket(), key)

    def _meta_store(self, key: str, value: bytes, context: Any) -> None:
        self._put(self._meta_bucket(), key, value, context, None)

    def _index_page(self, generation: int, size: int, continuation: str | None = None) -> tuple[list[str], str | None]:
        """Keys of a generation's bucket through its secondary index, a page at a time."""
        riak_bucket = self._bucket(generation)
        query = {"max_results": size, "continuation": continuation, "timeout": self.server_timeout}
        url = path("types", self.type, "buckets", riak_bucket, "index", "gen_int", str(generation), query=query)
        got = request(self.cluster, "GET", url)
        if got.status != 200:
            raise _failed("index query", riak_bucket, "gen_int", got)
        body = json.loads(got.body)
        return body.get("keys", []), body.get("continuation")

    def _drop_generation(self, generation: int) -> None:
        """Delete every object of the generation, a page of index results at a time."""
        riak_bucket = self._bucket(generation)
        deleted = 0
        while True:
            keys, _ = self._index_page(generation, INDEX_PAGE)
            if not keys:
                break
            list(_executor(self.concurrency).map(lambda k: self._delete(riak_bucket, k), keys))
            deleted += len(keys)
        logger.info("riak: removed generation %s (%d objects)", riak_bucket, deleted)


def _failed(method: str, riak_bucket: str, key: str, got: Response) -> StoreError:
    return StoreError(f"riak {method} {riak_bucket}/{key} on {got.node}: HTTP {got.status} {got.body[:300]!r}")

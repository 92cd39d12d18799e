"""Change tokens in Redis: how a store read on many machines (Riak) knows a kept read is current.

The SQLite store's tokens are a file every process maps (changes.py). Riak's
writers run on other machines, so its tokens live in Redis: one key per slot
(changes.SLOTS of them), given a new random token after every write to the
store, and read before a read (GET, or one MGET for a page's keys). A kept
read then costs a Redis round trip instead of a Riak quorum read.

A token that cannot be read (Redis down) keeps nothing: the read goes to
Riak. A token that could not be written (Redis down, or a writer killed
between its write and its token) leaves a value kept for at most
changes.MAX_AGE seconds, as on SQLite. Tokens are random, not counters, so a
Redis restarted empty never gives a slot back a token it had before. After a
failure Redis is left alone for RETRY_AFTER seconds, so that an outage costs
the reads nothing but this one timeout.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterable

import redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_AFTER = 5.0
TIMEOUT = 0.5  # seconds: a read waits at most this for its token before it goes to Riak without one
ABSENT = b""  # the token of a slot nothing has written since Redis started


class RedisTokens:
    """The change tokens of one store (named by ``namespace``) in the Redis at ``url``."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.prefix = f"utakata:changes:{namespace}:"
        self._client: redis.Redis | None = None
        self._pid = 0
        self._down_until = 0.0

    def _redis(self) -> redis.Redis | None:
        if time.monotonic() < self._down_until:
            return None
        if self._client is None or self._pid != os.getpid():  # a forked child makes connections of its own
            self._client = redis.Redis.from_url(self.url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
            self._pid = os.getpid()
        return self._client

    def _failed(self, doing: str, exc: RedisError) -> None:
        self._down_until = time.monotonic() + RETRY_AFTER
        logger.warning("store change tokens: %s failed (%s); reads go to the store for %ss", doing, exc, RETRY_AFTER)

    def token(self, slot: int) -> bytes | None:
        """The slot's token, or None when Redis cannot say (then nothing may be kept or served kept)."""
        found = self.token_many((slot,))
        return None if found is None else found[0]

    def token_many(self, slots: Iterable[int]) -> list[bytes] | None:
        """The tokens of slots, in their order, in one round trip; None when Redis cannot say."""
        client = self._redis()
        if client is None:
            return None
        try:
            found = client.mget([f"{self.prefix}{slot}" for slot in slots])
        except RedisError as exc:
            self._failed("reading tokens", exc)
            return None
        return [ABSENT if token is None else token for token in found]

    def changed(self, slots: Iterable[int]) -> None:
        """Give each slot a new token: call after the writes to their keys returned."""
        client = self._redis()
        tokens = {f"{self.prefix}{slot}": random.getrandbits(64) for slot in set(slots)}
        if client is None or not tokens:
            return
        try:
            client.mset(tokens)
        except RedisError as exc:
            self._failed("writing tokens", exc)

"""A thread's numbers handed out by Redis, so that posters write their claims at once.

Under the thread lock (threadlock.py) one post's claim is written at a time:
a busy thread takes one post per log write. Here Redis hands each poster a
number with one script, and every poster writes its own claim in parallel.
The log still decides (board/posting/numbers.py): a claim is a conditional
put, so a number Redis hands out twice is refused the second time.

The state, a hash per thread, says:

- ``h``: every number up to it is used (written, voided, or someone's);
- ``n``: the next number to hand out; those between are out with posters;
- ``p``: when ``h`` last moved (ms);

and a set of the numbers above ``h`` already used. A poster whose write
failed gives its number back when nobody was handed one after it, else it
writes a void there (numbers.void). A number whose poster died is never
given back: once ``h`` has not moved for STALE_MS while numbers are out,
posters are handed ``h + 1`` again, and the conditional put tells whether
its first poster wrote it (then it is used, and ``h`` moves on) or not (then
the new poster fills it); a thread nobody posts to any more has it settled by
the number sweep (numbers.sweep, every UTAKATA_NUMBER_SWEEP_SECONDS), before
the state expires.

The state expires half a rollup grace after its last use, like the hint:
while it lives, no claim above ``h`` can have been rolled up and deleted.
A new thread's first post starts its state, so that its first reply lists
nothing. Without it (first post after a while, Redis flushed) the first
poster lists the log (board/log/claims.py) and starts the state there, ``h``
below the first gap the listing shows: a number whose poster died just
before Redis lost the state is then handed out again or swept like any other.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.cache.backends.redis import RedisCache

from board.log.claims import ThreadClaims
from board.posting.threadlock import LOCK_TTL, trust_window_ms

STALE_MS = LOCK_TTL * 1000  # as long as the thread lock outlives a crashed holder

# KEYS: state, used set; ARGV: now (ms), limit, stale (ms), expiry (ms), then to start a state that is not
# there: n, h and the numbers above h already used. Returns the number handed out, 0 when the
# thread is full, -1 when the state must be started from the log.
RESERVE = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if not n then
    if ARGV[5] == nil then return -1 end
    n = tonumber(ARGV[5])
    redis.call('HSET', KEYS[1], 'n', n, 'h', ARGV[6], 'p', ARGV[1])
    redis.call('DEL', KEYS[2])
    for i = 7, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
end
local h = tonumber(redis.call('HGET', KEYS[1], 'h'))
local p = tonumber(redis.call('HGET', KEYS[1], 'p'))
local take = n
if n > h + 1 and tonumber(ARGV[1]) - p > tonumber(ARGV[3]) then
    take = h + 1
    redis.call('HSET', KEYS[1], 'p', ARGV[1])
end
if take > tonumber(ARGV[2]) then return 0 end
if take == n then redis.call('HSET', KEYS[1], 'n', n + 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return take
"""

# KEYS: state, used set; ARGV: number, now (ms), expiry (ms). Marks it used and moves h over every used number.
USED = """
local h = tonumber(redis.call('HGET', KEYS[1], 'h'))
if not h then return 0 end
local number = tonumber(ARGV[1])
if number > h then redis.call('SADD', KEYS[2], number) end
local moved = false
while redis.call('SREM', KEYS[2], h + 1) == 1 do
    h = h + 1
    moved = true
end
if moved then redis.call('HSET', KEYS[1], 'h', h, 'p', ARGV[2]) end
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if n <= h then redis.call('HSET', KEYS[1], 'n', h + 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return h
"""

# KEYS: state, used set; ARGV: now (ms), expiry (ms). Starts the state of a thread whose first post was just
# written (every number up to 1 used), unless a poster started it already. Returns 1 if it did.
START = """
if redis.call('HEXISTS', KEYS[1], 'n') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'n', 2, 'h', 1, 'p', ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: state; ARGV: number. Takes a number back when it is the last one handed out; 1 if it did.
GIVE_BACK = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if n and n == tonumber(ARGV[1]) + 1 then
    redis.call('HSET', KEYS[1], 'n', ARGV[1])
    return 1
end
return 0
"""

NEEDS_START = -1
FULL = 0


class Sequence:
    """One thread's numbers in Redis; every method is one script and may raise the cache's errors."""

    def __init__(self, cache: RedisCache, board: str, thread: str) -> None:
        self.state = cache.make_and_validate_key(f"utakata:seq:{board}:{thread}")
        self.used_set = cache.make_and_validate_key(f"utakata:seq-used:{board}:{thread}")
        self.client = cache._cache.get_client(self.state, write=True)

    def reserve(self, now_ms: int, limit: int, claims: ThreadClaims | None = None) -> int:
        """A number for one poster; FULL past limit; NEEDS_START when no state lives (call again with claims).

        Started from the thread's claims as listed, ``h`` stops below the
        first gap the listing shows, so that the gap is handed out again (or
        swept) once it has been stuck for STALE_MS, like a dead poster's.
        """
        args: list[int] = [now_ms, limit, STALE_MS, trust_window_ms()]
        if claims is not None:
            highest = claims.highest or 0
            gaps = claims.gaps()
            h = gaps[0] - 1 if gaps else highest
            args += [highest + 1, h, *sorted(set(range(h + 1, highest + 1)) - set(gaps))]
        return int(self.client.eval(RESERVE, 2, self.state, self.used_set, *args))

    def start(self, now_ms: int) -> bool:
        """Start the state of a thread whose first post was just written; False if a poster started it first.

        A number written meanwhile without the state (a poster whose Redis
        failed) is refused by the log when handed out, and stepped over.
        """
        return bool(self.client.eval(START, 2, self.state, self.used_set, now_ms, trust_window_ms()))

    def used(self, number: int, now_ms: int) -> int:
        """Mark number used (written, voided, or someone else's); return the new ``h``."""
        return int(self.client.eval(USED, 2, self.state, self.used_set, number, now_ms, trust_window_ms()))

    def exists(self) -> bool:
        """Whether the state lives: only a thread with a post in the log has one."""
        return bool(self.client.exists(self.state))

    def give_back(self, number: int) -> bool:
        """Take number back if nobody was handed one after it (then no void is needed)."""
        return bool(self.client.eval(GIVE_BACK, 1, self.state, number))


def stuck(cache: RedisCache, now_ms: int) -> Iterator[tuple[str, str, int]]:
    """(board, thread, number) of every live sequence whose ``h`` has waited on number for STALE_MS."""
    client = cache._cache.get_client(write=True)
    pattern = cache.make_and_validate_key("utakata:seq:*")
    for key in client.scan_iter(match=pattern, count=500):
        state = client.hgetall(key)
        if not state or b"n" not in state or b"h" not in state:
            continue
        n, h, p = int(state[b"n"]), int(state[b"h"]), int(state.get(b"p", 0))
        if n > h + 1 and now_ms - p > STALE_MS:
            board, thread = key.decode().rsplit(":", 2)[1:]
            yield board, thread, h + 1

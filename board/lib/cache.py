"""The cache (Redis in production) is best-effort: what a cache that is down raises.

Numbering, cooldowns, locks and resubmission checks catch these and go on
without the cache; the log is what keeps posts unique.
"""

from django.db import Error as DatabaseError
from redis.exceptions import RedisError

# Redis's client errors; a file cache's OSError; the embedded database cache's errors.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, DatabaseError)

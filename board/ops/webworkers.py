"""How gunicorn's workers share the machine: a listening socket each, and a CPU each.

Both for the same reason: a gthread worker's threads pass the GIL to one
another at every socket write, SQLite step and wake-up of its main loop.

- With one listening socket shared by every worker, whichever worker wakes
  first accepts; a burst of connections often all went to one, the other
  idle. Each worker listens on a socket of its own (``SO_REUSEPORT``, so the
  kernel shares connections out by their addresses), as nginx's ``reuseport``.
- A worker whose threads the kernel spreads over several cores passes the GIL
  across cores at each of those points. On 2 cores, one worker holding all
  eight keep-alive connections of ``ab -k -c 8`` spent 800–900 µs of CPU and
  20 context switches on a request to the minimal view unpinned, 440–590 µs
  and 1.4 pinned to one CPU, as uWSGI's ``cpu-affinity`` pins its workers
  (see the README, "Web workers"). It is off unless asked for
  (``UTAKATA_WEB_CPU_AFFINITY``): a pinned worker cannot move away from a
  busy neighbour (beside moto and its clients, the posting benchmark ran
  lower pinned), and under a CPU quota the CPUs it may run on are the host's.

The arbiter chooses a worker's CPU (``pre_fork``, where every sibling's CPU is
known, including one forked a moment before) and the worker applies it
(``post_fork``); a replacement takes the CPU its predecessor left.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable


def choose(allowed: Iterable[int], taken: Iterable[int | None]) -> int | None:
    """The allowed CPU the fewest live workers hold (the lowest among equals); None when pinning cannot help.

    ``taken`` holds the CPU of each live sibling (None for one not pinned).
    With a single allowed CPU there is nothing to choose.
    """
    counts = dict.fromkeys(sorted(allowed), 0)
    if len(counts) < 2:
        return None
    for cpu in taken:
        if cpu in counts:
            counts[cpu] += 1
    return min(counts, key=counts.__getitem__)


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on (empty where the system cannot pin, e.g. macOS)."""
    if not hasattr(os, "sched_getaffinity"):
        return set()
    return os.sched_getaffinity(0)


def pin(cpu: int) -> None:
    """Run this process (and the threads it starts from now on) on ``cpu`` alone."""
    os.sched_setaffinity(0, {cpu})


def sockets_of_their_own(binds: Iterable[str]) -> bool:
    """Whether each worker can listen on a socket of its own: every address is TCP and the system has SO_REUSEPORT.

    A Unix socket is a path: a worker binding its own would unlink its siblings'.
    """
    return hasattr(socket, "SO_REUSEPORT") and not any(b.startswith(("unix:", "fd://")) for b in binds)


def refuse_taken(addresses: Iterable[tuple[str, int] | str | int]) -> None:
    """RuntimeError naming the first TCP address another process listens on.

    Sockets with SO_REUSEPORT would share such an address with that process
    (another server of the same user, one left running by a deploy) instead
    of failing to bind, and every worker would fail and be restarted in turn
    if it does not use the option; so the arbiter checks before forking.
    """
    for address in addresses:
        if not isinstance(address, tuple):
            continue
        host, port = address[0], address[1]
        probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no owner
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RuntimeError(f"cannot listen on {host}:{port}: another process listens there") from None
            raise
        finally:
            probe.close()

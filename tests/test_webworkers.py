"""Each gunicorn worker on a listening socket and a CPU of its own (board/ops/webworkers.py, the gunicorn config)."""

import os
import signal
import socket
import subprocess

import pytest

from board.ops import webworkers
from tests import processes, services

two_cpus = pytest.mark.skipif(len(webworkers.allowed_cpus()) < 2, reason="needs two CPUs to pin workers apart")


def test_a_worker_takes_the_cpu_the_fewest_siblings_hold():
    assert webworkers.choose({0, 1, 2}, [0, 0, 1, 2]) == 1


def test_among_equally_held_cpus_the_lowest_is_taken():
    assert webworkers.choose({3, 1, 2}, []) == 1


def test_siblings_not_pinned_or_on_cpus_no_longer_allowed_do_not_count():
    assert webworkers.choose({0, 1}, [None, 5, 0]) == 1


def test_with_one_cpu_allowed_nothing_is_pinned():
    assert webworkers.choose({4}, [None]) is None


def _worker_cpus(web: processes.WebServer) -> dict[int, set[int]]:
    return {pid: os.sched_getaffinity(pid) for pid in web.worker_pids()}


@two_cpus
def test_each_gunicorn_worker_runs_on_a_cpu_of_its_own(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_WEB_CPU_AFFINITY="1")
    with processes.gunicorn(env, workers=2, ready_path="/healthz", log_dir=tmp_path) as web:
        cpus = list(_worker_cpus(web).values())
    assert all(len(one) == 1 for one in cpus)
    assert cpus[0] != cpus[1]


@two_cpus
def test_a_replaced_worker_takes_the_cpu_its_predecessor_left(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_WEB_CPU_AFFINITY="1")
    with processes.gunicorn(env, workers=2, ready_path="/healthz", log_dir=tmp_path) as web:
        before = _worker_cpus(web)
        dead = min(before)
        os.kill(dead, signal.SIGKILL)

        def replaced() -> bool:
            pids = web.worker_pids()
            return dead not in pids and len(pids) == 2 and all(len(os.sched_getaffinity(pid)) == 1 for pid in pids)

        processes.eventually(replaced, 20, "a replacement worker, pinned")
        after = _worker_cpus(web)
    (replacement,) = set(after) - set(before)
    assert after[replacement] == before[dead]


@two_cpus
def test_workers_are_left_to_the_kernel_unless_the_setting_pins_them(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    with processes.gunicorn(env, workers=2, ready_path="/healthz", log_dir=tmp_path) as web:
        cpus = list(_worker_cpus(web).values())
    assert cpus == [webworkers.allowed_cpus()] * 2


def _listening_inodes(pid: int) -> set[str]:
    """The inodes of the TCP sockets in LISTEN that process pid holds."""
    listening = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as lines:
            next(lines)
            listening |= {f[9] for f in (line.split() for line in lines) if f[3] == "0A"}
    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}") if os.path.exists(f"/proc/{pid}/fd/{fd}") else ""
        if target.startswith("socket:["):
            held.add(target[8:-1])
    return held & listening


def test_each_gunicorn_worker_listens_on_a_socket_of_its_own(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    with processes.gunicorn(env, workers=2, ready_path="/healthz", log_dir=tmp_path) as web:
        first, second = (_listening_inodes(pid) for pid in web.worker_pids())
    assert first and second and not first & second


def test_the_log_names_the_address_the_workers_listen_on(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path))
    with processes.gunicorn(env, workers=2, ready_path="/healthz", log_dir=tmp_path) as web:
        logged = web.log_path.read_text()
    assert f"Each worker listens on 127.0.0.1:{web.port} on a socket of its own" in logged


def test_unix_sockets_and_descriptors_are_shared_by_the_workers():
    assert webworkers.sockets_of_their_own(["127.0.0.1:8000", "[::1]:8000"])
    assert not webworkers.sockets_of_their_own(["unix:/run/utakata.sock"])
    assert not webworkers.sockets_of_their_own(["fd://3"])


def test_an_address_another_process_listens_on_stops_the_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_BIND=f"127.0.0.1:{port}")
        done = subprocess.run(
            [str(processes.BIN / "gunicorn"), "--config", str(processes.GUNICORN_CONFIG), "boards_site.wsgi"],
            env=env,
            cwd=processes.ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}: another process listens there" in done.stderr

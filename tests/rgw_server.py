"""A real Ceph RGW (S3) for the tests: the second S3 implementation beside moto.

It is started from ``setup.sh`` in ``UTAKATA_RGW_HOME`` (default
``../shared/rgw`` next to the repository): a monitor, one memstore OSD and
RGW, on loopback, all state in a temporary folder, RGW on a free port. It
needs Debian's ``ceph-mon``, ``ceph-osd`` and ``radosgw`` packages
(``scripts/ensure-test-services`` installs them when it runs as root).

Starting takes about 25 s, so one RGW serves the whole session: it is
started in the background as soon as the session knows a test will use it
(see conftest.py), and stopped, by its pid files, at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from tests import services

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"ceph-mon": "ceph-mon", "ceph-osd": "ceph-osd", "radosgw": "radosgw"}  # program: Debian package
SETUP_MON = "127.0.0.1:3300"


def rgw_home() -> Path | None:
    """The folder with setup.sh and stop.sh, or None when this machine has none."""
    configured = os.environ.get("UTAKATA_RGW_HOME")
    if configured:
        return Path(configured)
    default = REPO.parent / "shared" / "rgw"
    return default if (default / "setup.sh").exists() else None


def missing_packages() -> list[str]:
    return sorted({package for program, package in PACKAGES.items() if shutil.which(program) is None})


def unavailable() -> str:
    """Why this machine cannot run the test RGW, or "" when it can."""
    home = rgw_home()
    if home is None:
        return "no ../shared/rgw/setup.sh here (set UTAKATA_RGW_HOME to a folder with setup.sh and stop.sh)"
    if not (home / "setup.sh").exists():
        return f"UTAKATA_RGW_HOME={home} holds no setup.sh"
    missing = missing_packages()
    if missing:
        return (
            f"Ceph is not installed ({', '.join(missing)}): scripts/ensure-test-services installs it when run "
            f"as root, or apt-get install {' '.join(missing)}"
        )
    return ""


class RGW:
    """One RGW and its monitor and OSD, in a private folder; stop() removes everything."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = Path(tempfile.mkdtemp(prefix="utakata-rgw-"))
        self.state = self.dir / "cluster"
        self.port = services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = ""

    def start(self) -> None:
        script = (self.home / "setup.sh").read_text()
        # setup.sh puts the monitor on 3300: another session's Ceph (or a developer's) may
        # hold it, so this one gets a free port of its own.
        script = script.replace(SETUP_MON, f"127.0.0.1:{services.free_port()}")
        setup = self.dir / "setup.sh"
        setup.write_text(script)
        access, secret = services.s3_credentials()
        done = subprocess.run(
            ["bash", str(setup)],
            env={**os.environ, "D": str(self.state), "RGW_PORT": str(self.port), "AK": access, "SK": secret},
            capture_output=True,
            text=True,
            timeout=240,
        )
        self.output = done.stdout + done.stderr
        if done.returncode != 0 or "RGW up on" not in done.stdout:
            self.stop()
            raise RuntimeError(f"the test RGW did not start (setup.sh exit {done.returncode}):\n{self.output[-3000:]}")
        services.wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        try:
            subprocess.run(
                ["bash", str(self.home / "stop.sh")],
                env={**os.environ, "D": str(self.state)},
                capture_output=True,
                timeout=120,
            )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Background:
    """Starts the session's RGW in a thread; wait() gives its URL (or raises why it could not start)."""

    def __init__(self, home: Path) -> None:
        self.rgw = RGW(home)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="rgw-start", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.rgw.start()
        except BaseException as exc:  # reported by wait()
            self.error = exc

    def wait(self) -> str:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.rgw.url

    def stop(self) -> None:
        self.thread.join()
        if self.error is None:
            self.rgw.stop()

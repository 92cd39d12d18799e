"""``python -m bench``: run every benchmark module in bench/, each in a process of its own.

A module is a benchmark if it is not one of the helpers below; each
configures Django for itself, so they cannot share a process.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

HELPERS = {"common", "settings", "urls"}


def benchmarks() -> list[str]:
    here = Path(__file__).resolve().parent
    found = pkgutil.iter_modules([str(here)])
    return sorted(m.name for m in found if m.name not in HELPERS and not m.name.startswith("_") and not m.ispkg)


def main() -> int:
    failed = []
    for name in benchmarks():
        done = subprocess.run([sys.executable, "-m", f"bench.{name}"])
        if done.returncode:
            failed.append(name)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

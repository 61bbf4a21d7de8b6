"""Run every benchmark script in this folder (`make bench`), one after another.

Each `*.py` here except this file (and names starting with `_`) runs with this interpreter and
its default settings; its output goes straight to the terminal. Exits 1 if any script exited
non-zero (a missed target), after running all of them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    return sorted(
        path
        for path in HERE.glob("*.py")
        if path.name != Path(__file__).name and not path.name.startswith("_")
    )


def main() -> int:
    results: list[tuple[str, int, float]] = []
    for script in scripts():
        print(f"== {script.name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        results.append((script.name, code, time.monotonic() - started))
        print(flush=True)
    print("== summary")
    for name, code, seconds in results:
        print(f"{'ok  ' if code == 0 else 'FAIL'}  {name} (exit {code}, {seconds:.0f} s)")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())

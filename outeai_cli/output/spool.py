"""Hidden spool directories for the pieces of one output, swept if a killed run left one."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

_spool_counter = itertools.count(1)


@contextlib.contextmanager
def spool_directory(parent: Path, name: str) -> Iterator[Path]:
    """A hidden `.NAME.PID-N.pieces` directory in `parent`, removed on exit.

    One left behind by a process that no longer exists (kill -9) is swept first.
    """
    for stale in parent.glob(f".{_glob_escape(name)}.*.pieces"):
        pid = stale.name[len(name) + 2 : -len(".pieces")].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    directory = parent / f".{name}.{os.getpid()}-{next(_spool_counter)}.pieces"
    directory.mkdir(mode=0o700)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True

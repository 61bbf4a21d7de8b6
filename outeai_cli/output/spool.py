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

    One left behind by a process that no longer exists (kill -9) is swept first. A long NAME
    is shortened in the folder's name: an output's name may use all 255 bytes a file system
    allows, and the folder beside it adds its own dot, process id and suffix.
    """
    name = _shortened(name)
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


_NAME_MAX = 255  # bytes in one name (ext4, APFS, NTFS...)
_SUFFIX_ROOM = 32  # ".", ".PID-N", ".pieces": a pid of 7 digits and a counter of 12 fit


def _shortened(name: str) -> str:
    encoded = name.encode("utf-8", "surrogateescape")
    room = _NAME_MAX - _SUFFIX_ROOM
    if len(encoded) <= room:
        return name
    return encoded[:room].decode("utf-8", "ignore")  # (a character cut in two is dropped)


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

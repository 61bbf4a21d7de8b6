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
    _ensure_descriptor_room()
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
        _remove(directory)


def _remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    if directory.exists():
        # rmtree needs descriptors; out of them (the open-file limit reached, which may be
        # why the run is ending) it gives up. Files the run dropped are closed by a collection;
        # a name-based walk then needs one descriptor at most.
        import gc

        gc.collect()
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                with contextlib.suppress(OSError):
                    os.unlink(directory / name)
            os.rmdir(directory)


MIN_DESCRIPTORS = 64  # sockets, spool files and libraries of a run of several requests


def _ensure_descriptor_room() -> None:
    """Raise the soft open-file limit toward the hard one if it is low; refuse the run before
    any request if it stays below what one needs (`ulimit -n 8` made a run fail midway and
    leave its pieces folder behind, with no descriptor left to remove it)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= MIN_DESCRIPTORS:
        return
    wanted = MIN_DESCRIPTORS if hard == resource.RLIM_INFINITY else min(hard, MIN_DESCRIPTORS)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft < MIN_DESCRIPTORS:
        from outeai_cli.errors import ResourceError

        raise ResourceError(
            f"the open-file limit is {soft}, too low for a text of several pieces "
            f"(it needs {MIN_DESCRIPTORS})",
            hint=f"raise it first (ulimit -n {MIN_DESCRIPTORS})",
        )


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

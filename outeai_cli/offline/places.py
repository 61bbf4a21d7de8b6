"""Where the offline engine lives: a private runtime directory (mode 0700, ours alone) that
holds, for each engine name, its Unix socket, its locks, its log and its state file.

`$XDG_RUNTIME_DIR/outeai` (a per-user tmpfs on most Linux desktops), else `/tmp/outeai-UID`
as tmux does; either is refused unless it is a real directory of ours that no one else may
enter, since whoever can reach the socket can use the engine.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple

from outeai_cli.errors import EngineError

# sun_path holds 108 bytes with its NUL; leave room for the longest name we put there.
_SOCKET_PATH_MAX = 107 - len("/espeak-0123456789.sock")


class EnginePlaces(NamedTuple):
    """The files of one engine: `name` (auto, piper, espeak, tone) as run by one installation.

    The installation (its Python environment, its version of outeai) is part of every file name: a
    client only ever talks to an engine running its own code.
    """

    directory: Path
    engine: str
    install: str

    @property
    def name(self) -> str:
        return f"{self.engine}-{self.install}"

    @property
    def socket(self) -> Path:
        return self.directory / f"{self.name}.sock"

    @property
    def lock(self) -> Path:
        """Held (exclusively) by the engine process for as long as it runs."""
        return self.directory / f"{self.name}.lock"

    @property
    def starting(self) -> Path:
        """Held by the client that starts the engine, until it answers or gives up."""
        return self.directory / f"{self.name}.start"

    @property
    def users(self) -> Path:
        """Held (shared) by every client using the engine: its idle clock runs when none do."""
        return self.directory / f"{self.name}.users"

    @property
    def log(self) -> Path:
        """The engine process's stderr: why it could not start, if it could not."""
        return self.directory / f"{self.name}.log"

    @property
    def state(self) -> Path:
        """What the running engine says about itself (pid, engine, voices), for `status`."""
        return self.directory / f"{self.name}.json"


def engine_places(engine: str) -> EnginePlaces:
    return EnginePlaces(runtime_dir(), engine, installation())


def installation() -> str:
    """A short name for this installation: its Python environment and version of outeai."""
    import hashlib
    import sys

    from outeai_cli.version import __version__

    digest = hashlib.sha256(f"{sys.prefix}\0{__version__}".encode())
    return digest.hexdigest()[:10]


def all_engines() -> list[EnginePlaces]:
    """Every engine that ever ran from the runtime directory (each has its lifetime lock)."""
    directory = runtime_dir()
    found = []
    for lock in sorted(directory.glob("*-*.lock")):
        engine, _, install = lock.stem.rpartition("-")
        found.append(EnginePlaces(directory, engine, install))
    return found


def runtime_dir() -> Path:
    """The private runtime directory, created if needed; EngineError if it is not private."""
    uid = os.getuid()
    candidates = []
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(xdg) and os.path.isdir(xdg):
        candidates.append(Path(xdg) / "outeai")
    candidates.append(Path("/tmp") / f"outeai-{uid}")
    # A socket path cannot be longer than sun_path: a deep XDG_RUNTIME_DIR falls back to /tmp.
    chosen = next(p for p in candidates if len(str(p)) <= _SOCKET_PATH_MAX or p == candidates[-1])
    _make_private(chosen, uid)
    return chosen


def _make_private(path: Path, uid: int) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise EngineError(
            f"cannot create the runtime directory {path} for the offline engine: {exc.strerror}"
        ) from None
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        what = "is not a directory" if not stat.S_ISDIR(info.st_mode) else "belongs to another user"
        raise EngineError(
            f"the offline engine's runtime directory {path} {what}",
            hint="remove it, or set XDG_RUNTIME_DIR to a directory of your own",
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)  # ours but open to others: close it before using it,
        _drop_planted(path, uid)  # and drop what may have been planted while it was open


def _drop_planted(path: Path, uid: int) -> None:
    """Remove the links, and the entries not ours or not plain files or sockets, from a
    directory that was open to others: the engine's files are opened by name, so a link
    there would point its writes (the log, the lifetime lock) at a file of the user's."""
    import contextlib
    import shutil

    for entry in os.scandir(path):
        info = entry.stat(follow_symlinks=False)
        kind = stat.S_IFMT(info.st_mode)
        if info.st_uid == uid and kind in (stat.S_IFREG, stat.S_IFSOCK):
            continue
        with contextlib.suppress(OSError):
            if kind == stat.S_IFDIR:
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def lock_within(fd: int, kind: int, wait: float = 0.0, poll: float = 0.005) -> bool:
    """`flock(fd, kind)`, trying until `wait` seconds have passed; whether it was taken. (The
    client and the engine both wait on the engine's locks this way.)"""
    import fcntl
    import time

    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)

"""Committing an output: a temp file that takes the output's name only once it is complete.

What a name already holds decides how a finished output lands (checked when the temp file is
opened, before any request, and again at the commit):

- nothing: the temp file is linked to the name. Linking fails if the name appeared meanwhile
  (another run committed it), so nothing is ever replaced by accident: that is an
  `OutputExistsError`, or, for a name the caller let us choose (`fresh_name`), the next free
  name (`name-2.flac`, `name-3.flac`...) so audio already paid for is kept.
- a regular file: without `force`, an `OutputExistsError`. With it, the temp file is renamed
  over it (atomically). A symlink to a regular file is followed: the file it points to is
  replaced and the link stays.
- a FIFO or a character device (a named pipe, /dev/null, a /dev/stdout link): the finished
  audio is written into it, as a shell's `>` would; such a name is never renamed over, and
  nothing it held is lost, so this needs no `force`. A terminal is refused.
- anything else (a directory, a block device, a socket): refused.

Nothing is written under the name before the commit: an interrupted or failed run leaves the
name as it was. Where the OS allows, the temp file is anonymous (O_TMPFILE) until then, so
even a kill -9 leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from outeai_cli.errors import Advice, Fix, InputError

_COPY_BLOCK = 1 << 20
_MAX_FRESH_NAMES = 10_000
_NUMBERED = re.compile(r"^(?P<stem>.*)-(?P<number>\d+)$")


class OutputExistsError(InputError):
    """The output's name is taken and replacing it was not allowed; nothing was written."""

    def __init__(self, path: Path, *, appeared: bool = False) -> None:
        when = " while the audio was being made" if appeared else ""
        super().__init__(
            f"{os.fspath(path)} already exists{when}",
            advice=(Advice(Fix.ENABLE, "force", purpose="to overwrite it"),),
        )
        self.path = path


class AtomicFile:
    """A temp file (`file`) for the output `target`; `commit()` gives it the name.

    Use it as a context manager: leaving without a commit discards the temp file.
    """

    def __init__(self, target: Path, *, force: bool = False, fresh_name: bool = False) -> None:
        self.target = Path(target)
        self.force = force
        self.fresh_name = fresh_name
        self.committed = False
        self._created: tuple[int, int] | None = None  # (device, inode) of a name we linked
        self._kind = target_kind(self.target)
        if self._kind == "file" and not force:
            if not fresh_name:
                raise OutputExistsError(self.target)
            self.target = next_free_name(self.target)
            self._kind = "missing"
        if self._kind == "stream":
            directory = Path(tempfile.gettempdir())
        else:
            directory = Path(os.path.realpath(self.target)).parent
        if not directory.is_dir():
            raise InputError(
                f"the directory {os.fspath(self.target.parent)} does not exist",
                hint="create it first",
            )
        try:
            self.file, self._named = _open_temp(directory, self.target.name)
        except OSError as exc:
            raise InputError(
                f"cannot write to the directory {os.fspath(self.target.parent)} ({exc.strerror})",
                hint="choose another output path",
            ) from None

    @property
    def path(self) -> Path:
        """The name the output has (or will have): `target`, or the next free name."""
        return self.target

    @property
    def into_stream(self) -> bool:
        """Whether the commit writes into a pipe or device (waiting for as long as its reader)."""
        return self._kind == "stream"

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def start_flush(self) -> None:
        """Start writing what the temp file holds to disk, in the background: the fsync of
        `commit` then finds little left, as the caller checks the file meanwhile."""
        if target_kind(self.target) == "stream":
            return  # copied into a pipe or device: its temp file needs no disk
        self.file.flush()
        fd = os.dup(self.file.fileno())  # its own descriptor: a discard may close the file

        def flush() -> None:
            with contextlib.suppress(OSError):  # `commit` fsyncs again and reports
                os.fsync(fd)
            os.close(fd)

        threading.Thread(target=flush, name="outeai-flush", daemon=True).start()

    def commit(self) -> Path:
        """Give the finished temp file its name (see the module docstring); returns the name."""
        handle = self.file
        handle.flush()
        os.fsync(handle.fileno())
        if target_kind(self.target) == "stream":
            _write_into(handle, self.target)
        elif self.force:
            self._replace()
        else:
            self._link()
        self.committed = True
        self.discard()
        return self.target

    def undo(self) -> None:
        """Take back a commit that gave a new name (a link): the name goes again, if it is
        still ours. A replaced file or a stream written into cannot be taken back."""
        if self._created is None:
            return
        with contextlib.suppress(OSError):
            info = os.lstat(self.target)
            if (info.st_dev, info.st_ino) == self._created:
                self.target.unlink()
                _fsync_dir(self.target.parent)
        self._created = None

    def discard(self) -> None:
        """Close the temp file and remove it if it has a name (a no-op after a commit)."""
        with contextlib.suppress(OSError):
            self.file.close()
        if self._named is not None:
            with contextlib.suppress(FileNotFoundError):
                self._named.unlink()
            self._named = None

    def _link(self) -> None:
        """Give the name with an operation that fails if the name exists (never replaces)."""
        os.fchmod(self.file.fileno(), 0o666 & ~_umask())
        for _ in range(_MAX_FRESH_NAMES):
            try:
                _link(self.file.fileno(), self._named, self.target)
            except FileExistsError:
                if not self.fresh_name:
                    raise OutputExistsError(self.target, appeared=True) from None
                self.target = next_free_name(self.target)
                continue
            info = os.fstat(self.file.fileno())
            self._created = (info.st_dev, info.st_ino)
            _fsync_dir(self.target.parent)
            return
        raise OutputExistsError(self.target, appeared=True)

    def _replace(self) -> None:
        real = Path(os.path.realpath(self.target))
        os.fchmod(self.file.fileno(), 0o666 & ~_umask())
        named = self._named
        if named is None:  # anonymous: it needs a name of its own before it can be renamed
            named = real.parent / f".{real.name}.{os.getpid()}.{threading.get_ident()}.part"
            _link(self.file.fileno(), None, named)
        self._named = named
        os.replace(named, real)
        self._named = None
        _fsync_dir(real.parent)


@contextlib.contextmanager
def atomic_output(target: Path, *, force: bool = False) -> Iterator[IO[bytes]]:
    """Yield a temp file for `target`; commit it on a clean exit, discard it on any exception
    (KeyboardInterrupt included), leaving the name exactly as it was."""
    with AtomicFile(target, force=force) as pending:
        yield pending.file
        pending.commit()


def target_kind(path: Path) -> str:
    """'missing', 'file' (a regular file) or 'stream' (written into); raises for the rest."""
    try:
        info = os.stat(path)  # follows symlinks: what a write would reach
    except FileNotFoundError:
        # A dangling link still takes the name: like a file, it is replaced only when forced.
        return "file" if os.path.islink(path) else "missing"
    except OSError as exc:
        raise InputError(f"cannot use {os.fspath(path)} ({exc.strerror})") from None
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return "stream" if _through_proc(path) else "file"
    if stat.S_ISFIFO(mode):
        return "stream"
    if stat.S_ISCHR(mode):
        if _is_terminal(path):
            raise InputError(
                f"refusing to write audio to the terminal {os.fspath(path)}",
                advice=(Advice(Fix.REPLACE, "output"),),
            )
        return "stream"
    if stat.S_ISDIR(mode):
        raise InputError(
            f"{os.fspath(path)} is a directory",
            hint="give a file name, not a directory",
            advice=(Advice(Fix.REPLACE, "output"),),
        )
    raise InputError(
        f"{os.fspath(path)} is not a regular file, a pipe or a character device",
        advice=(Advice(Fix.REPLACE, "output"),),
    )


def next_free_name(path: Path) -> Path:
    """`name-2.ext`, `name-3.ext`... (continuing a name that already ends in -N): the first
    that does not exist."""
    match = _NUMBERED.match(path.stem)
    stem, number = (match["stem"], int(match["number"])) if match else (path.stem, 1)
    for counter in range(number + 1, number + 1 + _MAX_FRESH_NAMES):
        candidate = path.with_name(f"{stem}-{counter}{path.suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise OutputExistsError(path)


def spool_file(directory: Path | None = None) -> IO[bytes]:
    """An unnamed temporary file (removed by the OS when closed or when the process dies)."""
    return tempfile.TemporaryFile(dir=directory)


def _through_proc(path: Path) -> bool:
    """A link such as /dev/stdout: it names an open descriptor, which is written into."""
    real = os.path.realpath(path)
    return os.path.islink(path) and real.startswith(("/proc/", "/dev/fd/"))


def _is_terminal(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _write_into(handle: IO[bytes], target: Path) -> None:
    """Copy the finished audio into a pipe, device or descriptor link, from its start."""
    fd = os.open(target, os.O_WRONLY | os.O_NOCTTY)
    try:
        with contextlib.suppress(OSError):  # a regular file behind /proc/self/fd: start afresh
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.ftruncate(fd, 0)
        handle.seek(0)
        while block := handle.read(_COPY_BLOCK):
            view = memoryview(block)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _open_temp(directory: Path, name: str) -> tuple[IO[bytes], Path | None]:
    """An anonymous O_TMPFILE in `directory` where supported, else a named hidden temp file."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.open(directory, flag | os.O_RDWR, 0o600)
            return os.fdopen(fd, "w+b"), None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise  # a real failure (permissions, read-only), not a missing feature
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    return os.fdopen(fd, "w+b"), Path(tmp_name)


def _link(fd: int, named: Path | None, path: Path) -> None:
    """Make `path` a name of the temp file; FileExistsError if `path` exists."""
    if named is not None:
        os.link(named, path)
        return
    # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names an O_TMPFILE file; os.link only
    # takes the linkat path (rather than link(2), which fails with EXDEV) given a dir fd.
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(f"/proc/self/fd/{fd}", path.name, dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


_umask_value: int | None = None
_umask_lock = threading.Lock()


def _umask() -> int:
    """The process umask, read once (setting it to read it is not safe while threads create
    files)."""
    global _umask_value
    with _umask_lock:
        if _umask_value is None:
            mask = os.umask(0o022)
            os.umask(mask)
            _umask_value = mask
        return _umask_value


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

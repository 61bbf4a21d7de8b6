"""Where the audio goes: the one place that tells a file from a stream.

A path gets a temp file beside it, committed once complete and checked (see `commit` for how
a name is taken). A stream gets an unnamed spool file, copied to it once the whole audio is
checked; or, for a response body that is the audio itself in the asked format, the stream
directly, so a player starts before generation ends (a failure midway then leaves what was
written).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from outeai_cli.errors import Advice, Fix, InputError
from outeai_cli.output.commit import AtomicFile, OutputExistsError, spool_file, target_kind

_COPY_BLOCK = 1 << 20


def check_target(target: Path, *, force: bool) -> None:
    """Fail before any request if the output could not be committed (see `commit`)."""
    kind = target_kind(target)  # refuses directories, terminals, sockets...
    if kind == "stream":
        return  # a pipe or a device: written into at the commit
    if kind == "file" and not force:
        raise OutputExistsError(target)
    parent = target.parent
    if not parent.is_dir():
        raise InputError(
            f"the directory {os.fspath(parent)} does not exist", hint="create it first"
        )
    try:  # a real probe: permissions, read-only mounts and pseudo filesystems all show here
        with spool_file(parent):
            pass
    except OSError as exc:
        raise InputError(
            f"cannot write to the directory {os.fspath(parent)} ({exc.strerror})",
            advice=(Advice(Fix.REPLACE, "output"),),
        ) from None


def same_place(path: Path, destination: Path | IO[bytes]) -> bool:
    """Whether writing `path` would reach `destination` (the same file, pipe or device: e.g.
    subtitles to /dev/stdout while the audio goes to stdout)."""
    try:
        place = os.stat(path)
    except OSError:  # not there yet: only the same name is the same place
        return isinstance(destination, str | os.PathLike) and os.path.realpath(
            path
        ) == os.path.realpath(destination)
    try:
        if isinstance(destination, str | os.PathLike):
            other = os.stat(destination)
        else:
            other = os.fstat(destination.fileno())
    except (OSError, AttributeError, ValueError):
        return False
    return (place.st_dev, place.st_ino) == (other.st_dev, other.st_ino)


class Destination:
    """An open destination: write the audio into `handle`, then `commit()` it.

    Leaving `open_destination` without a commit leaves nothing behind. `pieces_dir` is a
    hidden directory for the pieces of a split run (beside the file, or in the temp directory
    for a stream). `live` means `handle` writes through to the stream as bytes arrive: it
    cannot seek, and nothing can be taken back (nor checked before it is out). `nowhere`: no
    output is kept (the pieces go only to a run's listeners: a player, a stream written as
    they come); `handle` stays empty and the commit does nothing.
    """

    def __init__(
        self,
        path: str,
        handle: IO[bytes],
        pieces_dir: Path | None,
        live: bool,
        *,
        pending: AtomicFile | None = None,
        stream: IO[bytes] | None = None,
        nowhere: bool = False,
    ) -> None:
        self.nowhere = nowhere
        self.path = path
        self.handle = handle
        self.pieces_dir = pieces_dir
        self.live = live
        self._pending = pending
        self._stream = stream

    def size(self) -> int:
        if isinstance(self.handle, LiveWriter):
            return self.handle.written
        return self.handle.seek(0, os.SEEK_END)

    @property
    def to_stream(self) -> bool:
        """Whether the commit copies into a stream (taking as long as its reader): standard
        output, or a name that is a pipe or a device."""
        return self._stream is not None or (self._pending is not None and self._pending.into_stream)

    def start_flush(self) -> None:
        """A file's bytes start for the disk now, while they are checked (see `commit`)."""
        if self._pending is not None:
            self._pending.start_flush()

    def commit(self) -> str:
        """Give a file its name (`path` becomes the name it got), or copy a spool to its
        stream; returns `path`."""
        if self._pending is not None:
            self.path = os.fspath(self._pending.commit())
        elif self._stream is not None:
            self.handle.seek(0)
            copy_out(self.handle, self._stream)
        return self.path


@contextlib.contextmanager
def open_destination(
    destination: Path | IO[bytes] | None,
    *,
    force: bool,
    fresh_name: bool = False,
    with_pieces: bool,
    live: bool,
    spool_dir: Path | None,
) -> Iterator[Destination]:
    """A path: a temp file committed under its name (`commit.AtomicFile`), and a pieces
    directory beside it. A stream: an unnamed spool file, copied to it by the commit; or,
    when `live`, the stream itself (for a body that is the audio in the asked format, so a
    player starts at once). None: nowhere (see `Destination`), its pieces in the temp
    directory."""
    with contextlib.ExitStack() as stack:
        from outeai_cli.output.spool import spool_directory

        if destination is None:
            parent = spool_dir or Path(tempfile.gettempdir())
            hidden = stack.enter_context(spool_directory(parent, "outeai-live"))
            empty = stack.enter_context(spool_file(hidden))
            yield Destination("", empty, hidden, live=False, nowhere=True)
            return

        if isinstance(destination, str | os.PathLike):
            target = Path(destination)
            pieces = (
                stack.enter_context(spool_directory(target.parent, target.name))
                if with_pieces
                else None
            )
            pending = stack.enter_context(AtomicFile(target, force=force, fresh_name=fresh_name))
            yield Destination(os.fspath(target), pending.file, pieces, False, pending=pending)
            return
        if live and not with_pieces:
            writer = cast(IO[bytes], LiveWriter(destination))  # write-only: enough for a sink
            yield Destination("-", writer, None, live=True)
            return
        pieces = None
        if with_pieces:
            parent = spool_dir or Path(tempfile.gettempdir())
            pieces = stack.enter_context(spool_directory(parent, "outeai-stdout"))
        spool = stack.enter_context(spool_file(pieces or spool_dir))
        yield Destination("-", spool, pieces, live=False, stream=destination)


def copy_out(source: IO[bytes], out: IO[bytes]) -> None:
    """Copy to `out`, raising BrokenPipeError when its reader has gone.

    Writes go straight to the file descriptor: a buffered file object can report a partial
    write to a closed pipe as success.
    """
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not backed by a descriptor (e.g. BytesIO)
        shutil.copyfileobj(source, out, _COPY_BLOCK)
        return
    out.flush()
    if not _send_file(source, fd):
        while block := source.read(_COPY_BLOCK):
            _write_all(fd, block)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[write_some(fd, view) :]


def write_some(fd: int, data: bytes | memoryview) -> int:
    """`os.write`, waiting while `fd` is full: a parent may hand us a non-blocking stdout,
    which says EAGAIN when its pipe is full where a blocking one would have waited."""
    while True:
        try:
            return os.write(fd, data)
        except BlockingIOError:
            _wait_writable(fd)


def _wait_writable(fd: int) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.poll()


def _send_file(source: IO[bytes], fd: int) -> bool:
    """Copy the rest of `source` (a file with a descriptor) to `fd` in the kernel, without
    passing it through Python. False when the caller must copy the rest by reading: sendfile
    unsupported for this descriptor (nothing was written), or the file ended early (`source`
    is left where the copy stopped)."""
    try:
        source_fd = source.fileno()
        offset = source.tell()
        end = os.fstat(source_fd).st_size
    except (AttributeError, OSError, ValueError):
        return False
    while offset < end:
        try:
            sent = os.sendfile(fd, source_fd, offset, min(end - offset, 1 << 30))
        except BlockingIOError:
            _wait_writable(fd)
            continue
        except OSError as exc:
            if offset == source.tell() and exc.errno in _NO_SENDFILE:
                return False
            raise
        if sent == 0:  # the file shrank under us: the loop below reads what is left
            break
        offset += sent
    source.seek(offset)
    return offset >= end


_NO_SENDFILE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.ENOTSOCK, errno.EOPNOTSUPP}


class LiveWriter:
    """Writes straight to `out`'s file descriptor as bytes arrive (see `copy_out`)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        try:
            self._fd: int | None = out.fileno()
            out.flush()
        except (AttributeError, OSError, ValueError):  # not backed by a descriptor
            self._fd = None
        self.written = 0

    def write(self, data: bytes) -> int:
        if self._fd is None:
            self._out.write(data)
        else:
            _write_all(self._fd, data)
        self.written += len(data)
        return len(data)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        if self._fd is None:
            self._out.flush()

"""Where the audio goes: the one place that tells a file from a stream.

A path gets a temp file beside it, committed atomically (renamed over it) once complete. A
stream gets an unnamed spool file, copied to it once the whole audio is valid; or, for a
response body that is the audio itself in the asked format, the stream directly, so a
player starts before generation ends (a failure midway then leaves what was written).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from outeai_cli.audio import atomic_output, spool_file
from outeai_cli.errors import Advice, Fix, InputError

_COPY_BLOCK = 1 << 20


def check_target(target: Path, *, force: bool) -> None:
    """Fail before any request if the output could not be written."""
    if target.is_dir():
        raise InputError(
            f"{os.fspath(target)} is a directory",
            hint="give a file name, not a directory",
            advice=(Advice(Fix.REPLACE, "output"),),
        )
    if not force and target.exists():
        raise InputError(
            f"{os.fspath(target)} already exists",
            advice=(Advice(Fix.ENABLE, "force", purpose="to overwrite it"),),
        )
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


class Destination:
    """An open destination: write the audio into `handle`; it is committed on a clean exit.

    `pieces_dir` is a hidden directory for the pieces of a split run (beside the file, or in
    the temp directory for a stream). `live` means `handle` writes through to the stream as
    bytes arrive: it cannot seek, and nothing can be taken back.
    """

    def __init__(self, path: str, handle: IO[bytes], pieces_dir: Path | None, live: bool) -> None:
        self.path = path
        self.handle = handle
        self.pieces_dir = pieces_dir
        self.live = live

    def size(self) -> int:
        if isinstance(self.handle, LiveWriter):
            return self.handle.written
        return self.handle.seek(0, os.SEEK_END)


@contextlib.contextmanager
def open_destination(
    destination: Path | IO[bytes],
    *,
    force: bool,
    with_pieces: bool,
    live: bool,
    spool_dir: Path | None,
) -> Iterator[Destination]:
    """A path: a temp file beside it, renamed over it on success (and a pieces directory).
    A stream: an unnamed spool file copied to it on success; or, when `live`, the stream
    itself (for a body that is the audio in the asked format, so a player starts at once)."""
    with contextlib.ExitStack() as stack:
        from outeai_cli.spool import spool_directory

        if isinstance(destination, str | os.PathLike):
            target = Path(destination)
            pieces = (
                stack.enter_context(spool_directory(target.parent, target.name))
                if with_pieces
                else None
            )
            handle = stack.enter_context(atomic_output(target, force=force))
            yield Destination(os.fspath(target), handle, pieces, live=False)
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
        yield Destination("-", spool, pieces, live=False)
        spool.seek(0)
        copy_out(spool, destination)


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
    while block := source.read(_COPY_BLOCK):
        view = memoryview(block)
        while view:
            view = view[os.write(fd, view) :]


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
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        self.written += len(data)
        return len(data)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        if self._fd is None:
            self._out.flush()

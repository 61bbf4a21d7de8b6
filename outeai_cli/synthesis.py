"""Speak a text into a file or a stream: the library's one entry point, `synthesize`.

The library decides how: a text that fits one request (and wants no subtitles) is one request
written straight into the destination; a longer one is split into pieces, requested
concurrently, cached, and stitched in order (see `synthesis_job`). Either way the output is
atomic and bounded in memory: a file is committed only once complete, and nothing reaches a
stream until the whole audio is valid, except the live pass-through described below.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from outeai_cli.audio import atomic_output, spool_file
from outeai_cli.errors import InputError, InterruptedByUser
from outeai_cli.scheduler import RunProgress, Scheduler
from outeai_cli.speakers import Speaker
from outeai_cli.splitting import DEFAULT_MAX_CHARS

if TYPE_CHECKING:
    from outeai_cli.cache import PieceCache
    from outeai_cli.client import TTSClient
    from outeai_cli.events import Event
    from outeai_cli.subtitles import Cue

DEFAULT_JOBS = 4
_COPY_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class SynthesisRequest:
    text: str
    speaker: Speaker
    temperature: float


@dataclass(frozen=True, slots=True)
class SynthesisOptions:
    max_chars: int = DEFAULT_MAX_CHARS  # the per-request cap; longer texts are split
    jobs: int = DEFAULT_JOBS  # requests in flight at most
    pause: float = 0.0  # seconds of silence between pieces
    language: str | None = None  # for the sentence splitter; None: the voice's language
    cache: PieceCache | None = None  # pieces kept for re-runs (split texts only)
    subtitles: Path | None = None  # .srt or .vtt, one cue per piece
    force: bool = False  # replace an existing output file (and subtitles)
    spool_dir: Path | None = None  # where a stream's audio waits until complete


@dataclass(frozen=True, slots=True)
class SynthesisResult:
    path: str  # "-" for a stream
    format: str
    bytes: int
    duration: float | None
    speaker: str
    temperature: float
    elapsed: float
    delivered_format: str
    pieces: int = 1
    from_cache: int = 0
    requests: int = 1
    cues: tuple[Cue, ...] = field(default=(), repr=False)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["cues"]
        return data


def needs_pieces(text: str, options: SynthesisOptions) -> bool:
    """Whether `synthesize` splits the text: over the per-request cap, or subtitles asked for
    (they need the piece timings). A display can ask the same question up front."""
    return len(text) > options.max_chars or options.subtitles is not None


def synthesize(
    client: TTSClient,
    request: SynthesisRequest,
    destination: Path | IO[bytes],
    fmt: str,
    options: SynthesisOptions | None = None,
    *,
    on_event: Callable[[Event], None] | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> SynthesisResult:
    """Speak `request` into `destination` (a path, committed atomically, or a binary stream)
    as `fmt`.

    `on_event` sees each client event of a one-request run (status, retries, the final audio);
    `on_progress` sees snapshots of a split run (pieces done, requests in flight, notes).
    Setting `cancel` stops the run as a Ctrl-C does.
    """
    from outeai_cli.synthesis_job import SynthesisJob

    options = options or SynthesisOptions()
    split = needs_pieces(request.text, options)
    started = time.monotonic()
    with Scheduler(options.jobs, cancel=cancel) as scheduler:
        job = SynthesisJob(client, request, destination, fmt, options, split=split)
        job.on_event = on_event
        reporter = _SingleRunProgress(job, on_progress) if split else None
        try:
            job.open(scheduler)
            if reporter is not None:
                reporter.emit(job.plan_note())
            while not job.complete:
                event = scheduler.next_event()
                note = job.handle(event)
                if reporter is not None:
                    reporter.emit(note)
            result = job.finish(started)
        except BaseException as exc:
            job.abort(exc)
            if reporter is not None and isinstance(exc, KeyboardInterrupt | InterruptedByUser):
                reporter.emit(job.interrupted_note())
            raise
    return result


class _SingleRunProgress:
    def __init__(self, job: Any, on_progress: Callable[[RunProgress], None] | None) -> None:
        self._job = job
        self._on_progress = on_progress

    def emit(self, note: str | None = None) -> None:
        if self._on_progress is None:
            return
        job = self._job
        self._on_progress(
            RunProgress(
                done=job.done,
                total=len(job.pieces),
                reused=job.from_cache,
                audio_seconds=job.audio_seconds,
                in_flight=job.requests_in_flight(),
                note=note,
            )
        )


def check_target(target: Path, *, force: bool) -> None:
    """Fail before any request if the output could not be written."""
    if target.is_dir():
        raise InputError(f"{os.fspath(target)} is a directory", hint="give a file name with -o")
    if not force and target.exists():
        raise InputError(f"{os.fspath(target)} already exists", hint="pass --force to overwrite it")
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
            hint="choose another -o path",
        ) from None


# -- the destination: the one place that tells a file from a stream --------------------------------


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

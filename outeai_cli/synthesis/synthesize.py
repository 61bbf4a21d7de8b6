"""Speak a text into a file or a stream: the library's one entry point, `synthesize`.

The library decides how: a text that fits one request (and wants no subtitles) is one request
written straight into the destination; a longer one is split into pieces, requested
concurrently, cached, and stitched in order (see `synthesis_job`). Either way the output is
atomic and bounded in memory (see `destination`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from outeai_cli.errors import InterruptedByUser, OutputError
from outeai_cli.synthesis.job import SynthesisJob
from outeai_cli.synthesis.scheduler import RunProgress, Scheduler
from outeai_cli.synthesis.types import (
    DEFAULT_JOBS,
    SynthesisOptions,
    SynthesisRequest,
    SynthesisResult,
    needs_pieces,
)

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient
    from outeai_cli.http.events import Event

__all__ = [
    "DEFAULT_JOBS",
    "SynthesisOptions",
    "SynthesisRequest",
    "SynthesisResult",
    "needs_pieces",
    "synthesize",
]


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
    try:
        return _run(client, request, destination, fmt, options, on_event, on_progress, cancel)
    except OSError as exc:  # cleaning up after a full disk may fail the same way: both land here
        problem = OutputError.of(exc, destination)
        if problem is None:
            raise
        raise problem from None


def _run(
    client: TTSClient,
    request: SynthesisRequest,
    destination: Path | IO[bytes],
    fmt: str,
    options: SynthesisOptions | None,
    on_event: Callable[[Event], None] | None,
    on_progress: Callable[[RunProgress], None] | None,
    cancel: threading.Event | None,
) -> SynthesisResult:
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
            if split and _is_stop(exc):  # the one line that reports the stop says this too
                exc.add_note(job.interrupted_note())
            raise
    return result


def _is_stop(exc: BaseException) -> bool:
    """Ctrl-C, a signal turned into an exception, or a cancel: not a failure of the run."""
    return isinstance(exc, InterruptedByUser) or not isinstance(exc, Exception)


class _SingleRunProgress:
    def __init__(
        self, job: SynthesisJob, on_progress: Callable[[RunProgress], None] | None
    ) -> None:
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

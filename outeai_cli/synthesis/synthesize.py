"""Speak a text into a file or a stream: the library's one entry point, `synthesize`.

The library decides how: a text that fits one request (and wants no subtitles) is one request
written straight into the destination; a longer one is split into pieces, requested
concurrently, cached, and stitched in order (see `job`). Either way it is a run of one job
(`run.Run`), and the output is atomic and bounded in memory (see `destination`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from outeai_cli.errors import OutputError
from outeai_cli.synthesis.job import JobSpec
from outeai_cli.synthesis.progress import RunProgress
from outeai_cli.synthesis.run import Run
from outeai_cli.synthesis.types import (
    DEFAULT_JOBS,
    SynthesisOptions,
    SynthesisRequest,
    SynthesisResult,
    needs_pieces,
)

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient

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
    on_progress: Callable[[RunProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> SynthesisResult:
    """Speak `request` into `destination` (a path, committed atomically, or a binary stream)
    as `fmt`.

    `on_progress` sees snapshots of the run: the request's stage, or the pieces done and the
    requests in flight, notes worth a line, and notices (the API found, a setting it ignores).
    Setting `cancel` stops the run as a Ctrl-C does.
    """
    options = options or SynthesisOptions()
    split = needs_pieces(request.text, options)
    spec = JobSpec(request, destination, fmt, options, split=split)
    try:
        with Run(
            client,
            workers=options.jobs,
            unit="pieces" if split else "request",
            cancel=cancel,
            on_progress=on_progress,
        ) as run:
            job = run.submit(spec)
            run.drive()
    except OSError as exc:  # cleaning up after a full disk may fail the same way: both land here
        problem = OutputError.of(exc, destination)
        if problem is None:
            raise
        raise problem from None
    assert job.result is not None
    return job.result

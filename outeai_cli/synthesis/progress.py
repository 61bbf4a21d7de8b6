"""What a run tells its progress display: one snapshot type for every run.

A run of one request, of one text's pieces, or of a batch's outputs reports the same
`RunProgress`; `unit` says what `done` and `total` count, and each request in flight is an
`InFlight` with its latest stage. Notices the API dialect gives rise to (which API `--api auto`
found, a setting that API ignores) come as typed values in `notices`, for the display to word.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from outeai_cli.synthesis.notices import Notice


class InFlight(NamedTuple):
    """One request in flight: which piece (of which output), and its latest stage."""

    piece: int  # 1-based number of the piece within its output
    stage: str  # "sending", the service's stage name, "retrying (attempt 2)"
    chunk: int | None = None  # the service's text chunk i of n, when it says
    chunks: int | None = None
    output: str | None = None  # the output it belongs to, in a run of many (a batch)
    pieces: int = 1  # pieces of that output
    pieces_done: int = 0
    audio: float | None = None  # seconds of audio the service says it made so far


class RunProgress(NamedTuple):
    """A snapshot for progress displays.

    `unit` is what `done` and `total` count: "request" (a text sent whole: its stage, chunks
    and audio are those of the one request in flight), "pieces" (a text's pieces) or "items"
    (a batch's outputs). `reused` of the `done` needed no request (pieces from the cache,
    items already complete); `note` is a message worth a line of its own.
    """

    done: int
    total: int
    reused: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    in_flight: tuple[InFlight, ...] = ()
    note: str | None = None
    unit: str = "pieces"
    notices: tuple[Notice, ...] = ()

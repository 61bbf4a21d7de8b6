"""The live display on a terminal: one line redrawn by Rich (`progress_line.LiveLine`), and the
messages printed above it.

One request: spinner, stage, a bar over the service's text chunks, chunks, seconds of audio,
elapsed. Many (a long text's pieces, a batch's items): the overall line with an ETA, and below
it one line per request in flight. The line takes its shape from the first snapshot, so it
starts drawing then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from outeai_cli.cli.progress_line import (
    COLD_START,
    LATE,
    WAITING,
    LineState,
    LiveLine,
    PaceEstimate,
    answered,
    describe_flight,
)
from outeai_cli.cli.terminal import Terminal

if TYPE_CHECKING:
    from outeai_cli.synthesis.notices import Notice
    from outeai_cli.synthesis.progress import InFlight, RunProgress


class LiveDisplay:
    """Rich Live on the terminal's stderr from the first snapshot until the context ends."""

    SHOWN = 8  # in-flight lines at most; the rest are counted

    def __init__(self, terminal: Terminal, notice_text: Callable[[Notice], str]) -> None:
        self.console = terminal.stderr_console()
        self._notice_text = notice_text
        self._line = LiveLine(LineState(stage=WAITING, unit="chunks"), self._flights)
        self._live: Any = None
        self._closed = False
        self._flying: tuple[InFlight, ...] = ()
        self._failed = 0
        self._answered = False
        self._estimated_from = (-1, -1)  # (finished, pieces timed) behind the shown ETA
        self._pace = PaceEstimate()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        if self._live is not None:
            self._live.stop()

    @property
    def renderable(self) -> LiveLine:
        """What the line shows right now (used to render the README's picture)."""
        return self._line

    def message(self, text: str) -> None:
        # Wrapped by Rich at word boundaries, not cut mid-word by the terminal.
        self.console.print(f"outeai: {text}", markup=False, highlight=False, soft_wrap=False)

    def update(self, progress: RunProgress) -> None:
        for notice in progress.notices:
            self.message(self._notice_text(notice))
        if progress.note:
            self.message(progress.note)
        if self._live is None and not self._closed:
            self._start(progress.unit)
        if progress.unit == "request":
            self._request(progress)
        else:
            self._overall(progress)

    def _start(self, unit: str) -> None:
        from rich.live import Live

        if unit != "request":  # its stages are short words ("Speaking", "Stitching", "Done")
            self._line.state = LineState(stage="Starting", unit=unit, with_eta=True, stage_width=9)
        # stdout may be carrying the audio: never wrap it.
        self._live = Live(
            self._line,
            console=self.console,
            transient=True,
            refresh_per_second=8,
            redirect_stdout=False,
        )
        self._live.start()

    def _request(self, progress: RunProgress) -> None:
        state = self._line.state
        if progress.done:
            state.stage = "Received audio"
            if state.total:
                state.done = state.total
            if progress.audio_seconds:
                state.audio = progress.audio_seconds
            return
        flying = [entry for entry in progress.in_flight if entry.stage != "sending"]
        if not flying:
            return
        entry = flying[0]
        state.stage = entry.stage[:1].upper() + entry.stage[1:]
        if entry.chunks:
            state.total, state.done = entry.chunks, entry.chunk or 0
        if entry.audio is not None:
            state.audio = entry.audio

    def _overall(self, progress: RunProgress) -> None:
        now = time.monotonic()
        state = self._line.state
        eta = self._pace.update(progress, now)
        finished = progress.done + progress.failed
        if (finished, self._pace.samples) != self._estimated_from:
            # A new estimate only when a piece finished: in between it counts down.
            state.eta, self._line.eta_at = eta, now
            self._estimated_from = (finished, self._pace.samples)
        if progress.in_flight or finished < progress.total:
            state.stage = "Speaking"
        else:  # every request is back; a long text still has its last pieces to stitch
            state.stage = "Stitching" if progress.unit == "pieces" else "Done"
        state.done, state.total = finished, progress.total
        state.audio = progress.audio_seconds
        self._flying = tuple(progress.in_flight)
        self._failed = progress.failed
        self._answered = self._answered or answered(progress)

    def _flights(self) -> list[str]:
        if self._line.state.unit == "chunks":
            return []
        lines = [f"{self._failed} failed so far"] if self._failed else []
        lines += [describe_flight(entry) for entry in self._flying[: self.SHOWN]]
        if len(self._flying) > self.SHOWN:
            lines.append(f"... and {len(self._flying) - self.SHOWN} more in flight")
        waited = time.monotonic() - self._line.started
        if self._flying and not self._answered and waited >= LATE:
            lines.append(COLD_START)
        return lines

"""Show the progress of a run of many requests (a long text's pieces, a batch's items): one
overall line with an ETA and the requests in flight below it, plain lines now and then, or nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from outeai_cli.cli.progress import PlainLines, QuietReporter
from outeai_cli.cli.progress_line import (
    COLD_START,
    LATE,
    LineState,
    LiveLine,
    LiveLineReporter,
    clock,
)
from outeai_cli.cli.terminal import Terminal
from outeai_cli.http.events import Event

if TYPE_CHECKING:
    from outeai_cli.synthesis.scheduler import InFlight, RunProgress


class OverallReporter(Protocol):
    def __enter__(self) -> OverallReporter: ...
    def __exit__(self, *exc: object) -> None: ...
    def update(self, progress: RunProgress) -> None: ...
    def message(self, text: str) -> None: ...
    def on_event(self, event: Event) -> None: ...


class _OverallBase:
    def on_event(self, event: Event) -> None:
        """Single-request events do not apply: each piece's status arrives through update()."""


def make_overall_reporter(terminal: Terminal, *, quiet: bool, unit: str) -> OverallReporter:
    """One overall line over `unit` (pieces, items) with the requests in flight below it."""
    if quiet:
        return QuietOverallReporter()
    if terminal.live:
        return LiveOverallReporter(terminal, unit)
    return PlainOverallReporter(terminal, unit)


def _flight_key(entry: InFlight) -> tuple[str | None, int]:
    return (entry.output, entry.piece)


def describe_flight(entry: InFlight) -> str:
    """`#3 Generating audio 2/5` (a piece of a long text), `name.flac 2/4 Generating audio 1/3`
    (a piece of a batch item), or `name.flac Generating audio 1/3` (a whole item)."""
    where = f"#{entry.piece}"
    if entry.output:
        where = f"{entry.output} {entry.piece}/{entry.pieces}" if entry.pieces > 1 else entry.output
    counts = f" {entry.chunk}/{entry.chunks}" if entry.chunk and entry.chunks else ""
    return f"{where} {entry.stage or 'working'}{counts}"


def answered(progress: RunProgress) -> bool:
    """Whether the service has said anything yet (a finished request, or a status event)."""
    return progress.done > progress.reused or any(e.stage != "sending" for e in progress.in_flight)


class PaceEstimate:
    """ETA from the pieces that finished: their average time * pieces left / concurrency.

    No estimate until one piece finished (work that needed no request does not count).
    """

    def __init__(self) -> None:
        self._started: dict[tuple[str | None, int], float] = {}
        self._times: list[float] = []
        self._widest = 1  # most requests seen in flight at once

    @property
    def samples(self) -> int:
        """How many finished pieces the estimate rests on."""
        return len(self._times)

    def update(self, progress: RunProgress, now: float) -> float | None:
        current = {_flight_key(entry) for entry in progress.in_flight}
        for key in current - self._started.keys():
            self._started[key] = now
        for key in self._started.keys() - current:
            self._times.append(now - self._started.pop(key))
        self._widest = max(self._widest, len(current))
        left = progress.total - progress.done - progress.failed
        if not self._times or left <= 0:
            return None
        average = sum(self._times) / len(self._times)
        return average * left / max(1, min(self._widest, left))


class QuietOverallReporter(_OverallBase, QuietReporter):
    def update(self, progress: RunProgress) -> None:
        pass


class PlainOverallReporter(_OverallBase, PlainLines):
    """For logs and pipes: the notes, and a progress line at most every LATE seconds."""

    def __init__(self, terminal: Terminal, unit: str) -> None:
        super().__init__(terminal)
        self._unit = unit
        self._finished = 0
        self._pace = PaceEstimate()

    def update(self, progress: RunProgress) -> None:
        if answered(progress):
            self._late.cancel()
        now = time.monotonic()
        eta = self._pace.update(progress, now)
        finished = progress.done + progress.failed
        if progress.note:  # a note that comes with a finished unit speaks for it
            self.message(progress.note)
        elif finished != self._finished and now - self._said_at >= LATE:
            failed = f", {progress.failed} failed" if progress.failed else ""
            left = f", ETA {clock(eta)}" if eta is not None and eta >= 1 else ""
            self.message(
                f"{finished}/{progress.total} {self._unit} done{failed}, "
                f"{progress.audio_seconds:.1f} s of audio{left}"
            )
            self._said_at = now
        self._finished = finished


class LiveOverallReporter(_OverallBase, LiveLineReporter):
    """The overall line (with ETA), and below it one line per request in flight."""

    SHOWN = 8  # in-flight lines at most; the rest are counted

    def __init__(self, terminal: Terminal, unit: str) -> None:
        self._unit = unit
        self._flying: tuple[InFlight, ...] = ()
        self._failed = 0
        self._answered = False
        self._estimated_from = (-1, -1)  # (finished, pieces timed) behind the shown ETA
        # Its stages are short words ("Starting", "Speaking", "Stitching", "Done").
        state = LineState(stage="Starting", unit=unit, with_eta=True, stage_width=9)
        super().__init__(terminal, LiveLine(state, self._flights))
        self._pace = PaceEstimate()

    def update(self, progress: RunProgress) -> None:
        if progress.note:
            self.message(progress.note)
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
            state.stage = "Stitching" if self._unit == "pieces" else "Done"
        state.done, state.total = finished, progress.total
        state.audio = progress.audio_seconds
        self._flying = tuple(progress.in_flight)
        self._failed = progress.failed
        self._answered = self._answered or answered(progress)

    def _flights(self) -> list[str]:
        lines = [f"{self._failed} failed so far"] if self._failed else []
        lines += [describe_flight(entry) for entry in self._flying[: self.SHOWN]]
        if len(self._flying) > self.SHOWN:
            lines.append(f"... and {len(self._flying) - self.SHOWN} more in flight")
        waited = time.monotonic() - self._line.started
        if self._flying and not self._answered and waited >= LATE:
            lines.append(COLD_START)
        return lines

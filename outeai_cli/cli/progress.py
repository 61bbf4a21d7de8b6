"""Show a request's progress: a live Rich bar on a terminal, plain lines otherwise, or nothing."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from outeai_cli.cli.terminal import Terminal
from outeai_cli.events import AudioEvent, Event, RetryEvent, StatusEvent

if TYPE_CHECKING:
    from outeai_cli.longtext import RunProgress

WAITING = "Waiting for the service (a cold start takes 10-40 s)"


class Reporter(Protocol):
    def __enter__(self) -> Reporter: ...
    def __exit__(self, *exc: object) -> None: ...
    def on_event(self, event: Event) -> None: ...
    def message(self, text: str) -> None: ...


def make_reporter(terminal: Terminal, *, quiet: bool) -> Reporter:
    if quiet:
        return QuietReporter()
    if terminal.live:
        return LiveReporter(terminal)
    return PlainReporter(terminal)


class QuietReporter:
    def __enter__(self) -> QuietReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def on_event(self, event: Event) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class PlainReporter:
    """One line per change of stage or chunk, for logs and pipes."""

    def __init__(self, terminal: Terminal) -> None:
        self._out = terminal.stderr
        self._last = ""
        self._started = time.monotonic()

    def __enter__(self) -> PlainReporter:
        self.message(WAITING)
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def message(self, text: str) -> None:
        print(f"outeai: {text}", file=self._out, flush=True)

    def on_event(self, event: Event) -> None:
        if isinstance(event, StatusEvent):
            line = event.stage or "working"
            if event.text_chunks and event.current_text_chunk:
                line += f" (chunk {event.current_text_chunk}/{event.text_chunks}"
                if event.generated_seconds is not None:
                    line += f", {event.generated_seconds:.1f} s of audio"
                line += ")"
            if line != self._last:
                self._last = line
                self.message(line)
        elif isinstance(event, RetryEvent):
            self.message(
                f"retrying (attempt {event.attempt}) in {event.delay:.1f} s: {event.reason}"
            )


class LiveReporter:
    """Spinner, stage, a bar over text chunks, seconds of audio generated, elapsed time."""

    def __init__(self, terminal: Terminal) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = terminal.stderr_console()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks"),
            TextColumn("{task.fields[audio]:>6.1f} s audio"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> LiveReporter:
        self._progress.start()
        self._task = self._progress.add_task(WAITING, total=None, audio=0.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @property
    def renderable(self) -> Any:
        """What the bar shows right now (used to render the README's picture)."""
        return self._progress.get_renderable()

    def message(self, text: str) -> None:
        self._progress.console.print(f"outeai: {text}", markup=False)

    def on_event(self, event: Event) -> None:
        if isinstance(event, StatusEvent):
            update: dict[str, Any] = {"description": event.stage or "Working"}
            if event.text_chunks:
                update["total"] = event.text_chunks
                update["completed"] = event.current_text_chunk or 0
            if event.generated_seconds is not None:
                update["audio"] = event.generated_seconds
            self._progress.update(self._task, **update)
        elif isinstance(event, RetryEvent):
            self.message(
                f"retrying (attempt {event.attempt}) in {event.delay:.1f} s: {event.reason}"
            )
            self._progress.update(self._task, description=f"Retrying (attempt {event.attempt})")
        elif isinstance(event, AudioEvent):
            task = self._progress.tasks[0]
            total = task.total or 1
            self._progress.update(
                self._task, description="Received audio", total=total, completed=total
            )


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# -- long runs: many requests (a long text's pieces, a batch's items) ------------------------


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
    """One overall bar over `unit` (pieces, items) with the requests in flight below it."""
    if quiet:
        return QuietOverallReporter()
    if terminal.live:
        return LiveOverallReporter(terminal, unit)
    return PlainOverallReporter(terminal, unit)


def eta_seconds(progress: RunProgress, elapsed: float) -> float | None:
    """Time left at the pace so far, counting only work that needed requests."""
    worked = progress.done + progress.failed - progress.reused
    left = progress.total - progress.done - progress.failed
    if left <= 0:
        return 0.0
    if worked <= 0 or elapsed <= 0:
        return None
    return elapsed * left / worked


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class QuietOverallReporter(_OverallBase):
    def __enter__(self) -> QuietOverallReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, progress: RunProgress) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class PlainOverallReporter(_OverallBase):
    """For logs and pipes: a line per finished unit and per note, nothing redrawn."""

    def __init__(self, terminal: Terminal, unit: str) -> None:
        self._out = terminal.stderr
        self._unit = unit
        self._finished = -1
        self._started = time.monotonic()

    def __enter__(self) -> PlainOverallReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def message(self, text: str) -> None:
        print(f"outeai: {text}", file=self._out, flush=True)

    def update(self, progress: RunProgress) -> None:
        finished = progress.done + progress.failed
        if progress.note:  # a note that comes with a finished unit speaks for it
            self.message(progress.note)
        elif finished != self._finished and self._finished >= 0:
            eta = eta_seconds(progress, time.monotonic() - self._started)
            failed = f", {progress.failed} failed" if progress.failed else ""
            self.message(
                f"{finished}/{progress.total} {self._unit} done{failed}, "
                f"{progress.audio_seconds:.1f} s of audio, ETA {_clock(eta)}"
            )
        self._finished = finished


class LiveOverallReporter(_OverallBase):
    """The overall bar, elapsed and ETA, and one line per request in flight with its status."""

    _SHOWN = 8  # in-flight lines at most; the rest are counted

    def __init__(self, terminal: Terminal, unit: str) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = terminal.stderr_console()
        self._unit = unit
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[audio]:>7.1f} s audio"),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            console=self.console,
        )
        self._task: Any = None
        self._live: Any = None
        self._started = time.monotonic()
        self._latest: RunProgress | None = None

    def __enter__(self) -> LiveOverallReporter:
        from rich.live import Live

        self._task = self._progress.add_task(
            WAITING, total=None, audio=0.0, count="", eta=_clock(None)
        )
        self._live = Live(
            self._render(), console=self.console, transient=True, refresh_per_second=8
        )
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def message(self, text: str) -> None:
        self.console.print(f"outeai: {text}", markup=False)

    def update(self, progress: RunProgress) -> None:
        if progress.note:
            self.message(progress.note)
        self._latest = progress
        eta = eta_seconds(progress, time.monotonic() - self._started)
        finished = progress.done + progress.failed
        if progress.in_flight or finished < progress.total:
            description = "Speaking"
        else:  # every request is back; a long text still has its last pieces to stitch
            description = "Stitching" if self._unit == "pieces" else "Done"
        failed = f", {progress.failed} failed" if progress.failed else ""
        self._progress.update(
            self._task,
            description=description,
            total=progress.total,
            completed=finished,
            audio=progress.audio_seconds,
            count=f"{finished}/{progress.total} {self._unit}{failed}",
            eta=_clock(eta),
        )
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        flying = self._latest.in_flight if self._latest else ()
        lines = [
            Text(f"  {status}", overflow="ellipsis", no_wrap=True)
            for status in flying[: self._SHOWN]
        ]
        if len(flying) > self._SHOWN:
            lines.append(Text(f"  ... and {len(flying) - self._SHOWN} more in flight"))
        return Group(self._progress, *lines)

"""Show a request's progress: a live Rich bar on a terminal, plain lines otherwise, or nothing."""

from __future__ import annotations

import time
from typing import Any, Protocol

from outeai_cli.cli.terminal import Terminal
from outeai_cli.events import AudioEvent, Event, RetryEvent, StatusEvent

WAITING = "Waiting for the service (a cold start can take 10-40 s)"


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
            self.message(f"retrying (attempt {event.attempt}) in {event.delay:.1f} s: {event.reason}")


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
            self.message(f"retrying (attempt {event.attempt}) in {event.delay:.1f} s: {event.reason}")
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

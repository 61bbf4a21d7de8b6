"""Show one request's progress: a live line on a terminal, sparse plain lines otherwise, or nothing.

Plain output (logs, pipes) says only what carries information: nothing for a request that is
quick, a line when one is late, retries, and the library's notes. The line itself is drawn by
`progress_line`; runs of many requests are reported by `progress_overall`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, Self

from outeai_cli.cli.progress_line import (
    COLD_START,
    LATE,
    WAITING,
    LineState,
    LiveLine,
    LiveLineReporter,
)
from outeai_cli.cli.terminal import Terminal
from outeai_cli.http.events import AudioEvent, Event, RetryEvent, StatusEvent


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
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def on_event(self, event: Event) -> None:
        pass

    def message(self, text: str) -> None:
        pass


def _retry_line(event: RetryEvent) -> str:
    return f"retrying (attempt {event.attempt}) in {event.delay:.1f} s: {event.reason}"


class _LateTimer:
    """Say `text` once if no news came within LATE seconds (for plain output)."""

    def __init__(self, say: Callable[[str], None], text: str) -> None:
        self._timer = threading.Timer(LATE, say, args=(text,))
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()


class PlainLines:
    """The base of the reporters for logs and pipes: messages as lines, and the cold-start
    hint when nothing was heard within LATE seconds."""

    def __init__(self, terminal: Terminal) -> None:
        self._out = terminal.stderr
        self._said_at = time.monotonic()  # the start counts as news
        self._late = _LateTimer(self.message, COLD_START)

    def __enter__(self) -> Self:
        self._late.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._late.cancel()

    def message(self, text: str) -> None:
        print(f"outeai: {text}", file=self._out, flush=True)


class PlainReporter(PlainLines):
    """For logs and pipes: a quick request prints nothing; a slow one, a line now and then."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__(terminal)
        self._last = ""

    def on_event(self, event: Event) -> None:
        self._late.cancel()
        if isinstance(event, StatusEvent):
            line = event.stage or "working"
            if event.text_chunks and event.current_text_chunk:
                line += f" (chunk {event.current_text_chunk}/{event.text_chunks}"
                if event.generated_seconds is not None:
                    line += f", {event.generated_seconds:.1f} s of audio"
                line += ")"
            now = time.monotonic()
            if line != self._last and now - self._said_at >= LATE:
                self._last, self._said_at = line, now
                self.message(line)
        elif isinstance(event, RetryEvent):
            self.message(_retry_line(event))


class LiveReporter(LiveLineReporter):
    """One line: spinner, stage, a bar over the text chunks, chunks, seconds of audio, elapsed."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__(terminal, LiveLine(LineState(stage=WAITING, unit="chunks")))

    def on_event(self, event: Event) -> None:
        state = self._line.state
        if isinstance(event, StatusEvent):
            state.stage = event.stage or "Working"
            if event.text_chunks:
                state.total = event.text_chunks
                state.done = event.current_text_chunk or 0
            if event.generated_seconds is not None:
                state.audio = event.generated_seconds
        elif isinstance(event, RetryEvent):
            self.message(_retry_line(event))
            state.stage = f"Retrying (attempt {event.attempt})"
        elif isinstance(event, AudioEvent):
            state.stage = "Received audio"
            if state.total:
                state.done = state.total
            if event.duration is not None:
                state.audio = event.duration

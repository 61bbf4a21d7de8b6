"""Show a request's progress: a live line on a terminal, sparse plain lines otherwise, or nothing.

The live line is laid out by priority for the terminal's width: the stage, the counts, the
seconds of audio and the elapsed time always stay (down to 40 columns); the ETA, the spinner
and the bar give way first, and the bar keeps one width for the whole run. Plain output (logs,
pipes) says only what carries information: nothing for a request that is quick, a line when
one is late, retries, and the library's notes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from outeai_cli.cli.terminal import Terminal
from outeai_cli.events import AudioEvent, Event, RetryEvent, StatusEvent

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.text import Text

    from outeai_cli.scheduler import InFlight, RunProgress

# Seconds without news before a plain line is worth printing (and before the cold-start hint).
LATE = 3.0
WAITING = "Waiting for the service"
COLD_START = "no answer yet; a cold start of the service takes 10-40 s"


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


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def clock(seconds: float, *, short: bool = False) -> str:
    """h:mm:ss, or m:ss under an hour when `short`."""
    whole = int(seconds)
    hours, minutes, secs = whole // 3600, whole // 60 % 60, whole % 60
    if short and not hours:
        return f"{minutes}:{secs:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}"


# -- the live line ---------------------------------------------------------------------------------


@dataclass
class LineState:
    """What one live line says; the layout decides how much of it fits."""

    stage: str
    unit: str  # "chunks", "pieces", "items"
    done: int | None = None
    total: int | None = None
    audio: float = 0.0
    eta: float | None = None  # None: no estimate yet (or not one that means anything)
    with_eta: bool = False  # whether this kind of line has an ETA at all
    stage_width: int = 24  # "Waiting for the service" and the service's stage names fit


BAR_MAX = 40
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _ellipsized(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(0, width - 1)] + "…"


Segment = tuple[str, str]  # (text, Rich style)


def _fields(state: LineState, elapsed: float, words: bool, eta_slot: bool) -> list[Segment]:
    """Counts, audio, elapsed and ETA, each padded to a width that stays put during a run."""
    known = state.total is not None and state.done is not None
    count = f"{state.done}/{state.total}" if known else ""
    count_width = max(5, 2 * len(str(state.total or 0)) + 1)
    eta = state.eta if state.eta is not None and state.eta >= 1 else None
    if words:
        unit = f" {state.unit}"
        fields = [
            ((count + unit if count else "").rjust(count_width + len(unit)), "progress.download"),
            (f"{state.audio:>5.1f} s audio", "progress.percentage"),
            (clock(elapsed), "progress.elapsed"),
        ]
        if eta_slot:
            fields.append(((f"ETA {clock(eta)}" if eta else "").ljust(11), "progress.remaining"))
    else:
        fields = [
            (count.rjust(count_width), "progress.download"),
            (f"{state.audio:>5.1f} s", "progress.percentage"),
            (clock(elapsed, short=True).rjust(5), "progress.elapsed"),
        ]
        if eta_slot:
            eta_text = f"ETA {clock(eta, short=True)}" if eta else ""
            fields.append((eta_text.ljust(9), "progress.remaining"))
    return fields


def layout(
    state: LineState, width: int, elapsed: float, *, frame: int = 0, unicode: bool = True
) -> list[Segment]:
    """The line as (text, style) segments, at most `width - 1` cells (no wrap at the edge).

    Tried from the richest form to the leanest. Forms with a bar pad every field to a fixed
    width, so the bar's width depends on the terminal's width alone, never on the stage.
    """
    room = max(10, width - 1)
    known = state.total is not None and state.done is not None
    fraction = (state.done or 0) / state.total if known and state.total else 0.0
    spinner = (_SPINNER if unicode else "-\\|/")[frame % (10 if unicode else 4)]

    def form(words: bool, spin: bool, bar: bool, eta_slot: bool) -> list[Segment] | None:
        fields = _fields(state, elapsed, words, eta_slot)
        if not bar:  # no bar to keep in place: fields take their natural width
            fields = [(text.strip(), style) for text, style in fields if text.strip()]
        gap = "  " if words else " "
        fixed = sum(len(text) + len(gap) for text, _ in fields) + (2 if spin else 0)
        head: list[Segment] = [(f"{spinner} ", "progress.spinner")] if spin else []
        if bar:
            bar_width = min(BAR_MAX, room - fixed - state.stage_width - 1)
            if bar_width < 8:
                return None
            head.append((_ellipsized(state.stage, state.stage_width), "progress.description"))
            head.append((" ", ""))
            head += _bar(fraction, bar_width, known, unicode)
        else:
            stage_width = min(len(state.stage), room - fixed)
            if stage_width < min(len(state.stage), 8):
                return None
            head.append((_ellipsized(state.stage, stage_width), "progress.description"))
        return head + [seg for text, style in fields for seg in ((gap, ""), (text, style))]

    eta = state.with_eta
    for words, spin, bar, eta_slot in (
        (True, True, True, eta),
        (False, True, True, eta),
        (False, True, False, eta),
        (False, False, False, eta),
        (False, False, False, False),
    ):
        segments = form(words, spin, bar, eta_slot)
        if segments is not None:
            return segments
    # Narrower than anything sensible: the stage first, cut to fit.
    return [(_ellipsized(state.stage, room).rstrip(), "progress.description")]


def _bar(fraction: float, width: int, known: bool, unicode: bool) -> list[tuple[str, str]]:
    filled = int(width * min(1.0, max(0.0, fraction))) if known else 0
    full, rest = ("━", "─") if unicode else ("#", "-")
    return [(full * filled, "bar.complete"), (rest * (width - filled), "bar.back")]


class LiveLine:
    """A Rich renderable redrawn by Live several times a second: elapsed and ETA keep moving."""

    def __init__(self, state: LineState, flights: Callable[[], Sequence[str]] = tuple) -> None:
        self.state = state
        self.started = time.monotonic()
        self.flights = flights
        self.eta_at: float | None = None  # monotonic time the ETA was last estimated

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        now = time.monotonic()
        state = self.state
        if state.eta is not None and self.eta_at is not None:
            # Count down between estimates instead of freezing.
            state = _replace_eta(state, state.eta - (now - self.eta_at))
        width = options.max_width
        unicode = console.encoding.lower().startswith("utf")
        segments = layout(state, width, now - self.started, frame=int(now * 12), unicode=unicode)
        yield Text.assemble(*segments, no_wrap=True, overflow="crop")
        for line in self.flights():
            yield _flight_text(line, width)
        if state.done is None and now - self.started >= LATE and state.stage == WAITING:
            yield _flight_text(COLD_START, width)


def _replace_eta(state: LineState, eta: float) -> LineState:
    from dataclasses import replace

    return replace(state, eta=eta if eta >= 1 else None)


def _flight_text(line: str, width: int) -> Text:
    from rich.text import Text

    # The indent as a segment of its own: SVG exports (the README's picture) drop leading blanks.
    fitted = _ellipsized(line, max(8, width - 3)).rstrip()
    return Text.assemble(("  ", ""), (fitted, "dim"), no_wrap=True)


class _Live:
    """Rich Live around a LiveLine, on the terminal's stderr."""

    def __init__(self, terminal: Terminal, line: LiveLine) -> None:
        self.console = terminal.stderr_console()
        self.line = line
        self._live: Any = None

    def start(self) -> None:
        from rich.live import Live

        # stdout may be carrying the audio: never wrap it.
        self._live = Live(
            self.line,
            console=self.console,
            transient=True,
            refresh_per_second=8,
            redirect_stdout=False,
        )
        self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()

    def print(self, text: str) -> None:
        # Wrapped by Rich at word boundaries, not cut mid-word by the terminal.
        self.console.print(text, markup=False, highlight=False, soft_wrap=False)


class QuietReporter:
    def __enter__(self) -> QuietReporter:
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


class PlainReporter:
    """For logs and pipes: a quick request prints nothing; a slow one, a line now and then."""

    def __init__(self, terminal: Terminal) -> None:
        self._out = terminal.stderr
        self._last = ""
        self._said_at = time.monotonic()  # the start counts as news
        self._late = _LateTimer(self.message, COLD_START)

    def __enter__(self) -> PlainReporter:
        self._late.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._late.cancel()

    def message(self, text: str) -> None:
        print(f"outeai: {text}", file=self._out, flush=True)

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


class LiveReporter:
    """One line: spinner, stage, a bar over the text chunks, chunks, seconds of audio, elapsed."""

    def __init__(self, terminal: Terminal) -> None:
        self._line = LiveLine(LineState(stage=WAITING, unit="chunks"))
        self._live = _Live(terminal, self._line)
        self.console = self._live.console

    def __enter__(self) -> LiveReporter:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    @property
    def renderable(self) -> LiveLine:
        """What the line shows right now (used to render the README's picture)."""
        return self._line

    def message(self, text: str) -> None:
        self._live.print(f"outeai: {text}")

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
    """For logs and pipes: the notes, and a progress line at most every LATE seconds."""

    def __init__(self, terminal: Terminal, unit: str) -> None:
        self._out = terminal.stderr
        self._unit = unit
        self._finished = 0
        self._said_at = time.monotonic()
        self._pace = PaceEstimate()
        self._late = _LateTimer(self.message, COLD_START)

    def __enter__(self) -> PlainOverallReporter:
        self._late.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._late.cancel()

    def message(self, text: str) -> None:
        print(f"outeai: {text}", file=self._out, flush=True)

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


class LiveOverallReporter(_OverallBase):
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
        self._line = LiveLine(state, self._flights)
        self._live = _Live(terminal, self._line)
        self.console = self._live.console
        self._pace = PaceEstimate()

    def __enter__(self) -> LiveOverallReporter:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    @property
    def renderable(self) -> LiveLine:
        return self._line

    def message(self, text: str) -> None:
        self._live.print(f"outeai: {text}")

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

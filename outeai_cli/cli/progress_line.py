"""The live progress line: what it says (`LineState`), how it fits the terminal's width
(`layout`), and the Rich renderable that redraws it; also the sizes and clocks it prints, and
what both displays read from a run's snapshot (the ETA, the requests in flight).

The line is laid out by priority for the terminal's width: the stage (whole wherever it fits),
the counts, the seconds of audio and the elapsed time always stay (down to 40 columns); the ETA,
the spinner and the bar give way first, and the bar keeps one width for the whole run: the room
kept for the stage fits the service's documented stage names from the start, and widens (the bar
shrinks, once) only for a longer stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.text import Text

    from outeai_cli.synthesis.progress import InFlight, RunProgress

# Seconds without news before a plain line is worth printing (and before the cold-start hint).
LATE = 3.0
WAITING = "Waiting for the service"
COLD_START = "no answer yet; a cold start can take up to 40 s"


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
    # The room kept for the stage: "Generating linguistic features", the longest documented.
    stage_width: int = 30


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

    def form(words: bool, spin: bool, bar: bool, eta_slot: bool, cut: bool) -> list[Segment] | None:
        fields = _fields(state, elapsed, words, eta_slot)
        if not bar:  # no bar to keep in place: fields take their natural width
            fields = [(text.strip(), style) for text, style in fields if text.strip()]
        gap = "  " if words else " "
        fixed = sum(len(text) + len(gap) for text, _ in fields) + (2 if spin else 0)
        head: list[Segment] = [(f"{spinner} ", "progress.spinner")] if spin else []
        if bar:
            stage_width = max(state.stage_width, len(state.stage))
            bar_width = min(BAR_MAX, room - fixed - stage_width - 1)
            if bar_width < 8:
                return None
            head.append((state.stage.ljust(stage_width), "progress.description"))
            head.append((" ", ""))
            head += _bar(fraction, bar_width, known, unicode)
        else:
            stage_width = min(len(state.stage), room - fixed)
            if stage_width < (min(len(state.stage), 8) if cut else len(state.stage)):
                return None
            head.append((_ellipsized(state.stage, stage_width), "progress.description"))
        return head + [seg for text, style in fields for seg in ((gap, ""), (text, style))]

    # The stage is whole in every form but the last: the bar, the spinner and the ETA go first.
    eta = state.with_eta
    for words, spin, bar, eta_slot, cut in (
        (True, True, True, eta, False),
        (False, True, True, eta, False),
        (False, False, True, eta, False),
        (False, True, False, eta, False),
        (False, False, False, eta, False),
        (False, False, False, False, False),
        (False, False, False, False, True),
    ):
        segments = form(words, spin, bar, eta_slot, cut)
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
        # A stage longer than the room kept widens it for the rest of the run (the bar shrinks
        # once rather than at every change of stage), so its whole text shows wherever it fits.
        state.stage_width = max(state.stage_width, len(state.stage))
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


# -- what both displays read from a snapshot of the run ------------------------------------------------------


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
        current = {(entry.output, entry.piece) for entry in progress.in_flight}
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


def request_line(entry: InFlight) -> str:
    """One request's stage for a plain line: `Generating audio (chunk 2/3, 1.5 s of audio)`."""
    line = entry.stage
    if entry.chunks and entry.chunk:
        line += f" (chunk {entry.chunk}/{entry.chunks}"
        if entry.audio is not None:
            line += f", {entry.audio:.1f} s of audio"
        line += ")"
    return line

"""The service's stage text on the live line: whole wherever it fits, the bar shrinking first
and keeping one width for the run. Rendered in process through Rich at each width."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from outeai_cli.cli.progress_line import LineState, LiveLine

LINGUISTIC = "Generating linguistic features"  # the service's documented example
BAR = re.compile(r"[━─]+")


def render(line: LiveLine, columns: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=columns, force_terminal=True, color_system=None)
    console.print(line)
    return out.getvalue().splitlines()[0]


def bar_width(text: str) -> int:
    found = BAR.search(text)
    return len(found.group()) if found else 0


@pytest.mark.parametrize("columns", [50, 60, 80, 100, 140])
def test_the_stage_shows_whole_and_the_bar_gives_way(columns: int) -> None:
    state = LineState(stage=LINGUISTIC, unit="chunks", done=1, total=2, audio=1.5)
    text = render(LiveLine(state), columns)
    assert LINGUISTIC in text, text
    assert "…" not in text
    assert len(text) < columns
    assert re.search(r"\b1/2\b", text) and "1.5 s" in text, text


def test_the_bar_keeps_one_width_across_the_documented_stages() -> None:
    state = LineState(stage="Waiting for the service", unit="chunks")
    line = LiveLine(state)
    widths = set()
    for stage in (
        "Waiting for the service",
        "Warming up TTS model",
        LINGUISTIC,
        "Generating audio",
    ):
        state.stage, state.done, state.total = stage, 1, 2
        text = render(line, 100)
        assert stage in text, text
        widths.add(bar_width(text))
    assert len(widths) == 1 and widths != {0}, widths


def test_a_longer_stage_than_documented_shrinks_the_bar_once() -> None:
    longer = "Preparing the speaker embedding for the voice"
    state = LineState(stage="Generating audio", unit="chunks", done=0, total=3)
    line = LiveLine(state)
    before = bar_width(render(line, 120))
    state.stage = longer
    during = render(line, 120)
    assert longer in during and bar_width(during) < before, during
    state.stage = "Generating audio"
    assert bar_width(render(line, 120)) == bar_width(during)  # no jumping back


def test_too_narrow_for_the_stage_cuts_it_last() -> None:
    state = LineState(stage=LINGUISTIC, unit="chunks", done=1, total=2, audio=1.5)
    text = render(LiveLine(state), 40)
    assert len(text) < 40 and "1/2" in text and "1.5 s" in text, text
    assert text.startswith("Generating linguistic"), text

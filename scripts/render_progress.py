"""Render the README's picture of the live progress from real runs.

Runs real requests against a local server (tone engine, with latency so the display is caught
mid-way): one sentence (snapshot when the second of three chunks is done) and a long text in
pieces (snapshot when some pieces are done and one in flight reports its chunks). Exports
Rich's SVG at 100 columns and converts it to PNG with rsvg-convert (Debian: librsvg2-bin).

    python scripts/render_progress.py docs/progress.png
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from outeai_cli.cli.progress_live import LiveDisplay
from outeai_cli.cli.terminal import Terminal
from outeai_cli.http.client import TTSClient
from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.runner import LocalServer
from outeai_cli.synthesis.progress import RunProgress
from outeai_cli.synthesis.synthesize import synthesize
from outeai_cli.synthesis.types import SynthesisOptions, SynthesisRequest
from outeai_cli.voices.speakers import parse_speaker

WIDTH = 100
SENTENCE = "The quick brown fox jumps over the lazy dog. It was not amused. Nobody was."
CHAPTER = (
    "It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith, "
    "his chin nuzzled into his breast in an effort to escape the vile wind, slipped quickly "
    "through the glass doors of Victory Mansions. The hallway smelt of boiled cabbage and old "
    "rag mats. At one end of it a coloured poster, too large for indoor display, had been "
    "tacked to the wall. It depicted simply an enormous face, more than a metre wide. It was no "
    "use trying the lift. Even at the best of times it was seldom working."
)


def terminal() -> Terminal:
    return Terminal(stderr=io.StringIO(), environ={"TERM": "xterm-256color"})


def display() -> LiveDisplay:
    return LiveDisplay(terminal(), lambda notice: str(notice))


def single_request(snapshot: Console) -> None:
    reporter = display()
    taken = False

    def on_progress(progress: RunProgress) -> None:
        nonlocal taken
        reporter.update(progress)
        if any(entry.chunk == 2 for entry in progress.in_flight) and not taken:
            snapshot.print("$ outeai say -f fox.txt -o fox.flac", style="bold", highlight=False)
            snapshot.print(reporter.renderable)
            taken = True

    request = SynthesisRequest(SENTENCE, parse_speaker("EN-FEMALE-1-NEUTRAL"), 0.4)
    with (
        LocalServer(ServerSettings(engine=ToneEngine(), latency=3.0)) as server,
        TTSClient("local", base_url=server.base_url) as client,
        reporter,
    ):
        synthesize(client, request, io.BytesIO(), "flac", on_progress=on_progress)
    if not taken:
        raise SystemExit("the single request never reached chunk 2 of 3")


def long_text(snapshot: Console) -> None:
    reporter = display()
    taken = False

    def on_progress(progress: RunProgress) -> None:
        nonlocal taken
        reporter.update(progress)
        chunked = any(entry.chunk for entry in progress.in_flight)
        if progress.done >= 3 and chunked and not taken:
            snapshot.print()
            snapshot.print(
                "$ outeai say -f chapter.txt -o chapter.flac -j 3", style="bold", highlight=False
            )
            snapshot.print(reporter.renderable)
            taken = True

    request = SynthesisRequest(CHAPTER, parse_speaker("EN-FEMALE-1-NEUTRAL"), 0.4)
    options = SynthesisOptions(max_chars=120, jobs=3)
    with (
        LocalServer(ServerSettings(engine=ToneEngine(), latency=2.4)) as server,
        TTSClient("local", base_url=server.base_url) as client,
        reporter,
    ):
        synthesize(client, request, io.BytesIO(), "flac", options, on_progress=on_progress)
    if not taken:
        raise SystemExit("the long text never had three pieces done and one reporting chunks")


def main(target: Path) -> None:
    snapshot = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True)
    single_request(snapshot)
    long_text(snapshot)
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "progress.svg"
        svg.write_text(snapshot.export_svg(title="outeai say"), encoding="utf-8")
        subprocess.run(["rsvg-convert", "-o", str(target), str(svg)], check=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/progress.png"))

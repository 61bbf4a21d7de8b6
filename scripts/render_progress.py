"""Render the README's picture of the live progress bar from a real run.

Runs a real request against a local server (tone engine, with latency so the bar is caught
mid-way), snapshots the LiveReporter when the second of three chunks is done, exports Rich's
SVG and converts it to PNG with rsvg-convert (Debian: librsvg2-bin).

    python scripts/render_progress.py docs/progress.png
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from outeai_cli.cli.progress import LiveReporter
from outeai_cli.cli.terminal import Terminal
from outeai_cli.client import TTSClient
from outeai_cli.events import Event, StatusEvent
from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.runner import LocalServer

TEXT = "The quick brown fox jumps over the lazy dog. It was not amused. Nobody was."


def main(target: Path) -> None:
    snapshot = Console(record=True, width=100, file=io.StringIO(), force_terminal=True)
    terminal = Terminal(stderr=io.StringIO(), environ={"TERM": "xterm-256color"})
    reporter = LiveReporter(terminal)
    taken = False

    def on_event(event: Event) -> None:
        nonlocal taken
        reporter.on_event(event)
        if isinstance(event, StatusEvent) and event.current_text_chunk == 2 and not taken:
            snapshot.print("$ outeai say -f fox.txt -o fox.flac", style="bold")
            snapshot.print(reporter.renderable)
            taken = True

    with (
        LocalServer(ServerSettings(engine=ToneEngine(), latency=3.0)) as server,
        TTSClient("local", base_url=server.base_url) as client,
        reporter,
    ):
        client.generate(TEXT, on_event=on_event)
    if not taken:
        raise SystemExit("the run never reached chunk 2 of 3")
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "progress.svg"
        svg.write_text(snapshot.export_svg(title="outeai say"), encoding="utf-8")
        subprocess.run(["rsvg-convert", "-o", str(target), str(svg)], check=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/progress.png"))

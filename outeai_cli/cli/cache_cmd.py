"""`outeai cache`: how much audio is kept for re-runs, and clearing it."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

import json
from typing import Annotated

import typer

from outeai_cli.cli.options import JsonOpt, examples
from outeai_cli.cli.terminal import Terminal

EPILOG = (
    examples("outeai cache", "outeai cache --json", "outeai cache clear")
    + "\n\nThe cache keeps each piece of audio a long `say` or a `batch` received, keyed by "
    "API, base URL, speaker, temperature and text, so a re-run never pays for it twice. "
    "A short `say` (one request) does not use it; --no-cache opts out."
)

app = typer.Typer(
    name="cache",
    help="Show or clear the audio pieces kept for re-runs.",
    invoke_without_command=True,
)


def _describe(entries: int, size: int) -> str:
    from outeai_cli.cli.progress_line import human_size

    return f"{entries} piece{'s' if entries != 1 else ''}, {human_size(size)}"


@app.callback()
def show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the cache: where it is, how many pieces, how much disk."""
    if ctx.invoked_subcommand is not None:
        return
    from outeai_cli.synthesis.cache import PieceCache

    stats = PieceCache().stats()
    if as_json:
        Terminal.current().print_out(
            json.dumps({"path": str(stats.path), "entries": stats.entries, "bytes": stats.bytes})
        )
        return
    Terminal.current().print_out(f"{stats.path}: {_describe(stats.entries, stats.bytes)}")


@app.command("clear", epilog=examples("outeai cache clear"))
def clear(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was removed as JSON.")
    ] = False,
) -> None:
    """Remove every cached piece."""
    from outeai_cli.synthesis.cache import PieceCache

    removed = PieceCache().clear()
    if as_json:
        Terminal.current().print_out(
            json.dumps(
                {"path": str(removed.path), "entries": removed.entries, "bytes": removed.bytes}
            )
        )
        return
    Terminal.current().print_out(
        f"Removed {_describe(removed.entries, removed.bytes)} from {removed.path}"
    )

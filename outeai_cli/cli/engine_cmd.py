"""`outeai engine`: the offline engine that `--offline` starts: is it running, stop it."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

import json
import time
from typing import Any

import typer

from outeai_cli.cli.options import JsonOpt, examples
from outeai_cli.cli.terminal import Terminal

EPILOG = (
    examples("outeai engine", "outeai engine --json", "outeai engine stop")
    + "\n\nThe first offline call ('outeai say --offline', or the offline setting) starts the "
    "engine in the background: the engines of 'outeai serve', on a private socket (no port). "
    "It stays loaded for keep_alive seconds after its last call (config keep_alive, default "
    "300; 0 stops it with the call), then exits by itself."
)

app = typer.Typer(
    name="engine",
    help="Show or stop the offline engine (started by the first offline call).",
    invoke_without_command=True,
)


@app.callback()
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the running offline engine: what speaks, its process, how long it stays."""
    if ctx.invoked_subcommand is not None:
        return
    from outeai_cli.offline.launch import running_engines

    engines = running_engines()
    terminal = Terminal.current()
    if as_json:
        terminal.print_out(json.dumps(engines))
        return
    if not engines:
        terminal.print_out("No offline engine is running; the next offline call starts one.")
        return
    for state in engines:
        terminal.print_out(_describe(state))


@app.command("stop", epilog=examples("outeai engine stop"))
def stop(as_json: JsonOpt = False) -> None:
    """Stop the offline engine now (the next offline call starts it again)."""
    from outeai_cli.offline.launch import stop_engines

    stopped = stop_engines()
    terminal = Terminal.current()
    if as_json:
        terminal.print_out(json.dumps(stopped))
        return
    if not stopped:
        terminal.print_out("No offline engine was running.")
    for state in stopped:
        terminal.print_out(f"Stopped the offline engine {_name(state)} (pid {state.get('pid')}).")


def _name(state: dict[str, Any]) -> str:
    asked, engine = state.get("asked"), state.get("engine")
    asked = asked or engine
    return f"{asked} ({engine})" if engine and engine != asked else str(asked)


def _describe(state: dict[str, Any]) -> str:
    from outeai_cli.untrusted import clean_text

    if state.get("starting"):
        return f"{_name(state)}: starting (pid {state.get('pid')})"
    workers = int(state.get("workers") or 0)
    speakers = sorted(set(map(str, dict(state.get("voices") or {}).values())))
    up = time.time() - float(state.get("started") or time.time())
    lines = [
        f"{_name(state)}: running (pid {state.get('pid')}, up {up:.0f} s"
        + (f", {workers} worker{'s' if workers != 1 else ''}" if workers else "")
        + f"); stays {float(state.get('keep_alive') or 0):g} s after its last call",
        *(f"  speaks with {clean_text(s)}" for s in speakers),
    ]
    return "\n".join(lines)

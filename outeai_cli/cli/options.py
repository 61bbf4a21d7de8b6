"""Option types shared by several commands, defined once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from outeai_cli.cli.completion import complete_speaker

# Help panels (headings of grouped options in --help), in the order a reader needs them.
INPUT = "Input"
VOICE = "Voice"
OUTPUT = "Output"
LONG_TEXT = "Long text"
CONNECTION = "Connection"

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        help="API token. Least safe (visible in the process list and shell history): "
        "prefer OUTEAI_TOKEN or 'outeai config set token'.",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        help="API root ending in /api/v1 (env OUTEAI_BASE_URL; default https://outeai.com/api/v1).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="Use the profiles.NAME table of the config file (env OUTEAI_PROFILE).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--allow-insecure-http",
        help="Allow sending the token over plain http to a non-loopback host.",
        rich_help_panel=CONNECTION,
    ),
]


class Api(StrEnum):
    """The API dialects (outeai_cli.dialects.API_CHOICES), as a choice for --api."""

    tts = "tts"
    audio = "audio"
    tts_stream = "tts-stream"
    auto = "auto"


ApiOpt = Annotated[
    Api | None,
    typer.Option(
        "--api",
        metavar="DIALECT",
        help="API dialect: tts (the original /tts), audio (2025), tts-stream (2026), or auto "
        "(ask the server once, remembered per base URL) (env OUTEAI_API; config: api; "
        "default tts).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="NAME",
        help="Model name for the audio API (default OuteTTS-1-Pro) or the tts-stream API "
        "(default outetts_1_pro).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
SpeakerOpt = Annotated[
    str | None,
    typer.Option(
        "-s",
        "--speaker",
        "--voice",  # the name edge-tts users type
        metavar="NAME",
        help="Voice: NAME, default:NAME or custom:NAME (config: speaker; default "
        "EN-FEMALE-1-NEUTRAL).",
        show_default=False,
        autocompletion=complete_speaker,
        rich_help_panel=VOICE,
    ),
]
TemperatureOpt = Annotated[
    float | None,
    typer.Option(
        "-t",
        "--temperature",
        metavar="T",
        help="Sampling temperature, 0.1-1.0 (config: temperature; default 0.4).",
        show_default=False,
        rich_help_panel=VOICE,
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "-j",
        "--jobs",
        metavar="N",
        min=1,
        max=64,
        help="Requests at once (config: jobs; default 4).",
        show_default=False,
        rich_help_panel=LONG_TEXT,
    ),
]
MaxCharsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-chars",
        metavar="N",
        min=1,
        help="Characters per request: longer text is split at sentences, requested in pieces "
        "and stitched (config: max_chars; default 200, the documented plan cap).",
        show_default=False,
        rich_help_panel=LONG_TEXT,
    ),
]
PauseOpt = Annotated[
    float,
    typer.Option(
        "--pause",
        metavar="SECONDS",
        min=0,
        max=60,
        help="Seconds of silence between the pieces of a long text.",
        rich_help_panel=LONG_TEXT,
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Do not reuse or keep the pieces of long texts in the cache ('outeai cache').",
        rich_help_panel=LONG_TEXT,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0.1,
        help="Seconds to wait for a request's first event (config: timeout; default 90).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        metavar="SECONDS",
        min=0.1,
        help="Seconds to wait for the connection.",
        rich_help_panel=CONNECTION,
    ),
]
IdleTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--idle-timeout",
        metavar="SECONDS",
        min=0.1,
        help="Seconds of silence allowed mid-response.",
        rich_help_panel=CONNECTION,
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries",
        metavar="N",
        min=0,
        max=10,
        help="Retries per request on connect errors, 429 and 502-504.",
        rich_help_panel=CONNECTION,
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON object on stdout for scripts: the result, or on failure "
        '{"error": {"message", "code", "exit_code", "hint"}}.',
        rich_help_panel=OUTPUT,
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("-q", "--quiet", help="Print nothing but errors.", rich_help_panel=OUTPUT)
]


def examples(*lines: str) -> str:
    """An 'Examples' epilog, one command per line (\\b keeps Click from rewrapping it)."""
    body = "\n".join(f"  {line}" for line in lines)
    return f"Examples:\n\n\b\n{body}"

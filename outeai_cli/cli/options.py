"""Option types shared by several commands, defined once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

CONNECTION = "Connection"

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
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
        help="API root ending in /api/v1 (env OUTEAI_BASE_URL; default https://outeai.com/api/v1).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
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
        help="API dialect: tts (the seed's /tts), audio (2025), tts-stream (2026), or auto "
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
        help="Model name for the audio API (default OuteTTS-1-Pro) or the tts-stream API "
        "(default outetts_1_pro).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON object on stdout for scripts.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")]


def examples(*lines: str) -> str:
    """An 'Examples' epilog, one command per line (\\b keeps Click from rewrapping it)."""
    body = "\n".join(f"  {line}" for line in lines)
    return f"Examples:\n\n\b\n{body}"

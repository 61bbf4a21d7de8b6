"""Option types shared by several commands, defined once; the connection options' one reader."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from outeai_cli.cli.completion import complete_speaker
from outeai_cli.http.dialects import API_CHOICES, AUTO, described
from outeai_cli.settings.table import JOBS_RANGE, MAX_CHARS_RANGE, SETTINGS

if TYPE_CHECKING:
    from outeai_cli.settings.config import Settings

# Help panels (headings of grouped options in --help), in the order a reader needs them.
INPUT = "Input"
VOICE = "Voice"
OUTPUT = "Output"
LONG_TEXT = "Long text"
CONNECTION = "Connection"


def _default(name: str) -> str:
    """A setting's default as the help shows it (the settings table is its one source)."""
    value = SETTINGS[name].default
    return f"{value:g}" if isinstance(value, float) else str(value)


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
        help=f"API root ending in /api/v1 (env OUTEAI_BASE_URL; default {_default('base_url')}).",
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
        help="Allow sending the token over plain http to a non-loopback host "
        "(config: allow_insecure_http).",
        rich_help_panel=CONNECTION,
    ),
]


# The API dialects (the registry in outeai_cli.http.dialects), as a choice for --api: an
# enum, so that coercion.py checks it without pydantic (mypy cannot list computed members).
Api = StrEnum("Api", [(name.replace("-", "_"), name) for name in API_CHOICES])  # type: ignore[misc]


ApiOpt = Annotated[
    Api | None,
    typer.Option(
        "--api",
        metavar="DIALECT",
        help=f"API dialect: {described()}, or {AUTO} (ask the server once, remembered per "
        f"base URL) (env OUTEAI_API; config: api; default {_default('api')}).",
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
        "(default outetts_1_pro) (config: model).",
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
        help="Voice: NAME, default:NAME or custom:NAME "
        f"(config: speaker; default {_default('speaker')}).",
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
        help=f"Sampling temperature, {SETTINGS['temperature'].help.rpartition(' ')[2]} "
        f"(config: temperature; default {_default('temperature')}).",
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
        min=JOBS_RANGE[0],
        max=JOBS_RANGE[1],
        help=f"Requests at once (config: jobs; default {_default('jobs')}).",
        show_default=False,
        rich_help_panel=LONG_TEXT,
    ),
]
MaxCharsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-chars",
        metavar="N",
        min=MAX_CHARS_RANGE[0],
        max=MAX_CHARS_RANGE[1],
        help="Characters per request: longer text is split at sentences, requested in pieces "
        f"and stitched (config: max_chars; default {_default('max_chars')}, the documented "
        "plan cap).",
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
# Numbers are range-checked by the settings table (as file values are), not here.
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Seconds to wait for a request's first event "
        f"(config: timeout; default {_default('timeout')}).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
ConnectTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--connect-timeout",
        metavar="SECONDS",
        help="Seconds to wait for the connection "
        f"(config: connect_timeout; default {_default('connect_timeout')}).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
IdleTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--idle-timeout",
        metavar="SECONDS",
        help="Seconds a response may go without progress: no new audio and no new status "
        f"(config: idle_timeout; default {_default('idle_timeout')}).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
MaxTimeOpt = Annotated[
    float | None,
    typer.Option(
        "--max-time",
        metavar="SECONDS",
        help="Most seconds one request may take in all; each piece of a long text gets as "
        f"much (config: max_time; default {_default('max_time')}).",
        rich_help_panel=CONNECTION,
        show_default=False,
    ),
]
RetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--retries",
        metavar="N",
        help="Retries per request on connect errors, 429 and 502-504 "
        f"(config: retries; default {_default('retries')}).",
        rich_help_panel=CONNECTION,
        show_default=False,
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


class ConnectionOptions(NamedTuple):
    """The connection flags of a command that talks to the server (None: not given).

    `say`, `batch` and `voices` take the same ones; `settings()` is where they meet the
    config file and the environment, each checked by the settings table.
    """

    token: str | None = None
    base_url: str | None = None
    profile: str | None = None
    api: Api | None = None
    model: str | None = None
    timeout: float | None = None
    connect_timeout: float | None = None
    idle_timeout: float | None = None
    max_time: float | None = None
    retries: int | None = None
    allow_insecure_http: bool = False

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> ConnectionOptions:
        """The connection options among a command's parsed parameters (`ctx.params`): every
        command names them alike, so they are picked by name; those it lacks stay unset."""
        names = list(cls._fields)
        return cls(**{name: params[name] for name in names if params.get(name) is not None})

    def settings(self, **command_flags: object) -> Settings:
        """The effective settings: these flags and the command's own, over env and file.

        Warnings about the config file (readable by others) are printed here, once.
        """
        from outeai_cli.cli.terminal import Terminal
        from outeai_cli.settings.config import Settings

        flags: dict[str, object] = {
            "token": self.token,
            "base_url": self.base_url,
            "api": self.api.value if self.api is not None else None,
            "model": self.model,
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "idle_timeout": self.idle_timeout,
            "max_time": self.max_time,
            "retries": self.retries,
            # Off is the absence of the flag, so the config file may still turn it on.
            "allow_insecure_http": True if self.allow_insecure_http else None,
            **command_flags,
        }
        settings = Settings(flags, profile=self.profile)
        for warning in settings.warnings:
            Terminal.current().print_err(f"outeai: warning: {warning}")
        return settings


# The connection flags of `say` and `batch`, in the order their --help lists them.
_CONNECTION_PARAMETERS: tuple[tuple[str, object, object], ...] = (
    ("base_url", BaseUrlOpt, None),
    ("token", TokenOpt, None),
    ("timeout", TimeoutOpt, None),
    ("connect_timeout", ConnectTimeoutOpt, None),
    ("idle_timeout", IdleTimeoutOpt, None),
    ("max_time", MaxTimeOpt, None),
    ("retries", RetriesOpt, None),
    ("api", ApiOpt, None),
    ("model", ModelOpt, None),
    ("profile", ProfileOpt, None),
    ("allow_insecure_http", InsecureOpt, False),
)


def with_connection_options(command: Callable[..., None]) -> Callable[..., None]:
    """Declare the connection flags after `command`'s own parameters, once for every command
    that synthesizes; the command reads them with `ConnectionOptions.of(ctx.params)`."""
    names = [name for name, _, _ in _CONNECTION_PARAMETERS]

    @functools.wraps(command)
    def run(**params: Any) -> None:
        for name in names:
            params.pop(name, None)
        command(**params)

    own = inspect.signature(command)
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
        for name, hint, default in _CONNECTION_PARAMETERS
    ]
    run.__signature__ = own.replace(parameters=[*own.parameters.values(), *added])  # type: ignore[attr-defined]
    run.__annotations__ = {
        **command.__annotations__,
        **{name: hint for name, hint, _ in _CONNECTION_PARAMETERS},
    }
    return run


def examples(*lines: str) -> str:
    """An 'Examples' epilog, one command per line (\\b keeps Click from rewrapping it)."""
    body = "\n".join(f"  {line}" for line in lines)
    return f"Examples:\n\n\b\n{body}"

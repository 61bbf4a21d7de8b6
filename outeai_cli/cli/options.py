"""Every option that several commands share or that the library's advice can name, declared once
(`FLAGS`); the option of a setting takes its help's tail and its default from the settings table.
Also the connection options: their one list and their one reader.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from outeai_cli.cli.completion import complete_speaker
from outeai_cli.http.dialects import API_CHOICES, AUTO, described
from outeai_cli.settings.table import JOBS_RANGE, MAX_CHARS_RANGE, SETTINGS, TEMPERATURE_RANGE

if TYPE_CHECKING:
    from outeai_cli.settings.config import Settings
    from outeai_cli.settings.table import SettingSpec

# Help panels (headings of grouped options in --help), in the order a reader needs them.
INPUT = "Input"
VOICE = "Voice"
OUTPUT = "Output"
LONG_TEXT = "Long text"
CONNECTION = "Connection"


class Flag(NamedTuple):
    """How an option is typed and shown. For a setting (a row of the settings table with the
    same name), the help ends with where else it is set and its default, from that row."""

    names: tuple[str, ...]  # as typed; advice (cli/errors.py) names the option by the first
    panel: str
    metavar: str | None = None
    help: str = ""  # empty: each command that declares the option words it
    sources: bool = True  # for a setting: end the help with "(env ...; config: ...; default ...)"


# Keyed by the option's name: the setting's, or the one the library's advice uses.
FLAGS: dict[str, Flag] = {
    "file": Flag(("--file", "-f"), INPUT, "FILE"),
    "markdown": Flag(
        ("--markdown",),
        INPUT,
        None,
        "Read the text as Markdown, as LLMs write it: emphasis, links, lists and headings "
        "spoken as text, code blocks and tables skipped.",
    ),
    "speaker": Flag(
        ("-s", "--speaker", "--voice"),  # --voice: the name edge-tts users type
        VOICE,
        "NAME",
        "Voice: NAME, default:NAME or custom:NAME.",
    ),
    "temperature": Flag(
        ("-t", "--temperature"),
        VOICE,
        "T",
        "Sampling temperature, {}-{}.".format(*TEMPERATURE_RANGE),
    ),
    "output": Flag(("-o", "--output"), OUTPUT, "FILE"),
    "format": Flag(("--format",), OUTPUT, "FORMAT", sources=False),
    "force": Flag(("--force",), OUTPUT),
    "quiet": Flag(("-q", "--quiet"), OUTPUT, None, "Print nothing but errors."),
    "json": Flag(
        ("--json",),
        OUTPUT,
        None,
        "Print one JSON object on stdout for scripts: the result, or on failure "
        '{"error": {"message", "code", "exit_code", "hint"}}.',
    ),
    "jobs": Flag(("-j", "--jobs"), LONG_TEXT, "N", "Requests at once."),
    "max_chars": Flag(
        ("--max-chars",),
        LONG_TEXT,
        "N",
        "Characters per request (by default the documented plan cap): longer text is split at "
        "sentences, requested in pieces and stitched.",
    ),
    "pause": Flag(
        ("--pause",), LONG_TEXT, "SECONDS", "Seconds of silence between the pieces of a long text."
    ),
    "subtitles": Flag(("--subtitles",), LONG_TEXT, "FILE"),
    "no_cache": Flag(
        ("--no-cache",),
        LONG_TEXT,
        None,
        "Do not reuse or keep the pieces of long texts in the cache ('outeai cache').",
    ),
    "base_url": Flag(("--base-url",), CONNECTION, "URL", "API root ending in /api/v1."),
    "token": Flag(
        ("--token",),
        CONNECTION,
        "TOKEN",
        "API token. Least safe (visible in the process list and shell history): "
        "prefer OUTEAI_TOKEN or 'outeai config set token'.",
        sources=False,
    ),
    "timeout": Flag(
        ("--timeout",), CONNECTION, "SECONDS", "Seconds to wait for a request's first event."
    ),
    "connect_timeout": Flag(
        ("--connect-timeout",), CONNECTION, "SECONDS", "Seconds to wait for the connection."
    ),
    "idle_timeout": Flag(
        ("--idle-timeout",),
        CONNECTION,
        "SECONDS",
        "Seconds a response may go without progress: no new audio and no new status.",
    ),
    "max_time": Flag(
        ("--max-time",),
        CONNECTION,
        "SECONDS",
        "Most seconds one request may take in all; each piece of a long text gets as much.",
    ),
    "retries": Flag(
        ("--retries",), CONNECTION, "N", "Retries per request on connect errors, 429 and 502-504."
    ),
    "api": Flag(
        ("--api",),
        CONNECTION,
        "DIALECT",
        f"API dialect: {described()}, or {AUTO} (ask the server once, remembered per base URL).",
    ),
    "model": Flag(
        ("--model",),
        CONNECTION,
        "NAME",
        "Model name for the audio API (default OuteTTS-1-Pro) or the tts-stream API "
        "(default outetts_1_pro).",
    ),
    "profile": Flag(
        ("--profile",),
        CONNECTION,
        "NAME",
        "Use the profiles.NAME table of the config file (env OUTEAI_PROFILE).",
    ),
    "allow_insecure_http": Flag(
        ("--allow-insecure-http",),
        CONNECTION,
        None,
        "Allow sending the token over plain http to a non-loopback host.",
    ),
    "offline": Flag(
        ("--offline",),
        CONNECTION,
        None,
        "Speak on this machine with the engines of 'outeai serve': no server, no token; the "
        "engine stays loaded keep_alive seconds after the call (OUTEAI_OFFLINE=0 turns a "
        "configured offline off for one call).",
    ),
}


def option(name: str, *, help: str | None = None, **more: Any) -> Any:
    """The `typer.Option` of FLAGS[name]; `help` words it for one command, `more` adds to it
    (a range, completion...). Unless `more` says otherwise, no default is shown: a value that
    is not given is the setting's (or the command's) own."""
    flag = FLAGS[name]
    text = help or flag.help
    spec = SETTINGS.get(name)
    if spec is not None and flag.sources:
        text = f"{text.rstrip('.')} ({_sources(spec)})."
    more.setdefault("show_default", False)
    return typer.Option(
        *flag.names, metavar=flag.metavar, help=text, rich_help_panel=flag.panel, **more
    )


def _sources(spec: SettingSpec) -> str:
    """Where else a setting is set, and its default: "env OUTEAI_API; config: api; default tts"."""
    where = [f"env {spec.env[0]}"] if spec.env else []
    where.append(f"config: {spec.name}")
    if spec.default is not None and spec.default is not False:
        value = spec.default
        where.append(f"default {value:g}" if isinstance(value, float) else f"default {value}")
    return "; ".join(where)


# The API dialects (the registry in outeai_cli.http.dialects), as a choice for --api: an
# enum, so that coercion.py checks it without pydantic (mypy cannot list computed members).
Api = StrEnum("Api", [(name.replace("-", "_"), name) for name in API_CHOICES])  # type: ignore[misc]

SpeakerOpt = Annotated[str | None, option("speaker", autocompletion=complete_speaker)]
TemperatureOpt = Annotated[float | None, option("temperature")]
QuietOpt = Annotated[bool, option("quiet")]
JsonOpt = Annotated[bool, option("json")]
JobsOpt = Annotated[int | None, option("jobs", min=JOBS_RANGE[0], max=JOBS_RANGE[1])]
MaxCharsOpt = Annotated[
    int | None, option("max_chars", min=MAX_CHARS_RANGE[0], max=MAX_CHARS_RANGE[1])
]
PauseOpt = Annotated[float, option("pause", min=0, max=60, show_default=True)]
NoCacheOpt = Annotated[bool, option("no_cache")]
# Numbers are range-checked by the settings table (as file values are), not here.
BaseUrlOpt = Annotated[str | None, option("base_url")]
TokenOpt = Annotated[str | None, option("token")]
TimeoutOpt = Annotated[float | None, option("timeout")]
ConnectTimeoutOpt = Annotated[float | None, option("connect_timeout")]
IdleTimeoutOpt = Annotated[float | None, option("idle_timeout")]
MaxTimeOpt = Annotated[float | None, option("max_time")]
RetriesOpt = Annotated[int | None, option("retries")]
ApiOpt = Annotated[Api | None, option("api")]
ModelOpt = Annotated[str | None, option("model")]
ProfileOpt = Annotated[str | None, option("profile")]
InsecureOpt = Annotated[bool, option("allow_insecure_http")]
OfflineOpt = Annotated[bool, option("offline")]

# The connection options of every command that talks to the server, in the order --help
# lists them: their one list (`with_connection_options` declares them, `ConnectionOptions`
# reads them).
CONNECTION_OPTIONS: dict[str, Any] = {
    "offline": OfflineOpt,
    "base_url": BaseUrlOpt,
    "token": TokenOpt,
    "timeout": TimeoutOpt,
    "connect_timeout": ConnectTimeoutOpt,
    "idle_timeout": IdleTimeoutOpt,
    "max_time": MaxTimeOpt,
    "retries": RetriesOpt,
    "api": ApiOpt,
    "model": ModelOpt,
    "profile": ProfileOpt,
    "allow_insecure_http": InsecureOpt,
}


class ConnectionOptions(NamedTuple):
    """The connection flags a command was given, and the profile it named.

    `say`, `batch` and `voices` take the same ones; `settings()` is where they meet the
    config file and the environment, each checked by the settings table.
    """

    given: Mapping[str, object]  # setting name -> value, only the flags given
    profile: str | None = None

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> ConnectionOptions:
        """The connection options among a command's parsed parameters (`ctx.params`): every
        command names them alike, so they are picked by name; those it lacks stay unset."""
        given = {
            name: params[name]
            for name in CONNECTION_OPTIONS
            # Off is the absence of a switch, so the config file may still turn it on.
            if name != "profile" and params.get(name) is not None and params[name] is not False
        }
        return cls(given, params.get("profile"))

    def settings(self, **command_flags: object) -> Settings:
        """The effective settings: these flags and the command's own, over env and file.

        Warnings about the config file (readable by others) are printed here, once.
        """
        from outeai_cli.cli.terminal import Terminal
        from outeai_cli.settings.config import Settings

        settings = Settings({**self.given, **command_flags}, profile=self.profile)
        for warning in settings.warnings:
            Terminal.current().print_err(f"outeai: warning: {warning}")
        return settings


def with_connection_options(
    command: Callable[..., None] | None = None, *, without: tuple[str, ...] = ()
) -> Any:
    """Declare the connection flags (but those `without`) after `command`'s own parameters,
    once for every command that talks to the server; it reads them with
    `ConnectionOptions.of(ctx.params)`. Used bare (`@with_connection_options`) or called."""
    if command is None:
        return functools.partial(with_connection_options, without=without)
    hints = {name: hint for name, hint in CONNECTION_OPTIONS.items() if name not in without}

    @functools.wraps(command)
    def run(**params: Any) -> None:
        for name in hints:
            params.pop(name, None)
        command(**params)

    own = inspect.signature(command)
    added = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=False if _is_switch(hint) else None,
            annotation=hint,
        )
        for name, hint in hints.items()
    ]
    run.__signature__ = own.replace(parameters=[*own.parameters.values(), *added])  # type: ignore[attr-defined]
    run.__annotations__ = {**command.__annotations__, **hints}
    return run


def _is_switch(hint: Any) -> bool:
    import typing

    return typing.get_args(hint)[0] is bool


def examples(*lines: str) -> str:
    """An 'Examples' epilog, one command per line (\\b keeps Click from rewrapping it)."""
    body = "\n".join(f"  {line}" for line in lines)
    return f"Examples:\n\n\b\n{body}"

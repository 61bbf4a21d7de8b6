"""The settings table: every setting's name, default, environment variables, help and the
one parser that checks its values, wherever they come from (flag, environment, profile, file,
`outeai config set`, a batch manifest, a library call).

To add a setting, add a row here and its name to the right `Literal` alias.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, cast

from outeai_cli.errors import Advice, ConfigError, Fix, InputError
from outeai_cli.http.dialects import API_CHOICES, AUTO, DEFAULT_DIALECT, DIALECTS, described

# Each default is written here once; the client, the CLI help and `config show` read it.
DEFAULT_BASE_URL = "https://outeai.com/api/v1"
DEFAULT_TEMPERATURE = 0.4
TOKEN_ENV_VARS = ("OUTEAI_TOKEN", "OUTEAI_API_TOKEN")
DEFAULT_TIMEOUT = 90.0  # a cold GPU may take 10-40 s before the first event
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_MAX_TIME = 1800.0  # per request: a long text's pieces each get this much
DEFAULT_RETRIES = 3
TEMPERATURE_RANGE = (0.1, 1.0)
DEFAULT_SPEAKER = "EN-FEMALE-1-NEUTRAL"
DEFAULT_MAX_CHARS = 200  # the per-request cap the service documents for one plan
MAX_CHARS_RANGE = (1, 1_000_000)
DEFAULT_JOBS = 4
JOBS_RANGE = (1, 64)
MAX_SECONDS = 86400.0  # a day: longer is a typo, and huge values overflow the clocks
# How long the offline engine stays loaded after its last call (ollama keeps a model 5 min).
DEFAULT_KEEP_ALIVE = 300.0
# The engines that speak offline and in `outeai serve --engine` (auto: the best installed).
ENGINE_NAMES = ("auto", "piper", "espeak", "tone")
# Quiet on a live input (a pipe still open) after which the text held is spoken unfinished.
DEFAULT_INPUT_PAUSE = 0.5

TextName = Literal["base_url", "api", "speaker", "engine"]
OptionalTextName = Literal["token", "format", "model", "player"]
FloatName = Literal[
    "temperature",
    "timeout",
    "connect_timeout",
    "idle_timeout",
    "max_time",
    "keep_alive",
    "input_pause",
]
IntName = Literal["max_chars", "jobs", "retries"]
BoolName = Literal["allow_insecure_http", "offline", "markdown"]
SettingName = TextName | OptionalTextName | FloatName | IntName | BoolName


def _text(raw: object) -> str:
    # A hand-edited file may hold `speaker = 3`: text settings must be TOML strings.
    if not isinstance(raw, str):
        raise ValueError(f"must be a string (in quotes), not {type(raw).__name__}")
    return raw


def _number(raw: object) -> float:
    """A finite number from text or a number (a bool is not one)."""
    if isinstance(raw, bool):
        raise ValueError("must be a number")
    try:
        number = float(raw.strip() if isinstance(raw, str) else raw)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def check_temperature(raw: object) -> float:
    """The one temperature check (settings, flags, manifests and the library)."""
    low, high = TEMPERATURE_RANGE
    try:
        number = _number(raw)
    except ValueError:
        number = math.nan
    if not low <= number <= high:
        raise ValueError(f"must be a number from {low} to {high}")
    return number


def _seconds(low: float, high: float = MAX_SECONDS) -> Callable[[object], float]:
    def parse(raw: object) -> float:
        number = _number(raw)
        if not low <= number <= high:
            raise ValueError(f"must be from {low:g} to {high:g} seconds")
        return number

    return parse


def _base_url(raw: object) -> str:
    from urllib.parse import urlsplit

    value = _text(raw).strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    if any(not " " < c < "\x7f" for c in value):
        raise ValueError("must be one line of ASCII without spaces")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError as exc:
        raise ValueError(f"is not a URL ({str(exc).lower().rstrip('.')})") from None
    if not parts.hostname:
        raise ValueError("has no host name")
    # A user or password in it would be sent as Basic auth in place of the token, and printed
    # wherever the URL is; a query or fragment would be lost when the API paths are added.
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password (the token is the credential)")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("must be the API root, without a ?query or #fragment")
    return value.rstrip("/")


def _format(raw: object) -> str:
    from outeai_cli.audio.formats import OUTPUT_FORMATS

    value = _text(raw).strip().lower()
    if value not in OUTPUT_FORMATS:
        raise ValueError(f"must be one of {', '.join(OUTPUT_FORMATS)}")
    return value


def _api(raw: object) -> str:
    name = _text(raw).strip().lower().replace("_", "-")
    if name not in API_CHOICES:
        raise ValueError(f"must be one of {', '.join(API_CHOICES)}")
    return name


def _engine(raw: object) -> str:
    name = _text(raw).strip().lower()
    if name not in ENGINE_NAMES:
        raise ValueError(f"must be one of {', '.join(ENGINE_NAMES)}")
    return name


def _player(raw: object) -> str:
    from outeai_cli.audio.playback import PLAYERS

    value = _text(raw).strip()
    names = [player.name for player in PLAYERS]
    if value.replace("\\", "/").rsplit("/", 1)[-1] not in names:
        raise ValueError(f"must be one of {', '.join(names)} (or a path to one)")
    return value


def _whole_number(low: int, high: int) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            raise ValueError("must be a whole number")
        number = int(text)
        if not low <= number <= high:
            raise ValueError(f"must be from {low} to {high}")
        return number

    return parse


def _switch(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    word = raw.strip().lower() if isinstance(raw, str) else ""
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ValueError("must be true or false")


def _non_empty(raw: object) -> str:
    value = _text(raw).strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _token(raw: object) -> str:
    from outeai_cli.security import check_token

    value = _non_empty(raw)
    try:
        return check_token(value)
    except InputError as exc:  # the setting's own message names the setting and its source
        raise ValueError(exc.message.removeprefix("the API token ").split(";")[0]) from None


class SettingSpec(NamedTuple):
    name: SettingName
    parse: Callable[[object], Any]
    default: str | float | int | bool | None
    env: tuple[str, ...] = ()
    help: str = ""
    example: str = ""  # a valid value, for error hints


SETTINGS: dict[str, SettingSpec] = {
    s.name: s
    for s in (
        SettingSpec("token", _token, None, TOKEN_ENV_VARS, "API token", ""),
        SettingSpec(
            "base_url",
            _base_url,
            DEFAULT_BASE_URL,
            ("OUTEAI_BASE_URL",),
            "API root",
            "http://127.0.0.1:8765/api/v1",
        ),
        SettingSpec(
            "api",
            _api,
            DEFAULT_DIALECT,
            ("OUTEAI_API",),
            f"API dialect: {described()}, or {AUTO}",
            DIALECTS[-1],  # the newest
        ),
        SettingSpec(
            "speaker", _non_empty, DEFAULT_SPEAKER, (), "default voice", "EN-MALE-1-NEUTRAL"
        ),
        SettingSpec(
            "temperature",
            check_temperature,
            DEFAULT_TEMPERATURE,
            (),
            "sampling temperature {}-{}".format(*TEMPERATURE_RANGE),
            f"{DEFAULT_TEMPERATURE:g}",
        ),
        SettingSpec(
            "format",
            _format,
            None,
            (),
            "output format when the output file has no extension",
            "wav",
        ),
        SettingSpec(
            "timeout",
            _seconds(0.1),
            DEFAULT_TIMEOUT,
            (),
            "seconds to wait for the first event",
            "120",
        ),
        SettingSpec(
            "max_chars",
            _whole_number(*MAX_CHARS_RANGE),
            DEFAULT_MAX_CHARS,
            (),
            "characters per request; longer text is split (your plan's cap)",
            "500",
        ),
        SettingSpec(
            "jobs",
            _whole_number(*JOBS_RANGE),
            DEFAULT_JOBS,
            (),
            "requests at once for long text and batch",
            "8",
        ),
        SettingSpec(
            "model",
            _non_empty,
            None,
            (),
            "model name (audio API: OuteTTS-1-Pro, tts-stream API: outetts_1_pro)",
            "OuteTTS-1-Pro",
        ),
        SettingSpec(
            "connect_timeout",
            _seconds(0.1),
            DEFAULT_CONNECT_TIMEOUT,
            (),
            "seconds to wait for the connection",
            "20",
        ),
        SettingSpec(
            "idle_timeout",
            _seconds(0.1),
            DEFAULT_IDLE_TIMEOUT,
            (),
            "seconds a response may go without progress",
            "120",
        ),
        SettingSpec(
            "max_time",
            _seconds(1.0),
            DEFAULT_MAX_TIME,
            (),
            "most seconds one request may take in all",
            "3600",
        ),
        SettingSpec(
            "retries",
            _whole_number(0, 10),
            DEFAULT_RETRIES,
            (),
            "retries per request on connect errors, 429 and 502-504",
            "5",
        ),
        SettingSpec(
            "allow_insecure_http",
            _switch,
            False,
            (),
            "allow the token over plain http to a non-loopback host",
            "true",
        ),
        SettingSpec(
            "offline",
            _switch,
            False,
            ("OUTEAI_OFFLINE",),
            "speak with the engine on this machine (no server, no token)",
            "true",
        ),
        SettingSpec(
            "engine",
            _engine,
            "auto",
            ("OUTEAI_ENGINE",),
            "the offline engine (auto, piper, espeak or tone)",
            "piper",
        ),
        SettingSpec(
            "keep_alive",
            _seconds(0.0),
            DEFAULT_KEEP_ALIVE,
            ("OUTEAI_KEEP_ALIVE",),
            "seconds the offline engine stays loaded after its last call (0 stops it with the call)",
            "600",
        ),
        SettingSpec(
            "input_pause",
            _seconds(0.05, 60.0),
            DEFAULT_INPUT_PAUSE,
            ("OUTEAI_INPUT_PAUSE",),
            "seconds a live input may pause before the text it sent is spoken unfinished",
            "1.5",
        ),
        SettingSpec(
            "markdown",
            _switch,
            False,
            ("OUTEAI_MARKDOWN",),
            "read the text as Markdown (as LLMs write): markup spoken as text, code and tables "
            "skipped",
            "true",
        ),
        SettingSpec(
            "player",
            _player,
            None,
            ("OUTEAI_PLAYER",),
            "the audio player that plays the speech (default: the first found)",
            "mpv",
        ),
    )
}


def setting_name(key: str) -> SettingName:
    """The canonical name of a setting (`base-url` → `base_url`), or an error listing them all."""
    name = key.strip().lower().replace("-", "_")
    if name in SETTINGS:
        return cast("SettingName", name)
    import difflib

    # `say -s/--voice NAME` sets the `speaker`: the name a user types first for it.
    close = ["speaker"] if name == "voice" else difflib.get_close_matches(name, list(SETTINGS), n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    raise ConfigError(
        f"unknown setting {key!r}", hint=f"{guess}valid settings: {', '.join(SETTINGS)}"
    )


def shown_value(name: str, raw: object) -> str:
    """A refused value as its error quotes it (with a leading space): never a token, never
    the password of a URL, at most 60 characters."""
    if name == "token":
        return ""
    if isinstance(raw, str):
        if name == "base_url":
            raw = re.sub(r"(?<=//)[^/?#]*@", "***@", raw)
        text = repr(raw)
    else:
        text = f"{raw:g}" if isinstance(raw, float) else str(raw)
    return " " + (text if len(text) <= 60 else text[:60] + "…")


def parse_setting(key: str, raw: str) -> Any:
    """Validate a value typed by the user for `key` (by the SETTINGS table)."""
    spec = SETTINGS[setting_name(key)]
    try:
        return spec.parse(raw)
    except ValueError as exc:
        shown = shown_value(spec.name, raw)
        raise ConfigError(
            f"invalid {spec.name}{shown}: {exc}",
            advice=(Advice(Fix.CORRECT, spec.name, spec.example),),
        ) from None

"""Settings: TOML file (+ profiles), environment, flags — resolved with their sources.

Also the edits `outeai config` and `outeai voices add/remove` make to the file. Every edit
reads the file first (a corrupt file is an error, never overwritten) and writes it back
atomically with mode 0600.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outeai_cli.errors import ConfigError, InputError

APP_NAME = "outeai"


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError("must be a number") from None


def _positive_float(value: str) -> float:
    number = _number(value)
    if not number > 0:
        raise ValueError("must be a positive number of seconds")
    return number


def _temperature(value: str) -> float:
    number = _number(value)
    if not 0.1 <= number <= 1.0:
        raise ValueError("must be from 0.1 to 1.0")
    return number


def _base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


def _format(value: str) -> str:
    from outeai_cli.audio import OUTPUT_FORMATS

    if value.lower() not in OUTPUT_FORMATS:
        raise ValueError(f"must be one of {', '.join(OUTPUT_FORMATS)}")
    return value.lower()


def _api(value: str) -> str:
    from outeai_cli.dialects import API_CHOICES

    name = value.strip().lower().replace("_", "-")
    if name not in API_CHOICES:
        raise ValueError(f"must be one of {', '.join(API_CHOICES)}")
    return name


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not low <= number <= high:
            raise ValueError(f"must be from {low} to {high}")
        return number

    return parse


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


@dataclass(frozen=True, slots=True)
class SettingSpec:
    name: str
    parse: Callable[[str], Any]
    default: Any
    env: tuple[str, ...] = ()
    help: str = ""
    example: str = ""  # a valid value, for error hints


SETTINGS: dict[str, SettingSpec] = {
    s.name: s
    for s in (
        SettingSpec(
            "token", _non_empty, None, ("OUTEAI_TOKEN", "OUTEAI_API_TOKEN"), "API token", ""
        ),
        SettingSpec(
            "base_url",
            _base_url,
            "https://outeai.com/api/v1",
            ("OUTEAI_BASE_URL",),
            "API root",
            "http://127.0.0.1:8765/api/v1",
        ),
        SettingSpec(
            "api",
            _api,
            "tts",
            ("OUTEAI_API",),
            "API dialect: tts (seed), audio (2025), tts-stream (2026) or auto",
            "tts-stream",
        ),
        SettingSpec(
            "speaker", _non_empty, "EN-FEMALE-1-NEUTRAL", (), "default voice", "EN-MALE-1-NEUTRAL"
        ),
        SettingSpec("temperature", _temperature, 0.4, (), "sampling temperature 0.1-1.0", "0.4"),
        SettingSpec("format", _format, None, (), "output format when -o has no extension", "wav"),
        SettingSpec(
            "timeout", _positive_float, 90.0, (), "seconds to wait for the first event", "120"
        ),
        SettingSpec(
            "max_chars",
            _whole_number(1, 1_000_000),
            200,
            (),
            "characters per request; longer text is split (your plan's cap)",
            "500",
        ),
        SettingSpec(
            "jobs", _whole_number(1, 64), 4, (), "requests at once for long text and batch", "8"
        ),
    )
}


def config_path() -> Path:
    """OUTEAI_CONFIG, else config.toml in the platform's user config dir (XDG honoured)."""
    explicit = os.environ.get("OUTEAI_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def load_file(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file ({} when absent). A corrupt file is an error naming line/column."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    warn_if_exposed(path)
    import tomllib  # here, not at the top: `outeai --help` stays light

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"the config file {path} is not valid TOML: {exc}",
            hint="fix it by hand or move it aside; it was left unchanged",
        ) from None
    _check_shape(data, path)
    return data


def _check_shape(data: Mapping[str, Any], path: Path) -> None:
    """Tables the program indexes into must be tables, so a hand edit cannot crash it."""
    for section, example in (("profiles", "[profiles.local]"), ("voices", "[voices.my-voice]")):
        tables = data.get(section, {})
        if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
            raise ConfigError(
                f"in the config file {path}, '{section}' must hold tables like {example}",
                hint="fix it by hand; it was left unchanged",
            )


_warned: set[Path] = set()


def warn_if_exposed(path: Path) -> None:
    """Warn (once per process) when a file that may hold the token is readable by others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and path not in _warned:
        _warned.add(path)
        print(
            f"outeai: warning: {path} is readable by other users and may hold your token; "
            f"run: chmod 600 {path}",
            file=sys.stderr,
        )


def save_file(data: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write atomically with mode 0600 in a 0700 directory."""
    import tempfile

    import tomli_w

    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".toml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            tomli_w.dump(dict(data), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True, slots=True)
class Resolved:
    value: Any
    source: str  # "flag", "environment (NAME)", "profile NAME", "config file", "default"


class Settings:
    """Effective settings: flag > environment > profile > file > default."""

    def __init__(
        self,
        flags: Mapping[str, Any] | None = None,
        *,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        file_data: Mapping[str, Any] | None = None,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.flags = {k: v for k, v in (flags or {}).items() if v is not None}
        self.file_data = load_file() if file_data is None else file_data
        self.profile = profile or self.environ.get("OUTEAI_PROFILE") or None
        profiles = self.file_data.get("profiles", {})
        if self.profile is not None and self.profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(
                f"unknown profile {self.profile!r} (profiles: {known})",
                hint=f"create it with 'outeai config set --profile {self.profile} KEY VALUE'",
            )
        self.profile_data = profiles.get(self.profile, {}) if self.profile else {}

    def resolve(self, key: str) -> Resolved:
        spec = SETTINGS[key]
        if key in self.flags:
            return Resolved(self.flags[key], "flag")
        for var in spec.env:
            if self.environ.get(var):
                return Resolved(_parse(spec, self.environ[var], f"${var}"), f"environment ({var})")
        if key in self.profile_data:
            return Resolved(
                _parse(spec, self.profile_data[key], f"profile {self.profile}"),
                f"profile {self.profile}",
            )
        if key in self.file_data:
            return Resolved(_parse(spec, self.file_data[key], "config file"), "config file")
        return Resolved(spec.default, "default")

    def get(self, key: str) -> Any:
        return self.resolve(key).value

    def effective(self) -> dict[str, Resolved]:
        """Every setting, in the table's order, with where its value came from."""
        return {key: self.resolve(key) for key in SETTINGS}

    def custom_voices(self) -> dict[str, str]:
        """Registered custom voices: name -> description."""
        voices = self.file_data.get("voices", {})
        return {
            str(k): str(v.get("description", "")) for k, v in voices.items() if isinstance(v, dict)
        }


def _parse(spec: SettingSpec, raw: Any, where: str) -> Any:
    try:
        # A hand-edited file may hold `speaker = 3`: text settings must be TOML strings.
        if not isinstance(raw, str) and not isinstance(spec.default, int | float):
            raise ValueError(f"must be a string (in quotes), not {type(raw).__name__}")
        return spec.parse(str(raw))
    except ValueError as exc:
        shown = "value" if spec.name == "token" else repr(raw)
        raise ConfigError(
            f"invalid {spec.name} {shown} in {where}: {exc}",
            hint=f"fix it with 'outeai config set {spec.name} VALUE'",
        ) from None


# -- reading and changing single settings ------------------------------------------------------


def setting_name(key: str) -> str:
    """The canonical name of a setting (`base-url` → `base_url`), or an error listing them all."""
    name = key.strip().lower().replace("-", "_")
    if name in SETTINGS:
        return name
    import difflib

    close = difflib.get_close_matches(name, list(SETTINGS), n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    raise ConfigError(
        f"unknown setting {key!r}", hint=f"{guess}valid settings: {', '.join(SETTINGS)}"
    )


def parse_setting(key: str, raw: str) -> Any:
    """Validate a value typed by the user for `key` (by the SETTINGS table)."""
    spec = SETTINGS[setting_name(key)]
    try:
        return spec.parse(raw)
    except ValueError as exc:
        shown = "" if spec.name == "token" else f" {raw!r}"
        example = f"outeai config set {spec.name} {spec.example}".rstrip()
        raise ConfigError(f"invalid {spec.name}{shown}: {exc}", hint=f"e.g. {example}") from None


def _target_table(data: dict[str, Any], profile: str | None, *, create: bool) -> dict[str, Any]:
    if profile is None:
        return data
    if not profile.strip():
        raise InputError("the profile name is empty", hint="e.g. --profile local")
    profiles = data.setdefault("profiles", {}) if create else data.get("profiles", {})
    if create:
        return profiles.setdefault(profile, {})  # type: ignore[no-any-return]
    return profiles.get(profile, {})  # type: ignore[no-any-return]


def where(profile: str | None) -> str:
    """How a message names the place a setting is stored."""
    return f"profile {profile}" if profile else "config file"


def set_setting(
    key: str, raw: str, *, profile: str | None = None, path: Path | None = None
) -> tuple[str, Any, Path]:
    """Validate and store one setting (top level, or in [profiles.PROFILE]).

    Returns (canonical name, stored value, path). The file is read first, so a corrupt file
    raises ConfigError and is left as it was.
    """
    name = setting_name(key)
    value = parse_setting(name, raw)
    path = path or config_path()
    data = load_file(path)
    _target_table(data, profile, create=True)[name] = value
    save_file(data, path)
    return name, value, path


def unset_setting(
    key: str, *, profile: str | None = None, path: Path | None = None
) -> tuple[str, bool, Path]:
    """Remove one setting from the file. Returns (name, whether it was there, path)."""
    name = setting_name(key)
    path = path or config_path()
    data = load_file(path)
    table = _target_table(data, profile, create=False)
    if name not in table:
        return name, False, path
    del table[name]
    save_file(data, path)
    return name, True, path


# -- custom voices ([voices.NAME] tables) --------------------------------------------------------


def check_voice_name(name: str) -> str:
    from outeai_cli.catalogue import find_voice

    name = name.strip()
    if not name or any(ord(c) < 32 for c in name):
        raise InputError(
            "a custom voice name must be non-empty text on one line", hint="e.g. my-voice"
        )
    prefix, sep, _ = name.partition(":")
    if sep and prefix in ("default", "custom"):
        raise InputError(
            f"give the custom voice name without the '{prefix}:' prefix",
            hint=f"outeai voices add {name.partition(':')[2] or 'NAME'}",
        )
    builtin = find_voice(name)
    if builtin is not None:
        raise InputError(
            f"{name} is a built-in voice and needs no registration",
            hint=f"to send it as a custom voice anyway, use -s custom:{name}",
        )
    return name


def add_custom_voice(
    name: str, description: str = "", *, path: Path | None = None
) -> tuple[str, bool, Path]:
    """Register (or re-describe) a custom voice. Returns (name, whether it is new, path)."""
    name = check_voice_name(name)
    path = path or config_path()
    data = load_file(path)
    voices = data.setdefault("voices", {})
    is_new = name not in voices
    voices[name] = {"description": description.strip()}
    save_file(data, path)
    return name, is_new, path


def remove_custom_voice(name: str, *, path: Path | None = None) -> Path:
    """Forget a registered custom voice; an unknown name is an error naming the known ones."""
    path = path or config_path()
    data = load_file(path)
    voices = data.get("voices", {})
    if name not in voices:
        known = f"registered: {', '.join(sorted(voices))}" if voices else "none is registered"
        import difflib

        close = difflib.get_close_matches(name, list(voices), n=1)
        raise InputError(
            f"no custom voice named {name!r} ({known})",
            hint=f"did you mean {close[0]}?" if close else "see 'outeai voices --kind custom'",
        )
    del voices[name]
    if not voices:
        del data["voices"]
    save_file(data, path)
    return path

"""Settings: TOML file (+ profiles), environment, flags — resolved with their sources."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outeai_cli.errors import ConfigError

APP_NAME = "outeai"


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be a positive number of seconds")
    return number


def _temperature(value: str) -> float:
    number = float(value)
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


SETTINGS: dict[str, SettingSpec] = {
    s.name: s
    for s in (
        SettingSpec("token", _non_empty, None, ("OUTEAI_TOKEN", "OUTEAI_API_TOKEN"), "API token"),
        SettingSpec(
            "base_url", _base_url, "https://outeai.com/api/v1", ("OUTEAI_BASE_URL",), "API root"
        ),
        SettingSpec("speaker", _non_empty, "EN-FEMALE-1-NEUTRAL", (), "default voice"),
        SettingSpec("temperature", _temperature, 0.4, (), "sampling temperature 0.1-1.0"),
        SettingSpec("format", _format, None, (), "output format when -o has no extension"),
        SettingSpec("timeout", _positive_float, 90.0, (), "seconds to wait for the first event"),
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
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"the config file {path} is not valid TOML: {exc}",
            hint="fix it by hand or move it aside; it was left unchanged",
        ) from None


def warn_if_exposed(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(
            f"outeai: warning: {path} is readable by other users and may hold your token; "
            f"run: chmod 600 {path}",
            file=sys.stderr,
        )


def save_file(data: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write atomically with mode 0600 in a 0700 directory."""
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
                hint=f"add a [profiles.{self.profile}] table to {config_path()}",
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

    def custom_voices(self) -> dict[str, str]:
        """Registered custom voices: name -> description."""
        voices = self.file_data.get("voices", {})
        return {
            str(k): str(v.get("description", "")) for k, v in voices.items() if isinstance(v, dict)
        }


def _parse(spec: SettingSpec, raw: Any, where: str) -> Any:
    try:
        return spec.parse(str(raw))
    except ValueError as exc:
        shown = "value" if spec.name == "token" else repr(raw)
        raise ConfigError(
            f"invalid {spec.name} {shown} in {where}: {exc}",
            hint=f"fix it with 'outeai config set {spec.name} VALUE'",
        ) from None

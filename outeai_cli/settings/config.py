"""Settings: TOML file (+ profiles), environment, flags — resolved with their sources (what
there is to set, and how each value is checked, is the table in `settings_table.py`).

Also the edits `outeai config` and `outeai voices add/remove` make to the file. Every edit
reads the file first (a corrupt file is an error, never overwritten) and writes it back
atomically with mode 0600.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, overload

from outeai_cli.errors import Advice, ConfigError, Fix, InputError
from outeai_cli.settings.file import config_path, exposure_warning, load_file, locked, save_file
from outeai_cli.settings.table import (
    SETTINGS,
    BoolName,
    FloatName,
    IntName,
    OptionalTextName,
    SettingName,
    SettingSpec,
    TextName,
    parse_setting,
    setting_name,
    shown_value,
)


class Resolved(NamedTuple):
    value: Any
    source: str  # "flag", "environment (NAME)", "profile NAME", "config file", "default"


class Settings:
    """Effective settings: flag > environment > profile > file > default.

    Every value, flags included, is checked by the SETTINGS table, so a flag is held to the
    same rules as the file (finite numbers in range, a usable token...).
    """

    def __init__(
        self,
        flags: Mapping[str, object] | None = None,
        *,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        file_data: Mapping[str, Any] | None = None,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.warnings: list[str] = []  # for the caller to show; the library never prints
        if file_data is None:
            path = config_path()
            file_data = load_file(path)
            warning = exposure_warning(path) if file_data else None
            if warning:
                self.warnings.append(warning)
        self.file_data = file_data
        self.flags = {
            k: _parse(SETTINGS[k], v, "flag") for k, v in (flags or {}).items() if v is not None
        }
        self.profile = profile or self.environ.get("OUTEAI_PROFILE") or None
        profiles = self.file_data.get("profiles", {})
        if self.profile is not None and self.profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(
                f"unknown profile {self.profile!r} (profiles: {known})",
                advice=(Advice(Fix.CREATE, "profile", self.profile),),
            )
        self.profile_data = profiles.get(self.profile, {}) if self.profile else {}

    def resolve(self, key: str) -> Resolved:
        spec = SETTINGS[key]
        if key in self.flags:
            return Resolved(self.flags[key], "flag")
        for var in spec.env:
            if self.environ.get(var):
                source = f"environment ({var})"
                return Resolved(_parse(spec, self.environ[var], source), source)
        if key in self.profile_data:
            source = f"profile {self.profile}"
            return Resolved(_parse(spec, self.profile_data[key], source), source)
        if key in self.file_data:
            return Resolved(_parse(spec, self.file_data[key], "config file"), "config file")
        return Resolved(spec.default, "default")

    @overload
    def get(self, key: TextName) -> str: ...
    @overload
    def get(self, key: OptionalTextName) -> str | None: ...
    @overload
    def get(self, key: FloatName) -> float: ...
    @overload
    def get(self, key: IntName) -> int: ...
    @overload
    def get(self, key: BoolName) -> bool: ...
    def get(self, key: str) -> object:
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


def _parse(spec: SettingSpec, raw: object, source: str) -> Any:
    """Check one value from `source` ("flag", "config file"...) by its row of the table."""
    try:
        return spec.parse(raw)
    except ValueError as exc:
        shown = shown_value(spec.name, raw)
        if source == "flag":
            where = "given on the command line"
        elif source.startswith("environment ("):
            where = f"in ${source.removeprefix('environment (').rstrip(')')}"
        else:
            where = f"in {source}"
        raise ConfigError(
            f"invalid {spec.name}{shown} {where}: {exc}",
            advice=(Advice(Fix.CORRECT, spec.name, spec.example, source=source),),
        ) from None


# -- reading and changing single settings ------------------------------------------------------


def _target_table(data: dict[str, Any], profile: str | None, *, create: bool) -> dict[str, Any]:
    if profile is None:
        return data
    if not profile.strip():
        raise InputError("the profile name is empty", hint="name one, e.g. local")
    profiles = data.setdefault("profiles", {}) if create else data.get("profiles", {})
    if create:
        return profiles.setdefault(profile, {})  # type: ignore[no-any-return]
    return profiles.get(profile, {})  # type: ignore[no-any-return]


def where(profile: str | None) -> str:
    """How a message names the place a setting is stored."""
    return f"profile {profile}" if profile else "config file"


def set_setting(
    key: str, raw: str, *, profile: str | None = None, path: Path | None = None
) -> tuple[SettingName, Any, Path]:
    """Validate and store one setting (top level, or in [profiles.PROFILE]).

    Returns (canonical name, stored value, path). The file is read first, so a corrupt file
    raises ConfigError and is left as it was.
    """
    name = setting_name(key)
    value = parse_setting(name, raw)
    path = path or config_path()
    with locked(path):
        data = load_file(path)
        _target_table(data, profile, create=True)[name] = value
        save_file(data, path)
    return name, value, path


def unset_setting(
    key: str, *, profile: str | None = None, path: Path | None = None
) -> tuple[SettingName, bool, Path]:
    """Remove one setting from the file. Returns (name, whether it was there, path)."""
    name = setting_name(key)
    path = path or config_path()
    with locked(path):
        data = load_file(path)
        table = _target_table(data, profile, create=False)
        if name not in table:
            return name, False, path
        del table[name]
        save_file(data, path)
    return name, True, path

"""The config file: where it is, reading it (a corrupt file is an error naming line and
column, never overwritten), writing it (atomically, mode 0600), and the lock that serialises
read-modify-write edits; plus the custom-voice tables `outeai voices add/remove` edit.

The settings in it are checked and resolved by `outeai_cli.settings.config`.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from outeai_cli.errors import Advice, ConfigError, Fix, InputError

APP_NAME = "outeai"


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
        raw = _read_bounded(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    import tomllib  # here, not at the top: `outeai --help` stays light

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        problem = "arrays or tables nested too deep" if isinstance(exc, RecursionError) else exc
        raise ConfigError(
            f"the config file {path} is not valid TOML: {problem}",
            hint="fix it by hand or move it aside; it was left unchanged",
        ) from None
    _check_shape(data, path)
    return data


MAX_CONFIG_BYTES = 1 << 20


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, if it is a regular file of sane size: a link to /dev/zero, a FIFO or
    a huge file is refused instead of read for ever (or until memory runs out)."""
    from outeai_cli.untrusted import UnreadableFile, read_bounded

    try:
        return read_bounded(path, MAX_CONFIG_BYTES)
    except UnreadableFile as exc:
        raise ConfigError(
            f"the config file {path} cannot be read: {exc}",
            hint="point OUTEAI_CONFIG at a TOML file of a few lines, or move what is there aside",
        ) from None


def _check_shape(data: Mapping[str, Any], path: Path) -> None:
    """Tables the program indexes into must be tables, so a hand edit cannot crash it."""
    for section, example in (("profiles", "[profiles.local]"), ("voices", "[voices.my-voice]")):
        tables = data.get(section, {})
        if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
            raise ConfigError(
                f"in the config file {path}, '{section}' must hold tables like {example}",
                hint="fix it by hand; it was left unchanged",
            )


def exposure_warning(path: Path) -> str | None:
    """A warning when a file that may hold the token is readable by others (else None)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by other users and may hold your token; run: chmod 600 {path}"
    return None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of the config file.

    The lock is a separate file beside it: the config file itself is replaced on each write,
    so a lock on it would be a lock on a file that no longer has the name.
    """
    import fcntl

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


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


# -- custom voices ([voices.NAME] tables) --------------------------------------------------------


def check_voice_name(name: str) -> str:
    from outeai_cli.voices.catalogue import find_voice

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
            advice=(
                Advice(Fix.SET, "speaker", f"custom:{name}", "to send it as a custom voice anyway"),
            ),
        )
    return name


def add_custom_voice(
    name: str, description: str = "", *, path: Path | None = None
) -> tuple[str, bool, Path]:
    """Register (or re-describe) a custom voice. Returns (name, whether it is new, path)."""
    name = check_voice_name(name)
    path = path or config_path()
    with locked(path):
        data = load_file(path)
        voices = data.setdefault("voices", {})
        is_new = name not in voices
        voices[name] = {"description": description.strip()}
        save_file(data, path)
    return name, is_new, path


def remove_custom_voice(name: str, *, path: Path | None = None) -> Path:
    """Forget a registered custom voice; an unknown name is an error naming the known ones."""
    path = path or config_path()
    with locked(path):
        _remove_voice(name, path)
    return path


def _remove_voice(name: str, path: Path) -> None:
    data = load_file(path)
    voices = data.get("voices", {})
    if name not in voices:
        known = f"registered: {', '.join(sorted(voices))}" if voices else "none is registered"
        import difflib

        close = difflib.get_close_matches(name, list(voices), n=1)
        raise InputError(
            f"no custom voice named {name!r} ({known})",
            hint=f"did you mean {close[0]}?" if close else "",
        )
    del voices[name]
    if not voices:
        del data["voices"]
    save_file(data, path)

"""The API dialects: one module each, listed once in `REGISTRY` below.

Everything that names the dialects reads this list: the client (`get_dialect`), the `api`
setting and its help, the CLI's `--api` choice, and the advice errors give. Adding a dialect is
a module implementing `base.Dialect` and one row here (the local server's route aside).

Only the module of the dialect in use is imported: a call speaks one of them, and this module
itself imports nothing, so the settings and the CLI may read the list at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from outeai_cli.http.dialects.base import Dialect


class DialectEntry(NamedTuple):
    name: str  # as `--api` and the `api` setting take it
    module: str  # outeai_cli.http.dialects.<module> speaks it ...
    class_name: str  # ... with this class, built as cls(model)
    about: str  # a few words for help texts: which API it is


# The first is the default (and what `auto` falls back to when the server cannot tell).
REGISTRY = (
    DialectEntry("tts", "tts", "TTSDialect", "the original /tts"),
    DialectEntry("audio", "audio", "AudioDialect", "2025"),
    DialectEntry("tts-stream", "tts_stream", "TTSStreamDialect", "2026"),
)
AUTO = "auto"  # not a dialect: ask the server once which one it speaks (see `auto.py`)
DIALECTS = tuple(entry.name for entry in REGISTRY)
API_CHOICES = (*DIALECTS, AUTO)
DEFAULT_DIALECT = DIALECTS[0]


def described() -> str:
    """The dialects for a help text: "tts (the original /tts), audio (2025), ..."."""
    return ", ".join(f"{entry.name} ({entry.about})" for entry in REGISTRY)


def get_dialect(name: str, *, model: str | None = None) -> Dialect:
    """The dialect called `name` (one of DIALECTS); `model` overrides its default model."""
    import importlib

    entry = next((entry for entry in REGISTRY if entry.name == name), None)
    if entry is None:
        from outeai_cli.errors import InputError

        raise InputError(
            f"unknown API dialect {name!r}", hint=f"use one of: {', '.join(API_CHOICES)}"
        )
    module = importlib.import_module(f"{__name__}.{entry.module}")
    dialect: Dialect = getattr(module, entry.class_name)(model)
    return dialect

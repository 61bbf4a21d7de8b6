"""Starting the offline engine as the command starts, before the command's own imports.

Loading a voice takes longer than anything else in a first offline call, so the engine is
started from the entry point, in parallel with Typer, the client and the option parsing. Only
a command line that will speak offline starts it (a guess from the flags, the environment and
the config file, which the command then resolves for real): `take_early_lease` hands the
lease to the client when the guess was right; when it was not, the lease is let go and the
engine idles out on its own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outeai_cli.offline.launch import EngineLease

_COMMANDS = ("say", "batch", "voices")
_early: EngineLease | None = None


def start_early(argv: list[str]) -> None:
    """Start the engine this command line will speak with, if it will speak offline."""
    global _early
    try:
        guess = _offline_guess(argv)
        if guess is None:
            return
        from outeai_cli.offline.launch import EngineLease

        _early = EngineLease(*guess, wait=0)  # an engine shutting down: the command waits
    except Exception:  # a guess: the command reports any problem itself
        _early = None


def take_early_lease(engine: str, keep_alive: float) -> EngineLease | None:
    """The lease started early, if it is for this engine; None otherwise."""
    global _early
    lease, _early = _early, None
    if lease is not None and (lease.places.engine, lease.keep_alive) != (engine, keep_alive):
        lease.close()
        return None
    return lease


def _offline_guess(argv: list[str]) -> tuple[str, float] | None:
    """(engine, keep_alive) when this command line speaks offline, else None."""
    if not argv or argv[0] not in _COMMANDS:
        return None
    words = argv[1 : argv.index("--")] if "--" in argv else argv[1:]
    if {"-h", "--help"} & set(words) or (argv[0] == "voices" and "--local" in words):
        return None
    if argv[0] == "voices" and words and not words[0].startswith("-"):
        return None  # `voices add`, `voices remove`
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            return None  # closed: the command opens /dev/null there first, then starts it
    from outeai_cli.settings.config import Settings

    settings = Settings(profile=_profile(words))
    if "--offline" not in words and not settings.get("offline"):
        return None
    return settings.get("engine"), settings.get("keep_alive")


def _profile(words: list[str]) -> str | None:
    for index, word in enumerate(words):
        if word == "--profile" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--profile="):
            return word.partition("=")[2]
    return None

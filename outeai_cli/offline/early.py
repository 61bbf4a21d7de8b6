"""Starting the offline engine as the command starts, before the command's own imports.

Loading a voice takes longer than anything else in a first offline call, so the engine is
started from the entry point, in parallel with Typer, the client and the option parsing. Only
a command line that will speak offline starts it (a guess from the flags, the environment and
the config file, which the command then resolves for real): `take_early_lease` hands the
lease to the client when the guess was right; when it was not, the lease is let go and the
engine idles out on its own.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from outeai_cli.offline.launch import EngineLease
    from outeai_cli.settings.config import Settings

_COMMANDS = ("say", "batch", "voices")
# The switches of `say` that may stand before its text. A guess: any other option is taken to
# hold a value, so one missing here (a new switch) costs the head start, never a wrong answer.
_SAY_SWITCHES = frozenset(
    {"--offline", "--force", "--play", "--no-cache", "-q", "--quiet", "--json"}
    | {"--allow-insecure-http"}
)
_early: EngineLease | None = None


def start_early(argv: list[str]) -> None:
    """Start the engine this command line will speak with, if it will speak offline; a warm
    engine is also told what `say` will most likely ask (see `prefetch`)."""
    global _early
    try:
        guess = _offline_guess(argv)
        if guess is None:
            return
        from outeai_cli.offline.launch import EngineLease

        settings, engine, keep_alive = guess
        _early = EngineLease(engine, keep_alive, wait=0)  # one shutting down: the command waits
        if _early.was_running and argv[0] == "say":
            import threading

            # In the background: the command's own imports go on meanwhile.
            hint = threading.Thread(
                target=_hint, args=(_early.places.socket, argv[1:], settings), daemon=True
            )
            hint.start()
    except Exception:  # a guess: the command reports any problem itself
        return


def take_early_lease(engine: str, keep_alive: float) -> EngineLease | None:
    """The lease started early, if it is for this engine; None otherwise."""
    global _early
    lease, _early = _early, None
    if lease is not None and (lease.places.engine, lease.keep_alive) != (engine, keep_alive):
        lease.close()
        return None
    return lease


def _offline_guess(argv: list[str]) -> tuple[Settings, str, float] | None:
    """(settings, engine, keep_alive) when this command line speaks offline, else None."""
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
    return settings, settings.get("engine"), settings.get("keep_alive")


def _profile(words: list[str]) -> str | None:
    for index, word in enumerate(words):
        if word == "--profile" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--profile="):
            return word.partition("=")[2]
    return None


def _hint(socket_path: Path, words: list[str], settings: Settings) -> None:
    """Tell the warm engine the text, voice and temperature this `say` line will most likely
    ask for; nothing when the line is not plain enough to tell (a file, stdin, a custom voice)."""
    with contextlib.suppress(Exception):  # a guess: the command asks for itself anyway
        _send_hint(socket_path, words, settings)


def _send_hint(socket_path: Path, words: list[str], settings: Settings) -> None:
    import json
    import socket

    from outeai_cli.offline.prefetch import PREFETCH_PATH

    guess = guess_request(words, settings)
    if guess is None:
        return
    hint = json.dumps(guess).encode()
    request = (
        f"POST {PREFETCH_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(hint)}\r\nConnection: close\r\n\r\n"
    ).encode() + hint
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as engine:
        engine.settimeout(0.2)
        engine.connect(str(socket_path))
        engine.sendall(request)
        engine.recv(256)  # its 204: the hint was taken


def guess_request(words: list[str], settings: Settings) -> dict[str, object] | None:
    """The text, speaker and temperature of the request the `say` arguments `words` will
    make, as a hint's JSON; None when they are not plain enough to tell (a file, stdin)."""
    from outeai_cli.voices.speakers import parse_speaker

    texts: list[str] = []
    options: dict[str, str] = {}
    rest = iter(words)
    for word in rest:
        if word == "--":
            texts.extend(rest)
        elif word.startswith("-") and word != "-":
            name, equals, value = word.partition("=")
            if word not in _SAY_SWITCHES:
                options[name] = value if equals else next(rest, "")
        else:
            texts.append(word)
    if len(texts) != 1 or {"-f", "--file"} & set(options):
        return None
    speaker = next((options[o] for o in ("-s", "--speaker", "--voice") if o in options), None)
    voice = parse_speaker(speaker or settings.get("speaker"), frozenset(settings.custom_voices()))
    temperature = options.get("-t") or options.get("--temperature")
    return {
        "text": texts[0],
        "speaker": voice.as_json(),
        "temperature": float(temperature) if temperature else settings.get("temperature"),
    }

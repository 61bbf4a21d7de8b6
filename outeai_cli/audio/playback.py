"""Play audio through the first system player found on PATH (or the one the `player` setting
names).

No Python audio-device dependency: the player is an ordinary program (ffplay, mpv, pw-play,
paplay, aplay, afplay or sox's play), run to completion on a file, or fed a stream of samples
on its stdin (`pipe_player`; all but afplay can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from outeai_cli.audio.formats import OUTPUT_FORMATS
from outeai_cli.errors import Advice, ExitCode, Fix, InputError, OuteAIError

ANY_FORMAT: frozenset[str] = frozenset(OUTPUT_FORMATS)


class Player(NamedTuple):
    """A player program, the arguments that make it play one file and exit, and its formats.

    `stream` are the arguments that make it play 16-bit little-endian samples from stdin until
    it ends, with {rate} and {channels} filled in (None: it cannot); with `stream_wav` it reads
    a WAV header first (one that announces no length), else raw samples.
    """

    name: str
    args: tuple[str, ...]
    formats: frozenset[str]
    package: str  # what to install to get it
    stream: tuple[str, ...] | None = None
    stream_wav: bool = False

    def command(self, executable: str, path: Path) -> list[str]:
        return [executable, *self.args, str(path)]

    def stream_command(self, executable: str, samplerate: int, channels: int) -> list[str]:
        assert self.stream is not None
        return [
            executable,
            *(
                a.replace("{rate}", str(samplerate)).replace("{channels}", str(channels))
                for a in self.stream
            ),
        ]


# In order of preference: ffplay and mpv play every format we write; the others are narrower.
_QUIET_FFPLAY = ("-nodisp", "-autoexit", "-hide_banner", "-loglevel", "error")
_MPV_RAW = "--demuxer=rawaudio --demuxer-rawaudio-format=s16le --demuxer-rawaudio-rate={rate}"
PLAYERS: tuple[Player, ...] = (
    Player(
        "ffplay",
        _QUIET_FFPLAY,
        ANY_FORMAT,
        "ffmpeg",
        (*_QUIET_FFPLAY, "-f", "wav", "-i", "-"),
        True,
    ),
    Player(
        "mpv",
        ("--no-video", "--no-terminal"),
        ANY_FORMAT,
        "mpv",
        (
            "--no-video",
            "--no-terminal",
            *_MPV_RAW.split(),
            "--demuxer-rawaudio-channels={channels}",
            "-",
        ),
    ),
    Player(
        "pw-play",
        (),
        ANY_FORMAT,
        "pipewire",
        tuple(["--format=s16", "--rate={rate}", "--channels={channels}", "-"]),
    ),
    Player(
        "paplay",
        (),
        frozenset({"wav", "flac", "ogg"}),
        "pulseaudio-utils",
        tuple(["--raw", "--format=s16le", "--rate={rate}", "--channels={channels}"]),
    ),
    Player(
        "aplay",
        ("-q",),
        frozenset({"wav"}),
        "alsa-utils",
        tuple(["-q", "-t", "raw", "-f", "S16_LE", "-r", "{rate}", "-c", "{channels}", "-"]),
    ),
    Player("afplay", (), frozenset({"wav", "flac", "mp3"}), "macOS (built in)"),
    Player(
        "play",
        ("-q",),
        ANY_FORMAT,
        "sox",
        tuple(
            [
                "-q",
                "-t",
                "raw",
                "-e",
                "signed-integer",
                "-b",
                "16",
                "-L",
                "-r",
                "{rate}",
                "-c",
                "{channels}",
                "-",
            ]
        ),
    ),
)

INSTALL_HINT = (
    "install ffmpeg (for ffplay) or mpv, e.g. 'sudo apt install ffmpeg' or "
    "'brew install ffmpeg' (macOS also has afplay built in)"
)


class PlayerNotFoundError(InputError):
    """No player for this format on PATH: playing cannot be honoured here."""


class PlaybackError(OuteAIError):
    """The player ran but failed (no audio device, unreadable file...)."""


class PlaybackInterrupted(OuteAIError):
    """Ctrl-C while playing; the file itself is complete."""

    exit_code = ExitCode.INTERRUPTED


class Choice(NamedTuple):
    player: Player
    executable: str


def find_player(fmt: str, search_path: str | None = None) -> Choice:
    """The first player on PATH (or search_path) that plays `fmt`, else PlayerNotFoundError."""
    fmt = fmt.lower()
    installed = [
        (player, exe)
        for player in PLAYERS
        if (exe := shutil.which(player.name, path=search_path)) is not None
    ]
    for player, exe in installed:
        if fmt in player.formats:
            return Choice(player, exe)
    names = ", ".join(p.name for p in PLAYERS)
    if not installed:
        raise PlayerNotFoundError(
            f"no audio player found (looked for {names} on PATH)",
            hint=INSTALL_HINT,
        )
    found = "; ".join(
        f"{p.name} plays only {', '.join(sorted(f.upper() for f in p.formats))}"
        for p, _ in installed
    )
    raise PlayerNotFoundError(
        f"no installed audio player can play {fmt.upper()} ({found})",
        hint="install ffmpeg (for ffplay) or mpv, or save in a format your player reads "
        "(e.g. NAME.wav)",
    )


def find_stream_player(name: str | None = None, search_path: str | None = None) -> Choice:
    """The player that `name` (the `player` setting: a name or a path) names, else the first
    on PATH that can play a stream; PlayerNotFoundError if there is none."""
    if name:
        base = os.path.basename(name)
        player = next((p for p in PLAYERS if p.name == base), None)
        executable = (
            name
            if os.sep in name and os.access(name, os.X_OK)
            else shutil.which(name, path=search_path)
        )
        if player is None or executable is None:
            raise PlayerNotFoundError(
                f"the player setting names {name}, which is not installed",
                advice=(
                    Advice(Fix.CHOOSE, "player", "|".join(p.name for p in PLAYERS if p.stream)),
                ),
            )
        if player.stream is None:
            raise PlayerNotFoundError(
                f"{player.name} cannot play a stream, so it cannot play as the audio arrives",
                advice=(
                    Advice(Fix.CHOOSE, "player", "|".join(p.name for p in PLAYERS if p.stream)),
                ),
            )
        return Choice(player, executable)
    for player in PLAYERS:
        if player.stream is not None and (exe := shutil.which(player.name, path=search_path)):
            return Choice(player, exe)
    names = ", ".join(p.name for p in PLAYERS if p.stream is not None)
    raise PlayerNotFoundError(
        f"no audio player that plays a stream was found (looked for {names} on PATH)",
        hint=INSTALL_HINT.replace(" (macOS also has afplay built in)", ""),
    )


def play(path: str | Path, fmt: str | None = None, *, search_path: str | None = None) -> Choice:
    """Play the file to the end, blocking. Returns the player used.

    fmt defaults to the file's extension. Raises PlayerNotFoundError, PlaybackError, or
    PlaybackInterrupted on Ctrl-C (the player is stopped first).
    """
    path = Path(path).resolve()  # absolute: a name starting with '-' is never read as an option
    choice = find_player(fmt or path.suffix.lstrip(".") or "wav", search_path)
    process = subprocess.Popen(
        choice.player.command(choice.executable, path),
        stdin=subprocess.DEVNULL,  # keep the player away from the terminal's keys
        stdout=subprocess.DEVNULL,  # our stdout may carry --json for a script
        stderr=subprocess.PIPE,
    )
    try:
        _, errors = process.communicate()
    except KeyboardInterrupt:
        _stop(process)
        raise PlaybackInterrupted("playback interrupted") from None
    except BaseException:
        _stop(process)
        raise
    if process.returncode != 0:
        lines = errors.decode("utf-8", "replace").strip().splitlines()
        detail = f": {lines[-1].strip()}" if lines else ""
        raise PlaybackError(
            f"{choice.player.name} failed to play {path.name} (exit {process.returncode}){detail}",
            hint="check the audio device, or play the file with another program",
        )
    return choice


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

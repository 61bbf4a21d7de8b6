"""`say --play` and outeai_cli.audio.playback, with fake player programs placed on PATH.

The fakes are real executables run as real subprocesses: they record their arguments and what
they were fed on stdin (a player that streams) or the first bytes of the file they were given
(afplay, which plays only files), so the tests see exactly what a player would.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from outeai_cli.audio.playback import PLAYERS, PlayerNotFoundError, find_player, play
from outeai_cli.errors import ExitCode

FAKE_PLAYER = """#!/bin/sh
# A stand-in audio player: record the arguments, and what it is fed (stdin, or the file named
# last: afplay's way).
PATH=/usr/bin:/bin
{setup}
printf '%s\\n' "$@" > "{record}.args"
for last in "$@"; do :; done
if [ "$last" = - ] || [ "$(basename "$0")" != afplay ] && [ ! -f "$last" ]; then
    head -c 4 > "{record}.head"
    {extra}
    cat > "{record}.stream"
else
    head -c 4 "$last" > "{record}.head"
    {extra}
fi
"""


def fake_player(bin_dir: Path, name: str, *, setup: str = "", extra: str = ":") -> Path:
    """An executable `name` in bin_dir; returns the path prefix of its record files.

    `setup` runs before anything is recorded (a trap: a test that waits for the records
    may signal the player as soon as they exist), `extra` after."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    record = bin_dir / f"{name}-played"
    script = bin_dir / name
    script.write_text(FAKE_PLAYER.format(record=record, setup=setup, extra=extra))
    script.chmod(0o755)
    return record


def recorded_args(record: Path) -> list[str]:
    return Path(f"{record}.args").read_text().splitlines()


def recorded_head(record: Path) -> bytes:
    return Path(f"{record}.head").read_bytes()


def recorded_stream(record: Path) -> bytes:
    return recorded_head(record) + Path(f"{record}.stream").read_bytes()


def samples_of(path: Path) -> bytes:
    return sf.read(path, dtype="int16")[0].tobytes()


def test_say_play_streams_the_checked_audio_to_the_first_player_and_saves_the_file(
    outeai, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    record = fake_player(bin_dir, "ffplay")
    result = outeai("say", "hello", "-o", "x.flac", "--play", env={"PATH": str(bin_dir)})
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "x.flac"
    assert saved.read_bytes()[:4] == b"fLaC"
    assert recorded_args(record) == [
        *("-nodisp", "-autoexit", "-hide_banner", "-loglevel", "error"),
        *("-f", "wav", "-i", "-"),
    ]
    stream = recorded_stream(record)  # a WAV of unknown length: the samples follow its header
    assert stream[:4] == b"RIFF" and stream[4:8] == b"\xff\xff\xff\xff"
    assert sf.info(io.BytesIO(stream)).samplerate == sf.info(saved).samplerate
    assert stream[44:] == samples_of(saved)


def test_say_play_prefers_players_in_the_documented_order(outeai, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    aplay = fake_player(bin_dir, "aplay")
    mpv = fake_player(bin_dir, "mpv")
    result = outeai("say", "hello", "-o", "x.wav", "--play", env={"PATH": str(bin_dir)})
    assert result.returncode == 0, result.stderr
    args = recorded_args(mpv)
    assert args[:3] == ["--no-video", "--no-terminal", "--demuxer=rawaudio"]
    assert "--demuxer-rawaudio-rate=44100" in args and args[-1] == "-"
    assert recorded_stream(mpv) == samples_of(tmp_path / "x.wav")  # raw samples
    assert not Path(f"{aplay}.args").exists()


def test_the_player_setting_names_the_player(outeai, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_player(bin_dir, "ffplay")
    aplay = fake_player(bin_dir, "aplay")
    env = {"PATH": str(bin_dir), "OUTEAI_PLAYER": "aplay"}
    result = outeai("say", "hello", "-o", "x.wav", "--play", env=env)
    assert result.returncode == 0, result.stderr
    assert recorded_args(aplay) == [
        "-q",
        "-t",
        "raw",
        "-f",
        "S16_LE",
        "-r",
        "44100",
        "-c",
        "1",
        "-",
    ]


def test_say_play_without_any_player_names_what_to_install_and_keeps_the_file(
    outeai, tmp_path: Path
) -> None:
    empty = tmp_path / "no-players"
    empty.mkdir()
    result = outeai("say", "hello", "-o", "x.flac", "--play", env={"PATH": str(empty)})
    assert result.returncode == ExitCode.USAGE == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("outeai: error: no audio player found")
    assert "ffmpeg" in error and "mpv" in error
    assert "the audio is saved in x.flac" in error
    assert "Traceback" not in result.stderr
    assert (tmp_path / "x.flac").read_bytes()[:4] == b"fLaC"


def test_a_player_that_plays_only_files_plays_the_saved_file(outeai, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    record = fake_player(bin_dir, "afplay")  # macOS's: it cannot read a stream
    result = outeai("say", "hello", "-o", "x.wav", "--play", env={"PATH": str(bin_dir)})
    assert result.returncode == 0, result.stderr
    assert recorded_args(record) == [str(tmp_path / "x.wav")]
    assert recorded_head(record) == b"RIFF"


def test_say_play_reports_a_failing_player_with_exit_1_and_keeps_the_file(
    outeai, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    fake_player(bin_dir, "paplay", extra="echo 'Connection refused: no audio device' >&2; exit 3")
    result = outeai("say", "hello", "-o", "x.ogg", "--play", env={"PATH": str(bin_dir)})
    assert result.returncode == ExitCode.FAILURE == 1
    error = result.stderr.strip().splitlines()[-1]
    assert re.search(r"paplay failed \(.*\): Connection refused: no audio device", error)
    assert "the audio is saved in x.ogg" in error
    assert (tmp_path / "x.ogg").read_bytes()[:4] == b"OggS"


def test_say_play_refuses_stdout_output_before_sending_anything(
    outeai, server, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    record = fake_player(bin_dir, "ffplay")
    result = outeai("say", "hello", "-o", "-", "--play", env={"PATH": str(bin_dir)})
    assert result.returncode == 2
    assert "--play needs a file" in result.stderr and "-o FILE" in result.stderr
    assert result.stdout == b""
    assert server.tts_requests() == []
    assert not Path(f"{record}.args").exists()


def test_say_play_without_output_saves_a_named_file_even_when_stdout_is_piped(
    outeai, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    record = fake_player(bin_dir, "ffplay")
    before = set(tmp_path.iterdir())
    result = outeai("say", "good morning", "--play", env={"PATH": str(bin_dir)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""  # no audio on the pipe
    (saved,) = [p for p in set(tmp_path.iterdir()) - before if p.suffix == ".flac"]
    assert "good" in saved.name
    assert recorded_stream(record)[44:] == samples_of(saved)


def test_say_play_keeps_stdout_to_the_json_when_the_player_is_chatty(
    outeai, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    fake_player(bin_dir, "ffplay", extra="echo 'player chatter on stdout'")
    result = outeai("say", "hello", "-o", "x.flac", "--play", "--json", env={"PATH": str(bin_dir)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.out)["path"].endswith("x.flac")


def test_ctrl_c_during_playback_stops_the_player_and_exits_130(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    stopped = tmp_path / "player-stopped"
    record = fake_player(
        bin_dir,
        "ffplay",
        setup=f"trap 'echo stopped > {stopped}; exit 143' TERM INT",
        extra="sleep 30 & wait",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", "hello", "-o", "x.flac", "--play"],
        env={**cli_env, "PATH": str(bin_dir)},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    saved = tmp_path / "x.flac"  # committed, while the player still has its audio to play
    while not saved.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Path(f"{record}.head").read_bytes() == b"RIFF", "the player was never fed"
    proc.send_signal(signal.SIGINT)  # to outeai only, as if the terminal's group got ^C late
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED == 130
    line = stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"outeai: interrupted; heard \d+\.\d s of \d+\.\d s ready \(1 of 1 pieces\); "
        r"the audio is saved in .*x\.flac",
        line,
    ), line
    assert stopped.read_text().strip() == "stopped"
    assert (tmp_path / "x.flac").read_bytes()[:4] == b"fLaC"


# ---------------------------------------------------------------- the library, directly


@pytest.mark.parametrize(
    ("installed", "fmt", "chosen"),
    [
        (["aplay", "ffplay"], "wav", "ffplay"),
        (["play", "mpv"], "mp3", "mpv"),
        (["aplay", "paplay"], "flac", "paplay"),
        (["aplay"], "wav", "aplay"),
        (["afplay", "play"], "ogg", "play"),  # afplay cannot read Ogg Vorbis
    ],
)
def test_find_player_picks_the_first_installed_player_that_reads_the_format(
    tmp_path: Path, installed: list[str], fmt: str, chosen: str
) -> None:
    for name in installed:
        fake_player(tmp_path, name)
    choice = find_player(fmt, search_path=str(tmp_path))
    assert choice.player.name == chosen
    assert choice.executable == str(tmp_path / chosen)


def test_find_player_explains_when_installed_players_cannot_read_the_format(
    tmp_path: Path,
) -> None:
    fake_player(tmp_path, "aplay")
    with pytest.raises(PlayerNotFoundError) as caught:
        find_player("mp3", search_path=str(tmp_path))
    assert "no installed audio player can play MP3 (aplay plays only WAV)" in str(caught.value)
    assert "ffmpeg" in caught.value.hint


def test_find_player_ignores_files_that_are_not_executable(tmp_path: Path) -> None:
    (tmp_path / "ffplay").write_text("not a program")
    with pytest.raises(PlayerNotFoundError, match="no audio player found"):
        find_player("flac", search_path=str(tmp_path))


def test_play_passes_an_absolute_path_so_a_leading_dash_is_never_an_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fake_player(tmp_path / "bin", "mpv")
    audio = tmp_path / "-rf.wav"
    audio.write_bytes(b"RIFF....WAVE")
    monkeypatch.chdir(tmp_path)
    play("-rf.wav", search_path=str(tmp_path / "bin"))
    assert recorded_args(record)[-1] == str(audio)
    assert recorded_head(record) == b"RIFF"


def test_say_help_names_the_players_in_the_order_they_are_tried() -> None:
    from scripts import gen_docs as docs

    say = next(n for n in docs.root_node().children() if n.path == "outeai say")
    (help_text,) = [text for _, term, text in say.params() if term.startswith("--play")]
    # Where each player's name stands as a word ("play" inside "ffplay" does not count).
    found = {p.name: re.search(rf"(?<![\w-]){p.name}\b", help_text) for p in PLAYERS}
    assert all(found.values()), f"--play help does not name every player: {help_text}"
    positions = [match.start() for match in found.values() if match]
    assert positions == sorted(positions), "--play help lists the players in another order"

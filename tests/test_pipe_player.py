"""Pieces played through one player process fed by a pipe, as soon as each is ready.

The player is the stand-in of tests/standin_player.py: a real executable consuming its
stdin at the sample rate, recording what it was given, when, and every underrun.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from standin_player import install_standin, read_log

from outeai_cli.audio.containers import DamagedAudio
from outeai_cli.audio.pcm import decode_piece, to_int16, wav_stream_header
from outeai_cli.audio.pipe_player import PipePlayer
from outeai_cli.audio.playback import (
    PLAYERS,
    PlaybackError,
    PlayerNotFoundError,
    find_stream_player,
)
from outeai_cli.errors import ProtocolError
from tests.helpers import tone, wait_until

RATE = 8000


def encoded(
    samples: np.ndarray, fmt: str = "FLAC", rate: int = RATE, subtype: str | None = None
) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format=fmt, subtype=subtype)
    return out.getvalue()


def piece_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    bin_dir = tmp_path / "bin"
    install_standin(bin_dir)
    files = {"log": tmp_path / "player.json", "capture": tmp_path / "heard.raw", "bin": bin_dir}
    monkeypatch.setenv("STANDIN_LOG", str(files["log"]))
    monkeypatch.setenv("STANDIN_CAPTURE", str(files["capture"]))
    return files


def player_on(bin_dir: Path) -> PipePlayer:
    return PipePlayer(find_stream_player("aplay", search_path=str(bin_dir)))


def test_pieces_ready_in_time_play_as_one_stream_without_an_underrun(
    tmp_path: Path, standin: dict[str, Path]
) -> None:
    parts = [tone(0.4, 300 + 100 * i) for i in range(4)]
    player = player_on(standin["bin"])
    for index, samples in enumerate(parts):
        path = piece_file(tmp_path, f"{index}.flac", encoded(samples))
        player.add(decode_piece(path, expected="flac", what=f"piece {index + 1}"))
    player.finish()
    log = read_log(standin["log"])
    assert log["args"] == ["-q", "-t", "raw", "-f", "S16_LE", "-r", str(RATE), "-c", "1", "-"]
    assert log["underruns"] == []
    assert standin["capture"].read_bytes() == np.concatenate(parts).tobytes()
    status = player.status()
    assert status.pieces_written == 4 and status.pieces_waiting == 0
    assert status.seconds_written == pytest.approx(1.6)


def test_a_piece_late_for_its_turn_is_an_underrun_the_standin_records(
    tmp_path: Path, standin: dict[str, Path]
) -> None:
    player = player_on(standin["bin"])
    first = piece_file(tmp_path, "1.flac", encoded(tone(0.3)))
    second = piece_file(tmp_path, "2.flac", encoded(tone(0.3, 600)))
    player.add(decode_piece(first, expected="flac", what="piece 1"))
    time.sleep(0.8)  # the second piece comes long after the first has been heard
    player.add(decode_piece(second, expected="flac", what="piece 2"))
    player.finish()
    underruns = read_log(standin["log"])["underruns"]
    assert len(underruns) == 1 and underruns[0][1] > 0.2


def test_a_damaged_piece_never_becomes_samples_to_play(tmp_path: Path) -> None:
    whole = encoded(tone(1.0))
    cut = piece_file(tmp_path, "cut.flac", whole[: len(whole) // 2])
    with pytest.raises(DamagedAudio, match="piece 3 is damaged"):
        decode_piece(cut, expected="flac", what="piece 3")


def test_wide_samples_reach_the_player_as_their_top_16_bits(
    tmp_path: Path, standin: dict[str, Path]
) -> None:
    samples = (tone(0.3).astype(np.int32) << 8) + 17  # 24-bit samples, low bits set
    path = piece_file(tmp_path, "wide.flac", encoded(samples << 8, subtype="PCM_24"))
    piece = decode_piece(path, expected="flac", what="piece 1")
    assert piece.width == 4 and piece.subtype == "PCM_24"
    assert to_int16(b"\x00\x11\x22\x33") == b"\x22\x33"
    player = player_on(standin["bin"])
    player.add(piece)
    player.finish()
    assert standin["capture"].read_bytes() == (samples >> 8).astype(np.int16).tobytes()


def test_a_piece_at_another_sample_rate_is_refused(
    tmp_path: Path, standin: dict[str, Path]
) -> None:
    player = player_on(standin["bin"])
    player.add(
        decode_piece(piece_file(tmp_path, "a.flac", encoded(tone(0.2))), expected="flac", what="a")
    )
    other = decode_piece(
        piece_file(tmp_path, "b.flac", encoded(tone(0.2, rate=16000), rate=16000)),
        expected="flac",
        what="b",
    )
    with pytest.raises(ProtocolError, match="16000 Hz"):
        player.add(other)
    player.stop()


def test_a_player_that_dies_is_an_error_naming_it(
    tmp_path: Path, standin: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_EXIT", "3")
    player = player_on(standin["bin"])
    for index in range(3):
        path = piece_file(tmp_path, f"{index}.flac", encoded(tone(1.0)))
        player.add(decode_piece(path, expected="flac", what="piece"))
    with pytest.raises(PlaybackError, match=r"aplay failed \(.*\).*failing as asked"):
        player.finish()


def test_stop_ends_the_player_at_once(tmp_path: Path, standin: dict[str, Path]) -> None:
    player = player_on(standin["bin"])
    path = piece_file(tmp_path, "long.flac", encoded(tone(20.0)))
    player.add(decode_piece(path, expected="flac", what="piece 1"))
    # The stand-in reads only while its 0.2 s buffer has room: 0.5 s read, 0.3 s were played.
    wait_until(
        lambda: standin["capture"].exists() and standin["capture"].stat().st_size >= RATE,
        "the player has been fed 0.5 s",
    )
    started = time.monotonic()
    player.stop()
    assert time.monotonic() - started < 2.5
    log = read_log(standin["log"])
    assert log["end"] == "SIGTERM"
    assert 0.2 < player.status().seconds_heard < 5


def test_the_player_setting_picks_one_by_name_or_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    mpv = install_standin(bin_dir, "mpv")
    install_standin(bin_dir, "aplay")
    assert find_stream_player(None, search_path=str(bin_dir)).player.name == "mpv"
    assert find_stream_player("aplay", search_path=str(bin_dir)).player.name == "aplay"
    assert find_stream_player(str(mpv), search_path="").executable == str(mpv)
    with pytest.raises(PlayerNotFoundError, match="names ffplay, which is not installed"):
        find_stream_player("ffplay", search_path=str(bin_dir))
    install_standin(bin_dir, "afplay")
    with pytest.raises(PlayerNotFoundError, match="afplay cannot play a stream"):
        find_stream_player("afplay", search_path=str(bin_dir))
    with pytest.raises(PlayerNotFoundError, match="no audio player that plays a stream"):
        find_stream_player(None, search_path=str(tmp_path / "empty"))


@pytest.mark.parametrize(
    "player", [p for p in PLAYERS if p.stream is not None], ids=lambda p: p.name
)
def test_every_stream_recipe_names_the_rate_and_channels_or_reads_a_header(player) -> None:
    command = player.stream_command("x", 22050, 2)
    assert player.stream_wav or {"22050", "2"} <= {part.split("=")[-1] for part in command}


def test_the_stream_header_is_a_wav_of_unknown_length() -> None:
    header = wav_stream_header(22050, 2)
    assert len(header) == 44 and header[:4] == b"RIFF" and header[8:12] == b"WAVE"
    assert header[4:8] == header[40:44] == b"\xff\xff\xff\xff"
    info = sf.info(io.BytesIO(header + tone(0.1, rate=22050).repeat(2).tobytes()))
    assert (info.samplerate, info.channels) == (22050, 2)


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_a_stitch_from_checked_samples_equals_a_stitch_from_the_files(
    tmp_path: Path, fmt: str
) -> None:
    """A live run decodes each piece once: the stitcher takes the samples the check produced."""
    from outeai_cli.audio.stitching import Stitcher
    from outeai_cli.audio.verify import check_audio

    paths = [
        piece_file(tmp_path, f"{i}.flac", encoded(tone(0.3 + i / 10, 200 + 90 * i)))
        for i in range(3)
    ]
    outputs = []
    for use_samples in (False, True):
        with open(tmp_path / f"out-{use_samples}.{fmt}", "w+b") as out:
            stitcher = Stitcher(out, fmt, pause=0.1)
            placed = [
                stitcher.append_samples(decode_piece(p, expected="flac", what="p"))
                if use_samples
                else stitcher.append(p, expected="flac")
                for p in paths
            ]
            proof = stitcher.close()
            assert (proof or check_audio(out)).frames == stitcher.frames
            out.seek(0)
            outputs.append((out.read(), placed))
    assert outputs[0] == outputs[1]

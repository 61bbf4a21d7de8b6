"""The decode check every output passes before it is committed (outeai_cli.audio.verify)."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from outeai_cli.audio.following_check import FollowingCheck
from outeai_cli.audio.formats import OUTPUT_FORMATS
from outeai_cli.audio.verify import AudioCheck, DamagedAudio, check_audio
from tests.helpers import wait_until

RATE = 24000


def write_audio(path: Path, fmt: str, seconds: float = 2.0, channels: int = 1) -> bytes:
    frames = int(RATE * seconds)
    t = np.arange(frames) / RATE
    signal_ = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 3100 * t)
    samples = np.repeat(signal_[:, None], channels, axis=1)
    container, subtype = OUTPUT_FORMATS[fmt]
    sf.write(path, samples, RATE, format=container, subtype=subtype or "PCM_16")
    return path.read_bytes()


@pytest.mark.parametrize("fmt", ["flac", "wav", "ogg", "mp3"])
def test_a_whole_file_passes_with_its_length(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"a.{fmt}"
    write_audio(path, fmt, channels=2)
    check = check_audio(path, expected=fmt)
    assert (check.format, check.samplerate, check.channels) == (fmt, RATE, 2)
    if fmt == "mp3":  # counted from the frames, with the encoder's delay and padding
        assert 2 * RATE <= check.frames < 2 * RATE + 3 * 1152
    else:
        assert check.frames == 2 * RATE


@pytest.mark.parametrize("fmt", ["flac", "wav"])
@pytest.mark.parametrize("frames", [1, 65537])  # one frame; one past a decode block
def test_every_frame_is_counted_to_the_last(tmp_path: Path, fmt: str, frames: int) -> None:
    path = tmp_path / f"a.{fmt}"
    sf.write(path, np.full(frames, 0.25), RATE, subtype="PCM_16")
    assert check_audio(path, expected=fmt).frames == frames


class Recorder:
    """A SampleSink keeping what it is handed."""

    def __init__(self) -> None:
        self.begun: tuple[int, int, str] | None = None
        self.blocks: list[bytes] = []
        self.dtypes: set[str] = set()

    def begin(self, samplerate: int, channels: int, subtype: str) -> None:
        self.begun = (samplerate, channels, subtype)

    def write(self, samples: object, dtype: str) -> None:
        self.blocks.append(bytes(samples))  # type: ignore[call-overload]
        self.dtypes.add(dtype)


@pytest.mark.parametrize(
    ("fmt", "subtype", "dtype", "named"),
    [
        ("flac", "PCM_16", "int16", "PCM_16"),
        ("flac", "PCM_24", "int32", "PCM_24"),
        ("wav", "PCM_16", "int16", "PCM_16"),
        ("ogg", "VORBIS", "int16", "?"),  # libsndfile's subtypes beyond PCM are not named
        ("mp3", "MPEG_LAYER_III", "int16", "?"),
    ],
)
def test_the_samples_a_check_decodes_are_handed_on_whole(
    tmp_path: Path, fmt: str, subtype: str, dtype: str, named: str
) -> None:
    """The stitcher encodes a piece from its own check: the sink gets every decoded sample,
    as the decoder gives them, and the check still says whether the audio is silent."""
    path = tmp_path / f"a.{fmt}"
    t = np.arange(RATE * 3) / RATE  # 72,000 frames: more than one decode block
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], 1)
    sf.write(path, stereo, RATE, subtype=subtype)
    sink = Recorder()
    check = check_audio(path, expected=fmt, into=sink)
    assert sink.begun == (RATE, 2, named)
    assert sink.dtypes == {dtype}
    handed = np.frombuffer(b"".join(sink.blocks), dtype=dtype).reshape(-1, 2)
    decoded = sf.read(path, dtype=dtype)[0]
    assert handed.shape == decoded.shape
    # mpg123 rounds a sample differently now and then (by 1 of 32768); the rest are exact.
    assert np.abs(handed.astype(np.int64) - decoded).max() <= (1 if fmt == "mp3" else 0)
    assert check.silent is False
    if fmt != "mp3":  # an MP3's count is its walk's (encoder delay included)
        assert check.frames == len(handed)
    else:
        assert check_audio(path).silent is None  # without a sink its samples are not decoded
    sf.write(path, np.zeros((RATE, 2)), RATE, subtype=subtype)
    assert check_audio(path, expected=fmt, into=Recorder()).silent is True


@pytest.mark.parametrize("fmt", ["flac", "wav", "ogg", "mp3"])
def test_half_a_file_fails(tmp_path: Path, fmt: str) -> None:
    data = write_audio(tmp_path / f"a.{fmt}", fmt)
    half = tmp_path / f"half.{fmt}"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedAudio, match="damaged"):
        check_audio(half)


@pytest.mark.parametrize(
    ("fmt", "words"),
    [
        ("flac", r"cut short \(a metadata block ends"),  # a garbage block length
        ("wav", "not audio"),  # RIFF without WAVE
        ("ogg", "Ogg page 1 is not where the previous one ends"),
        ("mp3", "MPEG frame 2 is not where the previous one ends"),
    ],
)
def test_a_valid_magic_followed_by_garbage_fails(tmp_path: Path, fmt: str, words: str) -> None:
    data = write_audio(tmp_path / f"a.{fmt}", fmt)
    garbage = tmp_path / f"garbage.{fmt}"
    # Seeded: the same garbage each run, so the check that catches it can be named.
    garbage.write_bytes(data[:4] + random.Random(fmt).randbytes(len(data) - 4))
    with pytest.raises(DamagedAudio, match=words):
        check_audio(garbage)


def test_flac_magic_and_garbage_fails(tmp_path: Path) -> None:
    path = tmp_path / "x.flac"
    path.write_bytes(b"fLaC" + bytes(range(256)) * 40)
    with pytest.raises(DamagedAudio, match=r"cut short \(a metadata block ends at byte 10244\)"):
        check_audio(path)


@pytest.mark.parametrize("md5", ["signed", "zeroed"])
def test_a_flac_cut_at_a_frame_boundary_fails_by_its_frame_count(tmp_path: Path, md5: str) -> None:
    # Cut where a frame starts, so the decoder cannot notice a torn frame: only the length
    # STREAMINFO declares tells the file is short. An encoder may leave the MD5 all zeros
    # ("not computed"): then the count is the only proof, so it is the check named here.
    data = bytearray(write_audio(tmp_path / "a.flac", "flac", seconds=6))
    if md5 == "zeroed":
        data[8 + 18 : 8 + 34] = bytes(16)  # STREAMINFO's MD5 starts 18 bytes into the block
    cut = data.index(b"\xff\xf8", len(data) // 2)
    path = tmp_path / "cut.flac"
    path.write_bytes(bytes(data[:cut]))
    with pytest.raises(DamagedAudio, match=r"frames decode, but its header declares 144000"):
        check_audio(path)


def test_a_flipped_bit_in_a_flac_fails(tmp_path: Path) -> None:
    data = bytearray(write_audio(tmp_path / "a.flac", "flac"))
    data[len(data) * 2 // 3] ^= 0x10
    path = tmp_path / "flipped.flac"
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedAudio, match="does not decode"):  # the frame's CRC
        check_audio(path)


@pytest.mark.parametrize("subtype", ["PCM_S8", "PCM_16", "PCM_24"])
def test_flac_samples_are_compared_with_the_md5_in_its_header(tmp_path: Path, subtype: str) -> None:
    path = tmp_path / "a.flac"
    t = np.arange(RATE) / RATE
    sf.write(path, 0.3 * np.sin(2 * np.pi * 220 * t), RATE, subtype=subtype)
    assert check_audio(path).frames == RATE  # the signature matches the samples
    data = bytearray(path.read_bytes())
    data[8 + 18] ^= 0x01  # STREAMINFO's MD5 starts 18 bytes into the block
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedAudio, match="MD5"):
        check_audio(path)


def test_a_long_flac_is_compared_with_its_md5_too(tmp_path: Path) -> None:
    """Over a few MiB the samples are hashed in a thread of their own: same verdicts."""
    path = tmp_path / "long.flac"
    noise = np.random.default_rng(3).uniform(-0.5, 0.5, RATE * 120)  # noise: ~5 MiB of FLAC
    sf.write(path, noise, RATE, subtype="PCM_16")
    assert path.stat().st_size > 4 << 20
    assert check_audio(path).frames == len(noise)
    data = bytearray(path.read_bytes())
    data[8 + 18] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedAudio, match="MD5"):
        check_audio(path)


def test_a_wav_whose_header_declares_more_data_than_present_fails(tmp_path: Path) -> None:
    # libsndfile reads this "completely" (it trims the count to what is there), so the
    # header's data size is compared with the file's size.
    data = write_audio(tmp_path / "a.wav", "wav")
    path = tmp_path / "truncated.wav"
    path.write_bytes(data[:-1000])
    assert sf.info(path).frames > 0  # what a decoder-only check would accept
    with pytest.raises(DamagedAudio, match="cut short"):
        check_audio(path)


@pytest.mark.parametrize(
    ("offset", "value", "words"),
    [(22, 65535, "65535 channels"), (24, 4_000_000_000, "sample rate of 4000000000")],
)
def test_a_wav_header_with_absurd_channels_or_rate_fails(
    tmp_path: Path, offset: int, value: int, words: str
) -> None:
    data = bytearray(write_audio(tmp_path / "a.wav", "wav"))
    struct.pack_into("<H" if offset == 22 else "<I", data, offset, value)
    path = tmp_path / "absurd.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedAudio, match=words):
        check_audio(path)


def test_a_wav_with_the_streaming_placeholder_size_fails(tmp_path: Path) -> None:
    data = bytearray(write_audio(tmp_path / "a.wav", "wav"))
    struct.pack_into("<I", data, 40, 0xFFFFFFFF)
    path = tmp_path / "stream.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedAudio, match="unfinished"):
        check_audio(path)


def test_an_mp3_cut_at_a_frame_boundary_fails_by_its_frame_count(tmp_path: Path) -> None:
    data = write_audio(tmp_path / "a.mp3", "mp3", seconds=4)
    cut = data.index(b"\xff", len(data) // 2)
    while data[cut + 1] & 0xE0 != 0xE0:
        cut = data.index(b"\xff", cut + 1)
    path = tmp_path / "cut.mp3"
    path.write_bytes(data[:cut])
    with pytest.raises(DamagedAudio, match=r"cut short: its header promises \d+ frames, \d+ are"):
        check_audio(path)


def test_bytes_after_the_end_of_an_ogg_stream_fail(tmp_path: Path) -> None:
    data = write_audio(tmp_path / "a.ogg", "ogg")
    path = tmp_path / "tail.ogg"
    path.write_bytes(data + b"junk")
    with pytest.raises(DamagedAudio, match="follow the end"):
        check_audio(path)


def test_not_audio_and_the_wrong_format_fail(tmp_path: Path) -> None:
    text = tmp_path / "x.flac"
    text.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(DamagedAudio, match=r"not audio \(it starts with b'<html>50'\)$"):
        check_audio(text)
    wav = tmp_path / "a.wav"
    write_audio(wav, "wav")
    with pytest.raises(DamagedAudio, match="it is WAV, not the FLAC it should be"):
        check_audio(wav, expected="flac")


def test_a_file_object_keeps_its_position(tmp_path: Path) -> None:
    with open(tmp_path / "a.flac", "w+b") as handle:
        handle.write(write_audio(tmp_path / "b.flac", "flac"))
        position = handle.tell()
        assert check_audio(handle).frames == 2 * RATE
        assert handle.tell() == position


def test_a_signal_stops_the_check_promptly(tmp_path: Path) -> None:
    """The decoder reads through a descriptor, so Ctrl-C is not swallowed in a callback."""
    path = tmp_path / "long.flac"
    write_audio(path, "flac", seconds=600)
    script = (
        "import sys\n"
        "from outeai_cli.audio.verify import check_audio\n"
        "with open(sys.argv[1], 'rb') as handle:\n"
        "    print('checking', handle.fileno(), flush=True)\n"
        "    for _ in range(50):\n"
        "        check_audio(handle)\n"
        "print('finished', flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    word, fd = proc.stdout.readline().split()
    assert word == b"checking"
    # The decoder reads through the descriptor: its offset moves once decoding is under way
    # (each check puts it back where it was, at 0, when it ends).
    wait_until(lambda: read_offset(proc.pid, int(fd)) > 0, "the decoder is reading", proc=proc)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert b"finished" not in out
    assert b"KeyboardInterrupt" in err and b"cffi callback" not in err


def read_offset(pid: int, fd: int) -> int:
    """Where descriptor `fd` of process `pid` stands (Linux: /proc)."""
    with open(f"/proc/{pid}/fdinfo/{fd}") as info:
        return int(next(line for line in info if line.startswith("pos:")).split()[1])


# -- the same proof, made while a FLAC file is written ------------------------------------------


def _written_while_followed(
    path: Path, subtype: str, channels: int, *, damage_at: float | None = None
) -> tuple[AudioCheck | None, int]:
    """Write a FLAC in blocks with a FollowingCheck behind it; optionally change one byte of
    its frames once the follow has read them (before the writer closes). (proof, frames)."""
    rng = np.random.default_rng(7)
    blocks = [
        rng.integers(-3000, 3000, (RATE // 2, channels)).astype(np.int32) << 8 for _ in range(6)
    ]
    with open(path, "w+b") as out:
        writer = sf.SoundFile(
            out.fileno(), "w", RATE, channels, format="FLAC", subtype=subtype, closefd=False
        )
        follow = FollowingCheck(out.fileno(), 24 if subtype == "PCM_24" else 16)
        for block in blocks:
            writer.write(block if subtype == "PCM_24" else (block >> 16).astype(np.int16))
            follow.wrote()
        if damage_at is not None:
            size = os.fstat(out.fileno()).st_size
            deadline = time.monotonic() + 10
            while follow._read < size and time.monotonic() < deadline:  # it caught up
                time.sleep(0.01)
            offset = int(size * damage_at)
            byte = os.pread(out.fileno(), 1, offset)
            os.pwrite(out.fileno(), bytes([byte[0] ^ 0x10]), offset)
        writer.close()
        return follow.finish(), sum(len(b) for b in blocks)


@pytest.mark.parametrize(("subtype", "channels"), [("PCM_16", 1), ("PCM_24", 2)])
def test_a_flac_followed_while_written_is_proven_as_the_check_proves_it(
    tmp_path: Path, subtype: str, channels: int
) -> None:
    path = tmp_path / "followed.flac"
    proof, frames = _written_while_followed(path, subtype, channels)
    assert proof is not None and proof.frames == frames
    assert proof == check_audio(path, expected="flac")


def test_a_byte_changed_after_the_follow_read_it_leaves_no_proof(tmp_path: Path) -> None:
    """The follow decoded the bytes before the change; the file no longer holds them: no
    proof, and the check after the fact (the caller's fallback) gives the verdict."""
    path = tmp_path / "changed.flac"
    proof, _ = _written_while_followed(path, "PCM_16", 1, damage_at=0.5)
    assert proof is None
    with pytest.raises(DamagedAudio, match="does not decode"):
        check_audio(path)


def test_an_abandoned_follow_stops_at_once_without_proof(tmp_path: Path) -> None:
    with open(tmp_path / "never.flac", "w+b") as out:
        follow = FollowingCheck(out.fileno(), 16)  # nothing is ever written
        started = time.monotonic()
        follow.abandon()
        assert time.monotonic() - started < 1
        assert follow.finish() is None

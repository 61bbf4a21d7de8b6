"""`-o -` piece by piece: each checked piece goes out at once, in a format a reader can play
while it is written."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from outeai_cli.audio.pcm import PCMPiece, decode_piece
from outeai_cli.audio.verify import check_audio
from outeai_cli.output.progressive import ProgressiveOutput
from tests.helpers import pipe_is_full, tone, wait_until

RATE = 22050


def pcm(tmp_path: Path, samples: np.ndarray, name: str) -> PCMPiece:
    path = tmp_path / f"{name}.flac"
    sf.write(path, samples, RATE, format="FLAC")
    return decode_piece(path, expected="flac", what=name)


class PipeReader:
    """The far end of a pipe, collecting what arrives (a reader that cannot seek)."""

    def __init__(self, *, paused: bool = False) -> None:
        read_end, write_end = os.pipe()
        self.out = os.fdopen(write_end, "wb", buffering=0)
        self.got = bytearray()
        self.reading = threading.Event()  # cleared: a reader that has not started reading
        if not paused:
            self.reading.set()
        self._fd = read_end
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self.reading.wait()
        while data := os.read(self._fd, 65536):
            self.got.extend(data)
        os.close(self._fd)

    def wait_for(self, size: int, timeout: float = 5) -> int:
        deadline = time.monotonic() + timeout
        while len(self.got) < size and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.got)

    def close(self) -> bytes:
        self.out.close()
        self._thread.join(5)
        return bytes(self.got)


@pytest.fixture
def reader() -> Iterator[PipeReader]:
    pipe = PipeReader()
    yield pipe
    if not pipe.out.closed:
        pipe.out.close()


class Samples:
    """A SampleSink keeping what a check decodes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def begin(self, samplerate: int, channels: int, subtype: str) -> None:
        pass

    def write(self, samples, dtype: str) -> None:
        self.data.extend(bytes(samples))


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_each_piece_goes_out_before_the_next_is_ready(
    tmp_path: Path, reader: PipeReader, fmt: str
) -> None:
    output = ProgressiveOutput(reader.out, fmt)
    output.add(pcm(tmp_path, tone(1.0, 300, rate=RATE), "one"))
    assert reader.wait_for(1000) >= 1000  # out while the run is still going
    output.add(pcm(tmp_path, tone(1.0, 500, rate=RATE), "two"))
    output.finish()
    assert output.pieces == 2 and output.frames == 2 * RATE
    stream = reader.close()
    assert stream.startswith({"wav": b"RIFF", "flac": b"fLaC", "mp3": b"\xff"}[fmt])


def test_a_streamed_wav_is_the_samples_after_a_header_of_unknown_length(
    tmp_path: Path, reader: PipeReader
) -> None:
    parts = [tone(0.4, 300, rate=RATE), tone(0.4, 600, rate=RATE)]
    output = ProgressiveOutput(reader.out, "wav")
    for index, part in enumerate(parts):
        output.add(pcm(tmp_path, part, f"p{index}"))
    output.finish()
    stream = reader.close()
    assert stream[4:8] == b"\xff\xff\xff\xff" and stream[40:44] == b"\xff\xff\xff\xff"
    assert stream[44:] == np.concatenate(parts).tobytes()
    info = sf.info(io.BytesIO(stream))
    assert info.samplerate == RATE and info.channels == 1


def test_a_streamed_flac_decodes_to_every_sample(tmp_path: Path, reader: PipeReader) -> None:
    parts = [tone(0.7, 300, rate=RATE), tone(0.3, 450, rate=RATE), tone(0.9, 600, rate=RATE)]
    output = ProgressiveOutput(reader.out, "flac")
    for index, part in enumerate(parts):
        output.add(pcm(tmp_path, part, f"p{index}"))
    output.finish()
    path = tmp_path / "streamed.flac"
    path.write_bytes(reader.close())
    samples = Samples()
    check = check_audio(path, expected="flac", into=samples)  # its header says: length unknown
    assert check.frames == sum(len(p) for p in parts)
    assert bytes(samples.data) == np.concatenate(parts).tobytes()


def test_a_streamed_ogg_pages_out_as_it_goes(tmp_path: Path, reader: PipeReader) -> None:
    output = ProgressiveOutput(reader.out, "ogg")
    output.add(pcm(tmp_path, tone(6.0, 300, rate=RATE), "one"))
    output.add(pcm(tmp_path, tone(6.0, 400, rate=RATE), "two"))
    headers = 5000  # the Vorbis headers alone are about 3.5 KB
    assert reader.wait_for(headers) >= headers
    output.finish()
    path = tmp_path / "streamed.ogg"
    path.write_bytes(reader.close())
    assert check_audio(path, expected="ogg").frames == 12 * RATE


def test_a_reader_that_goes_away_is_a_broken_pipe_without_a_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    out = os.fdopen(write_end, "wb", buffering=0)
    for fmt in ("flac", "wav"):
        output = ProgressiveOutput(out, fmt)
        output.add(pcm(tmp_path, tone(0.5, 300, rate=RATE), "one"))
        with pytest.raises(BrokenPipeError, match="Broken pipe"):
            output.finish()
    out.close()
    assert "Traceback" not in capfd.readouterr().err


def test_stop_abandons_what_is_queued(tmp_path: Path) -> None:
    reader = PipeReader(paused=True)
    output = ProgressiveOutput(reader.out, "wav")
    pieces = [pcm(tmp_path, tone(2.0, 300 + i, rate=RATE), f"p{i}") for i in range(5)]
    for piece in pieces:
        output.add(piece)
    # The first piece fills the pipe; the writer waits.
    wait_until(lambda: pipe_is_full(reader.out.fileno()), "the pipe is full")
    output.stop()
    assert all(piece.file.closed for piece in pieces[1:])  # let go of at once
    reader.reading.set()
    assert len(reader.close()) <= 44 + 2 * 2 * RATE  # at most the piece being written

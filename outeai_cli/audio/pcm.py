"""A piece's samples, proven whole, as raw PCM: what a player, a stream and a stitch are fed.

`decode_piece` decodes a received piece once, through `verify.check_audio` (every frame, the
length and checksum its container declares), into an unnamed spool file of raw interleaved
little-endian samples. Only a piece that passed exists as a `PCMPiece`, so nothing that
fails its check is ever played or written; the consumers (a player, a progressive stream, the
stitcher) read the same file, each at its own pace, and the last one to let go closes it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from outeai_cli.audio.verify import Source, check_audio
from outeai_cli.errors import ProtocolError

BLOCK_BYTES = 1 << 16


class PCMPiece:
    """A checked piece's samples (int16, or int32 for wider sources) in a spool file."""

    def __init__(
        self,
        file: IO[bytes],
        *,
        samplerate: int,
        channels: int,
        width: int,
        subtype: str,
        frames: int,
        users: int = 1,
    ) -> None:
        self.file = file
        self.samplerate = samplerate
        self.channels = channels
        self.width = width  # bytes per sample: 2 (int16) or 4 (int32, left-aligned)
        self.subtype = subtype  # the source's libsndfile subtype (PCM_16, PCM_24...)
        self.frames = frames
        self._users = users
        self._lock = threading.Lock()

    @property
    def dtype(self) -> str:
        return "int32" if self.width == 4 else "int16"

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate

    @property
    def size(self) -> int:
        return self.frames * self.channels * self.width

    def share(self, users: int) -> None:
        """Expect `users` more consumers before the file may close."""
        with self._lock:
            self._users += users

    def release(self) -> None:
        """One consumer is done with it; the last one closes the file."""
        with self._lock:
            self._users -= 1
            last = self._users <= 0
        if last:
            self.file.close()

    def blocks(self, size: int = BLOCK_BYTES) -> Iterator[bytes]:
        """The samples from the start, in blocks of whole frames (positional reads: several
        consumers on several threads never move each other's place)."""
        frame = self.channels * self.width
        size = max(frame, size - size % frame)
        fd = self.file.fileno()
        offset = 0
        while offset < self.size:
            block = os.pread(fd, min(size, self.size - offset), offset)
            if not block:
                raise ProtocolError("a decoded piece's samples were cut short on disk")
            offset += len(block)
            yield block

    def blocks16(self, size: int = BLOCK_BYTES) -> Iterator[bytes]:
        """The samples as 16-bit little-endian (the top half of wider samples)."""
        for block in self.blocks(size):
            yield block if self.width == 2 else to_int16(block)

    def same_shape(self, other: PCMPiece) -> bool:
        return (self.samplerate, self.channels) == (other.samplerate, other.channels)


def shape_changed(shape: tuple[int, int], earlier: tuple[int, int]) -> ProtocolError:
    """A piece whose sample rate or channels differ from the earlier pieces': one stream (a
    player's, a progressive output's) cannot take both, and resampling would change the audio."""
    return ProtocolError(
        f"a piece came back as {shape[0]} Hz, {shape[1]} channel(s) but the earlier "
        f"pieces are {earlier[0]} Hz, {earlier[1]} channel(s)",
        hint="the server changed its audio format mid-run; refusing to resample",
    )


def to_int16(block: bytes) -> bytes:
    """Little-endian int32 samples (libsndfile scales them to full range) as int16."""
    out = bytearray(len(block) // 2)
    out[0::2] = block[2::4]
    out[1::2] = block[3::4]
    return bytes(out)


def decode_piece(
    source: Source, *, expected: str | None, what: str, directory: Path | None = None
) -> PCMPiece:
    """Decode and check `source`; its samples as a PCMPiece. Raises DamagedAudio (nothing is
    kept) if it does not decode completely."""
    from outeai_cli.output.commit import spool_file

    spool = spool_file(directory)
    sink = _SpoolSink(spool)
    try:
        check = check_audio(source, expected=expected, what=what, into=sink)
    except BaseException:
        spool.close()
        raise
    spool.flush()
    return PCMPiece(
        spool,
        samplerate=check.samplerate,
        channels=check.channels,
        width=sink.width,
        subtype=sink.subtype,
        frames=sink.frames,
    )


class _SpoolSink:
    """A `verify.SampleSink` writing the decoded samples to a file, as they are."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.channels = 1
        self.width = 2
        self.subtype = "PCM_16"
        self.frames = 0

    def begin(self, samplerate: int, channels: int, subtype: str) -> None:
        self.channels = channels
        self.subtype = subtype
        self.frames = 0
        self.out.seek(0)
        self.out.truncate()

    def write(self, samples: Any, dtype: str) -> None:
        self.width = 4 if dtype == "int32" else 2
        self.out.write(samples)
        self.frames += len(samples) // (self.channels * self.width)


def wav_stream_header(samplerate: int, channels: int, bits: int = 16) -> bytes:
    """A WAV header for samples that are still coming: its sizes say "unknown" (0xFFFFFFFF),
    as streaming encoders write them, so a reader plays until the stream ends."""
    import struct

    block = channels * bits // 8
    unknown = 0xFFFFFFFF
    return (
        struct.pack("<4sI4s", b"RIFF", unknown, b"WAVE")
        + struct.pack(
            "<4sIHHIIHH", b"fmt ", 16, 1, channels, samplerate, samplerate * block, block, bits
        )
        + struct.pack("<4sI", b"data", unknown)
    )

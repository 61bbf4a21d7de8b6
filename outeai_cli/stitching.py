"""Join decoded pieces into one audio file, losslessly, in blocks.

Each piece's samples go into the output unchanged and in order (optionally with silence
between pieces). Pieces are read and written 64k frames at a time, so a book-length output
never sits in memory. The frame offsets of every piece are returned for subtitles: they
count the samples actually decoded, not the durations the server announced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import IO, Any, NamedTuple

from outeai_cli.audio import convert, open_encoder, readable
from outeai_cli.errors import ProtocolError

_BLOCK_FRAMES = 65536
_COPY_BLOCK = 1 << 20


class Placement(NamedTuple):
    """Where one piece landed in the output, in frames."""

    start: int
    end: int


class Stitcher:
    """Append pieces (any format soundfile reads) to `out`, written as `fmt`.

    The output's sample rate and channel count are the first piece's; a later piece that
    differs is a ProtocolError (resampling would silently change the audio).
    """

    def __init__(self, out: IO[bytes], fmt: str, *, pause: float = 0.0) -> None:
        if pause < 0:
            raise ValueError("pause must not be negative")
        self._out = out
        self._fmt = fmt
        self._pause = pause
        self._writer: Any = None
        self._dtype = "float32"
        self.samplerate = 0
        self.channels = 0
        self.frames = 0
        self.pieces = 0

    def append(self, source: str | os.PathLike[str] | IO[bytes]) -> Placement:
        import numpy as np
        import soundfile as sf

        number = self.pieces + 1
        try:
            reader = sf.SoundFile(readable(source), closefd=False)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise ProtocolError(
                f"the audio of piece {number} could not be decoded: {exc}"
            ) from None
        with reader:
            if self._writer is None:
                self._open(reader)
            elif (reader.samplerate, reader.channels) != (self.samplerate, self.channels):
                raise ProtocolError(
                    f"piece {number} came back as {_shape(reader.samplerate, reader.channels)} "
                    f"but the earlier pieces are {_shape(self.samplerate, self.channels)}",
                    hint="the server changed its audio format mid-run; refusing to resample",
                )
            if self.pieces and self._pause:
                silence = round(self._pause * self.samplerate)
                self._writer.write(np.zeros((silence, self.channels), dtype=self._dtype))
                self.frames += silence
            start = self.frames
            try:
                for block in reader.blocks(_BLOCK_FRAMES, dtype=self._dtype, always_2d=True):
                    self._writer.write(block)
                    self.frames += len(block)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise ProtocolError(
                    f"the audio of piece {number} could not be decoded: {exc}"
                ) from None
        self.pieces += 1
        return Placement(start, self.frames)

    def _open(self, reader: Any) -> None:
        self.samplerate, self.channels = reader.samplerate, reader.channels
        self._writer, self._dtype = open_encoder(
            self._out, self._fmt, self.samplerate, self.channels, reader.subtype
        )

    def close(self) -> None:
        """Finish the output file (headers, last FLAC frame)."""
        if self._writer is None:
            raise ProtocolError("there was no audio to stitch")
        self._writer.close()

    def abort(self) -> None:
        """Let go of the output after a failure, while its file object is still open.

        Otherwise soundfile finalizes the writer later, against a closed file, and complains.
        """
        import soundfile as sf

        if self._writer is not None and not self._writer.closed:
            with contextlib.suppress(sf.LibsndfileError, RuntimeError, OSError, ValueError):
                self._writer.close()

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


def copy_single(source: Path, delivered: str, out: IO[bytes], fmt: str) -> None:
    """One piece and nothing to add: keep the delivered bytes when the format matches.

    Re-encoding would gain nothing, and for a lossy delivery (MP3) it would lose quality.
    """
    if delivered == fmt:
        with open(source, "rb") as handle:
            shutil.copyfileobj(handle, out, _COPY_BLOCK)
        return
    convert(source, out, fmt)  # decoded and encoded block by block, like any stitch


def count_frames(source: str | os.PathLike[str]) -> tuple[int, int]:
    """(decoded frames, sample rate) of an audio file, by decoding it."""
    import soundfile as sf

    frames = 0
    try:
        with sf.SoundFile(source) as reader:
            for block in reader.blocks(_BLOCK_FRAMES, dtype="int16", always_2d=True):
                frames += len(block)
            return frames, reader.samplerate
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ProtocolError(f"the received audio could not be decoded: {exc}") from None


def _shape(rate: int, channels: int) -> str:
    return f"{rate} Hz, {channels} channel{'s' if channels != 1 else ''}"

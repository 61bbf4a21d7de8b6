"""Join decoded pieces into one audio file, losslessly, in blocks.

Each piece's samples go into the output unchanged and in order (optionally with silence
between pieces). Pieces are read and written 64k frames at a time, so a book-length output
never sits in memory. The frame offsets of every piece are returned for subtitles: they
count the samples actually decoded, not the durations the server announced.
"""

from __future__ import annotations

import contextlib
import os
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from outeai_cli.audio.formats import descriptor_of, open_encoder, write_failure
from outeai_cli.audio.loudness import Loudness
from outeai_cli.errors import ProtocolError

if TYPE_CHECKING:
    from outeai_cli.audio.following_check import FollowingCheck
    from outeai_cli.audio.pcm import PCMPiece
    from outeai_cli.audio.verify import AudioCheck


class Placement(NamedTuple):
    """Where one piece landed in the output, in frames."""

    start: int
    end: int


class Stitcher:
    """Append pieces (FLAC, WAV, Ogg Vorbis or MP3) to `out`, written as `fmt`.

    The output's sample rate and channel count are the first piece's; a later piece that
    differs is a ProtocolError (resampling would silently change the audio). A FLAC output
    is checked while it is written (`following_check.FollowingCheck`), so that its check ends with it.
    """

    def __init__(self, out: IO[bytes], fmt: str, *, pause: float = 0.0) -> None:
        if pause < 0:
            raise ValueError("pause must not be negative")
        self._out = out
        self._fmt = fmt
        self._pause = pause
        self._writer: Any = None
        self._follow: FollowingCheck | None = None
        self.samplerate = 0
        self.channels = 0
        self.frames = 0
        self.pieces = 0
        self._loudness = Loudness()  # over the pieces' samples (a pause is silence anyway)

    def append(
        self,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        expected: str | None = None,
        what: str | None = None,
    ) -> Placement:
        """Decode `source` into the output, proving as it goes that it decodes completely.

        The proof is `verify.check_audio`'s, made by the very decode whose samples are
        encoded, so a piece is decoded once. A piece that fails raises DamagedAudio ("`what`
        is damaged: ...") with the output half-written: the caller aborts it.
        """
        from outeai_cli.audio.verify import check_audio

        number = self.pieces + 1
        into = _Into(self, number)
        what = what or f"the audio of piece {number}"
        check_audio(source, expected=expected, what=what, into=into)
        return self._appended(into)

    def append_samples(self, piece: PCMPiece) -> Placement:
        """Append a piece already decoded and proven whole (`pcm.decode_piece`): its samples
        are encoded, not decoded again."""
        into = _Into(self, self.pieces + 1)
        into.begin(piece.samplerate, piece.channels, piece.subtype)
        for block in piece.blocks():
            into.write(block, piece.dtype)
        return self._appended(into)

    def _appended(self, into: _Into) -> Placement:
        self.pieces = into.number
        if self._follow is not None:
            self._follow.wrote()
        elif self._fmt == "flac" and isinstance(fd := descriptor_of(self._out), int):
            from outeai_cli.audio.following_check import FollowingCheck

            self._follow = FollowingCheck(fd, 24 if self._writer.subtype == "PCM_24" else 16)
        return Placement(into.start, self.frames)

    def close(self) -> AudioCheck | None:
        """Finish the output file (headers, last FLAC frame). Returns the proof that it decodes
        completely if one was made while it was written, else None: check it then."""
        import soundfile as sf

        if self._writer is None:
            raise ProtocolError("there was no audio to stitch")
        try:
            self._writer.close()
        except sf.LibsndfileError as exc:
            raise write_failure(self._writer, self._out, exc) or exc from None
        follow, self._follow = self._follow, None
        if follow is None:
            return None
        try:
            return follow.finish()
        except BaseException:  # a Ctrl-C while it catches up: stop it, as `abort` would
            follow.abandon()
            raise

    def abort(self) -> None:
        """Let go of the output after a failure, while its file object is still open.

        Otherwise soundfile finalizes the writer later, against a closed file, and complains.
        """
        import soundfile as sf

        follow, self._follow = self._follow, None
        if follow is not None:
            follow.abandon()
        if self._writer is not None and not self._writer.closed:
            with contextlib.suppress(sf.LibsndfileError, RuntimeError, OSError, ValueError):
                self._writer.close()

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0

    @property
    def silent(self) -> bool | None:
        """No sample of any piece above -60 dBFS (`loudness`); None before any piece."""
        return self._loudness.silent


class _Into:
    """Where `check_audio` puts the samples of the piece being appended (a `SampleSink`)."""

    def __init__(self, stitcher: Stitcher, number: int) -> None:
        self.stitcher = stitcher
        self.number = number
        self.start = stitcher.frames

    def begin(self, samplerate: int, channels: int, subtype: str) -> None:
        stitcher = self.stitcher
        if stitcher._writer is None:
            stitcher.samplerate, stitcher.channels = samplerate, channels
            stitcher._writer, _ = open_encoder(
                stitcher._out, stitcher._fmt, samplerate, channels, subtype
            )
        elif (samplerate, channels) != (stitcher.samplerate, stitcher.channels):
            raise ProtocolError(
                f"piece {self.number} came back as {_shape(samplerate, channels)} "
                f"but the earlier pieces are {_shape(stitcher.samplerate, stitcher.channels)}",
                hint="the server changed its audio format mid-run; refusing to resample",
            )
        if stitcher.pieces and stitcher._pause:
            silence = round(stitcher._pause * samplerate)
            self._encode(bytes(silence * channels * 2), "int16")
        self.start = stitcher.frames

    def write(self, samples: Any, dtype: str) -> None:
        self.stitcher._loudness.feed(samples, dtype)
        self._encode(samples, dtype)

    def _encode(self, samples: Any, dtype: str) -> None:
        import soundfile as sf

        stitcher = self.stitcher
        try:
            stitcher._writer.buffer_write(samples, dtype)
        except sf.LibsndfileError as exc:  # the output's write failed, not the piece's decode
            raise write_failure(stitcher._writer, stitcher._out, exc) or exc from None
        stitcher.frames += len(samples) // (stitcher.channels * (4 if dtype == "int32" else 2))


def _shape(rate: int, channels: int) -> str:
    return f"{rate} Hz, {channels} channel{'s' if channels != 1 else ''}"

"""Audio written to a stream as its pieces are ready (`-o -` of a text spoken piece by piece).

Each piece arrives as a `PCMPiece` (decoded and proven whole: nothing damaged goes out) and is
encoded onto the stream, in order, by a thread of its own, so a slow reader (a player at the
other end of the pipe) holds back only that thread. The stream is one that can be read while
it is written: a WAV whose header announces no length (as streaming encoders write it), raw
FLAC frames after a header whose length and checksum say "unknown", Ogg pages, MP3 frames.
libsndfile would seek back to fill in what it learns at the end; here those rewrites are
dropped (the stream has gone), which leaves exactly those "unknown" values.

Signals only reach the main thread, so a Ctrl-C never lands inside the encoder's Python
callbacks (which would swallow it): it stops the run, and `stop` abandons the stream.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import IO, Any

from outeai_cli.audio.pcm import PCMPiece, shape_changed, wav_stream_header
from outeai_cli.errors import ProtocolError

_WAKE_EVERY = 0.1


class ProgressiveOutput:
    """Encode pieces onto `out` as `fmt` while the run goes on (see the module docstring)."""

    def __init__(self, out: IO[bytes], fmt: str) -> None:
        self._out = out
        self.fmt = fmt
        self._queue: queue.Queue[PCMPiece | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._shape: tuple[int, int] | None = None
        self._stopping = False
        self.error: BaseException | None = None
        self.pieces = 0  # written whole
        self.frames = 0

    def add(self, piece: PCMPiece) -> None:
        """Queue the next piece (this takes one `release` of it); raises a failed write."""
        if self.error is not None:
            piece.release()
            raise self.error
        shape = (piece.samplerate, piece.channels)
        if self._shape is None:
            self._shape = shape
            self._thread = threading.Thread(
                target=self._write, args=(piece.subtype,), name="outeai-stream", daemon=True
            )
            self._thread.start()
        elif shape != self._shape:
            piece.release()
            raise shape_changed(shape, self._shape)
        self._queue.put(piece)

    def finish(self) -> None:
        """Write what is queued and end the stream (the encoder's last frame); raises what
        failed."""
        if self._thread is None:
            raise ProtocolError("there was no audio to write")
        self._queue.put(None)
        try:
            while self._thread.is_alive():
                self._thread.join(_WAKE_EVERY)
        except BaseException:
            self.stop()
            raise
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Abandon the stream: nothing more is written once the current block is out."""
        self._stopping = True
        self._drain()

    # -- the writing thread --------------------------------------------------------------------------

    def _write(self, subtype: str) -> None:
        assert self._shape is not None
        samplerate, channels = self._shape
        try:
            if self.fmt == "wav":  # libsndfile will not write a WAV it cannot seek back into
                self._out.write(wav_stream_header(samplerate, channels))
                for piece in self._pieces_in_order():
                    for block in piece.blocks16():
                        self._out.write(block)
                    self._done(piece)
            else:
                self._encoded(samplerate, channels, subtype)
            self._out.flush()
        except BaseException as exc:
            self.error = exc
        finally:
            self._drain()

    def _encoded(self, samplerate: int, channels: int, subtype: str) -> None:
        import soundfile as sf

        from outeai_cli.audio.formats import open_encoder

        forward = _ForwardOnly(self._out)
        writer, _ = open_encoder(forward, self.fmt, samplerate, channels, subtype)  # type: ignore[arg-type]
        dtype = "int16"

        def write(block: bytes) -> None:
            try:
                writer.buffer_write(block, dtype)
            except sf.LibsndfileError:
                raise forward.error or OSError("the audio encoder failed") from None
            except AssertionError:  # soundfile asserts every frame was written: a refused write
                if forward.error is not None:
                    raise forward.error from None
                raise

        try:
            for piece in self._pieces_in_order():
                dtype = piece.dtype
                for block in piece.blocks():
                    write(block)
                writer.flush()  # what the encoder can give out now, goes out now
                self._done(piece)
        finally:
            try:
                writer.close()  # the last frame, and the rewrites that are dropped
            except sf.LibsndfileError:
                if forward.error is not None:
                    raise forward.error from None
                raise
        if forward.error is not None:
            raise forward.error

    def _pieces_in_order(self) -> Iterator[PCMPiece]:
        while not self._stopping and (piece := self._queue.get()) is not None:
            try:
                yield piece
            finally:
                piece.release()

    def _done(self, piece: PCMPiece) -> None:
        self.pieces += 1
        self.frames += piece.frames

    def _drain(self) -> None:
        while True:
            try:
                piece = self._queue.get_nowait()
            except queue.Empty:
                return
            if piece is not None:
                piece.release()


class _ForwardOnly:
    """A file object over a stream for libsndfile: writes at the end go out; a seek back and
    a rewrite (a header filled in at the close) is dropped. A failed write is kept in `error`
    (an exception inside libsndfile's callback would be printed and lost)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._sent = 0
        self._position = 0
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        size = len(data)
        if self._position == self._sent and self.error is None:
            try:
                self._out.write(bytes(data))
            except OSError as exc:
                self.error = exc
                return 0
            self._sent += size
        self._position += size
        return size

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._sent}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        return b""  # nothing written can be read back: libsndfile only writes here

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self._out.flush()

"""One player process fed through a pipe: each piece is played as soon as it is ready.

The player (see `playback.PLAYERS`) is started when the first piece's sample rate is known
and reads 16-bit samples on its stdin until it ends. Pieces are handed over in order as
`PCMPiece`s, which exist only once their audio decoded completely (nothing damaged is
played), and written by a thread of its own, as fast as the player takes them: one
continuous stream, so a piece that is ready before the one before it ends leaves no gap.
All pieces must share one sample rate and channel count (resampling would change the audio).

The sound position is estimated from what was written and when (a player says nothing back):
enough for a display and for the line that says what was heard.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
import time
from typing import IO, NamedTuple

from outeai_cli.audio.pcm import PCMPiece, shape_changed, wav_stream_header
from outeai_cli.audio.playback import Choice, PlaybackError

_WAKE_EVERY = 0.1  # seconds between checks for a stop while waiting


class PlayerStatus(NamedTuple):
    """What the player has been given and (about) how far it has played."""

    pieces_written: int  # whole pieces handed to the player
    pieces_waiting: int  # pieces ready, not yet handed over
    seconds_written: float
    seconds_heard: float  # estimated sound position
    first_byte_at: float | None  # time.monotonic() of the first write


class PipePlayer:
    """Feed pieces to one player process (see the module docstring)."""

    def __init__(self, choice: Choice) -> None:
        self.choice = choice
        self._queue: queue.Queue[PCMPiece | None] = queue.Queue()
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._shape: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self._stopped_at: float | None = None  # the sound stopped here (a stop, or its end)
        self.error: PlaybackError | None = None
        self._written = 0  # pieces
        self._handed = False  # a piece was given to the player
        self._waiting = 0
        self._frames = 0  # frames written
        self._first_byte_at: float | None = None
        self._clock = _SoundClock()

    @property
    def started(self) -> bool:
        return self._process is not None

    def prepare(self, samplerate: int, channels: int) -> None:
        """Start the player now for the shape the pieces will probably have, so its start-up
        is not on the way of the first sound; a first piece of another shape restarts it."""
        if self._shape is None:
            self._start(samplerate, channels)

    def add(self, piece: PCMPiece) -> None:
        """Queue the next piece (this takes one `release` of it). Raises the player's failure."""
        if self.error is not None:
            piece.release()
            raise self.error
        shape = (piece.samplerate, piece.channels)
        if self._shape is not None and shape != self._shape and not self._handed:
            self._end_process()  # prepared for another shape, and given nothing yet
            self._shape = None
        if self._shape is None:
            self._start(*shape)
        elif shape != self._shape:
            piece.release()
            raise shape_changed(shape, self._shape)
        with self._lock:
            self._waiting += 1
        self._handed = True
        self._queue.put(piece)

    def status(self) -> PlayerStatus:
        with self._lock:
            rate = self._shape[0] if self._shape else 1
            return PlayerStatus(
                self._written,
                self._waiting,
                self._frames / rate,
                self._clock.position(self._stopped_at or time.monotonic()),
                self._first_byte_at,
            )

    def finish(self) -> None:
        """No more pieces: wait until the player has played them all and exited. Raises
        PlaybackError if it failed; a Ctrl-C here stops it (and is raised)."""
        if self._process is None:
            return
        self._queue.put(None)
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(_WAKE_EVERY)
            while self._process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(_WAKE_EVERY)
        except BaseException:
            self.stop()
            raise
        if self.error is not None:
            raise self.error
        if self._process.returncode != 0:
            raise self._failure(f"exit {self._process.returncode}")

    def stop(self) -> None:
        """Stop the player now (what it holds is not played)."""
        self._stopping = True
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        self._end_process()
        self._drain()
        if self._errors is not None:
            self._errors.close()

    def _end_process(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._queue.put(None)  # its feeding thread ends with it
            self._thread.join(2)

    # -- the feeding thread --------------------------------------------------------------------------

    def _start(self, samplerate: int, channels: int) -> None:
        from outeai_cli.output.commit import spool_file

        self._shape = (samplerate, channels)
        self._errors = spool_file()
        player = self.choice.player
        try:
            self._process = subprocess.Popen(
                player.stream_command(self.choice.executable, samplerate, channels),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,  # our stdout may carry audio or --json
                stderr=self._errors,
            )
        except OSError as exc:
            raise PlaybackError(
                f"cannot start {player.name} ({exc.strerror})",
                hint="check the player setting, or install ffmpeg (for ffplay) or mpv",
            ) from None
        header = wav_stream_header(samplerate, channels) if player.stream_wav else b""
        self._queue = queue.Queue()  # its own: a restart must not hand the old thread's end on
        self._thread = threading.Thread(
            target=self._feed, args=(header, self._queue), name="outeai-player", daemon=True
        )
        self._thread.start()

    def _feed(self, header: bytes, pieces: queue.Queue[PCMPiece | None]) -> None:
        assert self._process is not None and self._process.stdin is not None
        stdin = self._process.stdin
        fd = stdin.fileno()
        try:
            if header:
                _write_all(fd, header)
            while (piece := pieces.get()) is not None:
                try:
                    self._play(fd, piece)
                finally:
                    piece.release()
        except OSError:  # the player went away (a closed pipe) or its pipe failed
            if not self._stopping and self._handed:
                self.error = self._failure("it stopped reading")
        finally:
            with contextlib.suppress(OSError):
                stdin.close()
            self._drain(pieces)

    def _play(self, fd: int, piece: PCMPiece) -> None:
        frame = piece.channels * 2
        with self._lock:
            self._waiting -= 1
        for block in piece.blocks16():
            now = time.monotonic()
            with self._lock:
                if self._first_byte_at is None:
                    self._first_byte_at = now
                self._clock.written(now, len(block) // frame / piece.samplerate)
            _write_all(fd, block)
            with self._lock:
                self._frames += len(block) // frame
        with self._lock:
            self._written += 1

    def _drain(self, pieces: queue.Queue[PCMPiece | None] | None = None) -> None:
        """Let go of the pieces no one will play."""
        pieces = pieces or self._queue
        while True:
            try:
                piece = pieces.get_nowait()
            except queue.Empty:
                return
            if piece is not None:
                piece.release()

    def _failure(self, how: str) -> PlaybackError:
        detail = ""
        if self._errors is not None and not self._errors.closed:
            self._errors.seek(0)
            from outeai_cli.untrusted import clean_text

            lines = self._errors.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
            detail = f": {clean_text(lines[-1], limit=200)}" if lines else ""
        return PlaybackError(
            f"{self.choice.player.name} failed ({how}){detail}",
            hint="check the audio device, or name another player in the player setting",
        )


class _SoundClock:
    """Where the sound is: it runs at real time from the first write, up to what was written;
    when it has caught up (the player ran dry), it waits there for the next write."""

    def __init__(self) -> None:
        self._written = 0.0
        self._base = 0.0  # position at `_since`
        self._since: float | None = None

    def position(self, now: float) -> float:
        if self._since is None:
            return 0.0
        return min(self._written, self._base + (now - self._since))

    def written(self, now: float, seconds: float) -> None:
        if self._since is None or self.position(now) >= self._written:
            self._base, self._since = self._written, now
        self._written += seconds


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

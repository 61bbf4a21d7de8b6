"""Speech as it is made: a text (whole, or still arriving) played, streamed and saved in one run.

One run (`run.Run`) of one job. Its pieces are requested at once, in order, with the run's
concurrency, cache, 413 re-split, retries and limits; each is decoded once and proven whole
(`pcm.decode_piece`), then, as soon as it and every piece before it are ready:
- played: fed to one player process through a pipe (`pipe_player.PipePlayer`), no gap between
  pieces that are ready in time;
- streamed: written to a stream in a format that can be read as it is written
  (`progressive.ProgressiveOutput`, `-o -`);
- saved: stitched into the output file, which is committed at the end, proven and atomic as
  any other (never on a stop), with its subtitles.

A text still arriving (`live_text.LiveText`) hands its pieces over from a thread of its own,
and is held back while `window` pieces wait to be played (or assembled, with no player): a
producer faster than speech fills the pipe it writes into, never memory or the disk.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from outeai_cli.audio.playback import PlaybackError
from outeai_cli.errors import InterruptedByUser
from outeai_cli.synthesis.job import JobSpec
from outeai_cli.synthesis.live_text import LivePiece, LiveText, TextEnded
from outeai_cli.synthesis.run import Run, is_stop
from outeai_cli.synthesis.types import SynthesisOptions, SynthesisRequest, SynthesisResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from outeai_cli.audio.pipe_player import PipePlayer
    from outeai_cli.audio.playback import Choice
    from outeai_cli.http.client import TTSClient
    from outeai_cli.output.progressive import ProgressiveOutput
    from outeai_cli.synthesis.assembly import ReadyPiece
    from outeai_cli.synthesis.job import Job
    from outeai_cli.synthesis.progress import RunProgress

_WAKE_EVERY = 0.1
LIKELY_SHAPE = (44100, 1)  # the rate and channels services send: a player is started for them


class Outputs(NamedTuple):
    """Where the sound goes: any of a file, a stream, a player."""

    file: Path | None = None  # committed at the end
    stream: IO[bytes] | None = None  # written as the pieces are ready
    player: Choice | None = None  # played as the pieces are ready


class SpeechStatus(NamedTuple):
    """What a display of a run that plays (or streams) shows."""

    received_chars: int  # text received so far (a live text), or the whole text's length
    text_open: bool  # more text may come
    pieces: int  # pieces known so far
    ready: int  # pieces assembled: requested, back, checked
    played: int  # pieces heard to their end
    playing: bool  # a piece is being heard
    queued: int  # pieces ready, not yet heard
    heard: float  # seconds of sound heard (an estimate: players say nothing back)
    ready_seconds: float  # seconds of audio ready
    lag: float | None  # seconds between the arrival of the text being heard and now


class SpeechResult(NamedTuple):
    result: SynthesisResult  # `path` is "" when no file was kept
    heard: float


class Speech:
    """One run that plays, streams and saves as the pieces are made (see the module
    docstring). `text` is the text still arriving, or None for `request.text` at once."""

    def __init__(
        self,
        client: TTSClient,
        request: SynthesisRequest,
        outputs: Outputs,
        fmt: str,
        options: SynthesisOptions,
        *,
        text: LiveText | None = None,
        window: int | None = None,
        on_progress: Callable[[RunProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.request = request
        self.outputs = outputs
        self.fmt = fmt
        self.options = options
        self.text = text
        self.window = window or max(8, 2 * options.jobs)
        self._on_progress = on_progress
        self._cancel = cancel or threading.Event()
        self._player: PipePlayer | None = None
        self._stream: ProgressiveOutput | None = None
        self._arrivals: list[float] = []  # when each piece's text was complete
        self._ready = 0
        self._ready_seconds = 0.0
        self._offsets: list[float] = []  # where each ready piece starts, in seconds of sound
        self._added = 0
        self._room = threading.Condition()
        self._feed_error: BaseException | None = None
        self._text_open = text is not None
        self.result: SynthesisResult | None = None  # once the output is committed

    # -- what callers see ----------------------------------------------------------------------

    def status(self) -> SpeechStatus:
        """A snapshot (from any thread)."""
        heard = self._player.status().seconds_heard if self._player is not None else 0.0
        starts, total = self._offsets[:], self._ready_seconds
        ends = [*starts[1:], total] if starts else []
        played = sum(1 for end in ends if end <= heard + 1e-3)
        playing = self._player is not None and played < len(starts) and heard > starts[played]
        lag = None
        if self._player is not None and played < len(self._arrivals) and (playing or played):
            current = min(played, len(self._arrivals) - 1)
            lag = max(0.0, time.monotonic() - self._arrivals[current])
        text = self.text
        return SpeechStatus(
            received_chars=text.received_chars if text is not None else len(self.request.text),
            text_open=self._text_open,
            pieces=max(self._added, self._ready),
            ready=self._ready,
            played=played if self._player is not None else 0,
            playing=playing,
            queued=len(starts) - played - playing if self._player is not None else 0,
            heard=heard,
            ready_seconds=self._ready_seconds,
            lag=lag,
        )

    def run(self) -> SpeechResult:
        """Speak to the end (blocking; the caller's thread handles signals)."""
        try:
            result = self._run()
        except BaseException as exc:
            self._stop()
            error = self._feed_error if isinstance(exc, InterruptedByUser) else None
            if error is not None and not is_stop(error):
                raise error from None  # what stopped the text (bad UTF-8, a read error)
            if is_stop(exc) and self._player is not None:  # first: what was heard
                exc.__notes__ = [self.heard_note(), *getattr(exc, "__notes__", ())]
            raise
        return SpeechResult(result, self.status().heard)

    def heard_note(self) -> str:
        """What was heard, for the line that reports a stop or a failure."""
        if self._player is None:
            return ""
        status = self.status()
        return (
            f"heard {status.heard:.1f} s of {status.ready_seconds:.1f} s ready "
            f"({status.played + status.playing} of {status.pieces} pieces)"
        )

    # -- the run -------------------------------------------------------------------------------

    def _run(self) -> SynthesisResult:
        outputs = self.outputs
        if outputs.player is not None:
            from outeai_cli.audio.pipe_player import PipePlayer

            self._player = PipePlayer(outputs.player)
            # Started now, so that its start-up is not on the way of the first sound.
            self._player.prepare(*LIKELY_SHAPE)
        if outputs.stream is not None:
            from outeai_cli.output.progressive import ProgressiveOutput

            self._stream = ProgressiveOutput(outputs.stream, self.fmt)
        live = self.text is not None
        spec = JobSpec(
            self.request, outputs.file, self.fmt, self.options, split=True, pieces_to_come=live
        )
        with Run(
            self.client,
            workers=self.options.jobs,
            unit="pieces",
            cancel=self._cancel,
            on_progress=self._on_progress,
        ) as run:
            job = run.submit(spec, listeners=[self._take])
            if live:
                feeder = threading.Thread(
                    target=self._feed, args=(job,), name="outeai-text-feed", daemon=True
                )
                feeder.start()
            run.drive()
        assert job.result is not None
        self.result = job.result
        if self._stream is not None:
            self._stream.finish()
        if self._player is not None:
            self._player.finish()  # (raises a failure of the player, the output kept)
        return job.result

    def _take(self, ready: ReadyPiece) -> None:
        """A piece is assembled and proven (the driving thread): on to the player and stream.

        A player that fails stops the run only if nothing else is made of it; otherwise the
        output is finished and kept, and the failure reported at the end."""
        for samples in ready.samples:
            if self._playing():
                assert self._player is not None
                samples.share(1)
                try:
                    self._player.add(samples)
                except PlaybackError:
                    if self.outputs.file is None and self.outputs.stream is None:
                        raise
            if self._stream is not None:
                samples.share(1)
                self._stream.add(samples)
        self._offsets.append(self._ready_seconds)
        self._ready_seconds += sum(piece.seconds for piece in ready.samples)
        with self._room:
            self._ready += 1
            self._room.notify_all()

    def _playing(self) -> bool:
        return self._player is not None and self._player.error is None

    def _consumed(self) -> int:
        """Pieces no longer waiting: handed to the player, or (without one) assembled."""
        if self._player is not None and self._playing():
            return self._player.status().pieces_written
        return self._ready

    def _feed(self, job: Job) -> None:
        """Move pieces from the text to the job as they come (its own thread)."""
        assert self.text is not None
        try:
            while not self._cancel.is_set():
                item = self.text.next(_WAKE_EVERY)
                if item is None:
                    continue
                if isinstance(item, TextEnded):
                    self._text_open = False
                    job.close()
                    return
                self._wait_for_room()
                assert isinstance(item, LivePiece)
                self._arrivals.append(item.arrived)
                job.add_piece(item.piece.text)
                self._added += 1
        except BaseException as exc:  # the text failed: the run stops and says why
            self._feed_error = exc
            self._cancel.set()

    def _wait_for_room(self) -> None:
        with self._room:
            while self._added - self._consumed() >= self.window and not self._cancel.is_set():
                self._room.wait(_WAKE_EVERY)

    def _stop(self) -> None:
        self._cancel.set()
        if self.text is not None:
            self.text.stop()
        if self._player is not None:
            self._player.stop()
        if self._stream is not None:
            self._stream.stop()

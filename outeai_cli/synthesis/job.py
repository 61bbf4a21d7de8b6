"""One text into one destination, as tasks for the scheduler's pool.

A job that fits one request (not split) has one task that streams the response straight into
the destination (converting it afterwards if the delivered format differs). A split job:
1. `split_text` cuts the text into pieces of at most `max_chars` characters.
2. Pieces already in the cache are copied into spool files (and counted as such).
3. The pool requests the others (`piece_fetch.PieceFetcher`), each straight into its own
   spool file in a hidden directory next to the output (removed at the end; a later run sweeps
   one left by a killed process). Finished pieces go into the cache at once (checked by it),
   so an interrupted run loses only the pieces in flight.
4. The driving thread stitches pieces into the output as soon as every earlier piece is there,
   so encoding overlaps with the requests and spool files are deleted as they are consumed.
   The stitcher's decode of a piece is its check (every frame, length, MD5): one decode.
5. The output is checked to decode completely (a stitched FLAC while it is written: its check
   ends with it), then committed atomically (with the subtitles, if asked for: both or
   neither).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from outeai_cli.audio.verify import AudioCheck, DamagedAudio, check_audio, load_decoder
from outeai_cli.errors import InputError
from outeai_cli.http.events import Event
from outeai_cli.output.destination import Destination, open_destination
from outeai_cli.synthesis.pieces import Part, PieceFetcher, PieceTask
from outeai_cli.synthesis.scheduler import (
    InFlight,
    Note,
    Relayed,
    Scheduler,
    SchedulerEvent,
    StageChanged,
    TaskDone,
    TaskFailed,
    interrupts_deferred,
)
from outeai_cli.synthesis.splitting import Piece, split_text
from outeai_cli.synthesis.subtitles import Cue
from outeai_cli.synthesis.types import SynthesisOptions, SynthesisRequest, SynthesisResult

if TYPE_CHECKING:
    from outeai_cli.audio.stitching import Stitcher
    from outeai_cli.http.client import TTSClient
    from outeai_cli.output.commit import AtomicFile

_COPY_BLOCK = 1 << 20


class SynthesisJob:
    """One request's text into one destination; driven by one thread, fetched by the pool."""

    def __init__(
        self,
        client: TTSClient,
        request: SynthesisRequest,
        destination: Path | IO[bytes],
        fmt: str,
        options: SynthesisOptions,
        *,
        split: bool,
        name: str | None = None,
    ) -> None:
        from outeai_cli.voices.catalogue import language_of

        self.client = client
        self.request = request
        self.fmt = fmt
        self.options = options
        self.split = split
        self.name = name  # how a run of many outputs names this one in progress displays
        self.on_event: Callable[[Event], None] | None = None
        self.language = options.language or language_of(request.speaker)
        self.cache = options.cache if split else None
        self.fetcher = PieceFetcher(
            client, request, split=split, language=self.language, cache=self.cache
        )
        if split:
            self.pieces = split_text(request.text, options.max_chars, language=self.language)
            if not self.pieces:
                raise InputError("the text is empty", hint="give some text to speak")
        else:
            text = request.text  # sent whole; the client checks it
            self.pieces = [Piece(0, len(text), text)]
        self._destination_arg = destination
        self._stack = contextlib.ExitStack()
        self.destination: Destination | None = None
        self.complete = False
        self.from_cache = 0
        self.done = 0
        self.audio_seconds = 0.0
        self.in_flight: dict[int, InFlight] = {}
        self._order: list[PieceTask] = []
        self._pending = 0
        self._next_piece = 0
        self._cues: list[Cue] = []
        self._stitcher: Stitcher | None = None

    @property
    def closed(self) -> bool:
        return self.fetcher.closed

    def open(self, scheduler: Scheduler) -> None:
        """Open the destination, take what the cache has, and hand the rest to the pool."""
        dialect = self.client.dialect
        self.destination = self._stack.enter_context(
            open_destination(
                self._destination_arg,
                force=self.options.force,
                fresh_name=self.options.fresh_name,
                with_pieces=self.split,
                live=dialect.body_is_audio and dialect.audio_format == self.fmt,
                spool_dir=self.options.spool_dir,
            )
        )
        self.fetcher.destination = self.destination
        tasks = self._plan()
        missing = [task for task in tasks if task.parts is None]
        self._pending = len(missing)
        if self.split and not (len(self._order) == 1 and not self.options.pause):
            from outeai_cli.audio.stitching import Stitcher

            self._stitcher = Stitcher(self.destination.handle, self.fmt, pause=self.options.pause)
        prepare_for_threads(self.client, checking_workers=self.split)
        for task in missing:
            scheduler.submit(task)
        if not self.split:  # only this thread checks its audio: load the decoder while it is out
            load_decoder()
        self._stitch_ready()
        self.complete = not self._pending

    def plan_note(self) -> str:
        total = len(self.pieces)
        workers = min(self.options.jobs, self._pending)
        return (
            f"{total} pieces of up to {self.options.max_chars} characters: "
            f"{self.from_cache} from the cache, {total - self.from_cache} to request"
            + (f", {workers} at a time" if workers > 1 else "")
        )

    def interrupted_note(self) -> str:
        """What a stopped run keeps, for the line that reports the stop."""
        return f"{self.done} of {len(self.pieces)} pieces were finished" + (
            "; they are cached, so running the same command again requests only the rest"
            if self.cache is not None and self.done
            else ""
        )

    def handle(self, event: SchedulerEvent) -> str | None:
        """Apply one event of this job's tasks; returns a note worth a line, if any."""
        if isinstance(event, Note):
            return event.text
        if isinstance(event, TaskFailed):
            raise event.error
        task = cast(PieceTask, event.task)
        if isinstance(event, StageChanged):
            self.in_flight[task.number] = InFlight(
                task.number,
                event.stage,
                event.chunk,
                event.chunks,
                output=self.name,
                pieces=len(self.pieces),
                pieces_done=self.done,
            )
        elif isinstance(event, Relayed):
            if self.on_event is not None:
                self.on_event(event.event)
        elif isinstance(event, TaskDone):
            task.parts = event.value  # set here, not in the worker: this thread stitches
            self._pending -= 1
            self.in_flight.pop(task.number, None)
            self.done += task.uses
            self.audio_seconds += task.uses * sum(p.duration or 0.0 for p in task.parts or ())
            self._stitch_ready()
            self.complete = not self._pending
        return None

    def requests_in_flight(self) -> tuple[InFlight, ...]:
        return tuple(
            entry._replace(pieces_done=self.done) for _, entry in sorted(self.in_flight.items())
        )

    def finish(
        self,
        started: float,
        *,
        on_commit: Callable[[SynthesisResult], None] | None = None,
    ) -> SynthesisResult:
        """Write the rest, the subtitles, and commit; the job's result.

        `on_commit` runs with the commit, neither interrupted between them (e.g. a record
        that the output is complete)."""
        assert self.destination is not None and self._order
        first = self._order[0].parts or []
        delivered = first[0].format if first else "unknown"
        destination = self.destination
        if not self.split:
            (part,) = first
            duration = part.duration  # the server's word only where nothing is left to check
            if not destination.live:  # (live audio is out already: nothing to check it before)
                if part.format == self.fmt:
                    destination.start_flush()
                check = check_audio(
                    destination.handle, expected=part.format, what="the received audio"
                )
                duration = round(check.seconds, 3)  # the audio decides
                if part.format != self.fmt:
                    _convert_in_place(destination.handle, self.fmt, self.options.spool_dir)
                    check_audio(destination.handle, expected=self.fmt, what="the converted audio")
        else:
            copied: Part | None = None
            proof: AudioCheck | None = None  # made while the stitcher wrote it
            if self._stitcher is None:  # (it may start one: a piece the server made us split)
                copied = self._write_single(self._order[0], destination.handle)
            if self._stitcher is not None:
                proof = self._stitcher.close()
            destination.start_flush()
            what = f"the audio of piece {self._order[0].number}" if copied else "the stitched audio"
            check = proof or check_audio(destination.handle, expected=self.fmt, what=what)
            lossless = self.fmt in ("flac", "wav")  # (an MP3 encoder pads: more frames decode)
            if lossless and self._stitcher is not None and check.frames != self._stitcher.frames:
                raise DamagedAudio(
                    f"{what} is damaged: {check.frames} frames decode, "
                    f"but {self._stitcher.frames} were written"
                )
            if copied is not None:  # the output is the piece, byte for byte: so are its frames
                self._cues = [Cue(copied.text, 0, check.frames, check.samplerate)]
            duration = round(self._cues[-1].end_seconds if self._cues else 0.0, 3)
        subtitles: AtomicFile | None = None
        if self.options.subtitles is not None:
            from outeai_cli.synthesis.subtitles import prepare_subtitles

            subtitles = self._stack.enter_context(
                prepare_subtitles(self.options.subtitles, self._cues, force=self.options.force)
            )
        result = SynthesisResult(
            path=destination.path,
            format=self.fmt,
            bytes=destination.size(),
            duration=duration,
            speaker=str(self.request.speaker),
            temperature=self.request.temperature,
            elapsed=round(time.monotonic() - started, 3),
            delivered_format=delivered,
            pieces=len(self.pieces),
            from_cache=self.from_cache,
            requests=self.fetcher.requests,
            cues=tuple(self._cues),
            voice_notice=self.fetcher.voice_notice,
        )
        # A copy into a stream waits on its reader for as long as that takes: a stop must
        # reach it (what went out is counted), so only a file's commit is held from one.
        held = contextlib.nullcontext() if destination.to_stream else interrupts_deferred()
        with held:
            self.fetcher.close()
            _commit_with_subtitles(destination, subtitles)
            result = result._replace(path=destination.path)  # a chosen name may have moved on
            self._stack.close()  # the temp files and the pieces directory go
            if on_commit is not None:
                on_commit(result)
        return result

    def abort(self, exc: BaseException) -> None:
        """Leave nothing behind: the temp output and the spool files go."""
        self.fetcher.close()
        if self._stitcher is not None:
            self._stitcher.abort()
        self._stack.__exit__(type(exc), exc, exc.__traceback__)

    def _plan(self) -> list[PieceTask]:
        """Tasks to fetch (identical pieces share one when caching), and each piece's task."""
        tasks: list[PieceTask] = []
        by_key: dict[str, PieceTask] = {}
        for number, piece in enumerate(self.pieces, start=1):
            key = self.fetcher.cache_key(piece.text) if self.cache is not None else None
            if key is not None and key in by_key:
                by_key[key].uses += 1
                self._order.append(by_key[key])
                continue
            task = PieceTask(self, self.fetcher, number, piece, key)
            if key is not None:
                by_key[key] = task
                task.parts = self.fetcher.cached_parts(piece.text, key)
            tasks.append(task)
            self._order.append(task)
        self.from_cache = sum(1 for task in self._order if task.parts is not None)
        self.done = self.from_cache
        self.audio_seconds = sum(p.duration or 0.0 for t in self._order if t.parts for p in t.parts)
        return tasks

    def _stitch_ready(self) -> None:
        stitcher = self._stitcher
        if stitcher is None:
            return
        order = self._order
        while self._next_piece < len(order) and order[self._next_piece].parts is not None:
            task = order[self._next_piece]
            for part in task.parts or ():
                assert part.path is not None
                placed = stitcher.append(
                    part.path, expected=part.format, what=f"the audio of piece {task.number}"
                )
                self._cues.append(Cue(part.text, placed.start, placed.end, stitcher.samplerate))
            task.uses -= 1
            if task.uses == 0:  # the last piece it serves: its spool files are done with
                for part in task.parts or ():
                    if part.path is not None:
                        part.path.unlink(missing_ok=True)
            self._next_piece += 1

    def _write_single(self, task: PieceTask, out: IO[bytes]) -> Part | None:
        """One piece and nothing to add: its bytes as delivered when the format matches
        (re-encoding would gain nothing, and lose quality for MP3), else converted. Returns the
        piece copied as delivered, whose proof is then the output's own check; else sets the
        cues (and the stitcher, left for `finish` to close, if the piece came in parts)."""
        from outeai_cli.audio.formats import convert
        from outeai_cli.audio.stitching import Stitcher

        parts = task.parts or []
        what = f"the audio of piece {task.number}"
        if len(parts) != 1:  # a single piece the server made us split: stitch after all
            self._stitcher = stitcher = Stitcher(out, self.fmt)  # (`abort` lets go of it)
            for part in parts:
                assert part.path is not None
                placed = stitcher.append(part.path, expected=part.format, what=what)
                self._cues.append(Cue(part.text, placed.start, placed.end, stitcher.samplerate))
            return None
        (part,) = parts
        assert part.path is not None
        if part.format == self.fmt:
            with open(part.path, "rb") as handle:
                shutil.copyfileobj(handle, out, _COPY_BLOCK)
            return part
        # Proven before it is converted: converting a piece cut short would make a whole,
        # shorter output. The check also counts the frames the cue needs.
        check = check_audio(part.path, expected=part.format, what=what)
        convert(part.path, out, self.fmt)  # decoded and encoded block by block, like any stitch
        self._cues = [Cue(part.text, 0, check.frames, check.samplerate)]
        return None


def _commit_with_subtitles(destination: Destination, subtitles: AtomicFile | None) -> None:
    """Both or neither: the subtitles take their name first (it fails, without a trace, if
    the name appeared meanwhile), then the audio; if the audio cannot, the subtitles' new name
    is taken back. (A forced commit that replaced a file cannot be taken back; it fails only
    on an unusable disk.)"""
    if subtitles is None:
        destination.commit()
        return
    subtitles.commit()
    try:
        destination.commit()
    except BaseException:
        subtitles.undo()
        raise


def prepare_for_threads(client: TTSClient, *, checking_workers: bool) -> None:
    """Settle the client's lazy state (the dialect of --api auto, the connection pool) and,
    for workers that check pieces, load the audio decoder, before worker threads race to
    create them."""
    client.resolve_api()
    _ = client.http
    if checking_workers:
        load_decoder()


def _convert_in_place(handle: IO[bytes], fmt: str, directory: Path | None) -> None:
    from outeai_cli.audio.formats import convert
    from outeai_cli.output.commit import spool_file

    with spool_file(directory) as converted:
        convert(handle, converted, fmt)
        handle.seek(0)
        handle.truncate()
        converted.seek(0)
        shutil.copyfileobj(converted, handle, _COPY_BLOCK)

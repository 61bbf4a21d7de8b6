"""One output of a run: what to make (`JobSpec`), the handle a caller holds (`Job`), and the
job at work (`OpenJob`), in three steps that each get what they need when made:

1. plan (`plan.Plan`): the text cut into pieces of at most `max_chars` characters, pieces
   the cache has copied into spool files, the rest handed to the pool (`pieces`), each into
   its own spool file in a hidden directory next to the output (a later run sweeps one left
   by a killed process). Finished pieces go into the cache at once (checked by it), so an
   interrupted run loses only the pieces in flight.
2. assembly (`assembly.Assembly`): pieces into the output in order as they arrive, each
   checked by the decode that writes it, then handed to the job's listeners.
3. commit (`commit`): the output proven to decode, then given its name atomically (with the
   subtitles, if asked for: both or neither), and the caller's record of it made with it.

A text that fits one request (and wants no subtitles) is one task streaming straight into the
output, checked (and converted) at the end.

A job's pieces may arrive over time (`JobSpec.pieces_to_come`): `Job.add_piece` and
`Job.close`, from any thread, while its run is going. See `run.Run`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from outeai_cli.errors import InputError, OuteAIError
from outeai_cli.output.destination import Destination, open_destination
from outeai_cli.output.received import finish_received
from outeai_cli.synthesis.pieces import Part, PieceFetcher, PieceTask
from outeai_cli.synthesis.plan import Plan
from outeai_cli.synthesis.progress import InFlight
from outeai_cli.synthesis.scheduler import Scheduler, interrupts_deferred
from outeai_cli.synthesis.splitting import Piece, split_text
from outeai_cli.synthesis.types import SynthesisOptions, SynthesisRequest, SynthesisResult

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient
    from outeai_cli.output.commit import AtomicFile
    from outeai_cli.synthesis.assembly import Assembly, Listener
    from outeai_cli.synthesis.subtitles import Cue

ResultHook = Callable[[SynthesisResult], None]
FailureHook = Callable[["Job", OuteAIError], None]


class JobSpec(NamedTuple):
    """What one job makes: `request`'s text spoken into `destination` (a path, committed
    atomically, a binary stream, or None: kept nowhere, for a job whose listeners are its
    output) as `fmt`."""

    request: SynthesisRequest
    destination: Path | IO[bytes] | None
    fmt: str
    options: SynthesisOptions
    split: bool = True  # False: the text goes whole in one request, straight into the output
    name: str | None = None  # how a run of many outputs names this one (progress, notes)
    pieces_to_come: bool = False  # pieces arrive by Job.add_piece until Job.close
    make_parent: bool = False  # create the output's directory when the job opens


class Job:
    """A caller's handle on one output of a run (made by `Run.submit`).

    `add_piece` and `close` may be called from any thread while the run goes; the run's
    driving thread takes the pieces in the order they were added. `result` is set once the
    output is committed.
    """

    def __init__(
        self,
        spec: JobSpec,
        *,
        wake: Callable[[], None],
        on_result: ResultHook | None = None,
        on_failure: FailureHook | None = None,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.spec = spec
        self.on_result = on_result  # runs with the commit, neither interrupted between them
        self.on_failure = on_failure  # returns: the run goes on without this job
        self.listeners = tuple(listeners)
        self.result: SynthesisResult | None = None
        self._wake = wake
        self._lock = threading.Lock()
        self._arrived: list[str] = []
        self._closed = not spec.pieces_to_come

    @property
    def name(self) -> str | None:
        return self.spec.name

    def add_piece(self, text: str) -> None:
        """One more piece of text (a sentence, say), spoken after every piece added before it.
        A text over the per-request cap is split like any other."""
        with self._lock:
            if self._closed:
                raise ValueError("no piece can be added to a closed job")
            self._arrived.append(text)
        self._wake()

    def close(self) -> None:
        """No more pieces: the job ends once those added are spoken and committed."""
        with self._lock:
            self._closed = True
        self._wake()

    def take_arrivals(self) -> tuple[list[str], bool]:
        """The texts added since the last call, and whether the job is closed (driving thread)."""
        with self._lock:
            arrived, self._arrived = self._arrived, []
            return arrived, self._closed


class OpenJob:
    """A job at work: its destination open, its plan, its assembly; driven by one thread.

    Made by the run when the job's turn comes; `start` hands the pool its tasks.
    """

    def __init__(self, job: Job, client: TTSClient, started: float) -> None:
        from outeai_cli.voices.catalogue import language_of

        spec = job.spec
        options, request = spec.options, spec.request
        self.job = job
        self.started = started
        self.language = options.language or language_of(request.speaker)
        pieces = self._pieces(request.text)  # (an empty text fails before anything is opened)
        self._stack = contextlib.ExitStack()
        dialect = client.dialect
        if spec.make_parent and isinstance(spec.destination, str | os.PathLike):
            Path(spec.destination).parent.mkdir(parents=True, exist_ok=True)
        self.destination: Destination = self._stack.enter_context(
            open_destination(
                spec.destination,
                force=options.force,
                fresh_name=options.fresh_name,
                with_pieces=spec.split,
                live=dialect.body_is_audio and dialect.audio_format == spec.fmt,
                spool_dir=options.spool_dir,
            )
        )
        try:
            cache = options.cache if spec.split else None
            self.fetcher = PieceFetcher(
                client,
                request,
                language=self.language,
                cache=cache,
                pieces_dir=self.destination.pieces_dir if spec.split else None,
                into=None if spec.split else self.destination.handle,
            )
            self.plan: Plan[OpenJob] = Plan(self, self.fetcher, caching=cache is not None)
            self._tasks = self.plan.add(pieces)
            planned = len(self.plan.order)
            # Listeners get each piece as it is assembled, so a single piece is assembled too.
            stitch = spec.pieces_to_come or planned > 1 or bool(options.pause or job.listeners)
            self.assembly: Assembly | None = None
            if spec.split:  # (a text sent whole has nothing to assemble: not imported)
                from outeai_cli.synthesis.assembly import Assembly

                self.assembly = Assembly(
                    self.destination,
                    spec.fmt,
                    stitch=stitch,
                    pause=options.pause,
                    listeners=job.listeners,
                )
        except BaseException:
            self._stack.close()
            raise
        self.in_flight: dict[int, InFlight] = {}
        self.closed = not spec.pieces_to_come

    def _pieces(self, text: str) -> list[Piece]:
        spec = self.job.spec
        if not spec.split:
            return [Piece(0, len(text), text)]  # sent whole; the client checks it
        pieces = split_text(text, spec.options.max_chars, language=self.language)
        if not pieces and not spec.pieces_to_come:
            raise InputError("the text is empty", hint="give some text to speak")
        return pieces

    # -- the driving thread's side -------------------------------------------------------------
    def start(self, scheduler: Scheduler[PieceTask[OpenJob]]) -> None:
        """Hand the pool the pieces the cache did not have, and stitch what it had."""
        from outeai_cli.audio.verify import load_decoder

        self._submit(scheduler)
        if not self.job.spec.split:  # only this thread checks its audio: load it while out
            load_decoder()
        self.take_arrivals(scheduler)

    def take_arrivals(self, scheduler: Scheduler[PieceTask[OpenJob]]) -> None:
        """Plan the pieces added since the last look (a job whose pieces arrive over time)."""
        if self.job.spec.pieces_to_come:
            texts, self.closed = self.job.take_arrivals()
            for text in texts:
                self._tasks += self.plan.add(self._pieces(text))
            self._submit(scheduler)
        if self.assembly is not None:
            self.assembly.advance(self.plan.order)

    def _submit(self, scheduler: Scheduler[PieceTask[OpenJob]]) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            scheduler.submit(task)

    @property
    def complete(self) -> bool:
        """Every piece is here (and assembled) and no more will come."""
        return self.closed and not self.plan.pending

    def stage(self, task: PieceTask[OpenJob], stage: InFlight) -> None:
        self.in_flight[task.number] = stage._replace(
            output=self.job.name, pieces=len(self.plan.order), pieces_done=self.plan.done
        )

    def fetched(self, task: PieceTask[OpenJob], parts: list[Part]) -> None:
        self.in_flight.pop(task.number, None)
        self.plan.fetched(task, parts)
        if self.assembly is not None:
            self.assembly.advance(self.plan.order)

    def requests_in_flight(self) -> tuple[InFlight, ...]:
        done = self.plan.done
        return tuple(
            entry._replace(pieces_done=done) for _, entry in sorted(self.in_flight.items())
        )

    def plan_note(self) -> str:
        options = self.job.spec.options
        total, cached = len(self.plan.order), self.plan.from_cache
        workers = min(options.jobs, self.plan.pending)
        return (
            f"{total} pieces of up to {options.max_chars} characters: "
            f"{cached} from the cache, {total - cached} to request"
            + (f", {workers} at a time" if workers > 1 else "")
        )

    def interrupted_note(self) -> str:
        """What a stopped run keeps, for the line that reports the stop."""
        done = self.plan.done
        return f"{done} of {len(self.plan.order)} pieces were finished" + (
            "; they are cached, so running the same command again requests only the rest"
            if self.fetcher.cache is not None and done
            else ""
        )

    def finish(self) -> SynthesisResult:
        """Assemble the rest, prove the output, and commit it (the job's `on_result` with it)."""
        spec = self.job.spec
        order = self.plan.order
        if not order:
            raise InputError("the text is empty", hint="give some text to speak")
        cues: tuple[Cue, ...] = ()
        if self.assembly is None:
            (part,) = order[0].parts or []
            check = finish_received(self.destination, part.format, spec.fmt, spec.options.spool_dir)
            # The server's word for the duration only where nothing is left to check.
            duration = part.duration if check is None else round(check.seconds, 3)
            silent = None if check is None else check.silent
            delivered = part.format
        else:
            duration, cues, delivered, silent = self.assembly.finish(order)
        result = SynthesisResult(
            path=self.destination.path,
            format=spec.fmt,
            bytes=self.destination.size(),
            duration=duration,
            speaker=str(spec.request.speaker),
            temperature=spec.request.temperature,
            elapsed=round(time.monotonic() - self.started, 3),
            delivered_format=delivered,
            pieces=len(order),
            from_cache=self.plan.from_cache,
            requests=self.fetcher.requests,
            cues=cues,
            voice_notice=self.fetcher.voice_notice,
            silent=silent,
        )
        return self._commit(result)

    def _commit(self, result: SynthesisResult) -> SynthesisResult:
        subtitles: AtomicFile | None = None
        options = self.job.spec.options
        if options.subtitles is not None:
            from outeai_cli.synthesis.subtitles import prepare_subtitles

            subtitles = self._stack.enter_context(
                prepare_subtitles(options.subtitles, list(result.cues), force=options.force)
            )
        destination = self.destination
        # A copy into a stream waits on its reader for as long as that takes: a stop must
        # reach it (what went out is counted), so only a file's commit is held from one.
        waits = destination.to_stream or (subtitles is not None and subtitles.into_stream)
        held = contextlib.nullcontext() if waits else interrupts_deferred()
        with held:
            self.fetcher.close()
            commit_with_subtitles(destination, subtitles)
            result = result._replace(path=destination.path)  # a chosen name may have moved on
            self._stack.close()  # the temp files and the pieces directory go
            self.job.result = result
            if self.job.on_result is not None:
                self.job.on_result(result)
        return result

    def abort(self, exc: BaseException) -> None:
        """Leave nothing behind: the temp output and the spool files go."""
        self.fetcher.close()
        if self.assembly is not None:
            self.assembly.abort()
        self._stack.__exit__(type(exc), exc, exc.__traceback__)


def commit_with_subtitles(destination: Destination, subtitles: AtomicFile | None) -> None:
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

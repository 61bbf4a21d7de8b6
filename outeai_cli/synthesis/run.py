"""A run: one worker pool and the one loop that drives it, for one output or many.

`synthesize` is a run of one job, `batch` a run of many, and a text still arriving is a run of
one job whose pieces come over time. Whatever the run, the driving thread (the caller's) owns
every job's state; the pool's workers only fetch pieces and report through the scheduler's
events; cancellation, Ctrl-C and signals reach the run in one place (`Scheduler.next_event`)
and are handled here once: every open job is aborted (leaving nothing behind), and the line
that reports the stop is given what was kept.

Use::

    with Run(client, workers=4, unit="pieces", on_progress=show) as run:
        job = run.submit(JobSpec(request, "out.flac", "flac", options, pieces_to_come=True),
                         listeners=[play])
        # from another thread, as text arrives:
        job.add_piece("First sentence.")
        job.add_piece("Second one.")
        job.close()
        # here, in the thread that handles signals:
        run.drive()
    job.result  # the SynthesisResult, once committed

`drive` returns once every job submitted has ended. Jobs may be submitted, and pieces added,
while it runs. A job's pieces are assembled strictly in order; each listener is called on the
driving thread with a `ReadyPiece` as soon as that piece and every piece before it are in the
output and checked. Progress comes as `RunProgress` snapshots, one type for every run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from outeai_cli.errors import InterruptedByUser, OuteAIError
from outeai_cli.synthesis.job import FailureHook, Job, JobSpec, OpenJob, ResultHook
from outeai_cli.synthesis.notices import Notice, api_found, ignored_settings
from outeai_cli.synthesis.pieces import PieceTask
from outeai_cli.synthesis.progress import InFlight, RunProgress
from outeai_cli.synthesis.scheduler import (
    Note,
    Scheduler,
    SchedulerEvent,
    StageChanged,
    TaskFailed,
    Wake,
    raise_if_stopped,
)

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient
    from outeai_cli.synthesis.assembly import Listener


class Tally:
    """A run of many outputs, counted (`unit="items"`): the caller counts what it settled
    without the run (outputs already complete) and its hooks count the rest. (A plain class:
    a dataclass costs a one-sentence `say` about a millisecond to define.)"""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0  # complete, including `reused`
        self.reused = 0  # complete before the run: nothing requested
        self.failed: list[tuple[str, str]] = []  # (output, message)
        self.audio = 0.0
        self.requests = 0


def is_stop(exc: BaseException) -> bool:
    """Ctrl-C, a signal turned into an exception, or a cancel: not a failure of the run."""
    return isinstance(exc, InterruptedByUser) or not isinstance(exc, Exception)


class Run:
    """The pool and its loop (see the module docstring); a context manager.

    `unit` is what progress counts: "request" (one text sent whole), "pieces" (one text's
    pieces) or "items" (many outputs, counted in `tally`). `on_failure` decides for a job that
    failed with an OuteAIError: return to go on with the others, raise to stop the run;
    without it, a failure stops the run. At most `max_open` jobs are open at once, and a
    waiting job opens only when no task waits for a worker: the pool is kept busy with as
    few outputs open as that takes (each open output holds a temp file, a pieces directory,
    and for FLAC a thread checking it while it is written).
    """

    def __init__(
        self,
        client: TTSClient,
        *,
        workers: int,
        unit: str = "pieces",
        cancel: threading.Event | None = None,
        on_progress: Callable[[RunProgress], None] | None = None,
        max_open: int | None = None,
    ) -> None:
        self.client = client
        self.unit = unit
        self.tally = Tally()
        self._scheduler: Scheduler[PieceTask[OpenJob]] = Scheduler(workers, cancel=cancel)
        self._on_progress = on_progress
        self._max_open = max_open or 2 * self._scheduler.size
        self._lock = threading.Lock()
        self._waiting: deque[Job] = deque()
        self._open: list[OpenJob] = []
        self._last: OpenJob | None = None  # the job a one-output run reports on
        self._notices: list[Notice] = []
        self._noticed: set[Notice] = set()
        self._prepared = False
        self._said = False

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self._scheduler.__exit__(*exc)

    # -- what callers do ---------------------------------------------------------------------
    def submit(
        self,
        spec: JobSpec,
        *,
        on_result: ResultHook | None = None,
        on_failure: FailureHook | None = None,
        listeners: Sequence[Listener] = (),
    ) -> Job:
        """Queue a job (from any thread, before or while `drive` runs); its handle.

        `on_result` runs with the job's commit, neither interrupted between them (a record
        that the output is complete). `on_failure` decides for a job that failed with an
        OuteAIError: return to go on with the other jobs, raise to stop the run; without it,
        a failure stops the run. `listeners` get each piece once it is in the output."""
        job = Job(
            spec,
            wake=self._scheduler.wake,
            on_result=on_result,
            on_failure=on_failure,
            listeners=listeners,
        )
        with self._lock:
            self._waiting.append(job)
        self._scheduler.wake()
        return job

    def say(self, text: str) -> None:
        """A line for the progress display, with a snapshot of the run."""
        self._said = True
        self._emit(text)

    def drive(self) -> None:
        """Drive every job to its end: committed, or failed (see `on_failure`)."""
        try:
            self._open_more()
            while self._open or self._waiting:
                event = self._scheduler.next_event()
                raise_if_stopped()  # a stop whose exception was lost in a finalizer
                self._said = False
                self._dispatch(event)
                self._open_more()
                if not self._said:
                    self._emit(None)
        except BaseException as exc:
            stopped = is_stop(exc)
            note = self._stop_note() if stopped else None
            for open_job in self._open:
                open_job.abort(exc)  # their temp files and spool directories go with them
            self._open.clear()
            if note:  # the one line that reports the stop says this too
                exc.add_note(note)
            raise

    # -- the loop ----------------------------------------------------------------------------
    def _dispatch(self, event: SchedulerEvent[PieceTask[OpenJob]]) -> None:
        if isinstance(event, Wake):  # pieces added, a job closed or submitted
            for open_job in list(self._open):
                self._step(open_job, partial(open_job.take_arrivals, self._scheduler))
            return
        open_job = event.task.owner
        if open_job not in self._open:
            return  # a late event of a job that already ended
        if isinstance(event, Note):
            if open_job.job.name is None:  # (a named one is one of many: its line speaks)
                self.say(event.text)
            return
        if isinstance(event, StageChanged):
            entry = InFlight(event.task.number, event.stage, event.chunk, event.chunks)
            open_job.stage(event.task, entry._replace(audio=event.audio))
            return
        if isinstance(event, TaskFailed):
            self._failed(open_job, event.error)
            return
        task, parts = event.task, event.value
        self._step(open_job, lambda: open_job.fetched(task, parts))

    def _step(self, open_job: OpenJob, step: Callable[[], None]) -> None:
        """Apply `step` to `open_job`, and finish the job if that completed it."""
        try:
            step()
            if open_job.complete:
                self._emit(None)  # (what the display shows while the output is checked)
                self._open.remove(open_job)
                self._last = open_job
                open_job.finish()
        except BaseException as exc:
            self._failed(open_job, exc)

    def _open_more(self) -> None:
        scheduler = self._scheduler
        while len(self._open) < self._max_open and not scheduler.backlog:
            with self._lock:
                if not self._waiting:
                    return
                job = self._waiting.popleft()
            self._prepare(job)
            try:
                open_job = OpenJob(job, self.client, time.monotonic())
            except BaseException as exc:
                self._fail(job, exc)
                continue
            self._open.append(open_job)
            self._last = open_job
            self._notice(ignored_settings(self.client, job.spec.request.temperature))

            def start(open_job: OpenJob = open_job) -> None:
                open_job.start(self._scheduler)
                if self.unit == "pieces" and len(open_job.plan.order) > 1:
                    self.say(open_job.plan_note())  # (pieces to come have no plan yet)

            self._step(open_job, start)

    def _prepare(self, job: Job) -> None:
        """Settle the client's lazy state (the dialect of --api auto, the connection pool) and,
        for workers that check pieces, load the audio decoder, before worker threads race to
        create them."""
        if not self._prepared:
            self._notice(api_found(self.client))
            _ = self.client.http
            self._prepared = True
        if job.spec.split:
            from outeai_cli.audio.verify import load_decoder

            load_decoder()

    def _failed(self, open_job: OpenJob, exc: BaseException) -> None:
        if open_job in self._open:
            self._open.remove(open_job)
        open_job.abort(exc)
        self._fail(open_job.job, exc)

    def _fail(self, job: Job, exc: BaseException) -> None:
        """One job failed: the run goes on if `on_failure` says so."""
        if job.result is not None:  # it failed after its commit: not the job's failure
            raise exc
        if job.on_failure is None or is_stop(exc) or not isinstance(exc, OuteAIError):
            raise exc  # the run's interrupt or a bug, not one job's failure
        job.on_failure(job, exc)

    # -- what the display is told ------------------------------------------------------------
    def _notice(self, notices: tuple[Notice, ...]) -> None:
        for notice in notices:
            if notice not in self._noticed:
                self._noticed.add(notice)
                self._notices.append(notice)

    def _emit(self, note: str | None) -> None:
        if self._on_progress is None:
            return
        notices, self._notices = tuple(self._notices), []
        self._on_progress(self._snapshot(note)._replace(notices=notices))

    def _snapshot(self, note: str | None) -> RunProgress:
        if self.unit == "items":
            tally = self.tally
            flying = tuple(entry for job in self._open for entry in job.requests_in_flight())
            return RunProgress(
                done=tally.done,
                total=tally.total,
                reused=tally.reused,
                failed=len(tally.failed),
                audio_seconds=tally.audio,
                in_flight=flying,
                note=note,
                unit="items",
            )
        job = self._last
        if job is None:
            return RunProgress(0, 0, note=note, unit=self.unit)
        plan, flying = job.plan, job.requests_in_flight()
        audio = plan.audio_seconds
        if self.unit == "request" and not plan.done:
            audio = next((entry.audio for entry in flying if entry.audio is not None), 0.0)
        return RunProgress(
            done=plan.done,
            total=len(plan.order),
            reused=plan.from_cache,
            audio_seconds=audio,
            in_flight=flying,
            note=note,
            unit=self.unit,
        )

    def _stop_note(self) -> str | None:
        """What a stopped run keeps, for the line that reports the stop."""
        if self.unit == "items":
            return (
                f"{self.tally.done} of {self.tally.total} items are complete and kept; "
                "the ones in progress left nothing behind; run the same command again to finish"
            )
        if self.unit == "pieces" and self._last is not None:
            return self._last.interrupted_note()
        return None

"""One worker pool for every run: a long text's pieces, or the pieces of all a batch's items.

Workers take tasks from one queue and report back through one queue of typed events; the
thread that drives the run (the caller's) handles every event, so stitching, commits and
progress displays never race. Requests are capped by a shared `RequestLimiter` that a 429
lowers. Cancellation (a Ctrl-C or SIGTERM in the driving thread, or a `cancel` event set by a
library caller) is checked in one place, `Scheduler.next_event`, and in the workers between
stream events.

Workers are daemons: a Ctrl-C stops the run at once, without waiting for requests in flight.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

from outeai_cli.errors import InterruptedByUser
from outeai_cli.http.events import Event

_POLL = 0.1  # seconds between checks for cancellation while waiting


class RequestLimiter:
    """At most `limit` requests in flight across the pool.

    A 429 means the service allows fewer at once than we sent: the limit drops below the
    number in flight (never under 1) and stays there for the rest of the run.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.active = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def slot(self, stopped: Callable[[], bool]) -> Iterator[None]:
        with self._cond:
            while self.active >= self.limit:
                if stopped():
                    raise InterruptedByUser("cancelled")
                self._cond.wait(_POLL)
            self.active += 1
        try:
            yield
        finally:
            with self._cond:
                self.active -= 1
                self._cond.notify()

    def slow_down(self) -> int | None:
        """Lower the limit after a 429; returns the new limit if it changed."""
        with self._cond:
            lowered = max(1, min(self.limit, self.active - 1))
            if lowered == self.limit:
                return None
            self.limit = lowered
            return lowered


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block ends, so that a commit and its record (the
    output renamed into place, its results line) happen both or neither.

    Only the main thread receives signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        signal.signal(sig, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in held[:1]:  # delivered now, as if it had just arrived
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


# -- what a progress display is given -------------------------------------------------------------


class InFlight(NamedTuple):
    """One request in flight: which piece (of which output), and its latest stage."""

    piece: int  # 1-based number of the piece within its output
    stage: str  # "sending", the service's stage name, "retrying (attempt 2)"
    chunk: int | None = None  # the service's text chunk i of n, when it says
    chunks: int | None = None
    output: str | None = None  # the output it belongs to, in a run of many (a batch)
    pieces: int = 1  # pieces of that output
    pieces_done: int = 0


class RunProgress(NamedTuple):
    """A snapshot for progress displays (of a long text's pieces, or of a batch's items).

    `reused` of the `done` needed no request (pieces from the cache, items already complete);
    `note` is a message worth a line of its own.
    """

    done: int
    total: int
    reused: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    in_flight: tuple[InFlight, ...] = ()
    note: str | None = None


# -- the events workers send to the driving thread --------------------------------------------------


class Task(Protocol):
    """A unit of work for the pool; `run` reports through the scheduler and returns a value."""

    @property
    def owner(self) -> object:
        """What the task works for (its job): the driving thread routes events by it."""
        ...

    def run(self, scheduler: Scheduler) -> Any: ...
    def cancelled(self) -> bool: ...


class StageChanged(NamedTuple):
    """The task's request reached a new stage (or chunk), for the requests-in-flight display."""

    task: Task
    stage: str
    chunk: int | None = None
    chunks: int | None = None


class Relayed(NamedTuple):
    """A client event of the task's request, for the display of a single request."""

    task: Task
    event: Event


class Note(NamedTuple):
    """A message worth a line of its own (a retry, a slow-down, a re-split piece)."""

    text: str


class TaskDone(NamedTuple):
    """The task finished; `value` is what its `run` returned."""

    task: Task
    value: Any


class TaskFailed(NamedTuple):
    """The task raised; the driving thread decides what that means for its owner."""

    task: Task
    error: BaseException


SchedulerEvent = StageChanged | Relayed | Note | TaskDone | TaskFailed


class Scheduler:
    """A pool of at most `jobs` worker threads, started as tasks arrive; a context manager.

    Leaving the context stops the workers (they finish or abandon their current request).
    """

    def __init__(self, jobs: int, *, cancel: threading.Event | None = None) -> None:
        self.size = max(1, jobs)
        self.limiter = RequestLimiter(self.size)
        self._cancel = cancel
        self._stop = threading.Event()
        self._todo: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self._events: queue.SimpleQueue[SchedulerEvent] = queue.SimpleQueue()
        self._workers = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set() or (self._cancel is not None and self._cancel.is_set())

    def submit(self, task: Task) -> None:
        with self._lock:
            start = self._workers < self.size
            self._workers += start
        self._todo.put(task)
        if start:
            threading.Thread(target=self._work, name="outeai-worker", daemon=True).start()

    def post(self, event: SchedulerEvent) -> None:
        """Called from workers: hand an event to the driving thread."""
        self._events.put(event)

    def next_event(self) -> SchedulerEvent:
        """The next event from the workers; raises InterruptedByUser once cancelled."""
        while True:
            try:
                return self._events.get(timeout=_POLL)
            except queue.Empty:
                if self.stopped():
                    raise InterruptedByUser("cancelled") from None

    def _work(self) -> None:
        while not self.stopped():
            try:
                task = self._todo.get(timeout=_POLL)
            except queue.Empty:
                continue
            if task.cancelled():
                continue
            try:
                value = task.run(self)
            except BaseException as exc:  # handed to the driving thread, which decides
                self._events.put(TaskFailed(task, exc))
            else:
                self._events.put(TaskDone(task, value))

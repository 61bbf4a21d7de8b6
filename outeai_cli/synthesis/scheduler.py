"""One worker pool for every run: the pieces of one text, or of all a batch's outputs.

Workers take tasks from one queue and report back through one queue of typed events; the
thread that drives the run (the caller's, in `run.Run`) handles every event, so stitching,
commits and progress displays never race. Requests are capped by a shared `RequestLimiter`
that a 429 lowers. Cancellation (a Ctrl-C or SIGTERM in the driving thread, or a `cancel`
event set by a library caller) is checked in one place, `Scheduler.next_event`, and in the
workers between stream events.

The scheduler is generic in its task type, so an event's `task` is the task as it was
submitted (with its owner, typed): nothing is cast back.

Workers are daemons: a Ctrl-C stops the run at once, without waiting for requests in flight.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from outeai_cli.errors import InterruptedByUser

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


_pending_stop: list[BaseException] = []


def note_stop(stop: BaseException) -> None:
    """Remember a stop (the exception a SIGTERM handler raises) besides raising it.

    Raised while Python runs a finalizer or the garbage collector, it is printed ("Exception
    ignored") and lost, and the run would go on to commit and exit 0; the run loop and every
    commit check this record instead (`raise_if_stopped`).
    """
    _pending_stop[:] = [stop]


def raise_if_stopped() -> None:
    if _pending_stop:
        raise _pending_stop[0]


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block ends, so that a commit and its record (the
    output renamed into place, its results line) happen both or neither. A stop noted earlier
    and lost (see `note_stop`) stops it before it begins.

    Only the main thread receives signals; elsewhere this does nothing.
    """
    raise_if_stopped()
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


# -- the events workers send to the driving thread --------------------------------------------------


class Task(Protocol):
    """A unit of work for the pool; `run` reports through the scheduler and returns a value."""

    def run(self, scheduler: Scheduler[Any]) -> Any: ...
    def cancelled(self) -> bool: ...


T = TypeVar("T", bound=Task)


class StageChanged(NamedTuple, Generic[T]):
    """The task's request reached a new stage (or chunk), for the requests-in-flight display."""

    task: T
    stage: str
    chunk: int | None = None
    chunks: int | None = None
    audio: float | None = None  # seconds of audio the service says it made so far


class Note(NamedTuple, Generic[T]):
    """A message worth a line of its own (a retry, a slow-down, a re-split piece)."""

    task: T
    text: str


class TaskDone(NamedTuple, Generic[T]):
    """The task finished; `value` is what its `run` returned."""

    task: T
    value: Any


class TaskFailed(NamedTuple, Generic[T]):
    """The task raised; the driving thread decides what that means for its owner."""

    task: T
    error: BaseException


class Wake(NamedTuple):
    """Work arrived from another thread (see `Scheduler.wake`): the driving thread looks."""


SchedulerEvent = StageChanged[T] | Note[T] | TaskDone[T] | TaskFailed[T] | Wake


class Scheduler(Generic[T]):
    """A pool of at most `jobs` worker threads, started as tasks arrive; a context manager.

    Leaving the context stops the workers (they finish or abandon their current request).
    """

    def __init__(self, jobs: int, *, cancel: threading.Event | None = None) -> None:
        self.size = max(1, jobs)
        self.limiter = RequestLimiter(self.size)
        self._cancel = cancel
        self._stop = threading.Event()
        self._todo: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._events: queue.SimpleQueue[SchedulerEvent[T]] = queue.SimpleQueue()
        self._workers = 0
        self._queued = 0  # submitted, not yet taken by a worker
        self._lock = threading.Lock()

    def __enter__(self) -> Scheduler[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set() or (self._cancel is not None and self._cancel.is_set())

    @property
    def backlog(self) -> int:
        """Tasks waiting for a worker: at 0, a worker that finishes finds nothing to do."""
        return self._queued

    def submit(self, task: T) -> None:
        with self._lock:
            start = self._workers < self.size
            self._workers += start
            self._queued += 1
        self._todo.put(task)
        if start:
            threading.Thread(target=self._work, name="outeai-worker", daemon=True).start()

    def post(self, event: SchedulerEvent[T]) -> None:
        """Called from workers: hand an event to the driving thread."""
        self._events.put(event)

    def wake(self) -> None:
        """Called from any thread: the driving thread returns from `next_event` with `Wake`."""
        self._events.put(Wake())

    def next_event(self) -> SchedulerEvent[T]:
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
            with self._lock:
                self._queued -= 1
            if task.cancelled():
                continue
            try:
                value = task.run(self)
            except BaseException as exc:  # handed to the driving thread, which decides
                self._events.put(TaskFailed(task, exc))
            else:
                self._events.put(TaskDone(task, value))

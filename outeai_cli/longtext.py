"""Long text: split it, request the pieces concurrently, stitch them in order, commit atomically.

The flow of one run:
1. `split_text` cuts the text into pieces of at most `max_chars` characters.
2. Pieces already in the cache are copied into spool files (and counted as such).
3. Up to `jobs` worker threads request the others, each straight into its own spool file in a
   hidden directory next to the output (removed at the end; a later run sweeps one left by a
   killed process). Finished pieces go into the cache at once, so an interrupted run loses
   only the pieces in flight.
4. This thread stitches pieces into the output as soon as every earlier piece is there, so
   encoding overlaps with the requests and spool files are deleted as they are consumed.
5. The output is committed atomically (and the subtitles, if asked for, just before it).

Worker threads are daemons: a Ctrl-C in this thread stops the run at once, without waiting
for requests in flight. Any of them that finishes later can still fill the cache (that audio
was paid for) but never the output. A piece the server refuses as too long (413) is split in
two and requested again, and later pieces at least that long are split before sending.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from outeai_cli.audio import atomic_output, spool_file
from outeai_cli.cache import PieceCache, piece_key
from outeai_cli.client import TTSClient
from outeai_cli.errors import APIError, InputError, InterruptedByUser, OuteAIError
from outeai_cli.events import AudioEvent, Event, RetryEvent, StatusEvent
from outeai_cli.speakers import Speaker
from outeai_cli.splitting import DEFAULT_MAX_CHARS, Piece, split_piece, split_text
from outeai_cli.stitching import Stitcher, copy_single, count_frames
from outeai_cli.subtitles import Cue, write_subtitles
from outeai_cli.synthesis import SynthesisRequest

DEFAULT_JOBS = 4
_POLL = 0.1  # seconds between checks for cancellation while waiting


@dataclass(frozen=True, slots=True)
class LongTextOptions:
    max_chars: int = DEFAULT_MAX_CHARS
    jobs: int = DEFAULT_JOBS
    pause: float = 0.0  # seconds of silence between pieces
    language: str = "en"  # for the sentence segmenter


@dataclass(frozen=True, slots=True)
class RunProgress:
    """A snapshot for progress displays (of a long text's pieces, or of a batch's items).

    `reused` of the `done` needed no request (pieces from the cache, items already complete);
    `note` is a message worth a line of its own.
    """

    done: int
    total: int
    reused: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    in_flight: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True)
class LongTextResult:
    path: str  # "-" for stdout
    format: str
    bytes: int
    duration: float
    speaker: str
    temperature: float
    elapsed: float
    delivered_format: str
    pieces: int
    from_cache: int
    requests: int
    cues: tuple[Cue, ...] = field(default=(), repr=False)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["cues"]
        return data


class RequestLimiter:
    """At most `limit` requests in flight across threads (one run, or a whole batch).

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


@dataclass(frozen=True, slots=True)
class _Part:
    """The audio of one request: a piece, or part of a piece the server refused as too long."""

    text: str
    path: Path
    format: str
    duration: float | None


@dataclass(eq=False)
class _Task:
    number: int  # 1-based number of the first piece it serves, for messages
    piece: Piece
    key: str | None
    uses: int = 1  # pieces served (identical pieces share one request when caching)
    parts: list[_Part] | None = None


class _Run:
    """One long-text synthesis; `write()` streams the stitched audio into a file object."""

    def __init__(
        self,
        client: TTSClient,
        request: SynthesisRequest,
        options: LongTextOptions,
        spool: Path,
        *,
        cache: PieceCache | None,
        limiter: RequestLimiter | None,
        cancel: threading.Event | None,
        on_progress: Callable[[RunProgress], None] | None,
    ) -> None:
        self.client = client
        self.request = request
        self.options = options
        self.spool = spool
        self.cache = cache
        self.limiter = limiter or RequestLimiter(options.jobs)
        self.cancel = cancel
        self.on_progress = on_progress
        self.pieces = split_text(request.text, options.max_chars, language=options.language)
        if not self.pieces:
            raise InputError("the text is empty", hint="give some text to speak")
        self.from_cache = 0
        self.requests = 0
        self.done = 0
        self.audio_seconds = 0.0
        self.in_flight: dict[int, str] = {}
        self._stop = threading.Event()
        self._events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._refused_at = len(request.text) + 1  # shortest piece length answered with 413
        self._cache_warned = False

    # -- orchestration (the calling thread) ---------------------------------------------------
    def write(self, out: IO[bytes], fmt: str) -> tuple[list[Cue], str]:
        """Fetch every piece and write the stitched audio to `out`.

        Returns a cue per request (its text and frames in the output) and the delivered format.
        """
        tasks, order = self._plan()
        missing = [t for t in tasks if t.parts is None]
        total = len(self.pieces)
        workers = min(self.options.jobs, len(missing))
        self._emit(
            f"{total} pieces of up to {self.options.max_chars} characters: "
            f"{self.from_cache} from the cache, {total - self.from_cache} to request"
            + (f", {workers} at a time" if workers > 1 else "")
        )
        todo: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        for task in missing:
            todo.put(task)
        prepare_for_threads(self.client)
        try:
            for _ in range(workers):
                threading.Thread(target=self._worker, args=(todo,), daemon=True).start()
            return self._collect(order, len(missing), out, fmt)
        except KeyboardInterrupt:
            self._emit(
                f"interrupted: {self.done} of {total} pieces were finished"
                + (
                    "; they are cached, so running the same command again requests only the rest"
                    if self.cache is not None and self.done
                    else ""
                )
            )
            raise
        finally:
            self._stop.set()

    def _plan(self) -> tuple[list[_Task], list[_Task]]:
        """Tasks to fetch (identical pieces share one when caching) and the task of each piece."""
        tasks: list[_Task] = []
        order: list[_Task] = []
        by_key: dict[str, _Task] = {}
        for number, piece in enumerate(self.pieces, start=1):
            key = self._key(piece.text) if self.cache is not None else None
            if key is not None and key in by_key:
                by_key[key].uses += 1
                order.append(by_key[key])
                continue
            task = _Task(number, piece, key)
            if key is not None:
                by_key[key] = task
                task.parts = self._from_cache(piece.text, key)
            tasks.append(task)
            order.append(task)
        self.from_cache = sum(1 for task in order if task.parts is not None)
        self.done = self.from_cache
        self.audio_seconds = sum(p.duration or 0.0 for t in order if t.parts for p in t.parts)
        return tasks, order

    def _collect(
        self, order: list[_Task], pending: int, out: IO[bytes], fmt: str
    ) -> tuple[list[Cue], str]:
        stitcher: Stitcher | None = None
        single = len(order) == 1 and not self.options.pause
        if not single:
            stitcher = Stitcher(out, fmt, pause=self.options.pause)
        try:
            return self._gather(order, pending, out, fmt, stitcher)
        except BaseException:
            if stitcher is not None:
                stitcher.abort()
            raise

    def _gather(
        self, order: list[_Task], pending: int, out: IO[bytes], fmt: str, stitcher: Stitcher | None
    ) -> tuple[list[Cue], str]:
        cues: list[Cue] = []
        next_piece = 0
        while True:
            if stitcher is not None:
                next_piece = self._stitch_ready(order, next_piece, stitcher, cues)
            if not pending:
                break
            try:
                event = self._events.get(timeout=_POLL)
            except queue.Empty:
                if self.cancel is not None and self.cancel.is_set():
                    raise InterruptedByUser("cancelled") from None
                continue
            kind = event[0]
            if kind == "status":
                _, number, text = event
                self.in_flight[number] = text
                self._emit()
            elif kind == "note":
                self._emit(event[1])
            elif kind == "done":
                task: _Task = event[1]
                task.parts = event[2]  # set here, not in the worker: this thread stitches
                pending -= 1
                self.in_flight.pop(task.number, None)
                self.done += task.uses
                self.audio_seconds += task.uses * sum(p.duration or 0.0 for p in task.parts or ())
                self._emit()
            elif kind == "failed":
                raise event[2]
        delivered = order[0].parts[0].format if order and order[0].parts else "unknown"
        if stitcher is None:
            return self._write_single(order[0], out, fmt), delivered
        stitcher.close()
        return cues, delivered

    def _stitch_ready(
        self, order: list[_Task], index: int, stitcher: Stitcher, cues: list[Cue]
    ) -> int:
        while index < len(order) and order[index].parts is not None:
            task = order[index]
            for part in task.parts or ():
                placed = stitcher.append(part.path)
                cues.append(Cue(part.text, placed.start, placed.end, stitcher.samplerate))
            task.uses -= 1
            if task.uses == 0:  # the last piece it serves: its spool files are done with
                for part in task.parts or ():
                    part.path.unlink(missing_ok=True)
            index += 1
        return index

    def _write_single(self, task: _Task, out: IO[bytes], fmt: str) -> list[Cue]:
        parts = task.parts or []
        if len(parts) != 1:  # a single piece the server made us split: stitch after all
            stitcher = Stitcher(out, fmt)
            cues = []
            try:
                for part in parts:
                    placed = stitcher.append(part.path)
                    cues.append(Cue(part.text, placed.start, placed.end, stitcher.samplerate))
            except BaseException:
                stitcher.abort()
                raise
            stitcher.close()
            return cues
        (part,) = parts
        copy_single(part.path, part.format, out, fmt)
        frames, rate = count_frames(part.path)
        return [Cue(part.text, 0, frames, rate)]

    def _emit(self, note: str | None = None) -> None:
        if self.on_progress is None:
            return
        self.on_progress(
            RunProgress(
                done=self.done,
                total=len(self.pieces),
                reused=self.from_cache,
                audio_seconds=self.audio_seconds,
                in_flight=tuple(f"#{n} {s}" for n, s in sorted(self.in_flight.items())),
                note=note,
            )
        )

    # -- requests (worker threads) ------------------------------------------------------------
    def _stopped(self) -> bool:
        return self._stop.is_set() or (self.cancel is not None and self.cancel.is_set())

    def _worker(self, todo: queue.SimpleQueue[_Task]) -> None:
        while not self._stopped():
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                parts = self._fetch(task.number, task.piece, task.key)
            except BaseException as exc:  # handed to the orchestrating thread, which raises it
                self._events.put(("failed", task, exc))
                return
            self._events.put(("done", task, parts))

    def _fetch(self, number: int, piece: Piece, key: str | None) -> list[_Part]:
        if len(piece.text) >= self._refused_at and len(piece.text) > 1:
            return self._fetch_split(number, piece)
        try:
            return [self._request(number, piece.text, key)]
        except APIError as exc:
            if exc.status != 413 or len(piece.text) < 2:
                raise
            with self._lock:
                self._refused_at = min(self._refused_at, len(piece.text))
            self._events.put(
                (
                    "note",
                    f"piece {number}: the server refused {len(piece.text)} characters as too "
                    f"long ({exc.message}); splitting it further (lower --max-chars to avoid this)",
                )
            )
            return self._fetch_split(number, piece)

    def _fetch_split(self, number: int, piece: Piece) -> list[_Part]:
        parts: list[_Part] = []
        for sub in split_piece(piece, max(1, len(piece.text) // 2), language=self.options.language):
            key = self._key(sub.text) if self.cache is not None else None
            cached = self._from_cache(sub.text, key) if key is not None else None
            parts.extend(cached or self._fetch(number, sub, key))
        return parts

    def _request(self, number: int, text: str, key: str | None) -> _Part:
        request = self.request
        path = self.spool / f"{next(self._names)}.audio"
        final: AudioEvent | None = None
        with self.limiter.slot(self._stopped), open(path, "w+b") as sink:
            self._events.put(("status", number, "sending"))
            with self._lock:
                self.requests += 1
            # A generator, closed explicitly below so an abandoned response frees its connection.
            stream = cast(
                "Generator[Event, None, None]",
                self.client.stream(text, request.speaker, request.temperature, sink=sink),
            )
            try:
                for event in stream:
                    if self._stopped():
                        raise InterruptedByUser("cancelled")
                    if isinstance(event, AudioEvent):
                        final = event
                    elif isinstance(event, StatusEvent):
                        self._events.put(("status", number, _stage(event)))
                    elif isinstance(event, RetryEvent):
                        self._on_retry(number, event)
            finally:
                stream.close()
        assert final is not None  # stream() raises unless the final event arrived
        if key is not None and self.cache is not None:
            self._store(key, path, final)
        return _Part(text, path, final.format, final.duration)

    def _on_retry(self, number: int, event: RetryEvent) -> None:
        self._events.put(("status", number, f"retrying (attempt {event.attempt})"))
        note = f"piece {number}: retrying (attempt {event.attempt}) in {event.delay:.1f} s: {event.reason}"
        if event.status == 429:
            lowered = self.limiter.slow_down()
            if lowered is not None:
                note += f"; now at most {lowered} request{'s' if lowered > 1 else ''} at once"
        self._events.put(("note", note))

    def _store(self, key: str, path: Path, final: AudioEvent) -> None:
        assert self.cache is not None
        try:
            self.cache.store(key, path, format=final.format, duration=final.duration)
        except (OSError, OuteAIError) as exc:
            with self._lock:
                warned, self._cache_warned = self._cache_warned, True
            if not warned:
                self._events.put(
                    ("note", f"could not write to the cache ({exc}); going on without it")
                )

    # -- cache ----------------------------------------------------------------------------------
    def _key(self, text: str) -> str:
        client, request = self.client, self.request
        return piece_key(
            api=client.dialect.name,
            model=client.model or client.dialect.default_model,
            base_url=client.base_url,
            speaker=str(request.speaker),
            temperature=request.temperature,
            text=text,
        )

    def _from_cache(self, text: str, key: str) -> list[_Part] | None:
        assert self.cache is not None
        path = self.spool / f"{next(self._names)}.audio"
        with open(path, "wb") as handle:
            entry = self.cache.fetch(key, handle)
        if entry is None:
            path.unlink(missing_ok=True)
            return None
        return [_Part(text, path, entry.format, entry.duration)]


def prepare_for_threads(client: TTSClient) -> None:
    """Settle the client's lazy state (the dialect of --api auto, the connection pool) before
    worker threads race to create it."""
    client.resolve_api()
    _ = client.http


def language_of(speaker: Speaker) -> str:
    """The language a built-in voice speaks (for sentence rules); English otherwise."""
    if speaker.kind == "default":
        from outeai_cli.catalogue import find_voice

        voice = find_voice(speaker.name)
        if voice is not None:
            return voice.language
    return "en"


def _stage(event: StatusEvent) -> str:
    stage = event.stage or "working"
    if event.text_chunks and event.current_text_chunk:
        stage += f" {event.current_text_chunk}/{event.text_chunks}"
    return stage


# -- spool directories ----------------------------------------------------------------------------

_spool_counter = itertools.count(1)


@contextlib.contextmanager
def spool_directory(parent: Path, name: str) -> Iterator[Path]:
    """A hidden `.NAME.PID-N.pieces` directory in `parent`, removed on exit.

    One left behind by a process that no longer exists (kill -9) is swept first.
    """
    for stale in parent.glob(f".{_glob_escape(name)}.*.pieces"):
        pid = stale.name[len(name) + 2 : -len(".pieces")].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    directory = parent / f".{name}.{os.getpid()}-{next(_spool_counter)}.pieces"
    directory.mkdir(mode=0o700)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


# -- entry points ---------------------------------------------------------------------------------


def synthesize_long_to_path(
    client: TTSClient,
    request: SynthesisRequest,
    target: Path,
    fmt: str,
    *,
    options: LongTextOptions | None = None,
    force: bool = False,
    cache: PieceCache | None = None,
    subtitles: Path | None = None,
    limiter: RequestLimiter | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
) -> LongTextResult:
    """Speak a text of any length into `target` (atomically), with optional subtitles."""
    started = time.monotonic()
    options = options or LongTextOptions()
    target = Path(target)
    with spool_directory(target.parent, target.name) as spool:
        run = _Run(
            client,
            request,
            options,
            spool,
            cache=cache,
            limiter=limiter,
            cancel=cancel,
            on_progress=on_progress,
        )
        with atomic_output(target, force=force) as handle:
            cues, delivered = run.write(handle, fmt)
            if subtitles is not None:
                write_subtitles(subtitles, cues, force=force)
            size = handle.seek(0, os.SEEK_END)
    return _result(str(target), fmt, size, run, cues, delivered, started)


def synthesize_long_to_stream(
    client: TTSClient,
    request: SynthesisRequest,
    out: IO[bytes],
    fmt: str,
    *,
    options: LongTextOptions | None = None,
    cache: PieceCache | None = None,
    subtitles: Path | None = None,
    force: bool = False,
    limiter: RequestLimiter | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
) -> LongTextResult:
    """As synthesize_long_to_path, into `out` (e.g. stdout) once the whole audio is ready."""
    from outeai_cli.synthesis import copy_out

    started = time.monotonic()
    options = options or LongTextOptions()
    parent = Path(tempfile.gettempdir())
    with spool_directory(parent, "outeai-stdout") as spool, spool_file(spool) as handle:
        run = _Run(
            client,
            request,
            options,
            spool,
            cache=cache,
            limiter=limiter,
            cancel=cancel,
            on_progress=on_progress,
        )
        cues, delivered = run.write(handle, fmt)
        if subtitles is not None:
            write_subtitles(subtitles, cues, force=force)
        size = handle.seek(0, os.SEEK_END)
        handle.seek(0)
        copy_out(handle, out)
    return _result("-", fmt, size, run, cues, delivered, started)


def _result(
    path: str, fmt: str, size: int, run: _Run, cues: list[Cue], delivered: str, started: float
) -> LongTextResult:
    duration = cues[-1].end_seconds if cues else 0.0
    return LongTextResult(
        path=path,
        format=fmt,
        bytes=size,
        duration=round(duration, 3),
        speaker=str(run.request.speaker),
        temperature=run.request.temperature,
        elapsed=round(time.monotonic() - started, 3),
        delivered_format=delivered,
        pieces=len(run.pieces),
        from_cache=run.from_cache,
        requests=run.requests,
        cues=tuple(cues),
    )

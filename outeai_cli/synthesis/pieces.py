"""The pool's side of a job: fetch each piece's audio on a worker thread.

A piece goes into its own spool file in the job's pieces directory (a text sent whole
streams straight into the destination instead); each piece is checked to decode completely
before it is cached (by the cache) or stitched (by the stitcher, whose decode is the check).
A piece the server refuses as too long (413) is split in two and requested again, and later
pieces at least that long are split before sending. A worker that finishes after the job was
abandoned can still fill the cache (that audio was paid for) but never the output. The
driving thread's side is `job.OpenJob`.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Generic, NamedTuple, TypeVar, cast

from outeai_cli.audio.verify import DamagedAudio
from outeai_cli.errors import APIError, InterruptedByUser, OuteAIError, ProtocolError
from outeai_cli.http.events import AudioEvent, Event, RetryEvent, StatusEvent
from outeai_cli.synthesis.scheduler import Note, Scheduler, StageChanged
from outeai_cli.synthesis.splitting import Piece, split_piece

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient
    from outeai_cli.synthesis.cache import PieceCache
    from outeai_cli.synthesis.types import SynthesisRequest

OwnerT = TypeVar("OwnerT")


class Part(NamedTuple):
    """The audio of one request: a piece, or part of a piece the server refused as too long."""

    text: str
    path: Path | None  # None: written straight into the destination
    format: str
    duration: float | None


@dataclass(eq=False)
class PieceTask(Generic[OwnerT]):
    """Fetch one piece for `owner` (identical pieces share one task when caching)."""

    owner: OwnerT  # the job the piece belongs to: the run routes the task's events to it
    fetcher: PieceFetcher
    number: int  # 1-based number of the first piece it serves, for messages
    piece: Piece
    key: str | None
    uses: int = 1  # pieces it serves that are not yet assembled
    parts: list[Part] | None = None  # set by the driving thread once fetched

    def run(self, scheduler: Scheduler[PieceTask[OwnerT]]) -> list[Part]:
        return self.fetcher.fetch(self, scheduler)

    def cancelled(self) -> bool:
        return self.fetcher.closed


class PieceFetcher:
    """Requests one job's pieces; shared by the pool's threads (its counters under a lock).

    A job split into pieces gives the directory their spool files go in (`pieces_dir`); a
    text sent whole gives the destination's handle (`into`) instead.
    """

    def __init__(
        self,
        client: TTSClient,
        request: SynthesisRequest,
        *,
        language: str,
        cache: PieceCache | None,
        pieces_dir: Path | None = None,
        into: IO[bytes] | None = None,
    ) -> None:
        assert (pieces_dir is None) != (into is None)
        self.client = client
        self.request = request
        self.language = language
        self.cache = cache
        self.pieces_dir = pieces_dir
        self.into = into
        self.closed = False
        self.requests = 0
        self.voice_notice: str | None = None  # the first the server gave: what really spoke
        self._names: Iterator[int] = itertools.count(1)
        self._lock = threading.Lock()
        self._refused_at = sys.maxsize  # the shortest piece length answered with 413
        self._cache_warned = False

    @property
    def split(self) -> bool:
        return self.into is None

    def close(self) -> None:
        """No new spool file and no write into the output from now on."""
        with self._lock:
            self.closed = True

    def fetch(self, task: PieceTask[OwnerT], scheduler: Scheduler[PieceTask[OwnerT]]) -> list[Part]:
        """The audio of `task`'s piece (a text sent whole: straight into the destination)."""
        if self.into is not None:
            return [self._request(task, task.piece.text, None, scheduler, self.into)]
        return self._fetch(task, task.piece, task.key, scheduler)

    def _fetch(
        self,
        task: PieceTask[OwnerT],
        piece: Piece,
        key: str | None,
        scheduler: Scheduler[PieceTask[OwnerT]],
    ) -> list[Part]:
        if len(piece.text) >= self._refused_at and len(piece.text) > 1:
            return self._fetch_split(task, piece, scheduler)
        try:
            return [self._request(task, piece.text, key, scheduler, None)]
        except APIError as exc:
            if exc.status != 413 or len(piece.text) < 2:
                raise
            with self._lock:
                self._refused_at = min(self._refused_at, len(piece.text))
            scheduler.post(
                Note(
                    task,
                    f"piece {task.number}: the server refused {len(piece.text)} characters as "
                    f"too long ({exc.message}); splitting it further "
                    "(a lower max_chars setting avoids this)",
                )
            )
            return self._fetch_split(task, piece, scheduler)

    def _fetch_split(
        self, task: PieceTask[OwnerT], piece: Piece, scheduler: Scheduler[PieceTask[OwnerT]]
    ) -> list[Part]:
        parts: list[Part] = []
        for sub in split_piece(piece, max(1, len(piece.text) // 2), language=self.language):
            key = self.cache_key(sub.text) if self.cache is not None else None
            cached = self.cached_parts(sub.text, key) if key is not None else None
            parts.extend(cached or self._fetch(task, sub, key, scheduler))
        return parts

    def _request(
        self,
        task: PieceTask[OwnerT],
        text: str,
        key: str | None,
        scheduler: Scheduler[PieceTask[OwnerT]],
        into: IO[bytes] | None,
    ) -> Part:
        """One request, into `into` (the destination) or else a new spool file."""
        request = self.request

        def stopped() -> bool:
            return self.closed or scheduler.stopped()

        path: Path | None = None
        final: AudioEvent | None = None
        with contextlib.ExitStack() as stack:
            stack.enter_context(scheduler.limiter.slot(stopped))
            sink = into
            if sink is None:
                path, sink = self._new_spool_file("w+b")
                stack.enter_context(sink)
            scheduler.post(StageChanged(task, "sending"))
            with self._lock:
                self.requests += 1
            # A generator, closed explicitly below so an abandoned response frees its connection.
            stream = cast(
                "Generator[Event, None, None]",
                self.client.stream(text, request.speaker, request.temperature, sink=sink),
            )
            try:
                for event in stream:
                    if stopped():
                        raise InterruptedByUser("cancelled")
                    if isinstance(event, AudioEvent):
                        final = event
                        if event.voice_notice and self.voice_notice is None:
                            self.voice_notice = event.voice_notice
                    elif isinstance(event, StatusEvent):
                        stage = event.stage or "working"
                        chunk = event.current_text_chunk if event.text_chunks else None
                        scheduler.post(
                            StageChanged(
                                task, stage, chunk, event.text_chunks, event.generated_seconds
                            )
                        )
                    elif isinstance(event, RetryEvent):
                        self._on_retry(task, event, scheduler)
            finally:
                stream.close()
        if final is None:  # stream() raises unless the final event arrived
            raise ProtocolError("the stream ended without the final audio event")
        # A piece is proven to decode completely where it is used: by the cache's check
        # before it is stored, and by the stitcher's decode, which is that same check.
        if key is not None and path is not None and self.cache is not None:
            self._store(key, path, final, f"the audio of piece {task.number}", task, scheduler)
        return Part(text, path, final.format, final.duration)

    def _on_retry(
        self, task: PieceTask[OwnerT], event: RetryEvent, scheduler: Scheduler[PieceTask[OwnerT]]
    ) -> None:
        scheduler.post(StageChanged(task, f"retrying (attempt {event.attempt})"))
        note = f"retrying (attempt {event.attempt}) in {event.delay:.1f} s: {event.reason}"
        if self.split:
            note = f"piece {task.number}: {note}"
        if event.status == 429 and self.split:  # (one request: no others to hold back)
            lowered = scheduler.limiter.slow_down()
            if lowered is not None:
                note += f"; now at most {lowered} request{'s' if lowered > 1 else ''} at once"
        scheduler.post(Note(task, note))

    def _new_spool_file(self, mode: str) -> tuple[Path, IO[bytes]]:
        """A new file in the pieces directory; never once the job is closed, so that removing
        the directory on abort cannot race with a worker creating a file in it."""
        assert self.pieces_dir is not None
        with self._lock:
            if self.closed:
                raise InterruptedByUser("cancelled")
            path = self.pieces_dir / f"{next(self._names)}.audio"
            return path, cast(IO[bytes], open(path, mode))

    def _store(
        self,
        key: str,
        path: Path,
        final: AudioEvent,
        what: str,
        task: PieceTask[OwnerT],
        scheduler: Scheduler[PieceTask[OwnerT]],
    ) -> None:
        assert self.cache is not None
        try:
            self.cache.store(key, path, format=final.format, duration=final.duration, what=what)
        except DamagedAudio:
            raise  # the piece's fault, not the cache's: the job fails
        except (OSError, OuteAIError) as exc:
            with self._lock:
                warned, self._cache_warned = self._cache_warned, True
            if not warned:
                scheduler.post(
                    Note(task, f"could not write to the cache ({exc}); going on without it")
                )

    def cache_key(self, text: str) -> str:
        from outeai_cli.synthesis.audio_key import audio_key_for

        request = self.request
        return audio_key_for(self.client, request.speaker, request.temperature, text)

    def cached_parts(self, text: str, key: str) -> list[Part] | None:
        assert self.cache is not None
        path, handle = self._new_spool_file("wb")
        with handle:
            entry = self.cache.fetch(key, handle)
        if entry is None:
            path.unlink(missing_ok=True)
            return None
        return [Part(text, path, entry.format, entry.duration)]

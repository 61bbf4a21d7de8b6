"""A job's plan: its pieces in order, each with the task that fetches it.

Pieces come from the cache when it has them (copied into spool files at once, counted as
such); identical pieces share one task when caching, so each distinct text is requested once.
A job whose pieces arrive over time adds them as they come (`add`): the plan only grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic

from outeai_cli.synthesis.pieces import OwnerT, Part, PieceFetcher, PieceTask
from outeai_cli.synthesis.splitting import Piece


class Plan(Generic[OwnerT]):
    """The pieces of `owner`'s output in order (`order`: one task per piece, shared tasks
    repeated), and the counts a progress display shows."""

    def __init__(self, owner: OwnerT, fetcher: PieceFetcher, *, caching: bool) -> None:
        self.owner = owner
        self.fetcher = fetcher
        self.caching = caching
        self.order: list[PieceTask[OwnerT]] = []
        self.from_cache = 0  # pieces that needed no request
        self.done = 0  # pieces whose audio is here (fetched or from the cache)
        self.pending = 0  # tasks being fetched
        self.audio_seconds = 0.0
        self._by_key: dict[str, PieceTask[OwnerT]] = {}

    def add(self, pieces: Iterable[Piece]) -> list[PieceTask[OwnerT]]:
        """Plan `pieces` after those planned so far; returns the tasks to fetch."""
        tasks: list[PieceTask[OwnerT]] = []
        for piece in pieces:
            number = len(self.order) + 1
            key = self.fetcher.cache_key(piece.text) if self.caching else None
            shared = self._by_key.get(key) if key is not None else None
            if shared is not None and shared.uses > 0:  # (used up: its spool files are gone)
                shared.uses += 1
                self.order.append(shared)
                if shared.parts is not None:
                    self._arrived(shared.parts, 1, cached=True)
                continue
            task = PieceTask(self.owner, self.fetcher, number, piece, key)
            self.order.append(task)
            if key is not None:
                self._by_key[key] = task
                task.parts = self.fetcher.cached_parts(piece.text, key)
            if task.parts is not None:
                self._arrived(task.parts, 1, cached=True)
            else:
                tasks.append(task)
        self.pending += len(tasks)
        return tasks

    def fetched(self, task: PieceTask[OwnerT], parts: list[Part]) -> None:
        """`task`'s audio is here (set by the driving thread, which assembles it)."""
        task.parts = parts
        self.pending -= 1
        self._arrived(parts, task.uses, cached=False)

    def _arrived(self, parts: list[Part], uses: int, *, cached: bool) -> None:
        self.done += uses
        self.from_cache += uses if cached else 0
        self.audio_seconds += uses * sum(p.duration or 0.0 for p in parts)

"""What `GET /_outeai/requests` lists: each request with the text it spoke.

Kept only when the control endpoints are on (`--control`), and then at most a byte budget of
records, the oldest dropped first: a server that nobody asks for its history keeps none, and
one that is asked never grows without bound however many long texts it is sent.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# What a record costs beside its text: the object, its dict, the speaker, the faults.
_RECORD_OVERHEAD = 600


@dataclass
class RequestRecord:
    path: str
    text: str | None
    speaker: dict[str, Any] | None
    status: int
    faults: list[str]
    finished_at: float | None = None  # wall-clock time the body's last byte was produced

    def cost(self) -> int:
        """Bytes this record holds, about (its text as Python stores it, plus the rest)."""
        return _RECORD_OVERHEAD + (sys.getsizeof(self.text) if self.text else 0)


class ControlLog:
    """The records `/_outeai/requests` lists, newest last; not thread-safe (callers lock)."""

    def __init__(self, keep: bool, budget: int) -> None:
        self.keep = keep
        self.budget = budget
        self._records: deque[RequestRecord] = deque()
        self._bytes = 0

    def append(self, record: RequestRecord) -> None:
        if not self.keep:
            return
        self._records.append(record)
        self._bytes += record.cost()
        while self._bytes > self.budget and self._records:
            self._bytes -= self._records.popleft().cost()

    def clear(self) -> None:
        self._records.clear()
        self._bytes = 0

    @property
    def size(self) -> int:
        """The bytes the kept records hold, as counted against the budget."""
        return self._bytes

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

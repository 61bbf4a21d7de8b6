"""When and how long to wait before trying a request again."""

from __future__ import annotations

import random
import time
from typing import NamedTuple

from outeai_cli.errors import APIError, OuteAIError, TransportError
from outeai_cli.settings.table import DEFAULT_RETRIES


class RetryPolicy(NamedTuple):
    """Exponential backoff with full jitter, bounded in count and in total time."""

    retries: int = DEFAULT_RETRIES
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    total_time: float = 120.0
    # A stream that breaks after generation started was probably billed: retry it once at most.
    retries_after_generation: int = 1

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def delay_after(
        self, exc: OuteAIError, attempt: int, started_at: float, after_generation: int
    ) -> float | None:
        """Seconds to wait before trying again after `exc` failed attempt number `attempt`
        (`after_generation`: retries already spent on streams that broke mid-audio), or None
        when it is not worth another try."""
        if attempt > self.retries:
            return None
        if isinstance(exc, APIError):
            if not exc.retryable:
                return None
            delay = self.delay(attempt, exc.retry_after)
        elif isinstance(exc, TransportError):
            if exc.after_audio_started and after_generation >= self.retries_after_generation:
                return None
            if exc.timeout:
                return None
            delay = self.delay(attempt)
        else:
            return None
        if time.monotonic() - started_at + delay > self.total_time:
            return None
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the delta-seconds form; an HTTP date is ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None

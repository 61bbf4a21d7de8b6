"""Fault injection for `outeai serve --fault NAME[:N|:P%]`.

`NAME` applies to every request, `NAME:3` to the first three, `NAME:10%` to a random tenth.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

# Failures: each makes a request fail in a way a client must report (or retry).
FAILURES = {
    "http-400": "answer 400 Bad Request with a JSON message (never worth retrying)",
    "http-401": "answer 401 as for a rejected token",
    "http-429": "answer 429 Too Many Requests with Retry-After: 1",
    "http-500": "answer 500 with a JSON message",
    "http-502": "answer 502 with a JSON message",
    "http-503": "answer 503 with a JSON message",
    "http-504": "answer 504 with a JSON message",
    "html-502": "answer 502 with an HTML page, as a proxy would",
    "drop-mid-stream": "close the connection after the first status events",
    "drop-in-audio": "close the connection halfway through the audio data",
    "no-final-event": "end the stream after the status events, without the audio event",
    "truncated-final-event": "end the stream in the middle of the audio event",
    "bad-base64": "send audio that is not valid base64",
    "non-json": "answer 200 with lines that are not JSON",
    "html-200": "answer 200 with an HTML page and a text/html content type",
    "stall": "go silent after the first event (for idle-timeout tests)",
}
# Quirks: valid but awkward streams that a robust client must accept byte-identically.
QUIRKS = {
    "crlf": "end lines with CRLF",
    "blank-lines": "put blank lines between events",
    "unknown-fields": "add unknown fields and unknown event types",
    "split-bytes": "send the stream in tiny, oddly sized writes",
    "escaped-slashes": "escape '/' as '\\/' inside the base64",
    "slow-status": "pause 2 s between status events",
    "slow-audio": "trickle the audio in 8 KiB pieces, 20 ms apart (for interrupt tests)",
}
ALL_FAULTS = {**FAILURES, **QUIRKS}


@dataclass
class FaultRule:
    name: str
    remaining: int | None = None  # None: no count limit
    probability: float | None = None  # None: always


def parse_fault(spec: str) -> FaultRule:
    name, _, amount = spec.strip().partition(":")
    if name not in ALL_FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(ALL_FAULTS))}")
    if not amount:
        return FaultRule(name)
    try:
        if amount.endswith("%"):
            percent = float(amount[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return FaultRule(name, probability=percent / 100)
        count = int(amount)
        if count < 0:
            raise ValueError
        return FaultRule(name, remaining=count)
    except ValueError:
        raise ValueError(f"bad fault amount {amount!r} in {spec!r}: use N or P%") from None


class FaultPlan:
    """Decides, per request, which faults apply. Thread-safe; seeded for repeatable runs."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int | None = None) -> None:
        self._rules = list(rules or [])
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def from_specs(cls, specs: list[str], seed: int | None = None) -> FaultPlan:
        return cls([parse_fault(s) for s in specs], seed)

    def replace(self, specs: list[str]) -> None:
        rules = [parse_fault(s) for s in specs]
        with self._lock:
            self._rules = rules

    def describe(self) -> list[str]:
        with self._lock:
            return [r.name for r in self._rules]

    def draw(self) -> set[str]:
        active: set[str] = set()
        with self._lock:
            for rule in self._rules:
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                if rule.probability is not None and self._random.random() >= rule.probability:
                    continue
                active.add(rule.name)
        return active

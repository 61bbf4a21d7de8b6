"""The events a synthesis stream yields, independent of the API dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """Progress from the service: a stage name and, when known, chunk counts and audio seconds."""

    stage: str
    text_chunks: int | None = None
    current_text_chunk: int | None = None
    generated_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AudioEvent:
    """The final event: the audio is complete and was written to the sink.

    `audio_bytes` is set only when the stream decoded into memory (no sink given).
    """

    size: int
    duration: float | None
    format: str
    audio_bytes: bytes | None = None


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """The client is about to try the request again."""

    attempt: int
    delay: float
    reason: str
    status: int | None = None  # the HTTP status that caused it, if any (429: slow down)


Event = StatusEvent | AudioEvent | RetryEvent

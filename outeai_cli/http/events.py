"""The events a synthesis stream yields, independent of the API dialect."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple


class StatusEvent(NamedTuple):
    """Progress from the service: a stage name and, when known, chunk counts and audio seconds."""

    stage: str
    text_chunks: int | None = None
    current_text_chunk: int | None = None
    generated_seconds: float | None = None
    extra: Mapping[str, Any] = MappingProxyType({})  # fields this client does not know


class AudioEvent(NamedTuple):
    """The final event: the audio is complete and was written to the sink.

    `audio_bytes` is set only when the stream decoded into memory (no sink given).
    `voice_notice`: the server said that what spoke is not what the voice's name promises (a
    female name spoken by a male model, a language spoken by espeak-ng, a test tone); its one
    line, cleaned (see `voices.notice`). None from a server that says nothing (the hosted API).
    """

    size: int
    duration: float | None
    format: str
    audio_bytes: bytes | None = None
    voice_notice: str | None = None


class RetryEvent(NamedTuple):
    """The client is about to try the request again."""

    attempt: int
    delay: float
    reason: str
    status: int | None = None  # the HTTP status that caused it, if any (429: slow down)


Event = StatusEvent | AudioEvent | RetryEvent

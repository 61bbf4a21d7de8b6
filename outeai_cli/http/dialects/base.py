"""What every API dialect provides, and what the client asks of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import IO, Any, NamedTuple, Protocol

from outeai_cli.http.events import Event
from outeai_cli.voices.speakers import Speaker


class RequestSpec(NamedTuple):
    method: str
    path: str  # relative to the base URL
    json: dict[str, Any] | None = None
    headers: Mapping[str, str] = MappingProxyType({})
    params: Mapping[str, str] = MappingProxyType({})


class StreamParser(Protocol):
    """Turns response bytes into events, writing the audio into the sink as it arrives."""

    @property
    def audio_started(self) -> bool: ...

    @property
    def progress(self) -> int:
        """Grows whenever the response moves the work on: new audio, or a status that says
        something new. The idle limit watches it (a repeated status is not progress)."""
        ...

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


class Dialect(Protocol):
    """One API dialect, built by `get_dialect` as `cls(model)` (None: its default model)."""

    name: str  # as listed in the registry (`dialects/__init__.py`)
    audio_format: str  # what the service sends: "flac", "mp3" or "wav"
    body_is_audio: bool  # the response body is the audio file itself, playable as it arrives
    token_in_url: bool  # the token travels in the query string (the 2025 API)
    uses_temperature: bool
    default_model: str | None  # None: the API has no model field
    response_kind: str  # what a 200 body should be, for messages ("an event stream")

    def synthesis_request(
        self, token: str, text: str, speaker: Speaker, temperature: float
    ) -> RequestSpec: ...

    def parser(self, sink: IO[bytes], emit: Callable[[Event], None]) -> StreamParser: ...

    def voices_request(self, token: str) -> RequestSpec:
        """`GET {base}/voices`, authenticated the way this API authenticates."""
        ...


def bearer_voices_request(token: str) -> RequestSpec:
    """The voice list with the token in an Authorization header (never in the URL)."""
    return RequestSpec("GET", "voices", headers={"Authorization": f"Bearer {token}"})

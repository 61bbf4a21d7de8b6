"""One module per API dialect; the client talks to every dialect through `Dialect`.

- `tts` (the original, primary): `POST {base}/tts`, token in the body, NDJSON, base64 FLAC.
- `audio` (2025): `POST {base}/audio?token=...`, NDJSON counting audio tokens, base64 MP3.
- `tts-stream` (2026): `Authorization: Bearer`, `POST {base}/tts_stream`, the body is WAV.
- `auto`: asks `GET {base}/health` once (only the 2026 API answers it); see `auto.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from outeai_cli.events import Event
from outeai_cli.speakers import Speaker

DIALECTS = ("tts", "audio", "tts-stream")
API_CHOICES = (*DIALECTS, "auto")


@dataclass(frozen=True, slots=True)
class RequestSpec:
    method: str
    path: str  # relative to the base URL
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


class StreamParser(Protocol):
    """Turns response bytes into events, writing the audio into the sink as it arrives."""

    @property
    def audio_started(self) -> bool: ...

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


class Dialect(Protocol):
    name: str
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


def get_dialect(name: str, *, model: str | None = None) -> Dialect:
    """The dialect called `name` (one of DIALECTS); `model` overrides its default model."""
    from outeai_cli.dialects.audio import AudioDialect
    from outeai_cli.dialects.tts import TTSDialect
    from outeai_cli.dialects.tts_stream import TTSStreamDialect

    dialects: dict[str, Callable[[str | None], Dialect]] = {
        "tts": lambda model: TTSDialect(),
        "audio": AudioDialect,
        "tts-stream": TTSStreamDialect,
    }
    try:
        factory = dialects[name]
    except KeyError:
        from outeai_cli.errors import InputError

        raise InputError(
            f"unknown API dialect {name!r}", hint=f"use one of: {', '.join(API_CHOICES)}"
        ) from None
    return factory(model)

"""The 2025 dialect: `POST {base}/audio?token=...`, NDJSON counting audio tokens, base64 MP3.

Body `{"model", "prompt", "speaker_type", "speaker_id", "temperature"}`; events carry
`audio_token_count`; the final one is `{"audio_data": {"audio_bytes", "duration"}}`. The
token in the URL is forced by that API: the client refuses it over plain http to anything
but loopback and masks it in every message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from outeai_cli.http.dialects.base import RequestSpec
from outeai_cli.http.dialects.ndjson_events import NDJSONEventParser, int_or_none
from outeai_cli.http.events import Event, StatusEvent
from outeai_cli.untrusted import clean_text
from outeai_cli.voices.speakers import Speaker

DEFAULT_MODEL = "OuteTTS-1-Pro"
_STATUS_FIELDS = ("generation_status", "audio_token_count")


class AudioDialect:
    name = "audio"
    audio_format = "mp3"
    body_is_audio = False
    token_in_url = True
    uses_temperature = True
    default_model: str | None = DEFAULT_MODEL
    response_kind = "an event stream"

    def __init__(self, model: str | None = None) -> None:
        self.model = model or DEFAULT_MODEL

    def synthesis_request(
        self, token: str, text: str, speaker: Speaker, temperature: float
    ) -> RequestSpec:
        body = {
            "model": self.model,
            "prompt": text,
            "speaker_type": speaker.kind,
            "speaker_id": speaker.name,
            "temperature": temperature,
        }
        return RequestSpec("POST", "audio", json=body, params={"token": token})

    def parser(self, sink: IO[bytes], emit: Callable[[Event], None]) -> AudioStreamParser:
        return AudioStreamParser(sink, emit)

    def voices_request(self, token: str) -> RequestSpec:
        # This API's only way to authenticate: the token in the query string (https only,
        # loopback aside; the client checks that when the dialect is chosen).
        return RequestSpec("GET", "voices", params={"token": token})


class AudioStreamParser(NDJSONEventParser):
    final_key = "audio_data"

    def status(self, obj: dict[str, Any]) -> StatusEvent | None:
        if "audio_token_count" not in obj and "generation_status" not in obj:
            return None
        tokens = int_or_none(obj.get("audio_token_count"))
        stage = clean_text(obj.get("generation_status") or "Generating audio", limit=200)
        if tokens:
            stage = f"{stage} ({tokens} audio tokens)"
        return StatusEvent(
            stage=stage,
            extra={k: v for k, v in obj.items() if k not in _STATUS_FIELDS}
            | {"audio_token_count": tokens},
        )

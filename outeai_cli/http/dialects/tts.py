"""The primary dialect: `POST {base}/tts` with the token in the body, NDJSON events, base64 FLAC."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from outeai_cli.errors import ProtocolError
from outeai_cli.http.dialects.base import RequestSpec, bearer_voices_request
from outeai_cli.http.dialects.ndjson_events import NDJSONEventParser, float_or_none, int_or_none
from outeai_cli.http.events import Event, StatusEvent
from outeai_cli.untrusted import clean_text
from outeai_cli.voices.speakers import Speaker

_STATUS_FIELDS = ("generation_status", "text_chunks", "current_text_chunk", "generated_seconds")


class TTSDialect:
    name = "tts"
    audio_format = "flac"
    body_is_audio = False
    token_in_url = False
    uses_temperature = True
    default_model: str | None = None
    response_kind = "an event stream"

    def __init__(self, model: str | None = None) -> None:
        del model  # this API has no model field

    def synthesis_request(
        self, token: str, text: str, speaker: Speaker, temperature: float
    ) -> RequestSpec:
        body = {
            "token": token,
            "text": text,
            "speaker": speaker.as_json(),
            "temperature": temperature,
        }
        return RequestSpec("POST", "tts", json=body)

    def parser(self, sink: IO[bytes], emit: Callable[[Event], None]) -> TTSStreamParser:
        return TTSStreamParser(sink, emit)

    def voices_request(self, token: str) -> RequestSpec:
        # The original API documents no voice list; a header keeps the token out of URLs.
        return bearer_voices_request(token)


class TTSStreamParser(NDJSONEventParser):
    final_key = "data"

    def status(self, obj: dict[str, Any]) -> StatusEvent | None:
        if "generation_status" not in obj:
            return None
        stage = obj.get("generation_status")
        return StatusEvent(
            stage=clean_text(stage, limit=200) if isinstance(stage, str) else "",
            text_chunks=int_or_none(obj.get("text_chunks")),
            current_text_chunk=int_or_none(obj.get("current_text_chunk")),
            generated_seconds=float_or_none(obj.get("generated_seconds")),
            extra={k: v for k, v in obj.items() if k not in _STATUS_FIELDS},
        )

    def check_final(self, data: dict[str, Any]) -> None:
        if data.get("request_finished") is not True:
            raise ProtocolError("the audio event does not say request_finished: true")

"""The 2025 dialect: `POST {base}/audio?token=...`, NDJSON counting audio tokens, base64 MP3.

Body `{"model", "prompt", "speaker_type", "speaker_id", "temperature"}`; events carry
`audio_token_count`; the final one is `{"audio_data": {"audio_bytes", "duration"}}`. The
token in the URL is forced by that API: the client refuses it over plain http to anything
but loopback and masks it in every message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from outeai_cli.audio import detect_format
from outeai_cli.base64stream import Base64JSONStringDecoder
from outeai_cli.dialects import RequestSpec
from outeai_cli.dialects.tts import float_or_none, int_or_none
from outeai_cli.errors import ProtocolError
from outeai_cli.events import AudioEvent, Event, StatusEvent
from outeai_cli.ndjson import NDJSONAudioReader
from outeai_cli.speakers import Speaker

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


class AudioStreamParser:
    def __init__(self, sink: IO[bytes], emit: Callable[[Event], None]) -> None:
        self._emit = emit
        self._reader = NDJSONAudioReader(sink, self._on_line, self._on_final)
        self._status_seen = False

    @property
    def audio_started(self) -> bool:
        """True once the service has begun generating (a status event or audio arrived)."""
        return self._status_seen or self._reader.in_audio or self._reader.final_seen

    def feed(self, chunk: bytes) -> None:
        self._reader.feed(chunk)

    def close(self) -> None:
        self._reader.close()

    def _on_line(self, obj: dict[str, Any]) -> None:
        if "audio_token_count" in obj or "generation_status" in obj:
            self._status_seen = True
            tokens = int_or_none(obj.get("audio_token_count"))
            stage = str(obj.get("generation_status") or "Generating audio")
            if tokens:
                stage = f"{stage} ({tokens} audio tokens)"
            self._emit(
                StatusEvent(
                    stage=stage,
                    extra={k: v for k, v in obj.items() if k not in _STATUS_FIELDS}
                    | {"audio_token_count": tokens},
                )
            )
        elif isinstance(obj.get("audio_data"), dict):
            # Any line holding the audio key is routed through _on_final; this one has none.
            raise ProtocolError('the audio event has no "audio_bytes" string')
        elif "error" in obj:
            raise ProtocolError(f"the server reported an error mid-stream: {obj['error']}")
        # Anything else is an unknown event: tolerated.

    def _on_final(self, obj: dict[str, Any], decoder: Base64JSONStringDecoder) -> None:
        data = obj.get("audio_data")
        if not isinstance(data, dict) or data.get("audio_bytes") != "":
            raise ProtocolError(
                'the audio event is not shaped {"audio_data": {"audio_bytes": ...}}'
            )
        if decoder.size == 0:
            raise ProtocolError("the audio event carries no audio")
        fmt = detect_format(decoder.head)
        if fmt == "unknown":
            raise ProtocolError("the audio data is not a known audio format (MP3/FLAC/WAV/OGG)")
        self._emit(
            AudioEvent(size=decoder.size, duration=float_or_none(data.get("duration")), format=fmt)
        )

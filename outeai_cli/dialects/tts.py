"""The primary dialect: `POST {base}/tts` with the token in the body, NDJSON events, base64 FLAC."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from outeai_cli.audio import detect_format
from outeai_cli.base64stream import Base64JSONStringDecoder
from outeai_cli.dialects import RequestSpec
from outeai_cli.errors import ProtocolError
from outeai_cli.events import AudioEvent, Event, StatusEvent
from outeai_cli.ndjson import NDJSONAudioReader
from outeai_cli.speakers import Speaker

_STATUS_FIELDS = ("generation_status", "text_chunks", "current_text_chunk", "generated_seconds")


class TTSDialect:
    name = "tts"
    audio_format = "flac"
    body_is_audio = False
    token_in_url = False
    uses_temperature = True
    default_model: str | None = None
    response_kind = "an event stream"

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


class TTSStreamParser:
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
        if "generation_status" in obj:
            self._status_seen = True
            self._emit(
                StatusEvent(
                    stage=str(obj.get("generation_status") or ""),
                    text_chunks=int_or_none(obj.get("text_chunks")),
                    current_text_chunk=int_or_none(obj.get("current_text_chunk")),
                    generated_seconds=float_or_none(obj.get("generated_seconds")),
                    extra={k: v for k, v in obj.items() if k not in _STATUS_FIELDS},
                )
            )
        elif isinstance(obj.get("data"), dict) and "audio_bytes" in obj["data"]:
            # A tiny final event whose key the streaming path could not see cannot occur:
            # any line holding the key is routed through _on_final.
            raise ProtocolError("unexpected audio event layout")
        elif "error" in obj:
            message = obj["error"]
            raise ProtocolError(f"the server reported an error mid-stream: {message}")
        # Anything else is an unknown event: tolerated, as the contract asks.

    def _on_final(self, obj: dict[str, Any], decoder: Base64JSONStringDecoder) -> None:
        data = obj.get("data")
        if not isinstance(data, dict) or data.get("audio_bytes") != "":
            raise ProtocolError('the audio event is not shaped {"data": {"audio_bytes": ...}}')
        if data.get("request_finished") is not True:
            raise ProtocolError("the audio event does not say request_finished: true")
        if decoder.size == 0:
            raise ProtocolError("the audio event carries no audio")
        fmt = detect_format(decoder.head)
        if fmt == "unknown":
            raise ProtocolError("the audio data is not a known audio format (FLAC/WAV/OGG/MP3)")
        self._emit(
            AudioEvent(size=decoder.size, duration=float_or_none(data.get("duration")), format=fmt)
        )


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def float_or_none(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None

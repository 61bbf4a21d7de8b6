"""The primary dialect: `POST /api/v1/tts`, token in the JSON body, NDJSON events, FLAC audio.

Request body: `{"token", "text", "speaker": {"default"|"custom": NAME}, "temperature"}`. The
final event is `{"data": {"audio_bytes": "<base64 FLAC>", "duration", "request_finished"}}`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outeai_cli.server.common import (
    DEFAULT_TEMPERATURE,
    HTTPProblem,
    ServerSettings,
    ServerState,
    SpeechRequest,
    check_length,
    check_temperature,
    check_text,
    check_token,
    find_speaker,
    parse_object,
)
from outeai_cli.server.engines import encode_flac
from outeai_cli.server.ndjson_stream import NDJSONFlavour, serve_ndjson


def _tail(duration: float, unknown_fields: bool) -> bytes:
    tail: dict[str, Any] = {"duration": round(duration, 6), "request_finished": True}
    if unknown_fields:
        tail["x_model"] = "local"
    return b'", ' + json.dumps(tail).encode()[1:-1] + b"}}"


TTS_FLAVOUR = NDJSONFlavour(
    name="tts",
    warmup={"generation_status": "Warming up TTS model"},
    status=lambda index, chunks, seconds: {
        "generation_status": "Generating audio",
        "text_chunks": chunks,
        "current_text_chunk": index,
        "generated_seconds": round(seconds, 3),
    },
    final_head=b'{"data": {"audio_bytes": "',
    final_tail=_tail,
    encode=encode_flac,
    magic=b"fLaC",
)


def tts_routes(state: ServerState) -> list[Route]:
    async def tts(request: Request) -> Response:
        return await serve_ndjson(
            request, state, "tts", TTS_FLAVOUR, lambda raw: check_request(raw, state.settings)
        )

    return [Route("/api/v1/tts", tts, methods=["POST"])]


def check_request(raw: bytes, settings: ServerSettings) -> SpeechRequest:
    payload = parse_object(raw)
    token = check_token(payload.get("token"), settings)
    text = check_text(payload.get("text"))
    speaker = payload.get("speaker")
    if speaker is None:
        raise HTTPProblem(400, "'speaker' is required", "invalid_speaker")
    if (
        not isinstance(speaker, dict)
        or len(speaker) != 1
        or next(iter(speaker)) not in ("default", "custom")
        or not isinstance(next(iter(speaker.values())), str)
        or not next(iter(speaker.values())).strip()
    ):
        raise HTTPProblem(
            400,
            "'speaker' must be an object with exactly one key, 'default' or 'custom', naming a voice",
            "invalid_speaker",
        )
    temperature = check_temperature(payload.get("temperature", DEFAULT_TEMPERATURE))
    ((kind, name),) = speaker.items()
    voice = find_speaker(kind, name, settings)
    check_length(text, settings)
    return SpeechRequest(token, text, {kind: name}, voice, temperature)

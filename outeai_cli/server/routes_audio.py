"""The 2025 dialect: `POST /api/v1/audio?token=...`, NDJSON counting audio tokens, MP3 audio.

Request body: `{"model", "prompt", "speaker_type": "default"|"custom", "speaker_id",
"temperature"}`. Events carry `audio_token_count`; the final one is
`{"audio_data": {"audio_bytes": "<base64 MP3>", "duration": ...}, "audio_token_count": N}`.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outeai_cli.server.common import (
    DEFAULT_TEMPERATURE,
    HTTPProblem,
    ServerState,
    SpeechRequest,
    check_length,
    check_temperature,
    check_text,
    check_token,
    find_speaker,
    parse_object,
)
from outeai_cli.server.engines import SAMPLE_RATE
from outeai_cli.server.ndjson_stream import NDJSONFlavour, serve_ndjson

KNOWN_MODELS = ("OuteTTS-1-Pro",)
# OuteTTS 1.0's codec makes 75 audio tokens per second of speech.
TOKENS_PER_SECOND = 75


def encode_mp3(samples: np.ndarray) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="MP3", subtype="MPEG_LAYER_III")
    return buffer.getvalue()


def _tokens(seconds: float) -> int:
    return round(seconds * TOKENS_PER_SECOND)


def _tail(duration: float, unknown_fields: bool) -> bytes:
    data: dict[str, Any] = {"duration": round(duration, 6)}
    if unknown_fields:
        data["x_model"] = "local"
    count = json.dumps({"audio_token_count": _tokens(duration)}).encode()[1:-1]
    return b'", ' + json.dumps(data).encode()[1:-1] + b"}, " + count + b"}"


AUDIO_FLAVOUR = NDJSONFlavour(
    name="audio",
    warmup={"generation_status": "Warming up TTS model", "audio_token_count": 0},
    status=lambda index, chunks, seconds: {
        "generation_status": "Generating audio",
        "audio_token_count": _tokens(seconds),
    },
    final_head=b'{"audio_data": {"audio_bytes": "',
    final_tail=_tail,
    encode=encode_mp3,
    magic=b"ID3\x04\x00\x00\x00\x00\x00\x00",  # an ID3v2.4 tag header of size 0
)


def audio_routes(state: ServerState) -> list[Route]:
    async def audio(request: Request) -> Response:
        query_token = request.query_params.get("token")
        return await serve_ndjson(
            request,
            state,
            "audio",
            AUDIO_FLAVOUR,
            lambda raw: check_request(query_token, raw, state),
        )

    return [Route("/api/v1/audio", audio, methods=["POST"])]


def check_request(query_token: str | None, raw: bytes, state: ServerState) -> SpeechRequest:
    settings = state.settings
    token = check_token(query_token, settings)
    payload = parse_object(raw)
    model = payload.get("model")
    if model not in KNOWN_MODELS:
        raise HTTPProblem(
            400,
            f"unknown model {model!r}; this server has {', '.join(KNOWN_MODELS)}",
            "invalid_model",
        )
    text = check_text(payload.get("prompt"), "prompt")
    kind = payload.get("speaker_type", "default")
    if kind not in ("default", "custom"):
        raise HTTPProblem(400, "'speaker_type' must be 'default' or 'custom'", "invalid_speaker")
    name = payload.get("speaker_id")
    if not isinstance(name, str) or not name.strip():
        raise HTTPProblem(400, "'speaker_id' must name a voice", "invalid_speaker")
    temperature = check_temperature(payload.get("temperature", DEFAULT_TEMPERATURE))
    voice = find_speaker(kind, name, settings)
    check_length(text, settings)
    return SpeechRequest(token, text, {kind: name}, voice, temperature)

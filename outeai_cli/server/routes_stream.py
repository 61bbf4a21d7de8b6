"""The 2026 dialect: Bearer auth, WAV bodies, and the only `GET /api/v1/health`.

`POST /api/v1/tts_stream` and `/api/v1/tts_non_stream` take `{"text", "voice_id",
"model_name", "response_format": "wav"}` and answer 24 kHz mono 16-bit WAV: streamed as it
is generated (the header's sizes unknown, 0xFFFFFFFF, as live streams send them) or whole.

The injected faults keep their meaning where a WAV body allows it: `non-json` sends a body
that is not WAV, `bad-base64` a corrupt WAV header, `no-final-event` a header and no audio,
`truncated-final-event` ends mid-sample, the drops cut the connection inside the audio,
`echo-request` answers 400 echoing the request's headers. NDJSON-only faults (crlf,
blank-lines, unknown-fields, escaped-slashes, endless-status, control-chars in statuses) do
not apply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from outeai_cli.server.common import (
    Admission,
    HTTPProblem,
    InjectedDrop,
    RequestRecord,
    ServerState,
    SpeechRequest,
    admit,
    bearer_token,
    check_length,
    check_text,
    check_token,
    dripped,
    fault_response,
    parse_object,
    read_body,
    refusals_logged,
    resplit,
)
from outeai_cli.server.engines import SAMPLE_RATE, EngineFailure, notice_headers, resample
from outeai_cli.server.faults import (
    ENDPOINT_FAULTS,
    after_magic,
    before_chunk,
    echo_message,
    hostile_wav_header,
    stream_start,
    tamper_audio,
    wav_header,
)
from outeai_cli.server.requestlog import LogEntry, entry_of
from outeai_cli.server.utterance import Utterance, started
from outeai_cli.voices.catalogue import find_voice

STREAM_RATE = 24000
KNOWN_MODELS = ("outetts_1_pro",)
WAV_MAGIC = b"RIFF\xff\xff\xff\xffWAVE"  # as a live stream starts (sizes unknown)
_PIECE = 64 * 1024


def stream_routes(state: ServerState) -> list[Route]:
    settings = state.settings

    async def health(request: Request) -> Response:
        entry_of(request).dialect = "tts-stream"
        faults = settings.faults.draw(ENDPOINT_FAULTS)
        token = bearer_token(request) or ""
        refusal = fault_response(faults, request, token, '{"status": "ok", "detail": {}}', 200)
        response = refusal or JSONResponse(
            {"status": "ok", "service": "outeai serve", "dialects": sorted(settings.dialects)}
        )
        # Tests count the probes.
        state.record(RequestRecord("health", None, None, response.status_code, sorted(faults)))
        return dripped(response, faults)

    async def tts_stream(request: Request) -> Response:
        admission, speech = await _admitted(request, state, "tts_stream")
        if admission.refusal is not None:
            return dripped(admission.refusal, admission.faults)
        utterance = Utterance(settings.engine, speech)
        await started(utterance, state, admission)
        body = _wav_stream(state, admission, utterance, entry_of(request))
        if "split-bytes" in admission.faults:
            body = resplit(body)
        media = "text/html" if "html-200" in admission.faults else "audio/wav"
        headers = notice_headers(settings.engine, speech.voice, speech.speaker)
        return dripped(StreamingResponse(body, media_type=media, headers=headers), admission.faults)

    async def tts_non_stream(request: Request) -> Response:
        admission, speech = await _admitted(request, state, "tts_non_stream")
        if admission.refusal is not None:
            return dripped(admission.refusal, admission.faults)
        utterance = Utterance(settings.engine, speech)
        try:
            await utterance.start()
            if settings.cold_start or settings.latency:
                await asyncio.sleep(settings.cold_start + settings.latency)
            pcm = await _pcm(utterance)
            admission.record.finished_at = time.time()
        except EngineFailure as exc:
            admission.record.status = 503
            raise HTTPProblem(503, f"{exc}; try again", "engine_failed") from None
        except HTTPProblem as problem:
            admission.record.status = problem.status
            raise
        finally:
            state.release(admission.slot)
        entry_of(request).audio_seconds = len(pcm) / 2 / STREAM_RATE
        audio = wav_header(STREAM_RATE, len(pcm)) + pcm
        audio = tamper_audio(audio, pcm, STREAM_RATE, WAV_MAGIC, admission.faults)
        headers = notice_headers(settings.engine, speech.voice, speech.speaker)
        return dripped(Response(audio, media_type="audio/wav", headers=headers), admission.faults)

    return [
        Route("/api/v1/health", health, methods=["GET"]),
        Route("/api/v1/tts_stream", tts_stream, methods=["POST"]),
        Route("/api/v1/tts_non_stream", tts_non_stream, methods=["POST"]),
    ]


async def _admitted(
    request: Request, state: ServerState, path: str
) -> tuple[Admission, SpeechRequest]:
    """Read, check and admit a request; the admission's `refusal` is set when it is refused."""
    entry_of(request).dialect = "tts-stream"
    with refusals_logged(state, path):
        raw = await read_body(request, state.settings)
        speech = check_request(bearer_token(request), raw, state)
    admission = admit(state, request, path, speech)
    if admission.refusal is None and "echo-request" in admission.faults:
        state.release(admission.slot)
        echo = echo_message(request.method, str(request.url), request.headers.items(), raw)
        admission.refusal = HTTPProblem(400, echo, "bad_request").response()
        admission.record.status = 400
    return admission, speech


def check_request(bearer: str | None, raw: bytes, state: ServerState) -> SpeechRequest:
    settings = state.settings
    if bearer is None:
        raise HTTPProblem(401, "missing 'Authorization: Bearer <token>' header", "unauthorized")
    token = check_token(bearer, settings)
    payload = parse_object(raw)
    text = check_text(payload.get("text"))
    voice_id = payload.get("voice_id")
    if not isinstance(voice_id, str) or not voice_id.strip():
        raise HTTPProblem(400, "'voice_id' must name a voice", "invalid_voice")
    model = payload.get("model_name", KNOWN_MODELS[0])
    if model not in KNOWN_MODELS:
        raise HTTPProblem(
            400,
            f"unknown model_name {model!r}; this server has {', '.join(KNOWN_MODELS)}",
            "invalid_model",
        )
    if payload.get("response_format", "wav") != "wav":
        raise HTTPProblem(400, "'response_format' must be 'wav'", "invalid_format")
    voice = find_voice(voice_id)
    if voice is None and voice_id not in settings.custom_voices:
        raise HTTPProblem(404, f"unknown voice_id {voice_id!r}", "voice_not_found")
    check_length(text, settings)
    kind = "default" if voice is not None else "custom"
    return SpeechRequest(token, text, {kind: voice_id}, voice)


async def _pcm(utterance: Utterance, index: int | None = None) -> bytes:
    """16-bit little-endian PCM at 24 kHz for chunk `index` (0-based), or for all of them."""
    indexes = range(len(utterance.chunks)) if index is None else [index]
    pcm = []
    for i in indexes:
        samples = await utterance.speak(i)
        pcm.append(await run_in_threadpool(_at_stream_rate, samples))
    return b"".join(pcm)


def _at_stream_rate(samples: np.ndarray) -> bytes:
    return resample(samples, SAMPLE_RATE, STREAM_RATE).astype("<i2").tobytes()


async def _wav_stream(
    state: ServerState, admission: Admission, utterance: Utterance, log: LogEntry
) -> AsyncIterator[bytes]:
    settings = state.settings
    faults = admission.faults
    try:
        wrong = await stream_start(faults, "audio", settings.cold_start)
        if wrong is not None:
            yield wrong
            return
        if "magic-then-garbage" in faults:
            yield after_magic(WAV_MAGIC)
            return
        header = hostile_wav_header(faults, STREAM_RATE, None) or wav_header(STREAM_RATE, None)
        if "bad-base64" in faults:
            header = wav_header(STREAM_RATE, None, bits=0)
        if "half-audio" in faults:
            # The header declares the whole audio; half of it follows, then the body ends.
            pcm = await _pcm(utterance)
            yield wav_header(STREAM_RATE, len(pcm)) + pcm[: len(pcm) // 4 * 2]
            return
        yield header
        if "stall" in faults:
            await asyncio.sleep(3600)
        if "no-final-event" in faults:
            return
        chunks = len(utterance.chunks)
        for index in range(1, chunks + 1):
            await before_chunk(settings.latency / chunks, faults)
            try:
                pcm = await _pcm(utterance, index - 1)
            except EngineFailure:
                # A WAV stream cannot carry an error: cut it, so it is not taken as complete.
                raise InjectedDrop("engine failure") from None
            if "drop-in-audio" in faults:
                yield pcm[: len(pcm) // 4 * 2]
                raise InjectedDrop("drop-in-audio")
            if index == chunks and "truncated-final-event" in faults:
                pcm = pcm[:-1]
            async for piece in _pieces(pcm, slow="slow-audio" in faults):
                yield piece
            log.audio_seconds = (log.audio_seconds or 0.0) + len(pcm) / 2 / STREAM_RATE
            if "drop-mid-stream" in faults:
                raise InjectedDrop("drop-mid-stream")
        admission.record.finished_at = time.time()
    finally:
        state.release(admission.slot)


async def _pieces(data: bytes, *, slow: bool) -> AsyncIterator[bytes]:
    size = 6 * 1024 if slow else _PIECE
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
        await asyncio.sleep(0.02 if slow else 0)

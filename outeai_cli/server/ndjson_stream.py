"""The NDJSON event stream of `/tts` and the 2025 `/audio`: status events, then the audio event.

Each dialect describes its spelling in an `NDJSONFlavour`; `serve_ndjson` answers a request
(read, check, admit, stream) and `ndjson_stream` produces the events, faults included.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from outeai_cli.server.common import (
    InjectedDrop,
    ServerState,
    SpeechRequest,
    admit,
    dripped,
    read_body,
    refusals_logged,
    resplit,
)
from outeai_cli.server.engines import SAMPLE_RATE, EngineFailure, noise_padding, notice_headers
from outeai_cli.server.faults import (
    ENDLESS_STATUS_SECONDS,
    HOSTILE_TEXT,
    before_chunk,
    echo_message,
    stream_start,
    tamper_audio,
)
from outeai_cli.server.requestlog import LogEntry, entry_of
from outeai_cli.server.utterance import Utterance, started

try:
    import pybase64 as _b64

    def _b64encode(data: bytes) -> bytes:
        return _b64.b64encode(data)
except ImportError:  # pragma: no cover
    import base64 as _b64std

    def _b64encode(data: bytes) -> bytes:
        return _b64std.b64encode(data)


# 3 bytes of audio make 4 of base64: pieces of a multiple of 3 encode independently.
_AUDIO_PIECE = 3 * 64 * 1024


@dataclass(frozen=True)
class NDJSONFlavour:
    """How one NDJSON dialect spells its events and encodes its audio."""

    name: str
    warmup: dict[str, Any]
    status: Callable[[int, int, float], dict[str, Any]]  # (chunk, chunks, seconds so far)
    final_head: bytes  # the final event up to the opening quote of the base64
    final_tail: Callable[[float, bool], bytes]  # (duration, unknown fields) -> after the quote
    encode: Callable[[np.ndarray], bytes]
    magic: bytes  # how the audio file starts (what magic-then-garbage keeps)


async def serve_ndjson(
    request: Request,
    state: ServerState,
    path: str,
    flavour: NDJSONFlavour,
    check: Callable[[bytes], SpeechRequest],
) -> Response:
    """Answer one NDJSON-dialect synthesis request: read, check, admit, then stream."""
    log = entry_of(request)
    log.dialect = flavour.name
    with refusals_logged(state, path):
        raw = await read_body(request, state.settings)
        speech = check(raw)
    admission = admit(state, request, path, speech)
    faults = admission.faults
    if admission.refusal is not None:
        return dripped(admission.refusal, faults)
    utterance = Utterance(state.settings.engine, speech)
    await started(utterance, state, admission)
    echo = echo_message(request.method, str(request.url), request.headers.items(), raw)
    body = ndjson_stream(state, admission.slot, utterance, faults, flavour, echo, log)
    if "split-bytes" in faults:
        body = resplit(body)
    media = "text/html" if "html-200" in faults else "application/x-ndjson"
    headers = notice_headers(state.settings.engine, speech.voice, speech.speaker)
    return dripped(StreamingResponse(body, media_type=media, headers=headers), faults)


def _line(obj: dict[str, Any], faults: set[str]) -> bytes:
    if "unknown-fields" in faults:
        obj = {**obj, "x_trace": "abc", "x_nested": {"k": [1, 2]}}
    text = json.dumps(obj).encode() + (b"\r\n" if "crlf" in faults else b"\n")
    if "blank-lines" in faults:
        text = (b"\r\n" if "crlf" in faults else b"\n") + text
    return text


async def ndjson_stream(
    state: ServerState,
    slot: str,
    utterance: Utterance,
    faults: set[str],
    flavour: NDJSONFlavour,
    echo: str,
    log: LogEntry,
) -> AsyncIterator[bytes]:
    settings = state.settings
    speech = utterance.speech
    text, temperature = speech.text, speech.temperature
    try:
        wrong = await stream_start(faults, "json", settings.cold_start)
        if wrong is not None:
            yield wrong
            return
        yield _line(_hostile_status(flavour.warmup, faults), faults)
        if "unknown-fields" in faults:
            yield _line({"event": "heartbeat", "ts": 1}, faults)
        if "stall" in faults:
            await asyncio.sleep(3600)
        if "endless-status" in faults:
            stuck = _hostile_status(flavour.status(1, 1, 0.0), faults)
            while True:
                yield _line(stuck, faults)
                await asyncio.sleep(ENDLESS_STATUS_SECONDS)
        chunks = len(utterance.chunks)
        pieces: list[np.ndarray] = []
        seconds = 0.0
        for index in range(1, chunks + 1):
            await before_chunk(settings.latency / chunks, faults)
            try:
                samples = await utterance.speak(index - 1)
            except EngineFailure as exc:
                # The status line is sent: the failure can only be told inside the stream.
                yield _line({"error": f"{exc}; try again", "code": "engine_failed"}, faults)
                return
            pieces.append(samples)
            seconds += len(samples) / SAMPLE_RATE
            yield _line(_hostile_status(flavour.status(index, chunks, seconds), faults), faults)
            if "drop-mid-stream" in faults:
                raise InjectedDrop("drop-mid-stream")
            if "echo-request" in faults:
                yield _line({"error": echo}, faults)
                return
        if "no-final-event" in faults:
            return
        key = (
            flavour.name,
            text,
            str(speech.speaker),
            temperature,
            settings.engine.name,
            settings.pad_audio_bytes,
        )
        # An engine that samples afresh each time (piper) makes new audio for the same request.
        cached = state.audio_cache.get(key) if settings.engine.deterministic else None
        if cached is None:
            cached = await run_in_threadpool(
                _encode, pieces, settings.pad_audio_bytes, flavour.encode
            )
            state.audio_cache[key] = cached
            while len(state.audio_cache) > 4:
                state.audio_cache.popitem(last=False)
        audio, duration = cached
        log.audio_seconds = duration
        if faults & _AUDIO_ATTACKS:
            pcm = np.concatenate(pieces).astype("<i2").tobytes() if pieces else b""
            audio = tamper_audio(audio, pcm, SAMPLE_RATE, flavour.magic, faults)
        async for part in _final_event(audio, duration, faults, flavour):
            yield part
    finally:
        state.release(slot)


_AUDIO_ATTACKS = frozenset(
    {"half-audio", "magic-then-garbage", "wav-many-channels", "wav-absurd-rate"}
)


def _hostile_status(event: dict[str, Any], faults: set[str]) -> dict[str, Any]:
    if "control-chars" not in faults:
        return event
    return {**event, "generation_status": str(event["generation_status"]) + HOSTILE_TEXT}


def _encode(
    pieces: list[np.ndarray], pad_bytes: int, encode: Callable[[np.ndarray], bytes]
) -> tuple[bytes, float]:
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
    if pad_bytes:
        # Noise FLAC-encodes to roughly 2 bytes a frame; pad to about the asked size.
        samples = np.concatenate([samples, noise_padding(max(0, pad_bytes // 2 - len(samples)))])
    return encode(samples), len(samples) / SAMPLE_RATE


async def _final_event(
    audio: bytes, duration: float, faults: set[str], flavour: NDJSONFlavour
) -> AsyncIterator[bytes]:
    yield flavour.final_head
    total = len(audio)
    cut = total
    if faults & {"truncated-final-event", "drop-in-audio"}:
        # Halfway, on a 3-byte boundary: what was sent is a byte prefix of the full stream
        # (no base64 padding at the cut), as when a proxy or a broken link cuts it short.
        cut = total // 2 // 3 * 3
    piece = 6 * 1024 if "slow-audio" in faults else _AUDIO_PIECE
    for offset in range(0, cut, piece):
        encoded = _b64encode(audio[offset : min(offset + piece, cut)])
        if "escaped-slashes" in faults:
            encoded = encoded.replace(b"/", b"\\/")
        if "bad-base64" in faults and offset == 0:
            encoded = b"!!notbase64!!" + encoded[13:]
        yield encoded
        await asyncio.sleep(0.02 if "slow-audio" in faults else 0)
    if "drop-in-audio" in faults:
        raise InjectedDrop("drop-in-audio")
    if "truncated-final-event" in faults:
        return
    end = b"\r\n" if "crlf" in faults else b"\n"
    yield flavour.final_tail(duration, "unknown-fields" in faults) + end

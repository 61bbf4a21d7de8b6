"""The local OuteTTS-compatible server: every API dialect, voices, faults, knobs.

The primary `/tts` dialect lives here with what every dialect shares (admission: faults,
per-token concurrency and the request log; request checks; the NDJSON stream). The later
dialects add their routes from `routes_audio` (2025) and `routes_stream` (2026).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import OrderedDict, deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from outeai_cli.catalogue import BUILTIN_VOICES, Voice, find_voice
from outeai_cli.server.engines import SAMPLE_RATE, Engine, encode_flac, noise_padding
from outeai_cli.server.faults import (
    DRIP_SECONDS,
    ENDLESS_STATUS_SECONDS,
    ENDPOINT_FAULTS,
    HOSTILE_TEXT,
    FaultPlan,
    deep_json_body,
    echo_message,
    redirect_location,
    tamper_audio,
)
from outeai_cli.server.text import split_sentences

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
# The API dialects a server speaks (all of them unless told otherwise).
ALL_DIALECTS = frozenset({"tts", "audio", "tts-stream"})


class InjectedDrop(Exception):
    """Raised inside a response body to cut the connection on purpose (not logged)."""


@dataclass
class ServerSettings:
    engine: Engine
    tokens: frozenset[str] = frozenset()
    custom_voices: frozenset[str] = frozenset()
    max_chars: int = 5000
    max_body_bytes: int = 1 << 20
    latency: float = 0.0  # seconds added to each request, spread over its chunks
    cold_start: float = 0.0  # seconds before the first event
    max_concurrency: int = 0  # per token; 0 = unlimited
    pad_audio_bytes: int = 0  # pad the audio with noise to about this size (benchmarks)
    faults: FaultPlan = field(default_factory=FaultPlan)
    dialects: frozenset[str] = ALL_DIALECTS
    # The control endpoints (/_outeai/requests lists every text spoken, /_outeai/faults
    # changes faults) exist only when asked for; with tokens they also need one.
    control: bool = False


@dataclass
class RequestRecord:
    path: str
    text: str | None
    speaker: dict[str, Any] | None
    status: int
    faults: list[str]
    finished_at: float | None = None  # wall-clock time the body's last byte was produced


class ServerState:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.log: deque[RequestRecord] = deque(maxlen=100_000)
        self.active: dict[str, int] = {}
        self.lock = threading.Lock()
        self.audio_cache: OrderedDict[tuple[Any, ...], tuple[bytes, float]] = OrderedDict()

    def record(self, record: RequestRecord) -> None:
        with self.lock:
            self.log.append(record)

    def release(self, token: str) -> None:
        """Give back the concurrency slot `admit` took for this token ("" holds none)."""
        if token and self.settings.max_concurrency:
            with self.lock:
                self.active[token] = max(0, self.active.get(token, 0) - 1)


def error(status: int, message: str, code: str | None = None, **headers: str) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if code:
        body["code"] = code
    return JSONResponse(body, status_code=status, headers=headers or None)


@dataclass
class Admission:
    """A valid request let in: its faults, its log record, the token holding a slot ("" none)."""

    faults: set[str]
    record: RequestRecord
    refusal: Response | None
    slot: str


def admit(
    state: ServerState,
    request: Request,
    path: str,
    token: str,
    text: str,
    speaker: dict[str, Any],
) -> Admission:
    """Draw the faults, apply the per-token concurrency limit, and log the request.

    Shared by every dialect, so limits and fault injection behave the same on each path.
    """
    settings = state.settings
    faults = settings.faults.draw()
    record = RequestRecord(path, text, speaker, 200, sorted(faults))
    refusal = fault_response(
        faults, request, token, '{"message": "bad request", "detail": {}}', 400
    )
    slot = ""
    if refusal is None and settings.max_concurrency:
        with state.lock:
            if state.active.get(token, 0) >= settings.max_concurrency:
                refusal = error(
                    429,
                    f"more than {settings.max_concurrency} requests at once for this token",
                    "rate_limited",
                    **{"Retry-After": "1"},
                )
            else:
                state.active[token] = state.active.get(token, 0) + 1
                slot = token
    record.status = 200 if refusal is None else refusal.status_code
    state.record(record)
    return Admission(faults, record, refusal, slot)


Validated = tuple[str, str, dict[str, Any], Voice | None, float]  # token, text, speaker, voice, t


async def serve_ndjson(
    request: Request,
    state: ServerState,
    path: str,
    flavour: NDJSONFlavour,
    validate: Callable[[bytes], JSONResponse | Validated],
) -> Response:
    """Answer one NDJSON-dialect synthesis request: read, validate, admit, then stream."""
    raw = await read_limited(request, state.settings.max_body_bytes)
    if raw is None:
        state.record(RequestRecord(path, None, None, 413, []))
        return body_too_large(state.settings)
    outcome = validate(raw)
    if isinstance(outcome, JSONResponse):
        state.record(RequestRecord(path, None, None, outcome.status_code, []))
        return outcome
    token, text, speaker, voice, temperature = outcome
    admission = admit(state, request, path, token, text, speaker)
    faults = admission.faults
    if admission.refusal is not None:
        return dripped(admission.refusal, faults)
    echo = echo_message(request.method, str(request.url), request.headers.items(), raw)
    body = ndjson_stream(
        state, admission.slot, text, voice, speaker, temperature, faults, flavour, echo
    )
    if "split-bytes" in faults:
        body = resplit(body)
    media = "text/html" if "html-200" in faults else "application/x-ndjson"
    return dripped(StreamingResponse(body, media_type=media), faults)


def create_app(settings: ServerSettings) -> Starlette:
    state = ServerState(settings)

    async def tts(request: Request) -> Response:
        return await serve_ndjson(
            request, state, "tts", TTS_FLAVOUR, lambda raw: _validate(raw, settings)
        )

    async def voices(request: Request) -> Response:
        token = bearer_token(request) or ""
        if settings.tokens and token not in settings.tokens:
            return error(401, "invalid or missing token", "unauthorized")
        faults = settings.faults.draw(ENDPOINT_FAULTS)
        refusal = fault_response(faults, request, token, '{"data": {"voices": {}}}', 200)
        if refusal is not None:
            return dripped(refusal, faults)
        extra = HOSTILE_TEXT if "control-chars" in faults else ""
        listed = [
            {
                "voice_id": v.name,
                "name": v.name,
                "kind": "default",
                "language": v.language,
                "gender": v.gender,
                "description": v.description + extra,
                "aliases": list(v.aliases),
            }
            for v in BUILTIN_VOICES
        ]
        listed += [
            {
                "voice_id": name,
                "name": name,
                "kind": "custom",
                "description": "custom voice" + extra,
            }
            for name in sorted(settings.custom_voices)
        ]
        return dripped(JSONResponse({"data": {"voices": listed}}), faults)

    def control_refusal(request: Request) -> Response | None:
        if settings.tokens and bearer_token(request) not in settings.tokens:
            return error(
                401,
                "the control endpoints need 'Authorization: Bearer <token>' with a server token",
                "unauthorized",
            )
        return None

    async def requests_log(request: Request) -> Response:
        if (refusal := control_refusal(request)) is not None:
            return refusal
        if request.method == "DELETE":
            with state.lock:
                state.log.clear()
            return JSONResponse({"count": 0, "requests": []})
        with state.lock:
            items = [r.__dict__ for r in state.log]
        return JSONResponse({"count": len(items), "requests": items})

    async def set_faults(request: Request) -> Response:
        if (refusal := control_refusal(request)) is not None:
            return refusal
        try:
            specs = json.loads(await request.body())["faults"]
            settings.faults.replace([str(s) for s in specs])
        except (ValueError, KeyError, TypeError) as exc:
            return error(400, f'expected {{"faults": ["name[:N|:P%]", ...]}}: {exc}')
        return JSONResponse({"faults": settings.faults.describe()})

    routes = [Route("/api/v1/voices", voices, methods=["GET"])]
    if settings.control:
        routes += [
            Route("/_outeai/requests", requests_log, methods=["GET", "DELETE"]),
            Route("/_outeai/faults", set_faults, methods=["PUT"]),
        ]
    if "tts" in settings.dialects:
        routes.append(Route("/api/v1/tts", tts, methods=["POST"]))
    if "audio" in settings.dialects:
        from outeai_cli.server.routes_audio import audio_routes

        routes += audio_routes(state)
    if "tts-stream" in settings.dialects:
        from outeai_cli.server.routes_stream import stream_routes

        routes += stream_routes(state)
    return Starlette(routes=routes)


async def read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def body_too_large(settings: ServerSettings) -> JSONResponse:
    return error(413, f"request body over {settings.max_body_bytes} bytes", "body_too_large")


# -- request checks, shared by the dialects (each names the fields its own way) -------------


def parse_object(raw: bytes) -> dict[str, Any] | JSONResponse:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return error(400, "the request body is not valid JSON", "invalid_json")
    if not isinstance(payload, dict):
        return error(400, "the request body must be a JSON object", "invalid_json")
    return payload


def check_token(token: object, settings: ServerSettings) -> str | JSONResponse:
    if not isinstance(token, str) or not token.strip():
        return error(401, "missing token", "unauthorized")
    if settings.tokens and token not in settings.tokens:
        return error(401, "invalid token", "unauthorized")
    return token


def check_text(text: object, name: str = "text") -> str | JSONResponse:
    if text is None:
        return error(400, f"'{name}' is required", "invalid_text")
    if not isinstance(text, str):
        return error(400, f"'{name}' must be a string", "invalid_text")
    if not text.strip():
        return error(400, f"'{name}' must not be empty", "invalid_text")
    return text


def check_temperature(value: object) -> float | JSONResponse:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return error(400, "'temperature' must be a number", "invalid_temperature")
    if not 0.1 <= value <= 1.0:
        return error(400, "'temperature' must be between 0.1 and 1.0", "invalid_temperature")
    return float(value)


def find_speaker(kind: str, name: str, settings: ServerSettings) -> Voice | JSONResponse | None:
    """The built-in voice (None for a custom one), or a 404 naming the unknown speaker."""
    if kind == "default":
        voice = find_voice(name)
        if voice is None:
            return error(404, f"unknown default speaker {name!r}", "speaker_not_found")
        return voice
    if name not in settings.custom_voices:
        return error(404, f"unknown custom speaker {name!r}", "speaker_not_found")
    return None


def check_length(text: str, settings: ServerSettings) -> JSONResponse | None:
    if len(text) > settings.max_chars:
        return error(
            413,
            f"text is {len(text)} characters; this plan allows {settings.max_chars} per request",
            "text_too_long",
        )
    return None


def _validate(
    raw: bytes, settings: ServerSettings
) -> JSONResponse | tuple[str, str, dict[str, Any], Voice | None, float]:
    payload = parse_object(raw)
    if isinstance(payload, JSONResponse):
        return payload
    token = check_token(payload.get("token"), settings)
    if isinstance(token, JSONResponse):
        return token
    text = check_text(payload.get("text"))
    if isinstance(text, JSONResponse):
        return text
    speaker = payload.get("speaker")
    if speaker is None:
        return error(400, "'speaker' is required", "invalid_speaker")
    if (
        not isinstance(speaker, dict)
        or len(speaker) != 1
        or next(iter(speaker)) not in ("default", "custom")
        or not isinstance(next(iter(speaker.values())), str)
        or not next(iter(speaker.values())).strip()
    ):
        return error(
            400,
            "'speaker' must be an object with exactly one key, 'default' or 'custom', naming a voice",
            "invalid_speaker",
        )
    temperature = check_temperature(payload.get("temperature", 0.4))
    if isinstance(temperature, JSONResponse):
        return temperature
    ((kind, name),) = speaker.items()
    voice = find_speaker(kind, name, settings)
    if isinstance(voice, JSONResponse):
        return voice
    too_long = check_length(text, settings)
    if too_long is not None:
        return too_long
    return token, text, speaker, voice, temperature


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, None without one."""
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def fault_response(
    faults: set[str], request: Request, token: str, deep_wrapper: str, deep_status: int
) -> Response | None:
    """The whole response an HTTP-level fault sends instead of the real one, if any applies.

    `deep_wrapper` and `deep_status` say where this route's body puts the deep-json array.
    """
    if "http-302" in faults:
        target = redirect_location(str(request.base_url), request.url.path, token)
        return Response(b"", status_code=302, headers={"Location": target})
    if "control-chars-error" in faults:
        return error(400, f"bad request{HOSTILE_TEXT} (check the input)", "bad_request")
    if "deep-json" in faults:
        body = deep_json_body(deep_wrapper)
        return Response(body, status_code=deep_status, media_type="application/json")
    if "http-429" in faults:
        return error(429, "rate limited: slow down", "rate_limited", **{"Retry-After": "1"})
    if "html-502" in faults:
        html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        return Response(html, status_code=502, media_type="text/html")
    if "http-401" in faults:
        return error(401, "injected fault: invalid token", "unauthorized")
    for status in (400, 500, 502, 503, 504):
        if f"http-{status}" in faults:
            code = "bad_request" if status == 400 else "server_error"
            return error(status, f"injected fault: HTTP {status}", code)
    return None


# -- the NDJSON event stream (`/tts` and the 2025 `/audio`) ------------------------------------


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


def _tts_tail(duration: float, unknown_fields: bool) -> bytes:
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
    final_tail=_tts_tail,
    encode=encode_flac,
    magic=b"fLaC",
)


def _line(obj: dict[str, Any], faults: set[str]) -> bytes:
    if "unknown-fields" in faults:
        obj = {**obj, "x_trace": "abc", "x_nested": {"k": [1, 2]}}
    text = json.dumps(obj).encode() + (b"\r\n" if "crlf" in faults else b"\n")
    if "blank-lines" in faults:
        text = (b"\r\n" if "crlf" in faults else b"\n") + text
    return text


async def ndjson_stream(
    state: ServerState,
    token: str,
    text: str,
    voice: Voice | None,
    speaker: dict[str, Any],
    temperature: float,
    faults: set[str],
    flavour: NDJSONFlavour,
    echo: str,
) -> AsyncIterator[bytes]:
    settings = state.settings
    try:
        if "html-200" in faults:
            yield b"<!doctype html><html><body>Service unavailable</body></html>\n"
            return
        if "non-json" in faults:
            yield b"this is not json\n"
            return
        if settings.cold_start:
            await asyncio.sleep(settings.cold_start)
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
        chunks = split_sentences(text)
        pieces: list[np.ndarray] = []
        seconds = 0.0
        for index, chunk in enumerate(chunks, start=1):
            if settings.latency:
                await asyncio.sleep(settings.latency / len(chunks))
            if "slow-status" in faults:
                await asyncio.sleep(2.0)
            samples = await run_in_threadpool(settings.engine.synthesize, chunk, voice, temperature)
            pieces.append(samples)
            seconds += len(samples) / SAMPLE_RATE
            yield _line(
                _hostile_status(flavour.status(index, len(chunks), seconds), faults), faults
            )
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
            str(speaker),
            temperature,
            settings.engine.name,
            settings.pad_audio_bytes,
        )
        cached = state.audio_cache.get(key)
        if cached is None:
            cached = await run_in_threadpool(
                _encode, pieces, settings.pad_audio_bytes, flavour.encode
            )
            state.audio_cache[key] = cached
            while len(state.audio_cache) > 4:
                state.audio_cache.popitem(last=False)
        audio, duration = cached
        if faults & _AUDIO_ATTACKS:
            pcm = np.concatenate(pieces).astype("<i2").tobytes() if pieces else b""
            audio = tamper_audio(audio, pcm, SAMPLE_RATE, flavour.magic, faults)
        async for part in _final_event(audio, duration, faults, flavour):
            yield part
    finally:
        state.release(token)


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


def dripped(response: Response, faults: set[str]) -> Response:
    """`response` as is, or under the drip fault the same bytes one every DRIP_SECONDS."""
    if "drip" not in faults:
        return response
    if isinstance(response, StreamingResponse):
        source: AsyncIterable[Any] = response.body_iterator
    else:
        source = _once(bytes(response.body))
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return StreamingResponse(_drip(source), status_code=response.status_code, headers=headers)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _drip(source: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    try:
        async for part in source:
            data = part.encode() if isinstance(part, str) else bytes(part)
            for offset in range(len(data)):
                yield data[offset : offset + 1]
                await asyncio.sleep(DRIP_SECONDS)
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


async def resplit(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Re-chunk a stream into small, oddly sized writes (the split-bytes quirk)."""
    rng = random.Random(1234)
    async for part in body:
        offset = 0
        while offset < len(part):
            size = rng.choice((1, 2, 3, 5, 7, 11, 4093))
            yield part[offset : offset + size]
            offset += size
            if rng.random() < 0.05:
                await asyncio.sleep(0)

"""What every dialect of the local server shares: state, refusals, request checks, admission.

A check that refuses a request raises `HTTPProblem`; the app turns it into the JSON error
response in one place (`problem_response`). Admission draws the faults, applies the per-token
concurrency limit and logs the request, so every dialect behaves the same under them.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from outeai_cli.server.control_log import ControlLog, RequestRecord
from outeai_cli.server.engines import Engine
from outeai_cli.server.faults import (
    DRIP_SECONDS,
    HOSTILE_TEXT,
    FaultPlan,
    deep_json_body,
    redirect_location,
)
from outeai_cli.server.requestlog import entry_of
from outeai_cli.untrusted import parse_json
from outeai_cli.voices.catalogue import Voice, find_voice

# The API dialects a server speaks (all of them unless told otherwise).
ALL_DIALECTS = frozenset({"tts", "audio", "tts-stream"})
# Every dialect's default when the request names none (the 2026 API has no temperature).
DEFAULT_TEMPERATURE = 0.4


class InjectedDrop(Exception):
    """Raised inside a response body to cut the connection on purpose (not logged)."""


class HTTPProblem(Exception):
    """A request refused with a status and a JSON `{"message", "code"}` body."""

    def __init__(self, status: int, message: str, code: str | None = None, **headers: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message}
        if self.code:
            body["code"] = self.code
        return JSONResponse(body, status_code=self.status, headers=self.headers or None)


async def problem_response(request: Request, exc: Exception) -> Response:
    """The app's handler for HTTPProblem: the one place a refusal becomes a response."""
    assert isinstance(exc, HTTPProblem)
    return exc.response()


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
    control_log_bytes: int = 16 << 20  # what /_outeai/requests keeps, at most (oldest go)
    request_timeout: float = 15.0  # seconds for a request to arrive whole (headers and body)
    max_connections: int = 0  # open at once; 0 = 4096, or fewer as the descriptor limit allows
    request_log: str = "off"  # one line per request on stderr: "off", "text" or "json"


class ServerState:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.log = ControlLog(keep=settings.control, budget=settings.control_log_bytes)
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


@dataclass(frozen=True)
class SpeechRequest:
    """A synthesis request that passed its dialect's checks, in the dialects' common terms."""

    token: str
    text: str
    speaker: dict[str, str]  # {"default" | "custom": name}, as the request log shows it
    voice: Voice | None  # the built-in voice; None for a custom one
    temperature: float = DEFAULT_TEMPERATURE


# -- reading and checking a request (each dialect names the fields its own way) -------------


async def read_body(request: Request, settings: ServerSettings) -> bytes:
    """The request body, refused with 413 once it is over the limit (declared or sent)."""
    limit = settings.max_body_bytes
    too_large = HTTPProblem(413, f"request body over {limit} bytes", "body_too_large")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large
    except ClientDisconnect:
        # Closed by the client, or by the server when the body was overdue: nobody will read
        # this answer, but the request log will.
        raise HTTPProblem(
            408, "the request body did not arrive in time", "request_timeout"
        ) from None
    return bytes(body)


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        # The client's bounded parser: nesting 100,000 deep is a 400, not a RecursionError.
        payload = parse_json(raw, max_bytes=len(raw))
    except ValueError as exc:
        raise HTTPProblem(
            400, f"the request body is not valid JSON ({exc})", "invalid_json"
        ) from None
    if not isinstance(payload, dict):
        raise HTTPProblem(400, "the request body must be a JSON object", "invalid_json")
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(payload)
    return payload


# A lone surrogate can only arrive escaped (raw, it is not UTF-8); a pair is one character.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(payload: dict[str, Any]) -> None:
    """400 for a string holding half a surrogate pair: no engine, encoder or log can take it."""
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(exc.object[exc.start])
        raise HTTPProblem(
            400,
            f"the request body is not valid Unicode: a string holds a lone surrogate "
            f"(U+{code:04X}, half of a pair); send whole characters",
            "invalid_text",
        ) from None


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, None without one."""
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def check_token(token: object, settings: ServerSettings) -> str:
    if not isinstance(token, str) or not token.strip():
        raise HTTPProblem(401, "missing token", "unauthorized")
    if settings.tokens and token not in settings.tokens:
        raise HTTPProblem(401, "invalid token", "unauthorized")
    return token


def check_text(text: object, name: str = "text") -> str:
    if text is None:
        raise HTTPProblem(400, f"'{name}' is required", "invalid_text")
    if not isinstance(text, str):
        raise HTTPProblem(400, f"'{name}' must be a string", "invalid_text")
    if not text.strip():
        raise HTTPProblem(400, f"'{name}' must not be empty", "invalid_text")
    return text


def check_temperature(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HTTPProblem(400, "'temperature' must be a number", "invalid_temperature")
    if not 0.1 <= value <= 1.0:
        raise HTTPProblem(400, "'temperature' must be between 0.1 and 1.0", "invalid_temperature")
    return float(value)


def find_speaker(kind: str, name: str, settings: ServerSettings) -> Voice | None:
    """The built-in voice (None for a custom one); 404 naming an unknown speaker."""
    if kind == "default":
        voice = find_voice(name)
        if voice is None:
            raise HTTPProblem(404, f"unknown default speaker {name!r}", "speaker_not_found")
        return voice
    if name not in settings.custom_voices:
        raise HTTPProblem(404, f"unknown custom speaker {name!r}", "speaker_not_found")
    return None


def check_length(text: str, settings: ServerSettings) -> None:
    if len(text) > settings.max_chars:
        raise HTTPProblem(
            413,
            f"text is {len(text)} characters; this plan allows {settings.max_chars} per request",
            "text_too_long",
        )


# -- admission: faults, concurrency, the request log ------------------------------------------


@dataclass
class Admission:
    """A valid request let in: its faults, its log record, the token holding a slot ("" none)."""

    faults: set[str]
    record: RequestRecord
    refusal: Response | None
    slot: str


@contextmanager
def refusals_logged(state: ServerState, path: str) -> Iterator[None]:
    """Log a request its checks refuse (then let the refusal through to its response)."""
    try:
        yield
    except HTTPProblem as problem:
        state.record(RequestRecord(path, None, None, problem.status, []))
        raise


def admit(state: ServerState, request: Request, path: str, speech: SpeechRequest) -> Admission:
    """Draw the faults, apply the per-token concurrency limit, and log the request.

    Shared by every dialect, so limits and fault injection behave the same on each path.
    """
    settings = state.settings
    entry = entry_of(request)
    entry.chars, entry.token = len(speech.text), speech.token
    faults = settings.faults.draw()
    record = RequestRecord(path, speech.text, dict(speech.speaker), 200, sorted(faults))
    refusal = fault_response(
        faults, request, speech.token, '{"message": "bad request", "detail": {}}', 400
    )
    slot = ""
    if refusal is None and settings.max_concurrency:
        with state.lock:
            if state.active.get(speech.token, 0) >= settings.max_concurrency:
                refusal = HTTPProblem(
                    429,
                    f"more than {settings.max_concurrency} requests at once for this token",
                    "rate_limited",
                    **{"Retry-After": "1"},
                ).response()
            else:
                state.active[speech.token] = state.active.get(speech.token, 0) + 1
                slot = speech.token
    record.status = 200 if refusal is None else refusal.status_code
    state.record(record)
    return Admission(faults, record, refusal, slot)


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
        return HTTPProblem(
            400, f"bad request{HOSTILE_TEXT} (check the input)", "bad_request"
        ).response()
    if "deep-json" in faults:
        body = deep_json_body(deep_wrapper)
        return Response(body, status_code=deep_status, media_type="application/json")
    if "http-429" in faults:
        return HTTPProblem(
            429, "rate limited: slow down", "rate_limited", **{"Retry-After": "1"}
        ).response()
    if "html-502" in faults:
        html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        return Response(html, status_code=502, media_type="text/html")
    if "http-401" in faults:
        return HTTPProblem(401, "injected fault: invalid token", "unauthorized").response()
    for status in (400, 500, 502, 503, 504):
        if f"http-{status}" in faults:
            code = "bad_request" if status == 400 else "server_error"
            return HTTPProblem(status, f"injected fault: HTTP {status}", code).response()
    return None


# -- faults that reshape a response body ------------------------------------------------------


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

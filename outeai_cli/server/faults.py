"""Fault injection for `outeai serve --fault NAME[:N|:P%]`.

`NAME` applies to every request, `NAME:3` to the first three, `NAME:10%` to a random tenth.
This module says what each fault is and builds the hostile bytes; the routes send them.
"""

from __future__ import annotations

import asyncio
import random
import struct
import threading
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote

# Failures: each makes a request fail in a way a client must report (or retry).
FAILURES = {
    "http-400": "answer 400 Bad Request with a JSON message (never worth retrying)",
    "http-401": "answer 401 as for a rejected token",
    "http-429": "answer 429 Too Many Requests with Retry-After: 1",
    "http-500": "answer 500 with a JSON message",
    "http-502": "answer 502 with a JSON message",
    "http-503": "answer 503 with a JSON message",
    "http-504": "answer 504 with a JSON message",
    "html-502": "answer 502 with an HTML page, as a proxy would",
    "drop-mid-stream": "close the connection after the first status events",
    "drop-in-audio": "close the connection halfway through the audio data",
    "no-final-event": "end the stream after the status events, without the audio event",
    "truncated-final-event": "end the stream in the middle of the audio event",
    "bad-base64": "send audio that is not valid base64",
    "non-json": "answer 200 with lines that are not JSON",
    "html-200": "answer 200 with an HTML page and a text/html content type",
    "stall": "go silent after the first event (for idle-timeout tests)",
}
# Quirks: valid but awkward streams that a robust client must accept byte-identically.
QUIRKS = {
    "crlf": "end lines with CRLF",
    "blank-lines": "put blank lines between events",
    "unknown-fields": "add unknown fields and unknown event types",
    "split-bytes": "send the stream in tiny, oddly sized writes",
    "escaped-slashes": "escape '/' as '\\/' inside the base64",
    "slow-status": "pause 2 s between status events",
    "slow-audio": "trickle the audio in 8 KiB pieces, 20 ms apart (for interrupt tests)",
}
# Attacks: what a hostile or broken server may send. A client must refuse or neutralise each
# (no corrupt file with exit 0, no token or control character on the terminal, no hang).
ATTACKS = {
    "half-audio": "a complete response whose audio file is only its first half "
    "(tts-stream: a WAV header declaring twice the data sent)",
    "magic-then-garbage": "audio that starts with a valid magic (fLaC, ID3, RIFF....WAVE) "
    "and goes on with random bytes",
    "wav-many-channels": "a WAV header declaring 65535 channels (tts-stream: the streamed "
    "body; tts/audio: the final event's audio)",
    "wav-absurd-rate": "a WAV header declaring a 2,000,000,000 Hz sample rate (as above)",
    "echo-request": "an error event after the first status echoing the request, token "
    "included (audio: the URL-encoded token in the URL; tts-stream: a 400 echoing the headers)",
    "control-chars": "ESC/CSI/OSC sequences, \\r and C1 characters in every generation_status "
    "and every /voices description (the request still succeeds)",
    "control-chars-error": "a 400 whose JSON message is full of control characters "
    "(synthesis, /voices, /health)",
    "endless-status": "a status event every 0.2 s forever, generated_seconds never "
    "advancing (tts, audio)",
    "drip": "the normal response body, one byte every 2 s (every route)",
    "deep-json": "JSON nested 60,000 deep: a 400 body on synthesis, the 200 body of "
    "/voices and /health",
    "http-302": "a 302 whose Location is /moved/<path>?token=<the token, URL-encoded> on "
    "this server (every route)",
}
ALL_FAULTS = {**FAILURES, **QUIRKS, **ATTACKS}
# The faults `/voices` and `/health` answer to; the others concern synthesis only.
ENDPOINT_FAULTS = frozenset(
    {"control-chars", "control-chars-error", "deep-json", "drip", "http-302"}
)

# A terminal attack: clear the screen, set the window title, rewrite the line, C1 CSI, NEL.
HOSTILE_TEXT = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b[31mred\x1b[0m\rOVERWRITTEN\x9b2J\x85\x90x\x9c"
DRIP_SECONDS = 2.0
ENDLESS_STATUS_SECONDS = 0.2
DEEP_JSON_DEPTH = 60_000
ABSURD_RATE = 2_000_000_000
MANY_CHANNELS = 65535


@dataclass
class FaultRule:
    name: str
    remaining: int | None = None  # None: no count limit
    probability: float | None = None  # None: always


def parse_fault(spec: str) -> FaultRule:
    name, _, amount = spec.strip().partition(":")
    if name not in ALL_FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(ALL_FAULTS))}")
    if not amount:
        return FaultRule(name)
    try:
        if amount.endswith("%"):
            percent = float(amount[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return FaultRule(name, probability=percent / 100)
        count = int(amount)
        if count < 0:
            raise ValueError
        return FaultRule(name, remaining=count)
    except ValueError:
        raise ValueError(f"bad fault amount {amount!r} in {spec!r}: use N or P%") from None


class FaultPlan:
    """Decides, per request, which faults apply. Thread-safe; seeded for repeatable runs."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int | None = None) -> None:
        self._rules = list(rules or [])
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def from_specs(cls, specs: list[str], seed: int | None = None) -> FaultPlan:
        return cls([parse_fault(s) for s in specs], seed)

    def replace(self, specs: list[str]) -> None:
        rules = [parse_fault(s) for s in specs]
        with self._lock:
            self._rules = rules

    def describe(self) -> list[str]:
        with self._lock:
            return [r.name for r in self._rules]

    def draw(self, applicable: Collection[str] | None = None) -> set[str]:
        """The faults this request gets; rules outside `applicable` are neither used nor counted."""
        active: set[str] = set()
        with self._lock:
            for rule in self._rules:
                if applicable is not None and rule.name not in applicable:
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                if rule.probability is not None and self._random.random() >= rule.probability:
                    continue
                active.add(rule.name)
        return active


# -- the hostile bytes ------------------------------------------------------------------------


def deep_json(depth: int = DEEP_JSON_DEPTH) -> str:
    """A JSON array nested `depth` deep: valid JSON that recursive parsers cannot read."""
    return "[" * depth + "]" * depth


def deep_json_body(wrapper: str) -> bytes:
    """`wrapper` with `{}` replaced by the deep array, e.g. '{"data": {"voices": {}}}'."""
    head, _, tail = wrapper.partition("{}")
    return (head + deep_json() + tail).encode()


def garbage(size: int = 8192) -> bytes:
    """Random bytes, the same every time (deterministic fault output)."""
    return random.Random(8).randbytes(size)


async def stream_start(faults: set[str], expected: str, cold_start: float) -> bytes | None:
    """How a streamed answer starts: under `html-200` (an HTML page) or `non-json` (plain
    text) the whole body instead of `expected` ("json", "audio"), both sent with status 200;
    otherwise None, after the wait of a cold start."""
    if "html-200" in faults:
        return b"<!doctype html><html><body>Service unavailable</body></html>\n"
    if "non-json" in faults:
        return f"this is not {expected}\n".encode()
    if cold_start:
        await asyncio.sleep(cold_start)
    return None


async def before_chunk(latency: float, faults: set[str]) -> None:
    """The wait before a chunk is spoken: its share of --latency, and 2 s under `slow-status`."""
    if latency:
        await asyncio.sleep(latency)
    if "slow-status" in faults:
        await asyncio.sleep(2.0)


def after_magic(magic: bytes) -> bytes:
    """`magic` followed by garbage: what `magic-then-garbage` sends as the audio."""
    return magic + garbage()


def redirect_location(root: str, path: str, token: str) -> str:
    """Where `http-302` points: a path on this server that does not exist, token in the query."""
    return f"{root.rstrip('/')}/moved{path}?token={quote(token, safe='')}"


def echo_message(method: str, url: str, headers: Collection[tuple[str, str]], body: bytes) -> str:
    """An error message that repeats the request whole, as careless servers do."""
    shown = "; ".join(f"{name}: {value}" for name, value in headers)
    text = body.decode("utf-8", "replace")
    return f"could not process {method} {url} ({shown}) {text}"


def wav_header(rate: int, data_size: int | None, bits: int = 16, channels: int = 1) -> bytes:
    """A 44-byte PCM WAV header; `data_size` None writes the live-stream placeholder 0xFFFFFFFF.

    Fields derived from a hostile channel count saturate at what they can hold.
    """
    unknown = 0xFFFFFFFF
    riff = unknown if data_size is None else 36 + data_size
    size = unknown if data_size is None else data_size
    block = min(channels * bits // 8, 0xFFFF)
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        channels,
        rate,
        min(rate * channels * bits // 8, unknown),
        block,
        bits,
        b"data",
        size,
    )


def hostile_wav_header(faults: set[str], rate: int, data_size: int | None) -> bytes | None:
    """The WAV header a WAV-header attack sends instead of the true one; None when none applies."""
    if "wav-many-channels" in faults:
        return wav_header(rate, data_size, channels=MANY_CHANNELS)
    if "wav-absurd-rate" in faults:
        return wav_header(ABSURD_RATE, data_size)
    return None


def tamper_audio(audio: bytes, pcm: bytes, rate: int, magic: bytes, faults: set[str]) -> bytes:
    """The whole audio file an audio attack sends in place of `audio` (16-bit mono `pcm`)."""
    if "half-audio" in faults:
        return audio[: len(audio) // 2]
    if "magic-then-garbage" in faults:
        return after_magic(magic)
    header = hostile_wav_header(faults, rate, len(pcm))
    if header is not None:
        return header + pcm
    return audio

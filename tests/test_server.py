"""Conformance of the local server (`outeai serve`) to PROTOCOL.md, over real loopback HTTP.

Raw HTTP (httpx, a plain socket where the framing matters) rather than our client, so these
tests pin the server down independently of the code that reads it.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from conftest import TOKEN, ServerHandle

from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.espeak import find_library
from outeai_cli.server.faults import FAILURES, QUIRKS, FaultPlan
from outeai_cli.server.runner import LocalServer
from tests.helpers import outeai_serve, serve_fails

VOICE = {"default": "EN-FEMALE-1-NEUTRAL"}
THREE_SENTENCES = "The first sentence is here. A second one follows! Is this the third?"
MISSING = object()


def request_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"token": TOKEN, "text": "Hello there.", "speaker": VOICE}
    for key, value in changes.items():
        if value is MISSING:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def post(server: ServerHandle, body: dict[str, Any] | bytes, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{server.base_url}/tts",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=30,
        **kwargs,
    )


@dataclass
class Stream:
    statuses: list[dict[str, Any]]
    final: dict[str, Any]
    audio: bytes
    lines: list[bytes]


def read_stream(content: bytes) -> Stream:
    """Split a 200 body into its events, insisting on the contract's shape."""
    lines = [line for line in content.split(b"\n") if line.strip()]
    events = [json.loads(line) for line in lines]
    assert events, "empty stream"
    *statuses, final = events
    assert all("generation_status" in e for e in statuses), statuses
    audio = base64.b64decode(final["data"]["audio_bytes"], validate=True)
    return Stream(statuses, final, audio, lines)


def synthesize(server: ServerHandle, text: str, **changes: Any) -> Stream:
    response = post(server, request_body(text=text, **changes))
    assert response.status_code == 200, response.text
    return read_stream(response.content)


# -- validation ------------------------------------------------------------------------------

VALIDATION_CASES = [
    # (id, body, status, a word the message must contain)
    ("non-json", b"{not json", 400, "json"),
    ("empty-body", b"", 400, "json"),
    ("json-array", b'["Hello"]', 400, "object"),
    ("json-string", b'"Hello"', 400, "object"),
    ("missing-token", request_body(token=MISSING), 401, "token"),
    ("empty-token", request_body(token=""), 401, "token"),
    ("number-token", request_body(token=12345), 401, "token"),
    ("missing-text", request_body(text=MISSING), 400, "text"),
    ("null-text", request_body(text=None), 400, "text"),
    ("empty-text", request_body(text=""), 400, "text"),
    ("whitespace-text", request_body(text=" \n\t "), 400, "text"),
    ("number-text", request_body(text=42), 400, "text"),
    ("list-text", request_body(text=["Hello"]), 400, "text"),
    ("missing-speaker", request_body(speaker=MISSING), 400, "speaker"),
    ("string-speaker", request_body(speaker="EN-FEMALE-1-NEUTRAL"), 400, "speaker"),
    ("list-speaker", request_body(speaker=["EN-FEMALE-1-NEUTRAL"]), 400, "speaker"),
    ("empty-speaker", request_body(speaker={}), 400, "speaker"),
    (
        "two-key-speaker",
        request_body(speaker={"default": "EN-FEMALE-1-NEUTRAL", "custom": "my-clone"}),
        400,
        "speaker",
    ),
    ("unknown-key-speaker", request_body(speaker={"voice": "EN-FEMALE-1-NEUTRAL"}), 400, "speaker"),
    ("empty-name-speaker", request_body(speaker={"default": ""}), 400, "speaker"),
    ("blank-name-speaker", request_body(speaker={"custom": "  "}), 400, "speaker"),
    ("number-name-speaker", request_body(speaker={"default": 1}), 400, "speaker"),
    ("string-temperature", request_body(temperature="0.4"), 400, "temperature"),
    ("bool-temperature", request_body(temperature=True), 400, "temperature"),
    ("null-temperature", request_body(temperature=None), 400, "temperature"),
    ("low-temperature", request_body(temperature=0.05), 400, "temperature"),
    ("zero-temperature", request_body(temperature=0), 400, "temperature"),
    ("high-temperature", request_body(temperature=1.5), 400, "temperature"),
    ("unknown-default-voice", request_body(speaker={"default": "XX-NOBODY-9"}), 404, "speaker"),
    ("unknown-custom-voice", request_body(speaker={"custom": "not-registered"}), 404, "speaker"),
]


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [case[1:] for case in VALIDATION_CASES],
    ids=[case[0] for case in VALIDATION_CASES],
)
def test_invalid_request_gets_its_status_and_a_json_message(
    server: ServerHandle, body: dict[str, Any] | bytes, status: int, word: str
) -> None:
    response = post(server, body)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert isinstance(payload, dict)
    assert isinstance(payload["message"], str)
    assert word in payload["message"].lower(), payload
    assert [r["status"] for r in server.tts_requests()] == [status]


@pytest.mark.parametrize("temperature", [0.1, 0.4, 1.0, 1])
def test_temperature_at_and_inside_the_bounds_is_accepted(
    server: ServerHandle, temperature: float
) -> None:
    stream = synthesize(server, "Warm enough.", temperature=temperature)
    assert stream.final["data"]["request_finished"] is True


@pytest.mark.parametrize(
    "speaker",
    [
        {"default": "EN-FEMALE-1-NEUTRAL"},
        {"default": "EN-FEMALE-1-NEURAL"},  # the docs' spelling of the same voice
        {"default": "en-male-1-neutral"},
        {"custom": "my-clone"},  # registered on the shared server
    ],
)
def test_known_voices_are_accepted(server: ServerHandle, speaker: dict[str, str]) -> None:
    stream = synthesize(server, "Say it.", speaker=speaker)
    assert stream.audio.startswith(b"fLaC")
    assert server.tts_requests()[-1]["speaker"] == speaker


def test_wrong_or_missing_token_is_401_when_the_server_has_tokens(make_server) -> None:
    srv = make_server(tokens=frozenset({TOKEN}))
    for token in ("wrong-token", MISSING):
        response = post(srv, request_body(token=token))
        assert response.status_code == 401
        assert "token" in response.json()["message"]
    assert post(srv, request_body()).status_code == 200


def test_text_over_max_chars_is_413_counting_characters_not_bytes(make_server) -> None:
    srv = make_server(max_chars=20)
    over = post(srv, request_body(text="x" * 21))
    assert over.status_code == 413
    assert "20" in over.json()["message"]
    assert post(srv, request_body(text="é" * 20)).status_code == 200  # 40 bytes, 20 chars


def test_oversized_body_is_413_with_or_without_content_length(make_server) -> None:
    srv = make_server(max_body_bytes=2048)
    big = json.dumps(request_body(text="word " * 600)).encode()
    assert post(srv, big).status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    response = httpx.post(
        f"{srv.base_url}/tts",
        content=chunked(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert "message" in response.json()
    assert post(srv, request_body(text="word " * 300)).status_code == 200  # under the limit


# -- the event stream ------------------------------------------------------------------------


def test_stream_is_warmup_then_one_status_per_sentence_then_one_final_event(
    server: ServerHandle,
) -> None:
    response = post(server, request_body(text=THREE_SENTENCES))
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "application/x-ndjson"
    assert "content-length" not in response.headers  # streamed, as the real service does
    stream = read_stream(response.content)

    warmup, *chunks = stream.statuses
    assert warmup["generation_status"]
    assert "current_text_chunk" not in warmup
    assert [c["current_text_chunk"] for c in chunks] == [1, 2, 3]
    assert {c["text_chunks"] for c in chunks} == {3}
    seconds = [c["generated_seconds"] for c in chunks]
    assert all(isinstance(s, float) for s in seconds)
    assert seconds == sorted(seconds) and len(set(seconds)) == 3

    assert set(stream.final) == {"data"}
    data = stream.final["data"]
    assert set(data) == {"audio_bytes", "duration", "request_finished"}
    assert data["request_finished"] is True
    assert data["duration"] == pytest.approx(seconds[-1], abs=0.001)
    assert response.content.endswith(b"}}\n")  # the final event is the last line


def test_audio_is_flac_at_44100_hz_whose_length_is_the_stated_duration(
    server: ServerHandle,
) -> None:
    stream = synthesize(server, THREE_SENTENCES)
    assert stream.audio.startswith(b"fLaC")
    samples, rate = sf.read(io.BytesIO(stream.audio), dtype="int16")
    info = sf.info(io.BytesIO(stream.audio))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 44100, 1)
    assert abs(len(samples) / rate - stream.final["data"]["duration"]) <= 1 / rate
    assert np.abs(samples).max() > 1000  # a real signal, not silence


def test_longer_text_gives_longer_audio(server: ServerHandle) -> None:
    short = synthesize(server, "Hi there.").final["data"]["duration"]
    long = synthesize(server, "Hi there. " * 8).final["data"]["duration"]
    assert long > 4 * short


def test_same_input_gives_identical_audio_even_on_another_server(
    server: ServerHandle, make_server
) -> None:
    # A second server has its own cache, so equal bytes mean the engine is deterministic.
    first = synthesize(server, THREE_SENTENCES).audio
    again = synthesize(make_server(), THREE_SENTENCES).audio
    assert first == again
    assert synthesize(server, THREE_SENTENCES + " Four.").audio != first


def test_keep_alive_responses_are_not_held_back_by_nagle(server: ServerHandle) -> None:
    # Without TCP_NODELAY on accepted sockets each response on a reused connection waited
    # ~40 ms for a delayed ACK; a few milliseconds is the norm on loopback.
    server.set_faults("http-503")
    timings = []
    with httpx.Client(timeout=10) as http:
        for _ in range(11):
            started = time.perf_counter()
            assert http.post(f"{server.base_url}/tts", json=request_body()).status_code == 503
            timings.append(time.perf_counter() - started)
    assert sorted(timings)[5] < 0.02, timings


def test_voices_lists_the_catalogue_and_the_custom_voices(server: ServerHandle) -> None:
    response = httpx.get(f"{server.base_url}/voices", timeout=10)
    assert response.status_code == 200
    voices = response.json()["data"]["voices"]
    assert all(isinstance(v["voice_id"], str) for v in voices)
    by_id = {v["voice_id"]: v for v in voices}
    assert by_id["EN-FEMALE-1-NEUTRAL"]["kind"] == "default"
    assert by_id["my-clone"]["kind"] == "custom"


def test_voices_needs_a_bearer_token_when_the_server_has_tokens(make_server) -> None:
    srv = make_server(tokens=frozenset({TOKEN}), custom_voices=frozenset({"mine"}))
    url = f"{srv.base_url}/voices"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    ok = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert "mine" in {v["voice_id"] for v in ok.json()["data"]["voices"]}


# -- knobs -----------------------------------------------------------------------------------


def first_line_and_total(srv: ServerHandle, text: str) -> tuple[float, float]:
    started = time.monotonic()
    first = None
    with httpx.stream("POST", f"{srv.base_url}/tts", json=request_body(text=text), timeout=30) as r:
        for line in r.iter_lines():
            if first is None and line.strip():
                first = time.monotonic() - started
    assert first is not None
    return first, time.monotonic() - started


def test_cold_start_delays_the_first_event(make_server) -> None:
    first, _ = first_line_and_total(make_server(cold_start=0.6), "Hi.")
    assert first >= 0.6


def test_latency_is_spread_over_the_chunks(make_server) -> None:
    first, total = first_line_and_total(make_server(latency=0.6), THREE_SENTENCES)
    assert first < 0.3  # the warm-up status is not held back
    assert total >= 0.6


def test_max_concurrency_answers_429_while_the_slot_is_taken_and_frees_it_on_disconnect(
    make_server,
) -> None:
    srv = make_server(max_concurrency=1, latency=2.0)
    with httpx.stream("POST", f"{srv.base_url}/tts", json=request_body(), timeout=30) as held:
        lines = held.iter_lines()  # keep it referenced: a discarded iterator closes the stream
        assert json.loads(next(lines))["generation_status"]
        refused = post(srv, request_body())
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
    # The first client hung up while the server was waiting: the slot is freed at once,
    # not when the abandoned generation would have finished (2 s later).
    deadline = time.monotonic() + 1.0
    while True:
        with httpx.stream("POST", f"{srv.base_url}/tts", json=request_body(), timeout=30) as r:
            if r.status_code == 200:  # admitted; its body is not awaited
                break
        assert time.monotonic() < deadline, "the slot was not freed on disconnect"
        time.sleep(0.02)


def test_pad_audio_makes_big_audio_of_the_stated_duration(make_server) -> None:
    stream = synthesize(make_server(pad_audio_bytes=400_000), "Hi.")
    assert 250_000 < len(stream.audio) < 600_000
    info = sf.info(io.BytesIO(stream.audio))
    assert abs(info.frames / info.samplerate - stream.final["data"]["duration"]) <= 1 / 44100


# -- faults ----------------------------------------------------------------------------------


def test_every_fault_and_quirk_is_listed_once() -> None:
    assert not set(FAILURES) & set(QUIRKS)
    for name in (
        "http-429",
        "http-503",
        "drop-mid-stream",
        "no-final-event",
        "truncated-final-event",
        "bad-base64",
    ):
        assert name in FAILURES


def test_http_429_fault_carries_retry_after(server: ServerHandle) -> None:
    server.set_faults("http-429")
    response = post(server, request_body())
    assert response.status_code == 429
    assert float(response.headers["retry-after"]) >= 1
    assert response.json()["message"]


@pytest.mark.parametrize("status", [400, 401, 500, 502, 503, 504])
def test_http_status_fault_answers_that_status_with_a_json_message(
    server: ServerHandle, status: int
) -> None:
    server.set_faults(f"http-{status}")
    response = post(server, request_body())
    assert response.status_code == status
    assert response.json()["message"]


def test_html_502_fault_answers_an_html_page(server: ServerHandle) -> None:
    server.set_faults("html-502")
    response = post(server, request_body())
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().lower().startswith("<html")


def test_html_200_and_non_json_faults_answer_200_with_a_body_that_is_not_ndjson(
    server: ServerHandle,
) -> None:
    server.set_faults("html-200")
    html = post(server, request_body())
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert b"<html" in html.content.lower()
    server.set_faults("non-json")
    garbage = post(server, request_body())
    assert garbage.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(garbage.content.splitlines()[0])


@pytest.mark.parametrize("fault", ["drop-mid-stream", "drop-in-audio"])
def test_drop_faults_cut_the_connection_mid_body(server: ServerHandle, fault: str) -> None:
    server.set_faults(fault)
    received = bytearray()
    with (
        pytest.raises(
            httpx.RemoteProtocolError,
            match="peer closed connection without sending complete message body",
        ),
        httpx.stream(
            "POST", f"{server.base_url}/tts", json=request_body(text=THREE_SENTENCES), timeout=30
        ) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            received += chunk
    lines = received.split(b"\n")
    assert json.loads(lines[0])["generation_status"]
    if fault == "drop-mid-stream":  # after the first chunk's status, before the audio
        assert json.loads(lines[1])["current_text_chunk"] == 1
        assert b"audio_bytes" not in received
    else:
        assert lines[-1].startswith(b'{"data": {"audio_bytes": "') and len(lines[-1]) > 100


def test_no_final_event_fault_ends_cleanly_after_the_statuses(server: ServerHandle) -> None:
    server.set_faults("no-final-event")
    response = post(server, request_body(text=THREE_SENTENCES))
    events = [json.loads(line) for line in response.content.splitlines() if line.strip()]
    assert len(events) == 4
    assert all("generation_status" in e for e in events)


def test_truncated_final_event_fault_sends_a_prefix_that_stops_inside_the_base64(
    server: ServerHandle,
) -> None:
    clean = post(server, request_body(text=THREE_SENTENCES)).content
    server.set_faults("truncated-final-event")
    truncated = post(server, request_body(text=THREE_SENTENCES)).content
    assert clean.startswith(truncated)  # exactly what a cut connection would have delivered
    last = truncated.split(b"\n")[-1]
    prefix = b'{"data": {"audio_bytes": "'
    assert last.startswith(prefix) and b'"' not in last[len(prefix) :]
    assert 0.3 < len(truncated) / len(clean) < 0.7


def test_bad_base64_fault_sends_a_complete_event_whose_audio_is_not_base64(
    server: ServerHandle,
) -> None:
    server.set_faults("bad-base64")
    response = post(server, request_body())
    final = json.loads(response.content.splitlines()[-1])
    assert final["data"]["request_finished"] is True
    with pytest.raises(binascii.Error, match="Only base64 data is allowed"):
        base64.b64decode(final["data"]["audio_bytes"], validate=True)


def test_stall_fault_goes_silent_after_the_first_event(server: ServerHandle) -> None:
    server.set_faults("stall")
    first = b""
    with (
        pytest.raises(httpx.ReadTimeout, match="timed out"),
        httpx.stream(
            "POST",
            f"{server.base_url}/tts",
            json=request_body(),
            timeout=httpx.Timeout(10, read=1.0),
        ) as response,
    ):
        for chunk in response.iter_bytes():
            first += chunk
    assert json.loads(first)["generation_status"]


def test_slow_status_quirk_pauses_between_status_events(server: ServerHandle) -> None:
    server.set_faults("slow-status")
    arrivals: list[float] = []
    started = time.monotonic()
    with httpx.stream("POST", f"{server.base_url}/tts", json=request_body(), timeout=30) as r:
        for line in r.iter_lines():
            if line.strip():
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 3  # warm-up, one chunk, final
    assert arrivals[1] - arrivals[0] >= 1.9


def test_slow_audio_quirk_trickles_the_same_audio_in_pieces(server: ServerHandle) -> None:
    clean = synthesize(server, THREE_SENTENCES)
    server.set_faults("slow-audio")
    started = time.monotonic()
    slow = synthesize(server, THREE_SENTENCES)
    elapsed = time.monotonic() - started
    assert slow.audio == clean.audio
    pieces = -(-len(clean.audio) // (6 * 1024))  # 6 KiB of audio, 8 KiB of base64, 20 ms apart
    assert pieces >= 5
    assert elapsed >= 0.9 * pieces * 0.02


def quirk_body(server: ServerHandle, fault: str | None, text: str = THREE_SENTENCES) -> bytes:
    server.set_faults(*([fault] if fault else []))
    response = post(server, request_body(text=text))
    assert response.status_code == 200
    return response.content


def test_quirks_reshape_the_stream_but_carry_the_same_events_and_audio(
    server: ServerHandle,
) -> None:
    clean = quirk_body(server, None)
    clean_events = [json.loads(line) for line in clean.splitlines()]

    crlf = quirk_body(server, "crlf")
    assert crlf.count(b"\r\n") == crlf.count(b"\n") == len(clean_events)

    blank = quirk_body(server, "blank-lines")
    assert b"\n\n" in blank
    assert [json.loads(line) for line in blank.splitlines() if line] == clean_events

    unknown = [json.loads(line) for line in quirk_body(server, "unknown-fields").splitlines()]
    assert any(set(e) == {"event", "ts", "x_trace", "x_nested"} for e in unknown)
    known = [e for e in unknown if "event" not in e]
    *statuses, final = known
    for got, want in zip(statuses, clean_events[:-1], strict=True):
        assert set(got) > set(want) and {k: got[k] for k in want} == want
    assert set(final["data"]) > set(clean_events[-1]["data"])
    assert {k: final["data"][k] for k in clean_events[-1]["data"]} == clean_events[-1]["data"]

    escaped = quirk_body(server, "escaped-slashes")
    assert b"\\/" in escaped
    assert json.loads(escaped.splitlines()[-1]) == clean_events[-1]


def read_chunked_response(server: ServerHandle, body: bytes) -> tuple[str, list[bytes]]:
    """POST over a plain socket and return the status line and the HTTP/1.1 body chunks."""
    with socket.create_connection((server.server.host, server.server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/tts HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        raw = bytearray()
        while data := sock.recv(65536):
            raw += data
    head, _, rest = bytes(raw).partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks = []
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return head.split(b"\r\n")[0].decode(), chunks


def test_split_bytes_quirk_sends_tiny_odd_writes_of_the_same_bytes(server: ServerHandle) -> None:
    body = json.dumps(request_body(text=THREE_SENTENCES)).encode()
    status, clean = read_chunked_response(server, body)
    assert status.endswith("200 OK")
    server.set_faults("split-bytes")
    _, split = read_chunked_response(server, body)
    assert b"".join(split) == b"".join(clean)
    assert len(split) > 10 * len(clean)
    sizes = sorted(len(c) for c in split)
    assert sizes[len(sizes) // 2] <= 11  # mostly a few bytes each


def test_fault_with_a_count_applies_to_the_first_n_requests_only(server: ServerHandle) -> None:
    server.set_faults("http-503:2")
    statuses = [post(server, request_body()).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]


def test_fault_with_a_percentage_and_a_seed_hits_about_that_share_repeatably() -> None:
    def run(seed: int) -> list[int]:
        settings = ServerSettings(
            engine=ToneEngine(), faults=FaultPlan.from_specs(["http-503:25%"], seed=seed)
        )
        with LocalServer(settings) as srv, httpx.Client(timeout=10) as http:
            body = request_body(text="Hi.")
            return [http.post(f"{srv.base_url}/tts", json=body).status_code for _ in range(160)]

    first = run(seed=7)
    assert set(first) == {200, 503}
    assert 20 <= first.count(503) <= 60  # 40 expected; about ±3 standard deviations
    assert run(seed=7) == first


def test_setting_an_unknown_fault_is_refused(server: ServerHandle) -> None:
    response = httpx.put(
        f"{server.root_url}/_outeai/faults", json={"faults": ["http-999"]}, timeout=10
    )
    assert response.status_code == 400
    assert "unknown fault" in response.json()["message"]


# -- control endpoints -----------------------------------------------------------------------


def test_control_endpoints_do_not_exist_unless_asked_for() -> None:
    with LocalServer(ServerSettings(engine=ToneEngine())) as srv:
        assert httpx.get(f"{srv.root_url}/_outeai/requests", timeout=10).status_code == 404
        response = httpx.put(f"{srv.root_url}/_outeai/faults", json={"faults": []}, timeout=10)
        assert response.status_code == 404
        assert httpx.delete(f"{srv.root_url}/_outeai/requests", timeout=10).status_code == 404


def test_control_endpoints_need_a_server_token_when_the_server_has_tokens(make_server) -> None:
    srv = make_server(tokens=frozenset({TOKEN}))  # make_server asks for the control endpoints
    assert post(srv, request_body(text="A secret sentence.")).status_code == 200
    log = f"{srv.root_url}/_outeai/requests"
    faults = f"{srv.root_url}/_outeai/faults"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        refused = httpx.get(log, headers=headers, timeout=10)
        assert refused.status_code == 401 and "secret" not in refused.text
        assert httpx.delete(log, headers=headers, timeout=10).status_code == 401
        put = httpx.put(faults, json={"faults": ["http-503"]}, headers=headers, timeout=10)
        assert put.status_code == 401
    assert post(srv, request_body()).status_code == 200  # the faults did not change
    allowed = httpx.get(log, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert allowed.status_code == 200
    assert [r["text"] for r in allowed.json()["requests"]] == ["A secret sentence.", "Hello there."]


# -- `outeai serve` as a subprocess ----------------------------------------------------------


def test_serve_stops_cleanly_on_sigterm() -> None:
    with outeai_serve("--engine", "tone", stop=signal.SIGTERM) as served:
        assert serve_synthesize(served.base_url, "Still here.").status_code == 200


def serve_synthesize(base_url: str, text: str, token: str = TOKEN) -> httpx.Response:
    return httpx.post(f"{base_url}/tts", json=request_body(text=text, token=token), timeout=60)


def test_serve_prints_its_bound_url_engine_and_token_policy(tmp_path) -> None:
    with outeai_serve("--engine", "tone", "--custom-voice", "studio") as served:
        assert "engine: tone" in served.banner
        assert "any non-empty token is accepted" in served.banner
        assert 'OUTEAI_TOKEN="local" outeai say' in served.banner  # any token works: a sample
        response = serve_synthesize(served.base_url, "Hello from a subprocess.")
        assert response.status_code == 200
        assert read_stream(response.content).audio.startswith(b"fLaC")
        voices = httpx.get(f"{served.base_url}/voices", timeout=10).json()["data"]["voices"]
        assert "studio" in {v["voice_id"] for v in voices}


def test_serve_with_tokens_says_so_and_rejects_others() -> None:
    with outeai_serve(
        "--engine", "tone", "--token", "secret-one", env={"OUTEAI_SERVE_TOKENS": "secret-two"}
    ) as served:
        assert "2 configured" in served.banner
        assert "secret" not in served.banner  # the tokens themselves are never printed
        # The example line asks for one of them instead of suggesting a token it would refuse.
        assert 'OUTEAI_TOKEN="<one of your tokens>"' in served.banner
        assert serve_synthesize(served.base_url, "Hi.", token="other").status_code == 401
        assert serve_synthesize(served.base_url, "Hi.", token="secret-one").status_code == 200
        assert serve_synthesize(served.base_url, "Hi.", token="secret-two").status_code == 200


def test_serve_control_flag_opens_the_control_endpoints_behind_its_tokens() -> None:
    with outeai_serve("--engine", "tone") as served:
        root = served.base_url.removesuffix("/api/v1")
        assert "control" not in served.banner
        assert httpx.get(f"{root}/_outeai/requests", timeout=10).status_code == 404
    with outeai_serve("--engine", "tone", "--control", "--token", "secret-one") as served:
        root = served.base_url.removesuffix("/api/v1")
        assert "control: /_outeai/requests, /_outeai/faults (a server token required)" in (
            served.banner
        )
        assert httpx.get(f"{root}/_outeai/requests", timeout=10).status_code == 401
        auth = {"Authorization": "Bearer secret-one"}
        assert httpx.get(f"{root}/_outeai/requests", headers=auth, timeout=10).json() == {
            "count": 0,
            "requests": [],
        }
    with outeai_serve("--engine", "tone", "--control") as served:
        assert "(open to anyone who can connect)" in served.banner
        root = served.base_url.removesuffix("/api/v1")
        assert httpx.get(f"{root}/_outeai/requests", timeout=10).status_code == 200


def test_serve_applies_its_fault_flags() -> None:
    with outeai_serve("--engine", "tone", "--fault", "http-503:1") as served:
        assert "faults: http-503" in served.banner
        assert serve_synthesize(served.base_url, "Hi.").status_code == 503
        assert serve_synthesize(served.base_url, "Hi.").status_code == 200


def test_serve_refuses_an_unknown_fault_in_one_line() -> None:
    assert "unknown fault 'http-999'" in serve_fails("--fault", "http-999")


def test_serve_auto_engine_names_what_it_picked() -> None:
    from outeai_cli.server.piper import find_program, packaged_model

    with outeai_serve("--workers", "1") as served:
        if packaged_model() is not None and find_program() is not None:
            assert "engine: piper, 1 worker" in served.banner
            # Which model speaks each voice name, with its language and gender.
            assert "EN-MALE-1-NEUTRAL" in served.banner
            assert "piper en_US-joe-medium (en_US, male)" in served.banner
        elif find_library() is not None:
            assert "engine: espeak (no Piper voice" in served.banner
        else:
            assert "engine: tone (no Piper voice and no espeak-ng: pip install" in served.banner


@pytest.mark.skipif(find_library() is None, reason="espeak-ng is not installed (the voice extra)")
def test_serve_espeak_engine_speaks_real_audio_that_grows_with_the_text() -> None:
    with outeai_serve("--engine", "espeak") as served:
        assert "engine: espeak" in served.banner
        short = read_stream(serve_synthesize(served.base_url, "Hello.").content)
        long = read_stream(
            serve_synthesize(
                served.base_url,
                "Hello. This sentence is a good deal longer, so it takes longer to say.",
            ).content
        )
    for stream in (short, long):
        samples, rate = sf.read(io.BytesIO(stream.audio), dtype="float32")
        assert rate == 44100
        assert abs(len(samples) / rate - stream.final["data"]["duration"]) <= 1 / rate
        assert float(np.sqrt(np.mean(samples**2))) > 0.01  # audible, not silence
    assert long.final["data"]["duration"] > 2 * short.final["data"]["duration"]
    # Speech, unlike the tone engine's steady sine, changes its loudness from moment to moment.
    samples, _ = sf.read(io.BytesIO(long.audio), dtype="float32")
    frames = samples[: len(samples) // 441 * 441].reshape(-1, 441)
    loudness = np.sqrt((frames**2).mean(axis=1))
    assert (loudness < 0.1 * loudness.max()).mean() > 0.05  # pauses between words

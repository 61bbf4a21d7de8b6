"""The hostile faults of `outeai serve --fault` send exactly what they promise, on the wire.

Raw HTTP (httpx, a plain socket where timing matters) against the local server, so the
client-side tests that use these faults rest on pinned-down server behaviour.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import socket
import statistics
import struct
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import soundfile as sf

from outeai_cli.server.faults import ATTACKS, HOSTILE_TEXT, garbage
from tests.conftest import TOKEN, ServerHandle

TEXT = "One sentence here. And a second one."
VOICE = "EN-FEMALE-1-NEUTRAL"
TERMINAL_ATTACKS = ("\x1b[2J", "\x1b]0;", "\x07", "\r", "\x9b", "\x85")


# -- one request per dialect, read whole ----------------------------------------------------


def post_tts(server: ServerHandle, token: str = TOKEN) -> httpx.Response:
    body = {"token": token, "text": TEXT, "speaker": {"default": VOICE}}
    return httpx.post(f"{server.base_url}/tts", json=body, timeout=30)


def post_audio(server: ServerHandle, token: str = TOKEN) -> httpx.Response:
    body = {"model": "OuteTTS-1-Pro", "prompt": TEXT, "speaker_id": VOICE}
    url = f"{server.base_url}/audio?token={quote(token, safe='')}"
    return httpx.post(url, json=body, timeout=30)


def post_wav(server: ServerHandle, path: str = "tts_stream") -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/{path}",
        json={"text": TEXT, "voice_id": VOICE},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )


def events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.content.splitlines() if line.strip()]


def final_audio(response: httpx.Response, key: str = "data") -> bytes:
    *_, final = events(response)
    return base64.b64decode(final[key]["audio_bytes"], validate=True)


def clean(server: ServerHandle, send: Any) -> httpx.Response:
    server.set_faults()
    response = send(server)
    assert response.status_code == 200
    return response


def pcm_of(flac: bytes) -> bytes:
    samples, rate = sf.read(io.BytesIO(flac), dtype="int16")
    assert rate == 44100
    return bytes(samples.astype("<i2").tobytes())


def wav_fields(header: bytes) -> dict[str, int]:
    channels, rate, byte_rate, block, bits = struct.unpack("<HIIHH", header[22:36])
    return {
        "channels": channels,
        "rate": rate,
        "byte_rate": byte_rate,
        "block": block,
        "bits": bits,
        "data_size": struct.unpack("<I", header[40:44])[0],
    }


def does_not_decode(data: bytes) -> bool:
    try:
        sf.read(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return True
    return False


def test_every_attack_is_listed_by_list_faults(outeai) -> None:
    result = outeai("serve", "--list-faults")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0]: line for line in result.out.splitlines() if line.strip()}
    for name in ATTACKS:
        assert name in listed and len(listed[name].split()) > 3, name


# -- audio that is not what it claims -------------------------------------------------------


def test_half_audio_sends_a_complete_event_with_the_first_half_of_the_file(
    server: ServerHandle,
) -> None:
    whole_flac = final_audio(clean(server, post_tts))
    whole_mp3 = final_audio(clean(server, post_audio), "audio_data")
    server.set_faults("half-audio")
    response = post_tts(server)
    final = events(response)[-1]
    assert final["data"]["request_finished"] is True
    assert final_audio(response) == whole_flac[: len(whole_flac) // 2]
    assert final_audio(post_audio(server), "audio_data") == whole_mp3[: len(whole_mp3) // 2]


def test_half_audio_in_wav_declares_the_whole_data_and_sends_half(server: ServerHandle) -> None:
    whole = clean(server, post_wav).content
    whole_file = clean(server, lambda s: post_wav(s, "tts_non_stream")).content
    pcm = whole[44:]
    server.set_faults("half-audio")
    half = post_wav(server)
    assert half.status_code == 200
    assert wav_fields(half.content)["data_size"] == len(pcm)
    assert half.content[44:] == pcm[: len(pcm) // 4 * 2]
    assert post_wav(server, "tts_non_stream").content == whole_file[: len(whole_file) // 2]


@pytest.mark.parametrize(
    ("send", "key", "magic"),
    [
        (post_tts, "data", b"fLaC"),
        (post_audio, "audio_data", b"ID3\x04\x00\x00\x00\x00\x00\x00"),
    ],
    ids=["tts", "audio"],
)
def test_magic_then_garbage_sends_a_valid_magic_and_random_bytes(
    server: ServerHandle, send: Any, key: str, magic: bytes
) -> None:
    server.set_faults("magic-then-garbage")
    audio = final_audio(send(server), key)
    assert audio == magic + garbage()
    assert does_not_decode(audio)


@pytest.mark.parametrize("path", ["tts_stream", "tts_non_stream"])
def test_magic_then_garbage_in_wav_is_riff_wave_then_no_fmt_chunk(
    server: ServerHandle, path: str
) -> None:
    server.set_faults("magic-then-garbage")
    body = post_wav(server, path).content
    assert body == b"RIFF\xff\xff\xff\xffWAVE" + garbage()
    assert does_not_decode(body)


# (fault, the header field it sets, the value)
WAV_HEADER_ATTACKS = [
    ("wav-many-channels", "channels", 65535),
    ("wav-absurd-rate", "rate", 2_000_000_000),
]


@pytest.mark.parametrize(("fault", "field", "value"), WAV_HEADER_ATTACKS)
def test_wav_header_attacks_in_the_final_event_carry_the_real_samples(
    server: ServerHandle, fault: str, field: str, value: int
) -> None:
    pcm = pcm_of(final_audio(clean(server, post_tts)))
    server.set_faults(fault)
    for audio in (final_audio(post_tts(server)), final_audio(post_audio(server), "audio_data")):
        assert audio[:4] == b"RIFF" and audio[8:16] == b"WAVEfmt "
        fields = wav_fields(audio)
        assert fields[field] == value and fields["bits"] == 16
        assert fields["data_size"] == len(pcm) == len(audio) - 44
        assert audio[44:] == pcm


@pytest.mark.parametrize(("fault", "field", "value"), WAV_HEADER_ATTACKS)
def test_wav_header_attacks_in_the_streamed_wav(
    server: ServerHandle, fault: str, field: str, value: int
) -> None:
    normal = clean(server, post_wav).content
    server.set_faults(fault)
    body = post_wav(server).content
    fields = wav_fields(body)
    assert fields[field] == value
    assert fields["data_size"] == 0xFFFFFFFF  # a live stream's placeholder, as normally
    assert body[44:] == normal[44:]
    assert wav_fields(normal)[field] != value


# -- text that attacks the terminal or leaks the token ---------------------------------------


def test_echo_request_ends_the_stream_with_an_error_echoing_the_body_and_token(
    server: ServerHandle,
) -> None:
    server.set_faults("echo-request")
    response = post_tts(server)
    lines = events(response)
    assert [sorted(e) for e in lines[:2]] == [
        ["generation_status"],
        ["current_text_chunk", "generated_seconds", "generation_status", "text_chunks"],
    ]
    assert len(lines) == 3 and list(lines[2]) == ["error"]
    message = lines[2]["error"]
    sent = response.request.content.decode()
    assert TOKEN in sent and sent in message  # the body as sent, token and all
    assert "POST http://127.0.0.1:" in message


def test_echo_request_in_the_2025_dialect_shows_the_url_encoded_token(
    server: ServerHandle,
) -> None:
    token = "tok/en+with&odd=chars"
    server.set_faults("echo-request")
    *_, last = events(post_audio(server, token))
    assert quote(token, safe="") in last["error"] and token not in last["error"]


def test_echo_request_in_the_wav_dialect_is_a_400_echoing_the_bearer_header(
    server: ServerHandle,
) -> None:
    server.set_faults("echo-request")
    response = post_wav(server)
    assert response.status_code == 400
    assert f"authorization: Bearer {TOKEN}" in response.json()["message"]
    assert [r["status"] for r in server.requests()] == [400]


def test_control_chars_go_into_every_status_and_voice_description(server: ServerHandle) -> None:
    whole = final_audio(clean(server, post_tts))
    server.set_faults("control-chars")
    response = post_tts(server)
    *statuses, _ = events(response)
    assert len(statuses) == 3
    for status in statuses:
        assert status["generation_status"].endswith(HOSTILE_TEXT)
        assert all(attack in status["generation_status"] for attack in TERMINAL_ATTACKS)
    assert final_audio(response) == whole  # the request itself still succeeds
    voices = httpx.get(f"{server.base_url}/voices", timeout=10).json()["data"]["voices"]
    assert voices and all(v["description"].endswith(HOSTILE_TEXT) for v in voices)


@pytest.mark.parametrize("route", ["tts", "audio", "tts_stream", "voices", "health"])
def test_control_chars_error_is_a_400_whose_message_attacks_the_terminal(
    server: ServerHandle, route: str
) -> None:
    server.set_faults("control-chars-error")
    send = {
        "tts": post_tts,
        "audio": post_audio,
        "tts_stream": post_wav,
        "voices": lambda s: httpx.get(f"{s.base_url}/voices", timeout=10),
        "health": lambda s: httpx.get(f"{s.base_url}/health", timeout=10),
    }[route]
    response = send(server)
    assert response.status_code == 400
    message = response.json()["message"]
    assert HOSTILE_TEXT in message
    assert all(attack in message for attack in TERMINAL_ATTACKS)


# -- streams that never end --------------------------------------------------------------------


@pytest.mark.parametrize("send_path", ["tts", "audio"])
def test_endless_status_repeats_the_same_status_every_fifth_of_a_second(
    server: ServerHandle, send_path: str
) -> None:
    server.set_faults("endless-status")
    if send_path == "tts":
        url, body = (
            f"{server.base_url}/tts",
            {"token": TOKEN, "text": TEXT, "speaker": {"default": VOICE}},
        )
    else:
        url = f"{server.base_url}/audio?token={TOKEN}"
        body = {"model": "OuteTTS-1-Pro", "prompt": TEXT, "speaker_id": VOICE}
    arrivals: list[tuple[float, dict[str, Any]]] = []
    with httpx.stream("POST", url, json=body, timeout=10) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.strip():
                arrivals.append((time.monotonic(), json.loads(line)))
            if len(arrivals) == 8:
                break
    warmup, *stuck = [event for _, event in arrivals]
    assert "generation_status" in warmup
    assert all(event == stuck[0] for event in stuck)
    progress = "generated_seconds" if send_path == "tts" else "audio_token_count"
    assert stuck[0][progress] == 0
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals[1:])]
    # Paced, never faster; a busy machine may stretch one gap, not the typical one.
    assert all(gap > 0.1 for gap in gaps), gaps
    assert statistics.median(gaps) < 0.6, gaps


def raw_exchange(server: ServerHandle, request: bytes) -> socket.socket:
    sock = socket.create_connection((server.server.host, server.server.port), timeout=10)
    sock.sendall(request)
    return sock


def read_until(sock: socket.socket, buffer: bytearray, marker: bytes) -> None:
    while marker not in buffer:
        data = sock.recv(65536)
        assert data, bytes(buffer)
        buffer += data


@pytest.mark.parametrize("route", ["tts", "health"])
def test_drip_sends_the_normal_body_one_byte_every_two_seconds(
    server: ServerHandle, route: str
) -> None:
    if route == "tts":
        body = json.dumps({"token": TOKEN, "text": TEXT, "speaker": {"default": VOICE}}).encode()
        request = (
            b"POST /api/v1/tts HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        expected = b'{"generation_status": '
    else:
        request = b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n"
        expected = httpx.get(f"{server.base_url}/health", timeout=10).content
    server.set_faults("drip")
    with raw_exchange(server, request) as sock:
        started = time.monotonic()
        buffer = bytearray()
        read_until(sock, buffer, b"\r\n\r\n1\r\n")
        head = bytes(buffer).partition(b"\r\n\r\n")[0]
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
        assert time.monotonic() - started < 1.5  # the status and first byte come at once
        read_until(sock, buffer, b"\r\n1\r\n" + expected[1:2] + b"\r\n")
        second = time.monotonic()
    chunks = bytes(buffer).partition(b"\r\n\r\n")[2]
    assert chunks == b"1\r\n" + expected[:1] + b"\r\n1\r\n" + expected[1:2] + b"\r\n"
    assert 1.5 <= second - started < 4.0


# -- bodies that break parsers, redirects ----------------------------------------------------

DEPTH = 60_000


@pytest.mark.parametrize(
    ("route", "status", "head", "tail"),
    [
        ("tts", 400, b'{"message": "bad request", "detail": ', b"}"),
        ("tts_stream", 400, b'{"message": "bad request", "detail": ', b"}"),
        ("voices", 200, b'{"data": {"voices": ', b"}}"),
        ("health", 200, b'{"status": "ok", "detail": ', b"}"),
    ],
)
def test_deep_json_nests_sixty_thousand_levels(
    server: ServerHandle, route: str, status: int, head: bytes, tail: bytes
) -> None:
    server.set_faults("deep-json")
    if route == "tts":
        response = post_tts(server)
    elif route == "tts_stream":
        response = post_wav(server)
    else:
        response = httpx.get(f"{server.base_url}/{route}", timeout=10)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == head + b"[" * DEPTH + b"]" * DEPTH + tail
    with pytest.raises(RecursionError, match="maximum recursion depth exceeded"):
        json.loads(response.content)


@pytest.mark.parametrize("route", ["tts", "audio", "tts_stream", "voices", "health"])
def test_http_302_points_at_a_path_on_this_server_carrying_the_token(
    server: ServerHandle, route: str
) -> None:
    server.set_faults("http-302")
    token = "tok/en&x"
    if route == "tts":
        response, path = post_tts(server, token), "/api/v1/tts"
    elif route == "audio":
        response, path = post_audio(server, token), "/api/v1/audio"
    else:
        path = f"/api/v1/{route}"
        headers = {"Authorization": f"Bearer {token}"}
        if route == "tts_stream":
            body = {"text": TEXT, "voice_id": VOICE}
            response = httpx.post(
                f"{server.root_url}{path}", json=body, headers=headers, timeout=10
            )
        else:
            response = httpx.get(f"{server.root_url}{path}", headers=headers, timeout=10)
    assert response.status_code == 302
    assert response.headers["location"] == f"{server.root_url}/moved{path}?token=tok%2Fen%26x"
    assert response.content == b""


def test_endpoint_faults_leave_synthesis_faults_for_synthesis(server: ServerHandle) -> None:
    server.set_faults("http-503:1", "control-chars:1")
    voices = httpx.get(f"{server.base_url}/voices", timeout=10)
    assert voices.status_code == 200  # http-503 does not concern /voices...
    assert HOSTILE_TEXT in voices.json()["data"]["voices"][0]["description"]
    assert post_tts(server).status_code == 503  # ...so it is still there for synthesis
    *statuses, _ = events(post_tts(server))
    assert not any(HOSTILE_TEXT in s["generation_status"] for s in statuses)  # used up

"""`outeai serve` logs one line per request on stderr (text, or JSON Lines), `--quiet` none.

A real `outeai serve` subprocess, real HTTP requests in each dialect, and its stderr read as
it runs. Tokens must appear only masked (no plain or URL-encoded form), and a path full of
control characters must reach the log without them.
"""

from __future__ import annotations

import json
import re
import socket
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from outeai_cli.security import mask_token
from tests.helpers import ServeProcess, outeai_serve, serve_fails

VOICE = "EN-FEMALE-1-NEUTRAL"
BODY_TOKEN = "body-token-0123456789"
QUERY_TOKEN = "query/token+with=odd&chars"
BEARER_TOKEN = "bearer-token-abcdefghij"


def post_tts(served: ServeProcess, text: str) -> httpx.Response:
    body = {"token": BODY_TOKEN, "text": text, "speaker": {"default": VOICE}}
    return httpx.post(f"{served.base_url}/tts", json=body, timeout=30)


def every_dialect(served: ServeProcess) -> dict[str, Any]:
    """One request of each kind; what the log should say about each, in order."""
    tts = post_tts(served, "Hello there.")
    duration = json.loads(tts.content.splitlines()[-1])["data"]["duration"]
    audio = httpx.post(
        f"{served.base_url}/audio?token={quote(QUERY_TOKEN, safe='')}",
        json={"model": "OuteTTS-1-Pro", "prompt": "Hi.", "speaker_id": VOICE},
        timeout=30,
    )
    mp3_duration = json.loads(audio.content.splitlines()[-1])["audio_data"]["duration"]
    wav = httpx.post(
        f"{served.base_url}/tts_stream",
        json={"text": "Hi there.", "voice_id": VOICE},
        headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
        timeout=30,
    )
    wav_seconds = (len(wav.content) - 44) / 2 / 24000
    refused = httpx.post(f"{served.base_url}/tts", json={"text": "no token"}, timeout=30)
    assert (refused.status_code, httpx.get(f"{served.base_url}/voices").status_code) == (401, 200)
    # A path full of terminal attacks (ESC, OSC title, BEL, CSI, C1), sent raw: each sequence
    # goes whole (the C1 CSI takes the x as its final byte), the text after it stays.
    with socket.create_connection(served.root_url.removeprefix("http://").split(":")) as sock:
        sock.sendall(b"GET /api/v1/%1b]0;pwned%07%1b[2J%c2%9bx-kept HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 404")
    return {
        "tts": ("POST", "/api/v1/tts", "tts", 200, 12, duration, mask_token(BODY_TOKEN)),
        "audio": ("POST", "/api/v1/audio", "audio", 200, 3, mp3_duration, mask_token(QUERY_TOKEN)),
        "wav": (
            "POST",
            "/api/v1/tts_stream",
            "tts-stream",
            200,
            9,
            wav_seconds,
            mask_token(BEARER_TOKEN),
        ),
        "refused": ("POST", "/api/v1/tts", "tts", 401, None, None, None),
        "voices": ("GET", "/api/v1/voices", None, 200, None, None, None),
        "attack": ("GET", "/api/v1/-kept", None, 404, None, None, None),
    }


def assert_no_secret_and_no_control(text: str) -> None:
    for token in (BODY_TOKEN, QUERY_TOKEN, BEARER_TOKEN):
        assert token not in text and quote(token, safe="") not in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)


TEXT_LINE = re.compile(
    r"(?P<clock>\d\d:\d\d:\d\d\.\d{3}) (?P<method>\S+) (?P<path>\S+) (?P<dialect>\S+) "
    r"(?P<status>\d{3}) chars=(?P<chars>\S+) audio=(?P<audio>\S+) took=(?P<took>\d+\.\d{3})s "
    r"token=(?P<token>\S+)$"
)


def test_serve_logs_one_text_line_per_request() -> None:
    with outeai_serve("--engine", "tone") as served:
        assert "requests: a line each on stderr" in served.banner
        expected = every_dialect(served)
        lines = served.next_lines(len(expected))
    assert_no_secret_and_no_control("\n".join(lines) + served.rest)
    for line, (method, path, dialect, status, chars, seconds, token) in zip(
        lines, expected.values(), strict=True
    ):
        match = TEXT_LINE.match(line)
        assert match, line
        fields = match.groupdict()
        assert (fields["method"], fields["path"], fields["status"]) == (method, path, str(status))
        assert fields["dialect"] == (dialect or "-")
        assert fields["chars"] == ("-" if chars is None else str(chars))
        assert fields["audio"] == ("-" if seconds is None else f"{seconds:.2f}s"), line
        assert fields["token"] == (token or "-")
        assert 0 <= float(fields["took"]) < 10
    assert served.rest.strip() == "outeai serve: stopped"


def test_serve_json_log_writes_one_object_per_request() -> None:
    with outeai_serve("--engine", "tone", "--json-log") as served:
        assert "requests: a JSON object each on stderr" in served.banner
        expected = every_dialect(served)
        entries = [json.loads(line) for line in served.next_lines(len(expected))]
    assert_no_secret_and_no_control(json.dumps(entries, ensure_ascii=False))
    for entry, (method, path, dialect, status, chars, seconds, token) in zip(
        entries, expected.values(), strict=True
    ):
        assert set(entry) == {
            "time",
            "method",
            "path",
            "dialect",
            "status",
            "chars",
            "audio_seconds",
            "seconds",
            "token",
            "complete",
        }
        assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
        assert (entry["method"], entry["path"], entry["dialect"]) == (method, path, dialect)
        assert (entry["status"], entry["chars"], entry["token"]) == (status, chars, token)
        if seconds is None:
            assert entry["audio_seconds"] is None
        else:
            assert abs(entry["audio_seconds"] - seconds) < 0.001
        assert 0 <= entry["seconds"] < 10 and entry["complete"] is True


def test_a_response_cut_short_is_logged_as_such() -> None:
    with outeai_serve("--engine", "tone", "--json-log", "--fault", "drop-in-audio") as served:
        with pytest.raises(
            httpx.RemoteProtocolError,
            match="peer closed connection without sending complete message body",
        ):
            post_tts(served, "Cut me off.")
        (line,) = served.next_lines(1)
    entry = json.loads(line)
    assert (entry["status"], entry["complete"]) == (200, False)
    with outeai_serve("--engine", "tone", "--fault", "drop-in-audio") as served:
        with pytest.raises(
            httpx.RemoteProtocolError,
            match="peer closed connection without sending complete message body",
        ):
            post_tts(served, "Cut me off.")
        (line,) = served.next_lines(1)
    assert line.endswith(" (cut short)")


def test_quiet_serve_logs_nothing() -> None:
    with outeai_serve("--engine", "tone", "--quiet") as served:
        assert "requests:" not in served.banner
        assert post_tts(served, "Quiet please.").status_code == 200
        assert httpx.get(f"{served.base_url}/voices", timeout=10).status_code == 200
    assert served.rest.strip() == "outeai serve: stopped"


def test_quiet_and_json_log_together_are_refused_in_one_line() -> None:
    assert "--quiet and --json-log" in serve_fails("--quiet", "--json-log")


def test_a_request_that_fails_unexpectedly_is_logged_as_the_500_it_gets() -> None:
    """No route fails this way on purpose any more: an app that raises stands in for a bug."""
    import asyncio

    from outeai_cli.server.requestlog import RequestLogger

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RecursionError("a bug")

    async def never_called(message: Any) -> None:
        raise AssertionError(message)

    written: list[str] = []
    logger = RequestLogger(broken, fmt="json", write=written.append)
    scope = {"type": "http", "method": "POST", "path": "/api/v1/tts", "headers": []}
    with pytest.raises(RecursionError, match="a bug"):
        asyncio.run(logger(scope, never_called, never_called))
    (entry,) = [json.loads(line) for line in written]
    assert (entry["status"], entry["complete"]) == (500, False)

"""`outeai serve` under bad input: refused with a 4xx and a JSON message before any work.

Real requests over loopback, the body written by hand where JSON libraries would refuse to
produce it (a lone surrogate, nesting 100,000 deep); every dialect gets the same answer.
"""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import TOKEN, ServerHandle

from outeai_cli.server.common import ServerSettings
from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.faults import FaultPlan
from outeai_cli.server.runner import LocalServer
from outeai_cli.server.text import MAX_CHUNK_WEIGHT, chunk_weight, split_sentences
from tests.helpers import outeai_serve

VOICE = "EN-MALE-1-NEUTRAL"
# JSON text for a string with half a surrogate pair: `json.dumps` would escape it the same way.
LONE_SURROGATE = '"hi \\ud800 there"'
# A text nested 100,000 arrays deep: Python's json recurses once per level.
DEEP_TEXT = "[" * 100_000 + "]" * 100_000


def bodies(text_json: str) -> dict[str, tuple[str, dict[str, str], bytes]]:
    """One request per route, each carrying `text_json` (JSON text) as the text to speak."""
    speaker = json.dumps({"default": VOICE})
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    stream_body = f'{{"voice_id": "{VOICE}", "text": {text_json}}}'.encode()
    return {
        "tts": (
            "/tts",
            {},
            f'{{"token": "{TOKEN}", "speaker": {speaker}, "text": {text_json}}}'.encode(),
        ),
        "audio": (
            f"/audio?token={TOKEN}",
            {},
            f'{{"model": "OuteTTS-1-Pro", "speaker_id": "{VOICE}", "prompt": {text_json}}}'.encode(),
        ),
        "tts_stream": ("/tts_stream", bearer, stream_body),
        "tts_non_stream": ("/tts_non_stream", bearer, stream_body),
    }


def send_each(base_url: str, text_json: str) -> dict[str, httpx.Response]:
    return {
        name: httpx.post(f"{base_url}{path}", content=body, headers=headers, timeout=30)
        for name, (path, headers, body) in bodies(text_json).items()
    }


def test_a_lone_surrogate_is_refused_with_400_in_every_dialect(server: ServerHandle) -> None:
    for name, response in send_each(server.base_url, LONE_SURROGATE).items():
        assert response.status_code == 400, (name, response.text)
        problem = response.json()
        assert problem["code"] == "invalid_text", name
        assert "lone surrogate (U+D800" in problem["message"], name
    # Refused before any work: logged as refused, nothing spoken.
    assert [r["status"] for r in server.requests()] == [400] * 4
    # A surrogate pair is one whole character (an emoji): spoken as usual.
    for name, response in send_each(server.base_url, '"hi \\ud83d\\ude00 there"').items():
        assert response.status_code == 200, (name, response.text)


def test_json_nested_too_deep_is_refused_with_400_in_every_dialect(
    server: ServerHandle,
) -> None:
    for name, response in send_each(server.base_url, DEEP_TEXT).items():
        assert response.status_code == 400, (name, response.text)
        problem = response.json()
        assert problem["code"] == "invalid_json", name
        assert "nested over 64 levels deep" in problem["message"], name
    for name, (path, headers, _) in bodies('""').items():
        whole = httpx.post(
            f"{server.base_url}{path}", content=b"[" * 100_000, headers=headers, timeout=30
        )
        assert whole.status_code == 400, (name, whole.text)
        assert whole.json()["code"] == "invalid_json", name
    assert [r["status"] for r in server.requests()] == [400] * 8
    # The control endpoint reads its body the same way.
    faults = httpx.put(f"{server.root_url}/_outeai/faults", content=b"[" * 100_000, timeout=30)
    assert faults.status_code == 400, faults.text


def test_refusals_are_logged_with_their_status_and_no_traceback() -> None:
    with outeai_serve("--engine", "tone", "--json-log") as served:
        for text_json in (LONE_SURROGATE, DEEP_TEXT):
            for name, response in send_each(served.base_url, text_json).items():
                assert response.status_code == 400, (name, response.text)
        logged = [json.loads(line) for line in served.next_lines(8)]
    assert [entry["status"] for entry in logged] == [400] * 8
    assert all(entry["complete"] for entry in logged)
    assert "Traceback" not in served.rest and "Error" not in served.rest


@pytest.mark.parametrize("text_json", [LONE_SURROGATE, DEEP_TEXT], ids=["surrogate", "deep"])
def test_the_server_keeps_serving_after_bad_input(server: ServerHandle, text_json: str) -> None:
    send_each(server.base_url, text_json)
    for name, response in send_each(server.base_url, '"Still here."').items():
        assert response.status_code == 200, (name, response.text)


def long_requests(server: LocalServer, count: int) -> None:
    """`count` admitted requests of 5,000 characters (refused by a fault: no audio to make)."""
    body = {"token": TOKEN, "text": "\U0001f600" * 5000, "speaker": {"default": VOICE}}
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            assert client.post(f"{server.base_url}/tts", json=body).status_code == 400


@pytest.mark.parametrize("control", [False, True])
def test_the_request_log_is_kept_only_for_the_control_endpoints_and_bounded(
    control: bool,
) -> None:
    budget = 200_000  # ten of these texts (20 kB each as Python holds them)
    settings = ServerSettings(
        engine=ToneEngine(),
        control=control,
        control_log_bytes=budget,
        faults=FaultPlan.from_specs(["http-400"]),
    )
    with LocalServer(settings) as server:
        long_requests(server, 30)
        log = server.state.log
        if not control:
            assert len(log) == 0 and log.size == 0
            return
        assert 5 <= len(log) <= 10 and log.size <= budget
        listed = httpx.get(f"{server.root_url}/_outeai/requests", timeout=30).json()
        assert listed["count"] == len(log)  # the newest ones
        assert all(r["text"] == "\U0001f600" * 5000 for r in listed["requests"])


LONG_TEXTS = {
    "words without a full stop": ("the quick brown fox jumps over the lazy dog " * 120)[:5000],
    "a number read in words": "123,456,789,012 " * 300,
    "a script the voice spells": "你好世界" * 1250,
    "symbols read as names": "\U0001f600\U0001f389\u2192" * 1600,
    "one unbroken run": "x" * 5000,
}


@pytest.mark.parametrize("text", LONG_TEXTS.values(), ids=LONG_TEXTS.keys())
def test_a_long_sentence_reaches_the_engine_in_bounded_chunks(text: str) -> None:
    chunks = split_sentences(text)
    assert len(chunks) > 10
    assert max(chunk_weight(chunk) for chunk in chunks) <= MAX_CHUNK_WEIGHT
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")  # all of it, in order


def test_ordinary_sentences_stay_whole() -> None:
    text = (
        "The first sentence is short. A second one, with a clause or two, runs on a little "
        "longer than that, though not by much! In 2024 the third asks: is that all?"
    )
    assert split_sentences(text) == [
        "The first sentence is short.",
        "A second one, with a clause or two, runs on a little longer than that, though not by "
        "much!",
        "In 2024 the third asks: is that all?",
    ]


def test_the_server_speaks_a_long_sentence_in_chunks_it_reports(server: ServerHandle) -> None:
    text = LONG_TEXTS["words without a full stop"][:1000]
    body = {"token": TOKEN, "text": text, "speaker": {"default": VOICE}}
    response = httpx.post(f"{server.base_url}/tts", json=body, timeout=60)
    assert response.status_code == 200, response.text
    events = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    progress = [e for e in events if "current_text_chunk" in e]
    assert len(progress) == progress[-1]["text_chunks"] >= 7

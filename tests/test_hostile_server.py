"""What a hostile server says never reaches the terminal raw, never leaks the token, never hangs.

The CLI as a subprocess against `outeai serve --fault` (the shared local server), one attack
per test: control characters, echoes of the request, JSON nested 60,000 deep, endless status
events, a byte drip, a redirect.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote, quote_plus

import pytest

from outeai_cli.http.client import TTSClient
from outeai_cli.server.faults import HOSTILE_TEXT
from tests.conftest import TOKEN
from tests.helpers import error_lines

# What a terminal would act on: C0 controls but the newline, DEL, C1 controls (incl. NEL, CSI).
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
TOKEN_FORMS = (TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN), json.dumps(TOKEN)[1:-1])
EXTENSION = {"tts": "flac", "audio": "mp3", "tts-stream": "wav"}


def assert_clean(text: str) -> None:
    assert not CONTROLS.search(text), repr(text)
    for form in TOKEN_FORMS:
        assert form not in text


# -- the token, echoed back in every form -------------------------------------------------------


@pytest.mark.parametrize(("api", "code"), [("tts", 6), ("audio", 6), ("tts-stream", 4)])
def test_a_server_echoing_the_request_never_shows_the_token(
    outeai, server, tmp_path, api: str, code: int
) -> None:
    server.set_faults("echo-request")
    result = outeai("say", "hi", "--api", api, "-o", f"x.{EXTENSION[api]}", "--retries", "0")
    assert result.returncode == code, result.stderr
    assert len(error_lines(result.stderr)) == 1, result.stderr
    assert_clean(result.stderr + result.out)
    assert "test…cdef" in result.stderr  # the echo is still shown, masked
    assert not (tmp_path / f"x.{EXTENSION[api]}").exists()


# -- terminal control characters -----------------------------------------------------------


@pytest.mark.parametrize("api", ["tts", "audio"])
def test_control_characters_in_statuses_never_reach_the_terminal_or_a_caller(
    outeai, server, api: str
) -> None:
    server.set_faults("control-chars")
    result = outeai("say", "hi", "--api", api, "-o", f"x.{EXTENSION[api]}")
    assert result.returncode == 0, result.stderr
    assert_clean(result.stderr)
    # A library caller that logs the stages gets them clean too.
    stages: list[str] = []
    with TTSClient(TOKEN, base_url=server.base_url, api=api, retries=0) as client:
        client.generate("hi", on_event=lambda e: stages.append(getattr(e, "stage", "")))
    assert any("OVERWRITTEN" in stage for stage in stages), stages
    for stage in stages:
        assert_clean(stage)


@pytest.mark.parametrize(
    "token", ['tok"en\\with/quotes-0123456789', "plain/slash+plus=eq-0123456789"]
)
def test_an_echoed_token_is_masked_in_every_encoding(outeai, server, token: str) -> None:
    server.set_faults("echo-request")
    forms = {token, quote(token, safe=""), quote_plus(token), json.dumps(token)[1:-1]}
    forms.add(json.dumps(token)[1:-1].replace("/", "\\/"))
    for api, ext in (("tts", "flac"), ("audio", "mp3")):
        result = outeai(
            "say", "hi", "--api", api, "-o", f"x.{ext}", "--retries", "0",
            env={"OUTEAI_TOKEN": token},
        )  # fmt: skip
        assert result.returncode == 6, result.stderr
        for form in forms:
            assert form not in result.stderr, (api, form, result.stderr)


def test_control_characters_in_voice_descriptions_never_reach_the_terminal(outeai, server) -> None:
    server.set_faults("control-chars")
    for args in (("voices", "--remote"), ("voices", "--remote", "--json")):
        result = outeai(*args)
        assert result.returncode == 0, result.stderr
        assert_clean(result.out + result.stderr)
        assert "OVERWRITTEN" in result.out  # the printable rest of the text is kept


def test_control_characters_in_an_error_message_never_reach_the_terminal(outeai, server) -> None:
    server.set_faults("control-chars-error")
    for args in (("say", "hi", "-o", "x.flac"), ("voices", "--remote")):
        result = outeai(*args)
        assert result.returncode == 4, result.stderr
        assert_clean(result.stderr)
        assert len(error_lines(result.stderr)) == 1
        assert "(check the input)" in result.stderr


def test_hostile_text_is_really_hostile() -> None:
    assert CONTROLS.search(HOSTILE_TEXT)  # the attack these tests rest on


# -- JSON nested 60,000 deep ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "args", "code"),
    [
        ("deep-json", ("say", "hi", "-o", "x.flac", "--retries", "0"), 4),
        ("deep-json", ("voices", "--remote"), 6),
        # Only the /health probe gets it: not a JSON object, so not the 2026 API.
        ("deep-json:1", ("say", "hi", "-o", "x.wav", "--api", "auto"), 0),
    ],
    ids=["error-body", "voices", "health"],
)
def test_deeply_nested_json_is_one_clear_line_never_a_traceback(
    outeai, server, fault: str, args: tuple[str, ...], code: int
) -> None:
    server.set_faults(fault)
    result = outeai(*args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert len(error_lines(result.stderr)) == (1 if code else 0), result.stderr


# -- streams that never end -------------------------------------------------------------------


@pytest.mark.parametrize("api", ["tts", "audio"])
def test_status_events_that_never_advance_count_as_idle(outeai, server, api: str) -> None:
    server.set_faults("endless-status")
    started = time.monotonic()
    result = outeai(
        "say", "hi", "--api", api, "-o", f"x.{EXTENSION[api]}",
        "--timeout", "3", "--idle-timeout", "2", "--retries", "0",
    )  # fmt: skip
    assert result.returncode == 5, result.stderr
    assert time.monotonic() - started < 20
    (line,) = error_lines(result.stderr)
    assert line.startswith("outeai: error: idle timeout: the server kept sending events that")
    assert line.endswith("retry, or raise --idle-timeout")


def test_max_time_ends_a_request_that_keeps_progressing_too_slowly(outeai, server) -> None:
    server.set_faults("endless-status")
    result = outeai(
        "say", "hi", "-o", "x.flac", "--max-time", "2", "--idle-timeout", "60", "--retries", "0",
    )  # fmt: skip
    assert result.returncode == 5, result.stderr
    assert error_lines(result.stderr) == [
        "outeai: error: max-time expired: the request was still running after 2 s; "
        "retry, or raise --max-time"
    ]


def test_a_byte_drip_is_idle(outeai, server) -> None:
    server.set_faults("drip")
    started = time.monotonic()
    result = outeai(
        "say", "hi", "-o", "x.flac", "--timeout", "5", "--idle-timeout", "3", "--retries", "0",
    )  # fmt: skip
    assert result.returncode == 5, result.stderr
    assert time.monotonic() - started < 20
    (line,) = error_lines(result.stderr)
    assert "idle timeout" in line and "raise --idle-timeout" in line


# -- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("say", "hi", "-o", "x.flac"), ("voices", "--remote")])
def test_a_redirect_names_its_target_masked_and_is_not_followed(
    outeai, server, args: tuple[str, ...]
) -> None:
    server.set_faults("http-302")
    result = outeai(*args, "--retries", "0") if args[0] == "say" else outeai(*args)
    assert result.returncode == 5, result.stderr
    (line,) = error_lines(result.stderr)
    root = server.base_url.removesuffix("/api/v1")
    assert f"HTTP 302: the server redirects to {root}/moved/api/v1/" in line
    assert "?…" in line and "redirects are not followed on purpose" in line
    assert_clean(result.stderr)
    paths = [r["path"] for r in server.requests()]
    assert not any("moved" in p for p in paths), paths


def test_a_voice_list_that_drips_ends_at_the_timeout(outeai, server) -> None:
    server.set_faults("drip")
    started = time.monotonic()
    result = outeai("voices", "--remote", "--timeout", "3")
    assert result.returncode == 5, result.stderr
    assert time.monotonic() - started < 15
    (line,) = error_lines(result.stderr)
    assert "did not answer GET /voices within 3 s" in line


def test_api_auto_does_not_claim_remembered_when_the_cache_cannot_be_written(
    outeai, server
) -> None:
    # A cache "directory" under /dev/null cannot be created, even by root.
    result = outeai(
        "say", "hi", "-o", "x.flac", "--api", "auto", env={"XDG_CACHE_HOME": "/dev/null/c"}
    )
    assert result.returncode == 0, result.stderr
    assert "remembered in" not in result.stderr
    assert "not remembered: cannot write /dev/null/c/outeai/api-dialects.json" in result.stderr


# -- files anyone could have edited: the same bounded parse ------------------------------------

DEEP = "[" * 60_000 + "]" * 60_000


def test_a_deeply_nested_manifest_line_is_a_row_error(outeai, server, tmp_path) -> None:
    (tmp_path / "list.jsonl").write_text(DEEP + "\n")
    result = outeai("batch", "list.jsonl", "-o", "out")
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "list.jsonl line 1: not valid JSON" in line
    assert "Traceback" not in result.stderr


def test_a_deeply_nested_results_line_is_skipped(outeai, server, tmp_path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "outeai-results.jsonl").write_text(DEEP + "\n")
    (tmp_path / "list.jsonl").write_text(json.dumps({"text": "hi", "output": "a.flac"}) + "\n")
    result = outeai("batch", "list.jsonl", "-o", "out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "a.flac").exists()


def test_a_deeply_nested_cache_entry_is_a_miss(tmp_path) -> None:
    import io

    import numpy as np
    import soundfile as sf

    from outeai_cli.synthesis.audio_key import audio_key
    from outeai_cli.synthesis.cache import PieceCache

    cache = PieceCache(tmp_path / "c")
    key = audio_key(api="tts", base_url="http://x/api/v1", speaker="s", temperature=0.4, text="t")
    source = tmp_path / "piece.flac"
    sf.write(source, np.zeros(2400, dtype="int16"), 24000, format="FLAC")  # a real, valid FLAC
    cache.store(key, source, format="flac", duration=0.1)
    assert cache.fetch(key, io.BytesIO()) is not None  # valid until its sidecar is tampered with
    (tmp_path / "c" / key[:2] / f"{key}.json").write_text(DEEP)
    assert cache.fetch(key, io.BytesIO()) is None


@pytest.mark.parametrize(
    ("output", "problem"),
    [(".", "must be a relative path inside the output directory"), ("a\x00b.flac", "control")],
    ids=["dot", "nul"],
)
def test_an_unusable_manifest_output_is_a_row_error(
    outeai, server, tmp_path, output: str, problem: str
) -> None:
    (tmp_path / "list.jsonl").write_text(json.dumps({"text": "hi", "output": output}) + "\n")
    result = outeai("batch", "list.jsonl", "-o", "out")
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "list.jsonl line 1:" in line and problem in line
    assert server.requests() == []

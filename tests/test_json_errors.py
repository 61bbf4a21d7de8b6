"""`--json` failures: one JSON object on stdout with a fixed schema, beside the stderr line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCHEMA = {"message", "code", "exit_code", "hint"}


def error_of(result) -> dict[str, object]:
    lines = result.out.splitlines()
    assert len(lines) == 1, f"not one JSON line on stdout: {result.out!r}"
    document = json.loads(lines[0])
    assert set(document) == {"error"}
    assert set(document["error"]) == SCHEMA
    return document["error"]


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (["say", "hi", "-o", "x.wav", "--no-such-option"], "usage", 2),
        (["say", "hi", "-o", "x.wav", "-t", "3"], "usage", 2),
        (["say", "hi", "-o", "x.wav", "-s", "NO-SUCH-VOICE"], "refused", 4),
        (["say", "hi", "-o", "x.wav", "--base-url", "http://127.0.0.1:9/api/v1", "--retries", "0"],
         "network", 5),
        (["voices", "--remote", "--base-url", "http://127.0.0.1:9/api/v1"], "network", 5),
    ],
    ids=["usage", "bad-input", "refused", "network", "voices-network"],
)  # fmt: skip
def test_a_failure_with_json_prints_one_error_object_on_stdout(
    outeai, args: list[str], code: str, exit_code: int
) -> None:
    result = outeai(*args, "--json")
    assert result.returncode == exit_code, result.stderr
    error = error_of(result)
    assert error["code"] == code
    assert error["exit_code"] == exit_code
    # The same words as the line for people on stderr.
    assert f"outeai: error: {error['message']}" in result.stderr
    assert error["hint"] is None or error["hint"] in result.stderr


def test_a_failure_from_the_stream_with_json_has_the_protocol_code(outeai, server) -> None:
    server.set_faults("non-json")
    result = outeai("say", "hi", "-o", "x.wav", "--json", "--retries", "0")
    assert result.returncode == 6
    assert error_of(result)["code"] == "protocol"


def test_a_rejected_token_with_json_has_the_auth_code(outeai, make_server) -> None:
    strict = make_server(tokens=frozenset({"the-right-token"}))
    result = outeai("say", "hi", "-o", "x.wav", "--json", env={"OUTEAI_BASE_URL": strict.base_url})
    assert result.returncode == 3
    error = error_of(result)
    assert error["code"] == "auth" and error["hint"]
    assert "test-token" not in result.out


def test_without_json_a_failure_leaves_stdout_empty(outeai) -> None:
    result = outeai("say", "hi", "-o", "x.wav", "-t", "3")
    assert result.returncode == 2
    assert result.out == ""


def test_json_after_a_double_dash_is_text_not_the_option(outeai, tmp_path: Path) -> None:
    result = outeai("say", "-o", "x.wav", "-t", "3", "--", "--json")
    assert result.returncode == 2
    assert result.out == ""

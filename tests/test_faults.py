"""The fault matrix: the real `outeai` subprocess against every fault the server can inject.

Failures must exit with the documented code, print one line naming the problem, and leave no
file; valid-but-awkward streams must give byte-identical audio; retried cases are counted at
the server.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.helpers import files_in, reference_audio

TEXT = "Faults are part of life. Clients must cope."

FAILURES = [
    # (fault, extra args, exit code, words in the error line, attempts the server sees)
    ("http-429", ["--retries", "0"], 4, "HTTP 429", 1),
    ("http-500", [], 5, "HTTP 500", 1),
    ("http-502", ["--retries", "0"], 5, "HTTP 502", 1),
    ("http-503", ["--retries", "0"], 5, "HTTP 503", 1),
    ("http-504", ["--retries", "0"], 5, "HTTP 504", 1),
    ("html-502", ["--retries", "0"], 5, "HTML page instead of JSON", 1),
    ("drop-mid-stream", [], 5, "connection broke", 2),
    ("drop-in-audio", [], 5, "connection broke", 2),
    ("no-final-event", [], 6, "without the final audio event", 1),
    ("truncated-final-event", [], 6, "truncated", 1),
    ("bad-base64", [], 6, "invalid base64", 1),
    ("non-json", [], 6, "not JSON", 1),
    ("html-200", [], 6, "HTML page, not an event stream", 1),
    ("stall", ["--idle-timeout", "1"], 5, "idle timeout", 1),
]


@pytest.mark.parametrize(
    ("fault", "args", "code", "words", "attempts"), FAILURES, ids=[f[0] for f in FAILURES]
)
def test_fault_fails_cleanly(
    outeai,
    server,
    tmp_path: Path,
    fault: str,
    args: list[str],
    code: int,
    words: str,
    attempts: int,
) -> None:
    (tmp_path / "keep.flac").write_bytes(b"previous take")
    before = files_in(tmp_path)
    server.set_faults(fault)
    result = outeai("say", TEXT, "-o", "keep.flac", "--force", *args)
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("outeai: error: ")]
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "<html" not in result.stderr.lower()
    assert (tmp_path / "keep.flac").read_bytes() == b"previous take"
    assert files_in(tmp_path) == before
    assert len(server.tts_requests()) == attempts


RECOVERIES = [
    # (fault, attempts the server sees, words on stderr)
    ("http-429:1", 2, "HTTP 429"),
    ("http-503:2", 3, "HTTP 503"),
    ("http-502:1", 2, "HTTP 502"),
    ("http-504:1", 2, "HTTP 504"),
    ("drop-mid-stream:1", 2, "billed twice"),
    ("drop-in-audio:1", 2, "billed twice"),
]


@pytest.mark.parametrize(("fault", "attempts", "words"), RECOVERIES, ids=[r[0] for r in RECOVERIES])
def test_transient_fault_is_retried_and_succeeds(
    outeai, server, tmp_path: Path, fault: str, attempts: int, words: str
) -> None:
    expected = reference_audio(server.base_url, TEXT, TOKEN)
    server.reset()
    server.set_faults(fault)
    result = outeai("say", TEXT, "-o", "out.flac")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.flac").read_bytes() == expected
    assert len(server.tts_requests()) == attempts
    retry_lines = [line for line in result.stderr.splitlines() if "retrying (attempt" in line]
    assert len(retry_lines) == attempts - 1 and words in retry_lines[0], result.stderr


def test_retry_after_is_honoured(outeai, server) -> None:
    server.set_faults("http-429:1")  # the server asks for Retry-After: 1
    started = time.monotonic()
    result = outeai("say", "hi", "-o", "x.flac")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.0
    assert "in 1.0 s" in result.stderr


def test_client_errors_are_not_retried(outeai, server) -> None:
    result = outeai("say", "hi", "-s", "NO-SUCH-VOICE", "-o", "x.flac", "--retries", "5")
    assert result.returncode == 4
    assert len(server.tts_requests()) == 1


def test_retries_zero_gives_up_at_once(outeai, server) -> None:
    server.set_faults("http-503:1")
    result = outeai("say", "hi", "-o", "x.flac", "--retries", "0")
    assert result.returncode == 5
    assert len(server.tts_requests()) == 1


QUIRKS = ["crlf", "blank-lines", "unknown-fields", "split-bytes", "escaped-slashes", "slow-status"]


@pytest.mark.parametrize(
    "quirks", [[q] for q in QUIRKS] + [QUIRKS[:-1]], ids=[*QUIRKS, "all-at-once"]
)
def test_awkward_but_valid_stream_gives_identical_audio(
    outeai, server, tmp_path: Path, quirks: list[str]
) -> None:
    expected = reference_audio(server.base_url, TEXT, TOKEN)
    server.set_faults(*quirks)
    result = outeai("say", TEXT, "-o", "out.flac")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.flac").read_bytes() == expected


def test_first_event_timeout_names_the_cold_start(outeai, make_server, tmp_path: Path) -> None:
    cold = make_server(cold_start=5)
    result = outeai(
        "say", "hi", "-o", "x.flac", "--timeout", "1", env={"OUTEAI_BASE_URL": cold.base_url}
    )
    assert result.returncode == 5
    assert "first-event timeout" in result.stderr and "cold-starting" in result.stderr
    assert not (tmp_path / "x.flac").exists()


def test_cold_start_within_the_timeout_succeeds(outeai, make_server, tmp_path: Path) -> None:
    cold = make_server(cold_start=1.5)
    result = outeai(
        "say", "hi", "-o", "x.flac", "--idle-timeout", "1", env={"OUTEAI_BASE_URL": cold.base_url}
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.flac").exists()

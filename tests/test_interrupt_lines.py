"""A stop (Ctrl-C, SIGTERM) is reported in one line that says what was kept and what the output
holds: a file is never left partial; audio already sent to stdout is counted, not denied."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import unnamed_file_size, wait_for_request, wait_until

LONG_TEXT = " ".join(f"Sentence number {n} is here." for n in range(1, 13))


def start(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.Popen[bytes]:
    (cwd / ".stdin").write_text(stdin, encoding="utf-8")
    with (cwd / ".stdin").open("rb") as source:
        return subprocess.Popen(
            [sys.executable, "-m", "outeai_cli", *args],
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def stop_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "interrupted" in line or "terminated" in line]


def interrupt(proc: subprocess.Popen[bytes]) -> tuple[list[str], str]:
    """Ctrl-C `proc`, which must exit 130: the lines that report the stop, and all of stderr."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    return stop_lines(stderr), stderr


def test_a_long_text_stopped_says_what_was_kept_in_one_line(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=0.6, control=True)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    args = ["say", LONG_TEXT, "-o", "out.flac", "--max-chars", "60", "-j", "2"]
    proc = start(args, env, tmp_path)
    # Stitching has begun: the first piece's audio is in the output's unnamed temp file.
    wait_until(lambda: unnamed_file_size(proc.pid, tmp_path) > 0, "stitching began", proc=proc)
    lines, stderr = interrupt(proc)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("outeai: interrupted; ") and " pieces were finished" in lines[0]
    assert "they are cached" in lines[0] and lines[0].endswith("no partial file was left behind")
    assert not (tmp_path / "out.flac").exists()


def test_a_stream_stopped_counts_the_audio_already_on_stdout(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=30)  # the WAV header goes out at once, the samples much later
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    proc = start(["say", "Hello there.", "-o", "-", "--api", "tts-stream"], env, tmp_path)
    header = proc.stdout.read(44)  # type: ignore[union-attr]
    assert header[:4] == b"RIFF"
    lines, stderr = interrupt(proc)
    # The writing thread counts a write just after it returns; a stop that lands in between
    # says "up to" the bytes of that write (nothing outside the process marks the moment).
    assert len(lines) == 1, stderr
    assert re.fullmatch(
        r"outeai: interrupted; (up to )?44 B of audio had already gone to stdout, incomplete",
        lines[0],
    ), stderr


def test_a_stopped_run_to_stdout_with_nothing_sent_says_so(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=30, control=True)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    proc = start(["say", "Hello there.", "-o", "-"], env, tmp_path)
    wait_for_request(slow, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert out == b""
    assert stop_lines(err.decode()) == ["outeai: terminated; nothing was written to stdout"]


def test_a_stop_with_json_prints_the_error_object(cli_env, make_server, tmp_path: Path) -> None:
    slow = make_server(latency=30, control=True)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    proc = start(["say", "Hello there.", "-o", "x.flac", "--json"], env, tmp_path)
    wait_for_request(slow, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    error = json.loads(out)["error"]
    assert error["code"] == "interrupted" and error["exit_code"] == 130
    assert f"outeai: {error['message']}" in err.decode()


def test_a_batch_stopped_says_what_is_complete_in_one_line(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=0.5, control=True)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    lines = "".join(f"Line {n}.\n" for n in range(8))
    proc = start(["batch", "-", "-o", "out", "-j", "1"], env, tmp_path, stdin=lines)
    wait_until(lambda: len(slow.tts_requests()) >= 3, "3 requests arrived", proc=proc)
    lines, stderr = interrupt(proc)
    assert len(lines) == 1, stderr
    assert (
        lines[0].startswith("outeai: interrupted; ")
        and "of 8 items are complete and kept" in lines[0]
    )

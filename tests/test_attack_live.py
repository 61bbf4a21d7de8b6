"""Attacks on speaking as the text arrives: readers that go away, inputs that never end, and
the process's own exit while a reading thread still runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LONG = " ".join(
    f"Sentence number {n} is here to make the text longer than one piece." for n in range(30)
)


@pytest.mark.parametrize("fmt", ["flac", "ogg", "mp3", "wav"])
def test_a_reader_that_closes_early_is_a_closed_stdout_in_every_format(
    cli_env: dict[str, str], tmp_path: Path, fmt: str
) -> None:
    # `say LONG -o - --format flac | head -c 100`: the encoder's write fails inside libsndfile,
    # and soundfile asserted that every frame was written ('unexpected AssertionError; this
    # is a bug', exit 1) where a closed stdout is exit 141 in every other format.
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", LONG, "-o", "-", "--format", fmt, "--no-cache"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, errors
    assert "bug" not in errors and "Traceback" not in errors


def test_no_reading_thread_outlives_a_say_that_fails_on_a_live_input(outeai, tmp_path) -> None:
    # `yes | outeai say -o /nonexistent/x.flac` (or --play with no player): the error came
    # after the input was found live, and its reading thread, blocked on a full queue, was
    # still waking when the interpreter exited: now and then 'FATAL: exception not rethrown'
    # and exit 134 (SIGABRT) after the one-line error.
    import threading

    result = outeai("say", "-o", str(tmp_path / "missing" / "x.flac"), input=b"y\n" * 200_000)
    assert result.returncode == 2, result.stderr
    assert "does not exist" in result.stderr
    readers = [t for t in threading.enumerate() if t.name == "outeai-live-text" and t.is_alive()]
    assert not readers, "the live text's reading thread outlived the command"


def test_control_characters_are_never_sent_so_dev_zero_costs_no_request(
    cli_env, server, tmp_path: Path
) -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", "-f", "/dev/zero", "-o", "z.flac"],
        env=cli_env, cwd=tmp_path, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(2)  # two seconds of NUL bytes: every one of them a space, none a piece
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert server.tts_requests() == []
    assert not (tmp_path / "z.flac").exists()


def test_a_nul_inside_a_text_is_sent_as_a_space(outeai, server) -> None:
    result = outeai("say", "-o", "n.flac", input=b"hello\x00world\x07.\n")
    assert result.returncode == 0, result.stderr
    assert [r["text"].strip() for r in server.tts_requests()] == ["hello world ."]

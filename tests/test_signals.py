"""Interruptions: Ctrl-C, SIGTERM, kill -9 and a closed stdout never leave a partial file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers import (
    each_stop_signal,
    files_in,
    pipe_is_full,
    start_say,
    unnamed_file_size,
    wait_for_request,
    wait_until,
)


@each_stop_signal
def test_signal_mid_request_cleans_up_and_exits_with_its_code(
    cli_env, make_server, tmp_path: Path, sig: int, code: int, words: str
) -> None:
    slow = make_server(latency=20)
    (tmp_path / "out.flac").write_bytes(b"previous")
    before = files_in(tmp_path)
    proc = start_say(
        ["One. Two.", "-o", "out.flac", "--force"],
        {**cli_env, "OUTEAI_BASE_URL": slow.base_url},
        tmp_path,
    )
    wait_for_request(slow, proc)
    started = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == code
    assert time.monotonic() - started < 3, "the interrupt was not prompt"
    rest = proc.stderr.read().decode() if proc.stderr else ""
    assert f"outeai: {words}" in rest and "Traceback" not in rest
    assert (tmp_path / "out.flac").read_bytes() == b"previous"
    assert files_in(tmp_path) == before


def test_kill_9_mid_download_leaves_the_target_untouched(cli_env, server, tmp_path: Path) -> None:
    server.set_faults("slow-audio")
    (tmp_path / "out.flac").write_bytes(b"previous")
    before = files_in(tmp_path)
    text = "A longer text so that the audio takes a while to trickle through. " * 3
    proc = start_say([text, "-o", "out.flac", "--force"], cli_env, tmp_path)
    deadline = time.monotonic() + 20
    while unnamed_file_size(proc.pid) == 0:  # wait until audio bytes are being written
        assert proc.poll() is None and time.monotonic() < deadline, "no download seen"
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=10)
    assert (tmp_path / "out.flac").read_bytes() == b"previous"
    assert files_in(tmp_path) == before


def test_closed_stdout_pipe_ends_quietly(cli_env, server, tmp_path: Path) -> None:
    # WAV is large enough (about 88 KB a second) to overflow the pipe once the reader leaves.
    proc = start_say(
        ["Long enough to fill a pipe. " * 3, "-o", "-", "--format", "wav"],
        cli_env,
        tmp_path,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    head = proc.stdout.read(100)
    proc.stdout.close()  # like `| head -c 100`
    code = proc.wait(timeout=30)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert head[:4] == b"RIFF"
    assert code == 141
    assert (
        "Traceback" not in stderr and "Broken pipe" not in stderr and "error" not in stderr.lower()
    )


def test_a_stop_reaches_a_copy_to_stdout_whose_reader_stalls(
    cli_env, server, tmp_path: Path
) -> None:
    """The copy of finished audio into a pipe waits on its reader, however long: Ctrl-C must
    stop it there (exit 130, saying the audio on stdout is incomplete), not wait it out."""
    read_end, write_end = os.pipe()  # the write end kept here too: to see the pipe full
    proc = start_say(
        ["Long enough to fill a pipe. " * 3, "-o", "-", "--format", "wav"],
        cli_env,
        tmp_path,
        stdout=write_end,
    )
    try:
        head = os.read(read_end, 100)  # the copy has begun; the pipe is not read again
        wait_until(lambda: pipe_is_full(write_end), "the pipe is full", proc=proc)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
    finally:
        proc.kill()
        os.close(read_end)
        os.close(write_end)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert head[:4] == b"RIFF"
    assert code == 130, stderr
    assert "incomplete" in stderr and "Traceback" not in stderr

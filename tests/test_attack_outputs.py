"""Attacks on where the output goes: names that are pipes nobody reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.helpers import each_stop_signal, start_say


def _waits_for_a_reader(pid: int) -> bool:
    """Whether the process is blocked opening a FIFO that has no reader (Linux)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc")
@each_stop_signal
@pytest.mark.parametrize("fifo", ["audio", "subtitles"])
def test_a_stop_reaches_a_say_waiting_for_the_reader_of_a_fifo(
    cli_env: dict[str, str], tmp_path: Path, sig: int, code: int, words: str, fifo: str
) -> None:
    # `say Hello -o out.flac` where out.flac (or --subtitles out.srt) is a FIFO nobody reads:
    # the commit waits for a reader, which is right, but it waited with Ctrl-C, SIGTERM and
    # SIGHUP held (as a file's commit is), so nothing but kill -9 ended it.
    pipe = tmp_path / ("out.flac" if fifo == "audio" else "out.srt")
    os.mkfifo(pipe)
    args = ["Hello there.", "-o", "out.flac"]
    if fifo == "subtitles":
        args += ["--subtitles", "out.srt", "--force"]
    proc = start_say(args, cli_env, tmp_path)
    deadline = time.monotonic() + 30
    while not _waits_for_a_reader(proc.pid):
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "it never came to wait for the reader"
        time.sleep(0.05)
    proc.send_signal(sig)
    try:
        assert proc.wait(timeout=5) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    errors = proc.stderr.read().decode() if proc.stderr else ""
    assert f"outeai: {words}" in errors and "Traceback" not in errors
    assert pipe.is_fifo()
    assert sorted(
        p.name for p in tmp_path.iterdir() if not p.name.startswith(("cache", "config", "home"))
    ) == [pipe.name]

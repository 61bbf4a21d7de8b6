"""Small helpers shared by test modules (not fixtures)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from outeai_cli.client import TTSClient


def reference_audio(base_url: str, text: str, token: str, **kwargs: object) -> bytes:
    """What the server sends for `text`, fetched with the library (the tone engine is deterministic)."""
    with TTSClient(token, base_url=base_url, retries=0) as client:
        return client.generate(text, **kwargs).audio_bytes  # type: ignore[arg-type]


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def run_in_pty(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    *,
    stdout_tty: bool = True,
    stdin_tty: bool = False,
    answer: tuple[bytes, bytes] | None = None,
    timeout: float = 60,
) -> tuple[int, str, bytes]:
    """Run `python -m outeai_cli ARGS` with stderr (and optionally stdout, stdin) on a pty.

    `answer=(prompt, reply)` types `reply` once `prompt` shows on the terminal (needs stdin_tty).
    Returns (exit code, everything the terminal showed, bytes written to a piped stdout).
    """
    master, slave = pty.openpty()
    stdout_target = slave if stdout_tty else subprocess.PIPE
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", *args],
        stdin=slave if stdin_tty else subprocess.DEVNULL,
        stdout=stdout_target,
        stderr=slave,
        env={**env, "TERM": env.get("TERM", "xterm-256color"), "COLUMNS": "120", "LINES": "40"},
        cwd=cwd,
    )
    os.close(slave)
    screen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            screen += data
            if answer is not None and answer[0] in screen:
                os.write(master, answer[1])
                answer = None
        elif proc.poll() is not None:
            break
    piped = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=10)
    os.close(master)
    return code, screen.decode("utf-8", "replace"), piped


def screens_in_pty(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    *,
    columns: int,
    every: float = 0.25,
    stdout_tty: bool = True,
    timeout: float = 60,
) -> tuple[int, list[str], bytes]:
    """Run `python -m outeai_cli ARGS` on a pty `columns` wide, through a terminal emulator.

    Returns (exit code, what the screen showed every `every` seconds and at the end, with
    trailing blanks stripped, bytes written to a piped stdout).
    """
    import fcntl
    import struct
    import termios

    import pyte

    rows = 24
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave,
        env={
            **env,
            "TERM": env.get("TERM", "xterm-256color"),
            "COLUMNS": str(columns),
            "LINES": str(rows),
        },
        cwd=cwd,
    )
    os.close(slave)
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    shots: list[str] = []

    def shot() -> None:
        text = "\n".join(line.rstrip() for line in screen.display).strip("\n")
        if text and (not shots or shots[-1] != text):
            shots.append(text)

    deadline = time.monotonic() + timeout
    next_shot = time.monotonic() + every
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            stream.feed(data)
        elif proc.poll() is not None:
            break
        if time.monotonic() >= next_shot:
            shot()
            next_shot += every
    shot()
    piped = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=10)
    os.close(master)
    return code, shots, piped

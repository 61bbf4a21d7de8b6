"""No line wider than the terminal, and breaks between words only: every help screen (its
examples broken as commands that still paste whole) and the server's banner, at 60, 80 and
100 columns; and usage errors name the help of the command they came from."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outeai_cli.server.piper import find_program, packaged_model
from scripts import gen_docs as docs
from tests.in_process import run_in_process

WIDTHS = [60, 80, 100]


def command_paths() -> list[list[str]]:
    root = docs.root_node()
    paths: list[list[str]] = [[]]
    for child in root.children():
        paths.append(child.path.split()[1:])
        paths += [grandchild.path.split()[1:] for grandchild in child.children()]
    return paths


def help_text(path: list[str], columns: int, tmp_path: Path) -> str:
    """The help as the program prints it (through `app.run`), COLUMNS wide."""
    env = {**os.environ, "COLUMNS": str(columns)}
    result = run_in_process([*path, "--help"], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.out


_COMMENT = re.compile(r"(?:^\s*|\s{2,})#\s(.*)$", flags=re.M)


def words(text: str) -> list[str]:
    """The words of a text as a reader takes them, examples' comments apart (one that does not
    fit beside its command moves above it) and continuations (`\\`) left out."""
    return [word for word in _COMMENT.sub("", text).split() if word != "\\"]


def comments(text: str) -> list[str]:
    """The examples' comments, each as one line of words."""
    found: list[str] = []
    above = False  # the previous line was a comment of its own (one wrapped over lines)
    for line in text.splitlines():
        match = _COMMENT.search(line)
        if match and above and line.lstrip().startswith("#"):
            found[-1] += " " + match.group(1)
        elif match:
            found.append(match.group(1))
        above = bool(match) and line.lstrip().startswith("#")
    return [" ".join(comment.split()) for comment in found]


def commands_in(text: str) -> list[str]:
    """The example commands, continuation lines joined back."""
    examples = text.split("Examples:", 1)[1].split("\n\n")[1]
    joined = re.sub(r" \\\n\s+", " ", examples)
    lines = [line.strip() for line in joined.splitlines()]
    return [re.sub(r"\s+#.*", "", line) for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(["outeai", *p]))
def test_help_fits_every_width_and_breaks_between_words(path: list[str], tmp_path: Path) -> None:
    wide = help_text(path, 400, tmp_path)
    for columns in WIDTHS:
        text = help_text(path, columns, tmp_path)
        too_wide = [line for line in text.splitlines() if len(line) > columns]
        assert not too_wide, (columns, too_wide)
        assert words(text) == words(wide), columns  # nothing cut: the same words, in order
        assert comments(text) == comments(wide), columns
        assert commands_in(text) == commands_in(wide), columns  # each pastes as one command


def banner_on_a_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """What `outeai serve ARGS` shows on a terminal `columns` wide until its banner is out."""
    import fcntl
    import termios

    import pyte

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "serve", "--port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm", "COLUMNS": str(columns)},
    )
    os.close(slave)
    screen = pyte.Screen(columns, 50)
    stream = pyte.ByteStream(screen)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while b"  stop with " not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                seen += data
                stream.feed(data)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        os.close(master)
    assert b"  stop with " in seen, seen
    return "\n".join(line.rstrip() for line in screen.display).strip()


BANNERS = {
    "tone": ["--engine", "tone", "--control", "--fault", "http-503:2", "--fault", "stall:10%"],
    "auto": [],  # the voices' engine lines (piper when its voice is installed)
}


@pytest.mark.parametrize("engine", list(BANNERS))
def test_the_server_banner_fits_every_width_and_breaks_between_words(
    engine: str, tmp_path: Path
) -> None:
    if engine == "auto" and (packaged_model() is None or find_program() is None):
        pytest.skip("the piper extra is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTEAI_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    port = re.compile(r"127\.0\.0\.1:\d+")
    shown = {}
    for columns in [*WIDTHS, 250]:
        banner = port.sub("127.0.0.1:PORT", banner_on_a_terminal(BANNERS[engine], columns, env))
        banner = re.sub(r"stop with kill \d+", "stop with kill PID", banner)  # each run's own
        shown[columns] = banner
        too_wide = [line for line in banner.splitlines() if len(line) >= columns]
        assert not too_wide, (columns, too_wide)
    for columns in WIDTHS:
        assert words(shown[columns]) == words(shown[250]), (columns, shown[columns])
        # Continuation lines are indented past their item; the example pastes as one command.
        try_line = re.search(r"try: (.*?)\n  stop", shown[columns], flags=re.S)
        assert try_line, shown[columns]
        assert re.sub(r" \\\n\s+", " ", try_line.group(1)) == (
            'OUTEAI_BASE_URL=http://127.0.0.1:PORT/api/v1 OUTEAI_TOKEN="local" '
            'outeai say "Hello" -o hello.flac'
        )
    assert len(shown[250].splitlines()) < len(shown[60].splitlines())  # it did wrap

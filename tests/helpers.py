"""Small helpers shared by test modules (not fixtures)."""

from __future__ import annotations

import hashlib
import io
import os
import pty
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from outeai_cli.http.client import TTSClient


def error_lines(stderr: str) -> list[str]:
    """The `outeai: error: ...` lines of what a run wrote on stderr."""
    return [line for line in stderr.splitlines() if line.startswith("outeai: error: ")]


def frames(source: Path | bytes) -> int:
    """How many frames an audio file (or its bytes) holds."""
    import soundfile as sf

    return int(sf.info(io.BytesIO(source) if isinstance(source, bytes) else source).frames)


def small_flac(seconds: float = 0.5, pitch: float = 220.0) -> bytes:
    """A small, whole FLAC file (8 kHz, 16-bit): a sine at `pitch` Hz."""
    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    t = np.arange(int(8000 * seconds)) / 8000
    sf.write(buffer, 0.3 * np.sin(2 * np.pi * pitch * t), 8000, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def tone(seconds: float, frequency: float = 440.0, rate: int = 8000) -> Any:
    """A sine as 16-bit samples (a numpy array)."""
    import numpy as np

    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t) * 32767).astype(np.int16)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def config_file(tmp_path: Path) -> Path:
    """Where the CLI keeps its config file in a test (XDG_CONFIG_HOME=tmp_path/config)."""
    return tmp_path / "config" / "outeai" / "config.toml"


def write_config(tmp_path: Path, text: str) -> Path:
    path = config_file(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def parse_columns(lines: list[str]) -> list[dict[str, str]]:
    """Plain aligned output back into rows, cutting at the header's column starts."""
    header = lines[0]
    names = header.split()
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return [
        {n: line[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)}
        for line in lines[1:]
    ]


def assert_lossless(text: str, pieces: Any, cap: int) -> None:
    """Pieces are slices of the text, within the cap, and only whitespace lies between them."""
    cursor = 0
    for piece in pieces:
        assert piece.text == text[piece.start : piece.end]
        assert 0 < len(piece.text) <= cap
        assert piece.text.strip() == piece.text and piece.text
        assert text[cursor : piece.start].strip() == "", "non-space text skipped"
        cursor = piece.end
    assert text[cursor:].strip() == "", "non-space text dropped at the end"


# -- the program as a real process ------------------------------------------------------------


# What a command that does not talk to the network has no business importing: httpx and
# soundfile, numpy (pulled in by soundfile) and the server's stack (starlette, uvicorn).
def assert_subtitle_conventions(
    cues: list[tuple[float, float, str]], paragraphs: list[str], *, line: int = 42
) -> None:
    """Cues (start s, end s, text) as a reader parsed them: at most 2 lines of at most `line`
    characters (a lone longer word excepted), at most 7 s each, in order without overlap, and
    each within one paragraph; together every word of the paragraphs, once, in order."""
    words = [word for paragraph in paragraphs for word in paragraph.split()]
    paragraph_of = [i for i, paragraph in enumerate(paragraphs) for _ in paragraph.split()]
    seen: list[str] = []
    previous_end = 0.0
    for start, end, text in cues:
        lines = text.split("\n")
        assert 1 <= len(lines) <= 2, text
        assert all(len(x) <= line or " " not in x for x in lines), text
        assert end - start <= 7.0005, (start, end, text)
        assert start >= previous_end - 0.0005 and end > start, (start, end, text)
        previous_end = end
        cue_words = text.split()
        # Within one paragraph: its words are a run inside a single paragraph.
        at = len(seen)
        assert paragraph_of[at] == paragraph_of[at + len(cue_words) - 1], text
        seen.extend(cue_words)
    assert seen == words


HEAVY = ("httpx", "soundfile", "numpy", "starlette", "uvicorn")


def run_with_import_log(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[int, set[str]]:
    """Run `outeai ARGS` with -X importtime: its exit code and the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "outeai_cli", *args],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            **(env or {}),
        },
        cwd=tmp_path,
        timeout=60,
    )
    modules = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return proc.returncode, modules


def start_say(
    args: list[str], env: dict[str, str], cwd: Path, **popen: object
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", *args],
        stdin=subprocess.DEVNULL,
        stdout=popen.pop("stdout", subprocess.DEVNULL),
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        # Not a shell's background job: keep SIGINT deliverable as it is for a foreground command.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,  # type: ignore[arg-type]
    )


def wait_until(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = 20,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll `condition` until it holds: the way to wait for an event a test cannot be told of
    (never a fixed sleep). Fails naming `what` at the deadline, or as soon as `proc` ends."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc is None or proc.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def wait_for_request(server: Any, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Until the server has the request (a quick request prints no progress on a pipe)."""
    wait_until(server.tts_requests, "the request arrived", timeout=timeout, proc=proc)


def pipe_is_full(write_fd: int) -> bool:
    """Whether a pipe has no room left (a writer of more is blocked): `write_fd` is a copy of
    its write end, which the kernel reports writable while one buffer slot is free."""
    return not select.select([], [write_fd], [], 0)[1]


def unnamed_file_size(pid: int, directory: Path | None = None) -> int:
    """Bytes written so far to the process's unnamed temp file (O_TMPFILE: an output being
    written; in `directory` if given), or 0 if it has none open (Linux: /proc)."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if not ("(deleted)" in target or target.endswith(".part")):
            continue
        if directory is not None and Path(target.removesuffix(" (deleted)")).parent != directory:
            continue
        try:
            return os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            continue
    return 0


# A test run once per stopping signal: (signal, the exit code it gives, the word that says so).
each_stop_signal = pytest.mark.parametrize(
    ("sig", "code", "words"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)


def reference_audio(base_url: str, text: str, token: str, **kwargs: object) -> bytes:
    """What the server sends for `text`, fetched with the library (the tone engine is deterministic)."""
    with TTSClient(token, base_url=base_url, retries=0) as client:
        return client.generate(text, **kwargs).audio_bytes  # type: ignore[arg-type]


def closed_port_url() -> str:
    """An API URL on a loopback port nothing listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/api/v1"


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def _drive_pty(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    *,
    columns: int,
    rows: int,
    stdout_tty: bool,
    stdin_tty: bool,
    timeout: float,
    poll: float,
    on_data: Callable[[bytes, int], None],
    on_tick: Callable[[], None] = lambda: None,
    stdin: int | None = None,
) -> tuple[int, bytes]:
    """Run `python -m outeai_cli ARGS` with stderr (and optionally stdout, stdin) on a pty
    `columns` x `rows`. `on_data(data, master)` gets what the terminal shows as it comes,
    `on_tick()` runs after every wait of up to `poll` seconds; `stdin` (a descriptor, e.g. a
    pipe a test writes into) replaces an empty stdin. Returns (exit code, bytes written to a
    piped stdout)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", *args],
        stdin=slave if stdin_tty else stdin if stdin is not None else subprocess.DEVNULL,
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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], poll)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            on_data(data, master)
        elif proc.poll() is not None:
            break
        on_tick()
    piped = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=10)
    os.close(master)
    return code, piped


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
    screen = bytearray()
    pending = answer

    def seen(data: bytes, master: int) -> None:
        nonlocal pending
        screen.extend(data)
        if pending is not None and pending[0] in screen:
            os.write(master, pending[1])
            pending = None

    code, piped = _drive_pty(
        args,
        env,
        cwd,
        columns=120,
        rows=40,
        stdout_tty=stdout_tty,
        stdin_tty=stdin_tty,
        timeout=timeout,
        poll=0.1,
        on_data=seen,
    )
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
    stdin: int | None = None,
) -> tuple[int, list[str], bytes]:
    """Run `python -m outeai_cli ARGS` on a pty `columns` wide, through a terminal emulator
    (`stdin`: a descriptor to read instead of an empty stdin).

    Returns (exit code, what the screen showed every `every` seconds and at the end, with
    trailing blanks stripped, bytes written to a piped stdout).
    """
    import pyte

    rows = 24
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    shots: list[str] = []

    def shot() -> None:
        text = "\n".join(line.rstrip() for line in screen.display).strip("\n")
        if text and (not shots or shots[-1] != text):
            shots.append(text)

    next_shot = time.monotonic() + every

    def tick() -> None:
        nonlocal next_shot
        if time.monotonic() >= next_shot:
            shot()
            next_shot += every

    code, piped = _drive_pty(
        args,
        env,
        cwd,
        columns=columns,
        rows=rows,
        stdout_tty=stdout_tty,
        stdin_tty=False,
        timeout=timeout,
        poll=0.05,
        on_data=lambda data, _: stream.feed(data),
        on_tick=tick,
        stdin=stdin,
    )
    shot()
    return code, shots, piped


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    banner: str
    lines: queue.Queue[str | None]
    rest: str = ""  # what stderr said after the banner, once the server stopped

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/api/v1")

    def next_lines(self, count: int, timeout: float = 10) -> list[str]:
        """The next `count` lines the running server writes on stderr (after its banner)."""
        deadline = time.monotonic() + timeout
        found = []
        while len(found) < count:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"outeai serve exited; it said:\n{''.join(found)}"
            found.append(line.rstrip("\n"))
        return found


def serve_fails(*args: str, env: dict[str, str] | None = None) -> str:
    """Run `outeai serve ARGS`, expect exit 2 with one line and no server; return the line."""
    result = subprocess.run(
        [sys.executable, "-m", "outeai_cli", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stderr
    return result.stderr.strip()


@contextmanager
def outeai_serve(
    *args: str, env: dict[str, str] | None = None, stop: int = signal.SIGINT
) -> Iterator[ServeProcess]:
    """Run `outeai serve --port 0 ARGS`, wait for its banner, and stop it with `stop`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "serve", "--port", "0", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            lines.put(raw.decode("utf-8", "replace"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        banner = ""
        deadline = time.monotonic() + 20
        while "  stop with " not in banner:  # Ctrl-C, or a kill for a background job
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"outeai serve exited early:\n{banner}"
            banner += line
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+)/api/v1)", banner)
        assert match, banner
        assert int(match.group(2)) > 0
        served = ServeProcess(proc, match.group(1), banner, lines)
        yield served
        proc.send_signal(stop)
        code = proc.wait(timeout=10)
        while (line := lines.get(timeout=5)) is not None:
            served.rest += line
        assert code == 0, served.rest  # a server's stop is not an error
        assert "Traceback" not in served.rest, served.rest
        assert served.rest.strip().splitlines()[-1] == "outeai serve: stopped", served.rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

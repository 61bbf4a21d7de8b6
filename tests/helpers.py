"""Small helpers shared by test modules (not fixtures)."""

from __future__ import annotations

import contextlib
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

import pytest

from outeai_cli.http.client import TTSClient


@dataclass
class Result:
    """What one `outeai` command line did: its exit status and what it wrote."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")


class _Descriptor(io.FileIO):
    """One end of a pipe that says whether it is a terminal as the test wants it."""

    def __init__(self, fd: int, mode: str, *, tty: bool) -> None:
        super().__init__(fd, mode)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def _drain(fd: int, into: bytearray) -> threading.Thread:
    def read() -> None:
        with open(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                into.extend(chunk)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _feed(fd: int, data: bytes) -> threading.Thread:
    def write() -> None:
        with contextlib.suppress(BrokenPipeError), open(fd, "wb", buffering=0) as pipe:
            view = memoryview(data)
            while view:
                view = view[pipe.write(view) or 0 :]

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@contextmanager
def _process_state(env: dict[str, str], cwd: Path) -> Iterator[None]:
    """os.environ and the working directory as a new process would have them, for one run;
    the tokens a run registers for masking and the signal handlers are put back after it."""
    from outeai_cli import security

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE)
    handlers = {sig: signal.getsignal(sig) for sig in signals}
    saved_environ, saved_cwd = dict(os.environ), os.getcwd()
    secrets, logged = set(security._secrets), set(security._log_filter.tokens)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        security._secrets.clear()
        security._secrets.update(secrets)
        security._log_filter.tokens.clear()
        security._log_filter.tokens.update(logged)
        changed = [sig.name for sig in signals if signal.getsignal(sig) != handlers[sig]]
        for sig in signals:
            signal.signal(sig, handlers[sig])
        assert not changed, f"the command left its handler for {changed} installed"


def run_in_process(
    args: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    input: bytes = b"",
    stdin_tty: bool = False,
    stdout_tty: bool = False,
    stderr_tty: bool = False,
) -> Result:
    """Run `outeai ARGS` inside this process, through the same entry as the program
    (`app.run`: option parsing, error wording, exit status), with pipes for its standard
    streams as `subprocess.run(input=..., capture_output=True)` gives them. Each stream can
    claim to be a terminal. What only a real process shows (signals, closed descriptors, the
    interpreter's own exit) needs `run_cli`."""
    from outeai_cli.cli.app import run
    from outeai_cli.cli.terminal import Terminal

    out, err = bytearray(), bytearray()
    stdin_read, stdin_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    threads = [_feed(stdin_write, input), _drain(stdout_read, out), _drain(stderr_read, err)]
    # As Python sets up a process's streams: stderr line-buffered, undecodable text escaped.
    stdin = io.TextIOWrapper(
        io.BufferedReader(_Descriptor(stdin_read, "rb", tty=stdin_tty)), encoding="utf-8"
    )
    stdout = io.TextIOWrapper(
        io.BufferedWriter(_Descriptor(stdout_write, "wb", tty=stdout_tty)), encoding="utf-8"
    )
    stderr = io.TextIOWrapper(
        io.BufferedWriter(_Descriptor(stderr_write, "wb", tty=stderr_tty)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    terminal = Terminal(stdin, stdout, stderr, environ=dict(env))
    try:
        with _process_state(env, cwd):
            code = run(list(args), terminal)
    finally:
        for stream in (stdout, stderr, stdin):
            with contextlib.suppress(OSError):  # what the reader did not take is dropped
                stream.close()
        for thread in threads:
            thread.join(timeout=10)
    return Result(code, bytes(out), err.decode("utf-8", "replace"))


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
) -> tuple[int, bytes]:
    """Run `python -m outeai_cli ARGS` with stderr (and optionally stdout, stdin) on a pty
    `columns` x `rows`. `on_data(data, master)` gets what the terminal shows as it comes,
    `on_tick()` runs after every wait of up to `poll` seconds. Returns (exit code, bytes
    written to a piped stdout)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", *args],
        stdin=slave if stdin_tty else subprocess.DEVNULL,
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
) -> tuple[int, list[str], bytes]:
    """Run `python -m outeai_cli ARGS` on a pty `columns` wide, through a terminal emulator.

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
        while "stop with Ctrl-C" not in banner:
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

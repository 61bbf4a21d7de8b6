"""`outeai` run inside the test process, as the program runs it: the usual way tests run it."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


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

"""Shared fixtures: a real local server on a loopback port, and the CLI in this process or as
a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.faults import FaultPlan
from outeai_cli.server.runner import LocalServer
from tests.in_process import Result, run_in_process

TOKEN = "test-token-0123456789abcdef"


class ServerHandle:
    """A running LocalServer plus helpers to drive its control endpoints."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.root_url = server.root_url
        # The control endpoints want a server token when the server has any.
        tokens = sorted(server.settings.tokens)
        self._auth = {"Authorization": f"Bearer {tokens[0]}"} if tokens else {}

    def _control(self, path: str, method: str = "GET", data: bytes | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.root_url}/_outeai/{path}", data=data, method=method, headers=self._auth
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def requests(self) -> list[dict[str, Any]]:
        return self._control("requests")["requests"]

    def tts_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["path"] == "tts"]

    def set_faults(self, *specs: str) -> None:
        self._control("faults", "PUT", json.dumps({"faults": list(specs)}).encode())

    def reset(self) -> None:
        self.set_faults()
        self._control("requests", "DELETE")


@pytest.fixture(scope="session")
def shared_server() -> Iterator[ServerHandle]:
    settings = ServerSettings(
        engine=ToneEngine(), custom_voices=frozenset({"my-clone"}), control=True
    )
    with LocalServer(settings) as server:
        yield ServerHandle(server)


@pytest.fixture
def server(shared_server: ServerHandle) -> Iterator[ServerHandle]:
    """The session's server, with its faults and request log cleared for this test."""
    shared_server.reset()
    yield shared_server
    shared_server.reset()


@pytest.fixture
def make_server() -> Iterator[Callable[..., ServerHandle]]:
    """Start a dedicated server with custom settings (tokens, limits, latency...)."""
    started: list[LocalServer] = []

    def start(faults: list[str] | None = None, **overrides: Any) -> ServerHandle:
        overrides.setdefault("engine", ToneEngine())
        overrides.setdefault("control", True)
        settings = ServerSettings(faults=FaultPlan.from_specs(faults or []), **overrides)
        server = LocalServer(settings).start()
        started.append(server)
        return ServerHandle(server)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def cli_env(tmp_path: Path, server: ServerHandle) -> dict[str, str]:
    """An environment pointing the CLI at the local server, with private config/cache dirs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OUTEAI_") and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env.update(
        OUTEAI_BASE_URL=server.base_url,
        OUTEAI_TOKEN=TOKEN,
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        HOME=str(tmp_path / "home"),
        COLUMNS="100",
    )
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


@pytest.fixture
def outeai(tmp_path: Path, cli_env: dict[str, str]) -> Callable[..., Result]:
    """Run `outeai ARGS` in this process, in tmp_path, against the local server (the usual way).

    `stdin_tty`/`stdout_tty`/`stderr_tty` make a stream claim to be a terminal.
    """

    def run(
        *args: str,
        input: bytes | str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdin_tty: bool = False,
        stdout_tty: bool = False,
        stderr_tty: bool = False,
    ) -> Result:
        return run_in_process(
            list(args),
            input=input.encode() if isinstance(input, str) else input or b"",
            env={**cli_env, **(env or {})},
            cwd=cwd or tmp_path,
            stdin_tty=stdin_tty,
            stdout_tty=stdout_tty,
            stderr_tty=stderr_tty,
        )

    return run


@pytest.fixture
def run_cli(tmp_path: Path, cli_env: dict[str, str]) -> Callable[..., Result]:
    """Run `outeai ARGS` as a real subprocess in tmp_path: for what only a process shows
    (signals, closed descriptors and pipes, the interpreter's start and exit)."""

    def run(
        *args: str,
        input: bytes | str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
    ) -> Result:
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [sys.executable, "-m", "outeai_cli", *args],
            input=data if data is not None else b"",
            capture_output=True,
            env={**cli_env, **(env or {})},
            cwd=cwd or tmp_path,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))

    return run


# -- raw sockets, for what `outeai serve` cannot produce ---------------------------------------

Handler = Callable[[socket.socket, bytes], None]


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.fixture
def raw_server() -> Iterator[Callable[[Handler], str]]:
    """Start a listener answering every connection with `handler`; yields its base URL."""
    listeners: list[socket.socket] = []
    stop = threading.Event()

    def start(handler: Handler) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        listeners.append(listener)

        def one(conn: socket.socket) -> None:
            with conn, contextlib.suppress(OSError):  # OSError: the client hung up
                handler(conn, read_request(conn))

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=one, args=(conn,), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"

    yield start
    stop.set()
    for listener in listeners:
        listener.close()

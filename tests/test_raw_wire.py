"""Hostile HTTP below what `outeai serve` can produce: a raw-socket server per test.

Each test starts a loopback listener whose handler writes exactly the bytes of one attack
(a header phase that never ends, a compression bomb, ...) and runs the CLI against it as a
subprocess: one line, the documented exit code, nothing written, within the limits.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

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


def until_closed(conn: socket.socket, send: Callable[[], None], pause: float = 0.3) -> None:
    """Call `send` every `pause` seconds until the client goes away (at most a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        send()
        time.sleep(pause)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("outeai: error: ")]


# -- the limits hold before the response headers --------------------------------------------


def silent(conn: socket.socket, request: bytes) -> None:
    time.sleep(60)


def header_drip(conn: socket.socket, request: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    until_closed(conn, lambda: conn.sendall(b"X-Drip: 1\r\n"))


def endless_processing(conn: socket.socket, request: bytes) -> None:
    until_closed(conn, lambda: conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n"))


@pytest.mark.parametrize("handler", [silent, header_drip, endless_processing])
@pytest.mark.parametrize("api", ["tts", "tts-stream"])
def test_the_time_limits_hold_before_the_headers(run_cli, raw_server, handler, api) -> None:
    url = raw_server(handler)
    started = time.monotonic()
    result = run_cli(
        "say", "hi", "-o", "x.wav", "--api", api, "--retries", "0",
        "--timeout", "2", "--idle-timeout", "2", "--max-time", "4",
        env={"OUTEAI_BASE_URL": url}, timeout=30,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 5, result.stderr
    assert "first-event timeout" in result.stderr
    assert len(error_lines(result.stderr)) == 1, result.stderr
    assert elapsed < 12, elapsed


@pytest.mark.parametrize(
    "args", [("voices", "--remote"), ("say", "hi", "--api", "auto", "-o", "x.flac")]
)
def test_small_requests_are_held_to_their_limit_before_the_headers(
    run_cli, raw_server, tmp_path, args
) -> None:
    url = raw_server(header_drip)
    started = time.monotonic()
    result = run_cli(*args, "--timeout", "2", env={"OUTEAI_BASE_URL": url}, timeout=30)
    assert result.returncode == 5, result.stderr
    assert not (tmp_path / "x.flac").exists()
    assert len(error_lines(result.stderr)) == 1, result.stderr
    assert time.monotonic() - started < 12

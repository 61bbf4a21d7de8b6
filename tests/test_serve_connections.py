"""`outeai serve` against connections that never finish a request (slowloris) and too many.

Raw sockets on loopback send half a request, or nothing, and hold on; the servers are real, in
this process or as an `outeai serve` subprocess started under a lower open-files limit.
"""

from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from conftest import TOKEN, ServerHandle

HALF_HEADERS = b"POST /api/v1/tts HTTP/1.1\r\nHost: x\r\n"
BODY = {"token": TOKEN, "text": "Still served.", "speaker": {"default": "EN-FEMALE-1-NEUTRAL"}}


def connect(port: int, first: bytes = HALF_HEADERS) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if first:
        sock.sendall(first)
    return sock


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server ends the connection within `within` seconds (EOF or a reset)."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass  # an answer (a 408 or 503) may come first
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


def speak(root_url: str) -> int:
    return httpx.post(f"{root_url}/api/v1/tts", json=BODY, timeout=10).status_code


def test_a_request_that_does_not_arrive_in_time_is_closed(make_server) -> None:
    server: ServerHandle = make_server(request_timeout=1.0)
    port = int(server.root_url.rsplit(":", 1)[1])
    silent = connect(port, b"")
    trickle = connect(port)
    half_body = connect(
        port,
        b"POST /api/v1/tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + b'{"text": ',
    )
    started = time.monotonic()
    for _ in range(3):  # a byte now and then restarts nothing
        trickle.sendall(b"X")
        time.sleep(0.2)
    assert speak(server.root_url) == 200  # meanwhile a whole request is served
    for sock in (silent, trickle, half_body):
        assert closed_by_server(sock, within=5)
        sock.close()
    assert time.monotonic() - started < 5
    # The request whose body never came is logged as what it is; the others never began.
    assert [r["status"] for r in server.requests()] == [200, 408]


def test_a_kept_alive_connection_gets_the_same_deadline_for_each_request(make_server) -> None:
    server: ServerHandle = make_server(request_timeout=1.0)
    with httpx.Client(timeout=10) as client:
        for _ in range(3):  # idle in between, then whole: served every time
            assert client.post(f"{server.base_url}/tts", json=BODY).status_code == 200
            time.sleep(0.3)


@contextmanager
def serve_with_open_files(limit: int) -> Iterator[tuple[subprocess.Popen[bytes], int, list[str]]]:
    """`outeai serve --engine tone` started under RLIMIT_NOFILE `limit`: (process, port,
    its stderr lines as they come)."""

    def lower_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "serve", "--port", "0", "--engine", "tone", "-q"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lower_limit,
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            lines.append(raw.decode("utf-8", "replace"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while not any("  stop with " in line for line in lines):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        port = int(re.search(r"127\.0\.0\.1:(\d+)", "".join(lines)).group(1))  # type: ignore[union-attr]
        yield proc, port, lines
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def open_many(port: int, count: int) -> list[socket.socket]:
    return [connect(port) for _ in range(count)]


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_flood_of_half_sent_requests_does_not_starve_a_real_one() -> None:
    with serve_with_open_files(1024) as (proc, port, lines):
        banner = len(lines)
        flood = open_many(port, 1100)  # more than the server has descriptors for
        try:
            assert speak(f"http://127.0.0.1:{port}") == 200
            # The server made room by closing the longest-waiting ones.
            assert sum(closed_by_server(s, within=0.01) for s in flood[:200]) > 100
        finally:
            for sock in flood:
                sock.close()
        assert proc.poll() is None
    log = "".join(lines[banner:])
    assert "Traceback" not in log and "cannot accept" not in log, log[:2000]


def test_out_of_descriptors_is_one_line_and_serving_resumes() -> None:
    with serve_with_open_files(1024) as (proc, port, lines):
        banner = len(lines)
        held = open_many(port, 300)
        assert wait_for(lambda: speak(f"http://127.0.0.1:{port}") == 200, 10)
        # Fewer descriptors than it already holds: the next accepts fail with EMFILE.
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (200, 200))
        held += open_many(port, 50)
        assert wait_for(lambda: any("cannot accept" in line for line in lines), 10)
        time.sleep(2.5)  # two more rounds of failed accepts
        for sock in held:
            sock.close()
        assert wait_for(lambda: speak(f"http://127.0.0.1:{port}") == 200, 10)
    log = lines[banner:]
    assert "Traceback" not in "".join(log)
    said = [line for line in log if "cannot accept" in line]
    assert said == [
        "outeai serve: cannot accept connections: Too many open files (open files limit "
        "200); new connections wait until some close\n"
    ]


@pytest.fixture(autouse=True)
def _enough_open_files() -> None:
    """This process opens over 1,100 sockets at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 1500:
        pytest.skip("this process may not open 1,500 files")
    assert os.name == "posix"

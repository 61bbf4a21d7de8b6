"""Hostile HTTP below what `outeai serve` can produce: a raw-socket server per test.

Each test starts a loopback listener whose handler writes exactly the bytes of one attack
(a header phase that never ends, a compression bomb, ...) and runs the CLI against it as a
subprocess: one line, the documented exit code, nothing written, within the limits.
"""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import soundfile as sf

from outeai_cli.errors import ProtocolError
from outeai_cli.untrusted import body_chunks
from tests.conftest import TOKEN, Handler
from tests.helpers import error_lines


def until_closed(conn: socket.socket, send: Callable[[], None], pause: float = 0.3) -> None:
    """Call `send` every `pause` seconds until the client goes away (at most a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        send()
        time.sleep(pause)


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
def test_the_time_limits_hold_before_the_headers(outeai, raw_server, handler, api) -> None:
    url = raw_server(handler)
    started = time.monotonic()
    result = outeai(
        "say", "hi", "-o", "x.wav", "--api", api, "--retries", "0",
        "--timeout", "2", "--idle-timeout", "2", "--max-time", "4",
        env={"OUTEAI_BASE_URL": url},
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
    outeai, raw_server, tmp_path, args
) -> None:
    url = raw_server(header_drip)
    started = time.monotonic()
    result = outeai(*args, "--timeout", "2", env={"OUTEAI_BASE_URL": url})
    assert result.returncode == 5, result.stderr
    assert not (tmp_path / "x.flac").exists()
    assert len(error_lines(result.stderr)) == 1, result.stderr
    assert time.monotonic() - started < 12


# -- compressed answers: asked for none, read in bounded pieces ----------------------------


def gzip_bomb(inflated: int, prefix: bytes = b"") -> bytes:
    """`prefix` then zero bytes up to `inflated` in all, gzip-compressed (about 1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [packer.compress(prefix)]
    block = bytes(1 << 20)
    for _ in range((inflated - len(prefix)) >> 20):
        out.append(packer.compress(block))
    out.append(packer.flush())
    return b"".join(out)


def answer(status: str, body: bytes, headers: bytes = b"") -> Handler:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n".encode()
            + headers
            + b"\r\n"
            + body
        )

    return handler


def peak_memory_of(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, int]:
    """Run `outeai ARGS` from a fresh parent; its exit code and peak RSS in MiB."""
    probe = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:], capture_output=True).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "outeai_cli", *args]
    out = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=True, timeout=60)
    code, peak = out.stdout.split()
    return int(code), int(peak)


def test_a_gzip_bomb_in_an_error_body_is_read_in_bounded_memory(
    raw_server, cli_env, tmp_path
) -> None:
    bomb = gzip_bomb(256 << 20, b'{"message": "')
    url = raw_server(answer("500 Internal Server Error", bomb, b"Content-Encoding: gzip\r\n"))
    env = {**cli_env, "OUTEAI_BASE_URL": url}
    code, peak = peak_memory_of(["say", "hi", "-o", "x.flac", "--retries", "0"], env, tmp_path)
    assert code == 5
    assert peak < 80, f"{peak} MiB for a {len(bomb)} B answer"  # httpx inflated 64 MiB a read
    assert not (tmp_path / "x.flac").exists()


def test_the_request_asks_for_no_compression_and_a_gzipped_stream_still_reads(
    outeai, raw_server, server, tmp_path
) -> None:
    stream = httpx.post(
        f"{server.base_url}/tts",
        json={"token": TOKEN, "text": "hi", "speaker": {"default": "EN-FEMALE-1-NEUTRAL"}},
        timeout=30,
    ).content
    requests: list[bytes] = []

    def gzipped(conn: socket.socket, request: bytes) -> None:
        requests.append(request)
        answer("200 OK", gzip.compress(stream), b"Content-Encoding: gzip\r\n")(conn, request)

    result = outeai("say", "hi", "-o", "x.flac", env={"OUTEAI_BASE_URL": raw_server(gzipped)})
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / "x.flac")).frames > 0
    assert b"\r\naccept-encoding: identity\r\n" in requests[0].lower()


@pytest.mark.parametrize("coding", [b"br", b"zstd", b"gzip, gzip"])
def test_an_answer_compressed_in_an_unread_coding_is_one_line(
    outeai, raw_server, tmp_path, coding
) -> None:
    headers = b"Content-Encoding: " + coding + b"\r\n"
    url = raw_server(answer("200 OK", b"\x1b[2J0123456789", headers))
    result = outeai("say", "hi", "-o", "x.flac", "--retries", "0", env={"OUTEAI_BASE_URL": url})
    assert result.returncode == 6, result.stderr
    assert error_lines(result.stderr) == [
        line for line in result.stderr.splitlines() if line.startswith("outeai: error")
    ]
    assert "does not read" in result.stderr
    assert "\x1b" not in result.stderr
    assert not (tmp_path / "x.flac").exists()


def test_inflated_pieces_are_bounded_whatever_one_read_holds() -> None:
    bomb = gzip_bomb(64 << 20)
    pieces = list(body_chunks([bomb[: 1 << 16], bomb[1 << 16 :]], "gzip"))
    assert max(len(piece) for piece in pieces) <= 1 << 20
    assert sum(len(piece) for piece in pieces) == 64 << 20
    with pytest.raises(ProtocolError, match="corrupt"):
        list(body_chunks([bytes.fromhex("1f8b0800000000000003") + b"\xff" * 20], "gzip"))
    with pytest.raises(ProtocolError, match="ends early"):
        list(body_chunks([bomb[:1000]], "gzip"))

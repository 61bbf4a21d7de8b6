"""A paid answer whose audio decodes is kept: malformed progress metadata is shown as unknown.

The audio, the final marker, errors and the order of events stay strict; a status field of the
wrong type or an absurd value, or a final `duration` that is not a number, only feed the
display and the summary, so they are dropped, never the audio.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import Handler


def flac_bytes(seconds: float = 0.5, rate: int = 44100) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("int16")
    out = io.BytesIO()
    sf.write(out, samples, rate, format="FLAC", subtype="PCM_16")
    return out.getvalue()


def ndjson_answer(lines: list[bytes]) -> Handler:
    """A handler answering 200 with these NDJSON lines (raw bytes: NaN and 1e400 included)."""

    def handle(conn: socket.socket, request: bytes) -> None:
        body = b"".join(line + b"\n" for line in lines)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    return handle


def final_line(audio: bytes, duration: bytes = b"0.5") -> bytes:
    encoded = base64.b64encode(audio)
    return (
        b'{"data": {"audio_bytes": "' + encoded + b'", "duration": ' + duration
        + b', "request_finished": true}}'
    )  # fmt: skip


MALFORMED_STATUSES = {
    "stage-a-number": b'{"generation_status": 12345}',
    "stage-an-object": b'{"generation_status": {"a": [1, 2]}}',
    "chunks-a-word": b'{"generation_status": "Generating", "text_chunks": "three"}',
    "chunk-negative": b'{"generation_status": "Generating", "text_chunks": -4, "current_text_chunk": 99}',
    "seconds-nan": b'{"generation_status": "Generating", "generated_seconds": NaN}',
    "seconds-huge": b'{"generation_status": "Generating", "generated_seconds": 1e400}',
    "seconds-infinity": b'{"generation_status": "Generating", "generated_seconds": -Infinity}',
    "seconds-a-list": b'{"generation_status": "Generating", "generated_seconds": [1]}',
}


@pytest.mark.parametrize("status", MALFORMED_STATUSES.values(), ids=MALFORMED_STATUSES.keys())
def test_a_malformed_status_event_never_costs_the_audio(outeai, raw_server, tmp_path, status):
    audio = flac_bytes()
    url = raw_server(ndjson_answer([status, final_line(audio)]))
    result = outeai("say", "hi", "-o", "out.flac", "--retries", "0", env={"OUTEAI_BASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.flac").read_bytes() == audio
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("duration", [b"NaN", b"1e400", b'"long"', b"-3", b"null", b"Infinity"])
def test_a_malformed_final_duration_is_unknown_and_json_reports_the_audio_length(
    outeai, raw_server, tmp_path, duration
):
    audio = flac_bytes(seconds=0.5)
    url = raw_server(ndjson_answer([final_line(audio, duration)]))
    result = outeai(
        "say", "hi", "-o", "out.flac", "--json", "--retries", "0", env={"OUTEAI_BASE_URL": url}
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.flac").read_bytes() == audio
    report = json.loads(result.stdout)
    assert report["duration"] == pytest.approx(0.5, abs=0.01)


def test_a_stream_without_its_final_marker_is_still_refused(outeai, raw_server, tmp_path):
    audio = flac_bytes()
    unfinished = final_line(audio).replace(
        b'"request_finished": true', b'"request_finished": false'
    )
    url = raw_server(ndjson_answer([unfinished]))
    result = outeai("say", "hi", "-o", "out.flac", "--retries", "0", env={"OUTEAI_BASE_URL": url})
    assert result.returncode == 6, result.stderr
    assert "request_finished" in result.stderr
    assert not (tmp_path / "out.flac").exists()


def test_an_error_the_server_reports_mid_stream_is_not_blamed_on_a_proxy(outeai, raw_server):
    status = b'{"generation_status": "Generating"}'
    url = raw_server(ndjson_answer([status, b'{"error": {"message": "the voice worker died"}}']))
    result = outeai("say", "hi", "-o", "out.flac", "--retries", "0", env={"OUTEAI_BASE_URL": url})
    assert result.returncode == 6, result.stderr
    assert "the voice worker died" in result.stderr
    assert "server is failing on this text" in result.stderr
    assert "proxy page" not in result.stderr


# -- a reader of stderr that goes away costs nothing but the messages ----------------------


def run_with_stderr_closed_early(cli_env, url, tmp_path, *args):
    """`outeai ARGS 2>&1 >/dev/null | head -c 5`, made certain: stderr's reader has left
    before the first message, so every message written meets a closed pipe."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**cli_env, "OUTEAI_BASE_URL": url},
        cwd=tmp_path,
    )
    assert proc.stderr is not None and proc.stdout is not None
    proc.stderr.close()
    out = proc.stdout.read()
    return proc.wait(timeout=60), out


def test_a_closed_stderr_keeps_a_slow_answer(cli_env, make_server, tmp_path):
    slow = make_server(latency=1.5)
    code, _ = run_with_stderr_closed_early(
        cli_env, slow.base_url, tmp_path, "say", "Hello there, slowly.", "-o", "out.flac"
    )
    assert code == 0
    assert sf.info(str(tmp_path / "out.flac")).frames > 0


def test_a_closed_stderr_does_not_turn_json_success_into_141(cli_env, make_server, tmp_path):
    slow = make_server(latency=1.5)
    code, out = run_with_stderr_closed_early(
        cli_env, slow.base_url, tmp_path, "say", "Hello there.", "-o", "out.flac", "--json"
    )
    assert code == 0
    assert json.loads(out)["path"].endswith("out.flac")
    assert (tmp_path / "out.flac").exists()

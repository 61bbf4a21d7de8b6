"""A 20 MiB response is received in bounded memory, byte for byte (issue 5).

The server runs in another process: a server thread's own allocations (the encoded audio, its
base64) would otherwise count in this process's tracemalloc figures. tracemalloc sees every
Python allocation, including the bytes objects httpx reads from the socket and the decoded
base64, so holding the audio anywhere in the client shows up as a peak of at least its size.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from conftest import TOKEN

from outeai_cli.http.client import TTSClient
from outeai_cli.http.events import AudioEvent
from outeai_cli.settings.table import DEFAULT_SPEAKER
from outeai_cli.synthesis.synthesize import SynthesisOptions, SynthesisRequest, synthesize
from outeai_cli.voices.speakers import parse_speaker
from tests.helpers import outeai_serve, sha256_of

MIB = 1024 * 1024
AUDIO_MIB = 20
PEAK_LIMIT = 8 * MIB  # the audio is 20 MiB, its base64 27 MiB
TEXT = "A long chapter, padded to twenty mebibytes of audio."


@pytest.fixture(scope="module")
def big_server() -> Iterator[str]:
    """`outeai serve` in a subprocess, answering every request with about 20 MiB of FLAC."""
    with outeai_serve("--engine", "tone", "--quiet", "--pad-audio-mib", str(AUDIO_MIB)) as served:
        yield served.base_url


@pytest.fixture(scope="module")
def reference(big_server: str) -> tuple[str, int]:
    """SHA-256 and size of the audio, decoded the obvious way (whole body, json, base64).

    This first request also makes the server encode and cache the audio.
    """
    body = json.dumps(
        {"token": TOKEN, "text": TEXT, "speaker": {"default": "EN-FEMALE-1-NEUTRAL"}}
    ).encode()
    request = urllib.request.Request(
        f"{big_server}/tts", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        lines = [line for line in response.read().splitlines() if line.strip()]
    audio = base64.b64decode(json.loads(lines[-1])["data"]["audio_bytes"])
    assert len(audio) > (AUDIO_MIB - 1) * MIB
    return hashlib.sha256(audio).hexdigest(), len(audio)


@pytest.fixture
def client(big_server: str) -> Iterator[TTSClient]:
    with TTSClient(TOKEN, base_url=big_server) as client:
        # Import httpx and the stream modules, and build the HTTP client, before measuring:
        # their one-off allocations are not what these tests are about.
        _ = client.http
        importlib.import_module("outeai_cli.http.dialects.tts")
        importlib.import_module("outeai_cli.http.watchdog")
        yield client


def traced_peak(receive: Callable[[], object]) -> int:
    """Peak bytes allocated by Python while `receive()` runs."""
    tracemalloc.start()
    try:
        receive()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stream_into_a_file_sink_receives_20_mib_in_bounded_memory(
    client: TTSClient, reference: tuple[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "out.flac"
    events: list[object] = []
    with open(out, "w+b") as sink:
        peak = traced_peak(lambda: events.extend(client.stream(TEXT, sink=sink)))
    final = events[-1]
    assert isinstance(final, AudioEvent) and final.size == reference[1]
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB for {AUDIO_MIB} MiB of audio"
    assert sha256_of(out) == reference[0]


def test_say_to_file_path_commits_20_mib_in_bounded_memory(
    client: TTSClient, reference: tuple[str, int], tmp_path: Path
) -> None:
    """`say -o FILE`: straight into the temp file beside the target, then renamed."""
    target = tmp_path / "chapter.flac"
    request = SynthesisRequest(TEXT, parse_speaker(DEFAULT_SPEAKER), 0.4)
    peak = traced_peak(lambda: synthesize(client, request, target, "flac"))
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB for {AUDIO_MIB} MiB of audio"
    assert sha256_of(target) == reference[0]
    assert [p.name for p in tmp_path.iterdir()] == ["chapter.flac"]


def test_say_to_stdout_spools_20_mib_in_bounded_memory(
    client: TTSClient, reference: tuple[str, int], tmp_path: Path
) -> None:
    """`say -o -`: into an unnamed spool file, then copied to the output in blocks."""
    out = tmp_path / "stdout.flac"
    request = SynthesisRequest(TEXT, parse_speaker(DEFAULT_SPEAKER), 0.4)
    with open(out, "wb") as stdout:
        peak = traced_peak(
            lambda: synthesize(
                client, request, stdout, "flac", SynthesisOptions(spool_dir=tmp_path)
            )
        )
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB for {AUDIO_MIB} MiB of audio"
    assert sha256_of(out) == reference[0]
    assert [p.name for p in tmp_path.iterdir()] == ["stdout.flac"]


def test_the_measure_sees_a_client_that_holds_the_audio(
    client: TTSClient, reference: tuple[str, int]
) -> None:
    """Control: the same measure on an in-memory sink reports at least the audio's size."""
    sink: IO[bytes] = io.BytesIO()
    peak = traced_peak(lambda: list(client.stream(TEXT, sink=sink)))
    assert peak >= reference[1]

"""The official `outeai==0.2.1` SDK, unmodified, against the local server.

Only its module-level `API_URL` is pointed at the server, the way a user would redirect it.
Passing proves the server speaks the protocol the real client speaks.
"""

from __future__ import annotations

import io
from pathlib import Path

import outeai.api.v1 as sdk  # installed by the dev extra; never skipped
import pytest
import soundfile as sf
from conftest import TOKEN, ServerHandle

from outeai_cli import TTSClient

TEXT = "Hello from the official client. It should sound the same as ours."
SPEAKER = {"default": "EN-FEMALE-1-NEUTRAL"}


@pytest.fixture
def official(server: ServerHandle, monkeypatch: pytest.MonkeyPatch):
    from importlib.metadata import version

    assert version("outeai") == "0.2.1"
    monkeypatch.setattr(sdk, "API_URL", f"{server.base_url}/tts")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # requests honours proxy variables
    return sdk.TTSClient(TOKEN)


def test_official_sdk_generates_valid_flac_from_the_local_server(
    server: ServerHandle, official
) -> None:
    output = official.generate(text=TEXT, speaker=SPEAKER)
    assert output.audio_bytes[:4] == b"fLaC"
    info = sf.info(io.BytesIO(output.audio_bytes))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 44100, 1)
    assert info.frames / info.samplerate > 1.0
    # What the server received is the SDK's own request body, accepted as is.
    (request,) = server.tts_requests()
    assert (request["text"], request["speaker"], request["status"]) == (TEXT, SPEAKER, 200)


def test_official_sdk_saves_a_playable_file(official, tmp_path: Path) -> None:
    target = tmp_path / "official.flac"
    official.generate(text=TEXT, speaker=SPEAKER).save(str(target))
    samples, rate = sf.read(target, dtype="float32")
    assert rate == 44100
    assert len(samples) > rate and abs(samples).max() > 0.1


def test_official_sdk_and_our_client_get_identical_audio(server: ServerHandle, official) -> None:
    theirs = official.generate(text=TEXT, speaker=SPEAKER, temperature=0.7).audio_bytes
    with TTSClient(TOKEN, base_url=server.base_url) as ours:
        mine = ours.generate(TEXT, speaker=SPEAKER, temperature=0.7).audio_bytes
    assert theirs == mine
    first, second = server.tts_requests()
    assert {k: first[k] for k in ("text", "speaker")} == {k: second[k] for k in ("text", "speaker")}


@pytest.mark.parametrize("quirk", ["crlf", "blank-lines", "unknown-fields", "escaped-slashes"])
def test_official_sdk_reads_the_quirky_streams_too(
    server: ServerHandle, official, quirk: str
) -> None:
    expected = official.generate(text="Quirks.", speaker=SPEAKER).audio_bytes
    server.set_faults(quirk)
    assert official.generate(text="Quirks.", speaker=SPEAKER).audio_bytes == expected

"""The official SDK releases 1.0.0 (2025 API) and 2.0.0 (2026 API), unmodified, against the server.

Each release is installed from PyPI into its own virtualenv (kept in pytest's cache dir, so
a re-run is quick; CI builds them from scratch) and driven by a small script in a subprocess,
the way a user's program would call it. 0.2.1 (the seed's `/tts`) is in test_official_sdk.py.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from outeai_cli.http.client import TTSClient
from tests.conftest import TOKEN, ServerHandle

TEXT = "Hello from an official client. It should sound the same as ours."
VOICE = "EN-FEMALE-1-NEUTRAL"
INSTALL_TIMEOUT = 600


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/outeai/", timeout=15) as response:
            return response.status == 200
    except OSError:
        return False


def sdk_python(cache_dir: Path, version: str) -> Path:
    """The interpreter of a virtualenv holding `outeai==version` (built once, then reused).

    Test workers run in parallel: a lock beside the virtualenv lets one build it while the
    others wait for it.
    """
    venv = cache_dir / f"outeai-{version}"
    with open(cache_dir / f"outeai-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_sdk_venv(venv, version)


def _build_sdk_venv(venv: Path, version: str) -> Path:
    python = venv / "bin" / "python"
    done = venv / ".installed"
    if done.exists() and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         f"outeai=={version}"],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )  # fmt: skip
    if install.returncode != 0:
        if not _pypi_reachable():
            pytest.skip(f"PyPI is unreachable, so outeai=={version} cannot be installed")
        pytest.fail(f"pip install outeai=={version} failed:\n{install.stderr[-2000:]}")
    done.touch()
    return python


@pytest.fixture(scope="session")
def sdk_cache(request: pytest.FixtureRequest) -> Path:
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("official-sdk-venvs"))
    # pytest's cache plugin is off (-p no:cacheprovider): keep them in the temp directory.
    path = Path(tempfile.gettempdir()) / "outeai-official-sdk-venvs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def sdk1(sdk_cache: Path) -> Path:
    return sdk_python(sdk_cache, "1.0.0")


@pytest.fixture(scope="session")
def sdk2(sdk_cache: Path) -> Path:
    return sdk_python(sdk_cache, "2.0.0")


def run_script(python: Path, script: str, *args: str, cwd: Path) -> dict[str, Any]:
    """Run `script` with the SDK's interpreter; it prints one JSON object as its last line."""
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- 1.0.0: `OuteAI(...).generate.audio` against the 2025 `/audio` ------------------------------

SDK1_GENERATE = """
    import json, sys
    import outeai
    from outeai import OuteAI

    base_url, token, speaker_type, speaker_id, target, text = sys.argv[1:]
    with OuteAI(token=token, base_url=base_url) as client:
        output = client.generate.audio(
            model="OuteTTS-1-Pro", text=text, speaker_type=speaker_type,
            speaker_id=speaker_id, temperature=0.6, verbose=False,
        )
    output.save(target)
    print(json.dumps({"version": outeai.__version__, "duration": output.duration,
                      "tokens": output.audio_token_count, "size": len(output.audio_bytes)}))
"""


def test_sdk_1_0_generates_mp3_identical_to_ours(
    sdk1: Path, server: ServerHandle, tmp_path: Path
) -> None:
    result = run_script(
        sdk1,
        SDK1_GENERATE,
        server.base_url,
        TOKEN,
        "default",
        VOICE,
        "official",
        TEXT,
        cwd=tmp_path,
    )
    assert result["version"] == "1.0.0"
    saved = (tmp_path / "official.mp3").read_bytes()  # the SDK adds the .mp3 itself
    info = sf.info(io.BytesIO(saved))
    assert (info.format, info.channels) == ("MP3", 1)
    assert result["duration"] == pytest.approx(info.frames / info.samplerate, abs=0.03)
    assert result["tokens"] == round(result["duration"] * 75) and result["size"] == len(saved)
    with TTSClient(TOKEN, base_url=server.base_url, api="audio") as ours:
        assert ours.generate(TEXT, speaker=VOICE, temperature=0.6).audio_bytes == saved
    first, second = [r for r in server.requests() if r["path"] == "audio"]
    assert first["text"] == second["text"] == TEXT
    assert first["speaker"] == second["speaker"] == {"default": VOICE}


def test_sdk_1_0_uses_a_custom_speaker(sdk1: Path, server: ServerHandle, tmp_path: Path) -> None:
    run_script(
        sdk1,
        SDK1_GENERATE,
        server.base_url,
        TOKEN,
        "custom",
        "my-clone",
        "c.mp3",
        TEXT,
        cwd=tmp_path,
    )
    (request,) = [r for r in server.requests() if r["path"] == "audio"]
    assert request["speaker"] == {"custom": "my-clone"}
    assert sf.info(tmp_path / "c.mp3").format == "MP3"


def test_sdk_1_0_sees_the_servers_refusal_as_an_api_error(
    sdk1: Path, server: ServerHandle, tmp_path: Path
) -> None:
    script = """
        import json, sys
        from outeai import OuteAI, APIError
        try:
            OuteAI(token=sys.argv[2], base_url=sys.argv[1]).generate.audio(
                model="OuteTTS-1-Pro", text="Hi", speaker_id="NO-SUCH-VOICE", verbose=False)
        except APIError as exc:
            print(json.dumps({"status": exc.status_code}))
    """
    assert run_script(sdk1, script, server.base_url, TOKEN, cwd=tmp_path) == {"status": 404}


# -- 2.0.0: `OuteAI(...)` against the 2026 Bearer API -------------------------------------------

SDK2_ALL = """
    import json, sys
    import outeai
    from outeai import OuteAI, OuteAIAPIError

    root, token, voice, text = sys.argv[1:]
    with OuteAI(token, base_url=root) as client:
        health = client.health()
        voices = client.list_voices()
        client.generate_speech(text=text, voice_id=voice).save("whole.wav")
        chunks = []
        with client.stream_speech(text=text, voice_id=voice) as stream:
            with open("streamed.wav", "wb") as handle:
                for chunk in stream:
                    chunks.append(len(chunk))
                    handle.write(chunk)
        try:
            client.generate_speech(text="Hi", voice_id="NO-SUCH-VOICE")
            refused = None
        except OuteAIAPIError as exc:
            refused = {"status": exc.status_code, "code": exc.code, "message": exc.message}
    print(json.dumps({"version": outeai.__version__, "health": health, "voices": voices,
                      "chunks": chunks, "refused": refused}))
"""


@pytest.fixture
def sdk2_run(sdk2: Path, server: ServerHandle, tmp_path: Path) -> dict[str, Any]:
    # The 2.0.0 SDK's base URL is the site root: it adds /api/v1/... itself.
    return run_script(sdk2, SDK2_ALL, server.root_url, TOKEN, VOICE, TEXT, cwd=tmp_path)


def test_sdk_2_0_checks_health_and_lists_the_servers_voices(sdk2_run: dict[str, Any]) -> None:
    assert sdk2_run["version"] == "2.0.0"
    assert sdk2_run["health"]["status"] == "ok"
    ids = {voice["voice_id"] for voice in sdk2_run["voices"]}
    assert {VOICE, "EN-MALE-1-NEUTRAL", "my-clone"} <= ids


def test_sdk_2_0_generate_and_stream_give_the_same_24khz_wav_as_ours(
    sdk2_run: dict[str, Any], server: ServerHandle, tmp_path: Path
) -> None:
    whole, rate = sf.read(tmp_path / "whole.wav", dtype="int16")
    streamed, stream_rate = sf.read(tmp_path / "streamed.wav", dtype="int16")
    info = sf.info(tmp_path / "whole.wav")
    assert (info.format, info.subtype, info.channels, rate) == ("WAV", "PCM_16", 1, 24000)
    assert stream_rate == 24000 and len(whole) / rate > 2.0
    assert np.array_equal(whole, streamed)
    assert len(sdk2_run["chunks"]) > 1  # the stream came in pieces
    with TTSClient(TOKEN, base_url=server.base_url, api="tts-stream") as ours:
        mine, _ = sf.read(io.BytesIO(ours.generate(TEXT, speaker=VOICE).audio_bytes), dtype="int16")
    assert np.array_equal(mine, whole)
    paths = [r["path"] for r in server.requests() if r["path"].startswith("tts_")]
    assert paths == ["tts_non_stream", "tts_stream", "tts_non_stream", "tts_stream"]


def test_sdk_2_0_reads_the_error_body_message_and_code(sdk2_run: dict[str, Any]) -> None:
    assert sdk2_run["refused"] == {
        "status": 404,
        "code": "voice_not_found",
        "message": "unknown voice_id 'NO-SUCH-VOICE'",
    }

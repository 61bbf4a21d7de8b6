"""espeak-ng from the `voice` extra: every catalogue name speaks, with no system package.

The engine is the real one: worker processes that load the pip build of libespeak-ng (the
`espeakng-loader` package), driven through `outeai serve`'s routes and the CLI. The audio is
judged by the spectral test in tests/spectral.py (speech moves its timbre; a beep does not).
Skipped only when no espeak-ng is installed at all; CI installs the extra and no system one.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import soundfile as sf
from conftest import ServerHandle

from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import EngineFailure, EspeakEngine, pick_engine
from outeai_cli.server.espeak import EspeakLibrary, find_library, reads_kanji
from outeai_cli.server.runner import LocalServer
from outeai_cli.voices.catalogue import BUILTIN_VOICES, find_voice
from tests.helpers import outeai_serve
from tests.spectral import SPEECH_MIN, audio_variation

pytestmark = pytest.mark.skipif(
    find_library() is None, reason="no espeak-ng (pip install -e '.[voice]')"
)

TEXTS = {
    "en": "Good morning. The weather is lovely today, so we are going for a walk in the park.",
    "de": "Guten Morgen. Heute ist das Wetter schön, und wir gehen im Park spazieren.",
    "fr": "Bonjour à tous. Aujourd'hui il fait beau, et nous allons nous promener au parc.",
    "es": "Buenos días a todos. Hoy hace buen tiempo y vamos a pasear por el parque.",
    "ja": "おはようございます。今日は天気が良いので、公園を散歩します。",
}


@pytest.fixture(scope="module")
def espeak_engine() -> Iterator[EspeakEngine]:
    engine = pick_engine("espeak", workers=2)
    assert isinstance(engine, EspeakEngine)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def espeak_server(espeak_engine: EspeakEngine) -> Iterator[ServerHandle]:
    with LocalServer(ServerSettings(engine=espeak_engine, control=True)) as server:
        yield ServerHandle(server)


@pytest.fixture
def server(espeak_server: ServerHandle) -> ServerHandle:
    """conftest's `server` (which `outeai` points the CLI at), speaking with espeak-ng."""
    espeak_server.reset()
    return espeak_server


def test_the_extra_brings_its_own_espeak_ng() -> None:
    try:
        metadata.distribution("espeakng-loader")
    except metadata.PackageNotFoundError:
        pytest.skip("the voice extra is not installed; a system espeak-ng speaks instead")
    library = find_library()
    assert library is not None and library.source == "pip"
    assert library.data is not None and (Path(library.data) / "phontab").is_file()


@pytest.mark.parametrize("voice", BUILTIN_VOICES, ids=lambda v: v.name)
def test_every_catalogue_voice_speaks(server: ServerHandle, outeai, tmp_path, voice) -> None:
    text = TEXTS[voice.language]
    result = outeai("say", text, "-s", voice.name, "-o", "out.flac", "--json")
    assert result.returncode == 0, result.stderr
    audio = (tmp_path / "out.flac").read_bytes()
    variation = audio_variation(audio)
    print(f"{voice.name}: spectral-centroid variation {variation:.3f}")
    assert variation >= SPEECH_MIN, f"{voice.name} sounds like a beep ({variation:.3f})"
    info = sf.info(io.BytesIO(audio))
    # As long as a person takes to say it: neither a blip nor letters spelled one by one.
    assert len(text) / 30 <= info.duration <= len(text) / 3, info.duration
    notice = json.loads(result.stdout)["voice_notice"]
    assert notice.startswith(f"{voice.name} is spoken by espeak-ng ({voice.espeak_voice})")
    assert f"outeai: note: {notice}" in result.stderr


@pytest.mark.skipif(not reads_kanji(), reason="pykakasi (the voice extra) is not installed")
def test_japanese_kanji_are_read_not_spelled_out(espeak_engine: EspeakEngine) -> None:
    voice = find_voice("JA-FEMALE-1-NEUTRAL")
    with_kanji = espeak_engine.synthesize("今日は天気が良いです。", voice, 0.4)
    in_kana = espeak_engine.synthesize("きょうはてんきがよいです。", voice, 0.4)
    # Unread, each kanji becomes the words "Chinese letter": several times as long.
    assert 0.7 <= len(with_kanji) / len(in_kana) <= 1.4


def test_espeak_ng_is_never_loaded_into_the_server_process(espeak_engine: EspeakEngine) -> None:
    assert len(espeak_engine.synthesize("Kein Problem.", find_voice("DE-FEMALE-1-NEUTRAL"), 0.4))
    assert len(espeak_engine.synthesize("東京", find_voice("JA-FEMALE-1-NEUTRAL"), 0.4))
    assert not {"espeakng_loader", "pykakasi"} & set(sys.modules)
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert "libespeak-ng" not in maps.read_text()


def test_a_dead_worker_is_replaced(espeak_engine: EspeakEngine) -> None:
    voice = find_voice("FR-MALE-1-NEUTRAL")
    espeak_engine.synthesize("Bonjour.", voice, 0.4)
    pids = espeak_engine.pool.pids()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert len(espeak_engine.synthesize("Bonjour encore.", voice, 0.4)) > 44100 // 2
    assert not set(pids) & set(espeak_engine.pool.pids())


def test_a_refused_request_fails_alone_and_keeps_its_worker(espeak_engine: EspeakEngine) -> None:
    german = find_voice("DE-FEMALE-1-NEUTRAL")
    espeak_engine.synthesize("Hallo.", german, 0.4)
    pids = sorted(espeak_engine.pool.pids())
    unknown = german._replace(espeak_voice="no-such-voice")
    with pytest.raises(EngineFailure, match="espeak-ng has no voice 'no-such-voice'"):
        espeak_engine.synthesize("Hallo.", unknown, 0.4)
    assert sorted(espeak_engine.pool.pids()) == pids
    assert len(espeak_engine.synthesize("Hallo.", german, 0.4)) > 0


def test_a_library_that_cannot_load_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "libespeak-ng.so.1"
    bogus.write_bytes(b"not a library")
    engine = EspeakEngine(EspeakLibrary(str(bogus), None, "pip"), workers=1)
    with pytest.raises(RuntimeError, match="cannot start: cannot load libespeak-ng") as caught:
        engine.started()
    assert "\n" not in str(caught.value)
    # Behind piper it is started in the background: the failure is then the request's.
    engine.pool.start_soon()
    with pytest.raises(EngineFailure, match="cannot load libespeak-ng"):
        engine.synthesize("Hallo.", find_voice("DE-FEMALE-1-NEUTRAL"), 0.4)
    assert engine.pool.pids() == []


def test_the_issue_scenario_german_against_outeai_serve(tmp_path: Path) -> None:
    """`outeai serve` as installed (auto engine), `outeai say "Hallo" -s DE-FEMALE-1-NEUTRAL`."""
    import subprocess

    with outeai_serve("--workers", "1", "--quiet") as served:
        env = {
            **os.environ,
            "OUTEAI_BASE_URL": served.base_url,
            "OUTEAI_TOKEN": "local",
            "XDG_CONFIG_HOME": str(tmp_path),
            "XDG_CACHE_HOME": str(tmp_path),
        }
        say = [sys.executable, "-m", "outeai_cli", "say", "Hallo", "-s", "DE-FEMALE-1-NEUTRAL"]
        loud = subprocess.run(
            [*say, "-o", "de.flac"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        quiet = subprocess.run(
            [*say, "-o", "quiet.flac", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
    assert loud.returncode == 0, loud.stderr
    notes = [line for line in loud.stderr.splitlines() if line.startswith("outeai: note: ")]
    assert len(notes) == 1 and "espeak-ng (de+f3)" in notes[0], loud.stderr
    assert (quiet.returncode, quiet.stderr) == (0, "")
    for name in ("de.flac", "quiet.flac"):
        variation = audio_variation((tmp_path / name).read_bytes())
        assert variation >= SPEECH_MIN, variation

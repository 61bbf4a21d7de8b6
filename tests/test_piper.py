"""The piper engine: the packaged neural voice, spoken by real `piper` worker processes.

Nothing here mocks the engine: one server per module runs the `voice` extra's `piper` program
with its packaged voice, and the tests judge the audio it sends the way a listener would
(speech, not a tone). They skip only when the extra is not installed; CI installs it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from conftest import TOKEN, ServerHandle

from outeai_cli.server import piper as piper_module
from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import PiperEngine, pick_engine
from outeai_cli.server.piper import (
    PiperSetupError,
    find_program,
    load_model,
    noise_scale,
    packaged_model,
)
from outeai_cli.server.runner import LocalServer
from outeai_cli.voices.catalogue import find_voice
from tests.helpers import serve_fails

VOICE = packaged_model()
pytestmark = pytest.mark.skipif(
    VOICE is None or find_program() is None,
    reason="the voice extra is not installed (pip install -e '.[voice]')",
)

SPEAKER = {"default": "EN-MALE-1-NEUTRAL"}
FIVE_SENTENCES = (
    "The first sentence sets the scene. The second one adds a detail. "
    "A third sentence keeps going. The fourth is nearly the last. The fifth ends it."
)


@pytest.fixture(scope="module")
def piper_engine() -> Iterator[PiperEngine]:
    engine = pick_engine("piper", workers=2)
    assert isinstance(engine, PiperEngine)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def piper_server(piper_engine: PiperEngine) -> Iterator[ServerHandle]:
    with LocalServer(ServerSettings(engine=piper_engine, control=True)) as server:
        yield ServerHandle(server)


@pytest.fixture
def server(piper_server: ServerHandle) -> ServerHandle:
    """conftest's `server` (which `outeai` points the CLI at), speaking with Piper."""
    piper_server.reset()
    return piper_server


def speak(
    base_url: str, text: str, timeout: float = 60, **extra: object
) -> tuple[list[dict], np.ndarray, float]:
    """The status events, the float samples and the duration `/tts` answers for `text`."""
    body = {"token": TOKEN, "text": text, "speaker": SPEAKER, **extra}
    response = httpx.post(f"{base_url}/tts", json=body, timeout=timeout)
    assert response.status_code == 200, response.text
    events = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    final = events[-1]["data"]
    audio = base64.b64decode(final["audio_bytes"])
    assert audio[:4] == b"fLaC"
    samples, rate = sf.read(io.BytesIO(audio), dtype="float32")
    assert rate == 44100
    return events[:-1], samples, final["duration"]


def frame_spectra(samples: np.ndarray, rate: int = 44100) -> tuple[np.ndarray, np.ndarray]:
    """Per 20 ms frame: RMS loudness and spectral centroid (Hz)."""
    size = rate // 50
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    loudness = np.sqrt((frames**2).mean(axis=1))
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))
    freqs = np.fft.rfftfreq(size, 1 / rate)
    centroid = (spectrum * freqs).sum(axis=1) / np.maximum(spectrum.sum(axis=1), 1e-9)
    return loudness, centroid


def test_a_sentence_is_speech_not_a_tone(server: ServerHandle) -> None:
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    _, samples, duration = speak(server.base_url, text)
    assert abs(len(samples) / 44100 - duration) < 1e-3
    # Audible, and as long as a person takes to say it: about 10 to 25 characters a second.
    assert float(np.sqrt(np.mean(samples**2))) > 0.02
    assert len(text) / 25 <= duration <= len(text) / 10
    loudness, centroid = frame_spectra(samples)
    voiced = loudness > 0.1 * loudness.max()
    # Speech pauses between words and its timbre moves from sound to sound; a tone does neither.
    assert (~voiced).mean() > 0.05
    assert np.std(centroid[voiced]) > 150  # a tone: under 5 Hz
    # Most of a voice's energy sits below 4 kHz, yet the fricatives (s, f, z) reach above it.
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / 44100)
    assert spectrum[freqs < 4000].sum() > 0.6 * spectrum.sum()
    assert spectrum[freqs > 4000].sum() > 0.0002 * spectrum.sum()


def test_different_texts_differ_and_a_longer_text_takes_proportionally_longer(
    server: ServerHandle,
) -> None:
    one = "Rain fell on the quiet town all night."
    _, a, a_seconds = speak(server.base_url, one)
    _, b, _ = speak(server.base_url, "Bright lights shine over the busy harbour.")
    _, _, long_seconds = speak(server.base_url, f"{one} {one} {one}")
    # Different words, different sounds: their spectral outlines do not match.
    _, ca = frame_spectra(a)
    _, cb = frame_spectra(b)
    n = min(len(ca), len(cb))
    assert np.corrcoef(ca[:n], cb[:n])[0, 1] < 0.9
    assert 2.4 <= long_seconds / a_seconds <= 3.6


def test_status_events_report_each_sentence_as_it_is_generated(server: ServerHandle) -> None:
    statuses, _, duration = speak(server.base_url, FIVE_SENTENCES)
    progress = [e for e in statuses if "current_text_chunk" in e]
    assert [e["current_text_chunk"] for e in progress] == [1, 2, 3, 4, 5]
    assert all(e["text_chunks"] == 5 for e in progress)
    seconds = [e["generated_seconds"] for e in progress]
    assert all(later > earlier + 0.5 for earlier, later in itertools.pairwise(seconds))
    assert abs(seconds[-1] - duration) < 0.01  # the true audio length, not an estimate


def test_temperature_is_accepted_across_its_range(server: ServerHandle) -> None:
    for temperature in (0.4, 1.0):  # 1.0 starts workers of its own (another noise scale)
        _, samples, duration = speak(server.base_url, "Warm or cold.", temperature=temperature)
        assert duration > 0.4 and float(np.sqrt(np.mean(samples**2))) > 0.02


def test_nothing_to_pronounce_is_a_short_pause_not_a_failure(server: ServerHandle) -> None:
    # "Well..." is spoken; "— !" has nothing Piper can pronounce (it would write no audio).
    _, samples, duration = speak(server.base_url, "Well... — !")
    assert duration > 0.45 and float(np.sqrt(np.mean(samples**2))) > 0.01


def test_a_text_with_nothing_the_voice_reads_is_a_422_and_costs_no_worker(
    server: ServerHandle, piper_engine: PiperEngine
) -> None:
    workers = piper_engine.pool.pids()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    stream_body = {"text": "١٢٣", "voice_id": "EN-MALE-1-NEUTRAL"}
    answers = [
        httpx.post(
            f"{server.base_url}/tts", json={"token": TOKEN, "text": "١٢٣", "speaker": SPEAKER}
        ),
        httpx.post(
            f"{server.base_url}/audio?token={TOKEN}",
            json={"model": "OuteTTS-1-Pro", "prompt": "١٢٣", "speaker_id": "EN-MALE-1-NEUTRAL"},
        ),
        httpx.post(f"{server.base_url}/tts_stream", json=stream_body, headers=bearer),
        httpx.post(f"{server.base_url}/tts_non_stream", json=stream_body, headers=bearer),
    ]
    for response in answers:
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "nothing_to_say"
        assert (
            "nothing in this text can be pronounced by piper en_US-joe-medium"
            in (problem["message"])
        )
    assert [r["status"] for r in server.requests()] == [422] * 4
    assert set(workers) <= set(piper_engine.pool.pids())  # no worker died for it
    # Among words, what the voice cannot read is a pause; a NUL is a space, not a crash.
    statuses, samples, duration = speak(server.base_url, "Hello there. ١٢٣. And good\0bye.")
    assert [e.get("current_text_chunk") for e in statuses[1:]] == [1, 2, 3]
    assert duration > 1.0 and float(np.sqrt(np.mean(samples**2))) > 0.02
    assert set(workers) <= set(piper_engine.pool.pids())


def test_say_reports_text_the_voice_cannot_read_as_a_refusal(
    server: ServerHandle, outeai, tmp_path: Path
) -> None:
    result = outeai("say", "١٢٣", "-s", "EN-MALE-1-NEUTRAL", "-o", "digits.flac")
    assert result.returncode == 4, result.stderr
    assert "HTTP 422: nothing in this text can be pronounced" in result.stderr
    assert "proxy" not in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.glob("digits*"))
    assert len(server.tts_requests()) == 1  # a refusal is not retried


def test_the_2025_audio_dialect_gets_mp3_of_the_neural_voice(server: ServerHandle) -> None:
    body = {
        "model": "OuteTTS-1-Pro",
        "prompt": "An MP3 this time.",
        "speaker_id": "EN-MALE-1-NEUTRAL",
    }
    response = httpx.post(f"{server.base_url}/audio?token={TOKEN}", json=body, timeout=60)
    assert response.status_code == 200
    final = json.loads(response.text.strip().splitlines()[-1])["audio_data"]
    info = sf.info(io.BytesIO(base64.b64decode(final["audio_bytes"])))
    assert info.format == "MP3"
    assert 0.8 < info.duration < 3.0


def test_official_sdk_gets_flac_from_the_neural_voice(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import outeai.api.v1 as sdk

    monkeypatch.setattr(sdk, "API_URL", f"{server.base_url}/tts")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    output = sdk.TTSClient(TOKEN).generate(text="Hello from the official client.", speaker=SPEAKER)
    info = sf.info(io.BytesIO(output.audio_bytes))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 44100, 1)
    assert 1.0 < info.frames / info.samplerate < 4.0


def test_outeai_say_writes_flac_spoken_by_piper(server: ServerHandle, outeai, tmp_path) -> None:
    result = outeai(
        "say", "Hello from the command line.", "-s", "EN-MALE-1-NEUTRAL", "-o", "hi.flac"
    )
    assert result.returncode == 0, result.stderr
    info = sf.info(str(tmp_path / "hi.flac"))
    assert (info.format, info.samplerate) == ("FLAC", 44100)
    assert 1.0 < info.duration < 4.0


def test_say_tells_when_a_female_name_is_spoken_by_the_male_model(
    server: ServerHandle, outeai
) -> None:
    female = outeai("say", "Hello there.", "-s", "EN-FEMALE-1-NEUTRAL", "-o", "f.flac")
    assert female.returncode == 0, female.stderr
    notes = [line for line in female.stderr.splitlines() if line.startswith("outeai: note: ")]
    assert notes == [
        "outeai: note: EN-FEMALE-1-NEUTRAL is spoken here by a male voice (piper en_US-joe-medium)"
    ]
    male = outeai("say", "Hello there.", "-s", "EN-MALE-1-NEUTRAL", "-o", "m.flac")
    assert male.returncode == 0, male.stderr
    assert "note:" not in male.stderr


def test_tts_stream_sends_audio_before_a_five_sentence_text_is_generated(
    server: ServerHandle,
) -> None:
    started = time.monotonic()
    first_audio = None
    received = 0
    with httpx.stream(
        "POST",
        f"{server.base_url}/tts_stream",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"text": FIVE_SENTENCES, "voice_id": "EN-MALE-1-NEUTRAL"},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            received += len(chunk)
            if first_audio is None and received > 44:  # past the WAV header
                first_audio = time.monotonic() - started
    total = time.monotonic() - started
    assert first_audio is not None
    # The first sentence is a fifth of the text: its audio leaves well before the fifth is made.
    assert first_audio < 0.6 * total, (first_audio, total)
    seconds = (received - 44) / 2 / 24000
    assert seconds > 5.0


def test_a_crashed_worker_fails_its_request_cleanly_and_is_replaced(
    server: ServerHandle, piper_engine: PiperEngine
) -> None:
    outcome: dict[str, httpx.Response] = {}

    def request() -> None:
        outcome["response"] = httpx.post(
            f"{server.base_url}/tts_non_stream",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"text": FIVE_SENTENCES * 3, "voice_id": "EN-MALE-1-NEUTRAL"},
            timeout=60,
        )

    thread = threading.Thread(target=request)
    thread.start()
    deadline = time.monotonic() + 30
    while not piper_engine.pool.busy_pids():
        assert time.monotonic() < deadline, "no worker started speaking"
        time.sleep(0.005)
    victim = piper_engine.pool.busy_pids()[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=60)
    response = outcome["response"]
    assert response.status_code == 503
    assert "worker" in response.json()["message"]
    # The server keeps serving, with a fresh process in the dead one's place.
    _, samples, _ = speak(server.base_url, "Still speaking.")
    assert float(np.sqrt(np.mean(samples**2))) > 0.02
    deadline = time.monotonic() + 30
    while len(piper_engine.pool.pids()) < 2:
        assert time.monotonic() < deadline, "the crashed worker was not replaced"
        time.sleep(0.05)
    assert victim not in piper_engine.pool.pids()


def test_a_crash_mid_ndjson_stream_ends_it_with_an_error_event(
    server: ServerHandle, piper_engine: PiperEngine
) -> None:
    lines: list[dict] = []
    with httpx.stream(
        "POST",
        f"{server.base_url}/tts",
        json={"token": TOKEN, "text": FIVE_SENTENCES * 3, "speaker": SPEAKER},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.strip():
                lines.append(json.loads(line))
                if len(lines) == 2:  # the warm-up and the first sentence's status
                    deadline = time.monotonic() + 30
                    while not piper_engine.pool.busy_pids():
                        assert time.monotonic() < deadline
                        time.sleep(0.005)
                    os.kill(piper_engine.pool.busy_pids()[0], signal.SIGKILL)
    assert "error" in lines[-1] and "worker" in lines[-1]["error"]
    assert not any("data" in line for line in lines)  # never a final event for cut audio


def test_a_lone_surrogate_costs_no_worker(server: ServerHandle, piper_engine: PiperEngine) -> None:
    workers = piper_engine.pool.pids()
    for path in ("/tts", "/tts_non_stream"):
        body = b'{"token": "t", "voice_id": "EN-MALE-1-NEUTRAL", "speaker": {"default": '
        body += b'"EN-MALE-1-NEUTRAL"}, "text": "hi \\ud800 there"}'
        response = httpx.post(
            f"{server.base_url}{path}", content=body, headers={"Authorization": "Bearer t"}
        )
        assert response.status_code == 400, response.text
    # The engine called without the server's checks in front: the worker still comes back.
    model = piper_engine.model_for(find_voice("EN-MALE-1-NEUTRAL"))
    assert model is not None
    samples = piper_engine.pool.speak(model, noise_scale(model, 0.4), "hi \ud800 there")
    assert len(samples) > model.sample_rate // 4
    assert piper_engine.pool.busy_pids() == []
    assert set(workers) <= set(piper_engine.pool.pids())  # none lost (others may start)


def test_a_worker_grown_past_the_memory_limit_is_replaced(
    piper_engine: PiperEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = piper_engine.pool
    model = piper_engine.model_for(find_voice("EN-MALE-1-NEUTRAL"))
    assert model is not None
    before = set(pool.pids())
    monkeypatch.setattr(piper_module, "RECYCLE_BYTES", 0)  # every worker is over it
    assert len(pool.speak(model, noise_scale(model, 0.4), "One sentence.")) > 0
    monkeypatch.undo()
    deadline = time.monotonic() + 30
    while len(set(pool.pids()) - before) < 1 or len(pool.pids()) < len(before):
        assert time.monotonic() < deadline, "the grown worker was not replaced"
        time.sleep(0.05)
    assert len(before - set(pool.pids())) == 1  # the one that spoke, and only it


@pytest.mark.load
@pytest.mark.timeout(900)
def test_a_worker_speaks_5000_characters_without_a_full_stop_in_bounded_memory(
    server: ServerHandle, piper_engine: PiperEngine
) -> None:
    """One sentence of 5,000 characters took a worker past 6 GB and over its 120 s limit."""
    text = ("the quick brown fox jumps over the lazy dog near the river bank " * 80)[:5000]
    peaks: dict[int, int] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for pid in piper_engine.pool.pids():
                with contextlib.suppress(OSError, IndexError):
                    status = Path(f"/proc/{pid}/status").read_text()
                    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
                    peaks[pid] = max(peaks.get(pid, 0), peak)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _, _, duration = speak(server.base_url, text, timeout=900)
    finally:
        done.set()
        watcher.join()
    assert duration > 200  # about five minutes of speech
    assert max(peaks.values()) < piper_module.RECYCLE_BYTES, peaks


def test_voices_say_which_model_speaks_each_name(server: ServerHandle, outeai) -> None:
    voices = httpx.get(f"{server.base_url}/voices", timeout=10).json()["data"]["voices"]
    by_name = {v["voice_id"]: v for v in voices}
    english = by_name["EN-FEMALE-1-NEUTRAL"]
    assert (english["engine"], english["model"]) == ("piper", "en_US-joe-medium")
    assert (english["model_language"], english["model_gender"]) == ("en_US", "male")
    assert "en_US-joe-medium" in english["description"]
    assert by_name["DE-FEMALE-1-NEUTRAL"]["engine"] in ("espeak", "tone")
    result = outeai("voices", "--remote")
    assert result.returncode == 0, result.stderr
    assert "en_US-joe-medium" in result.out


def test_a_multi_speaker_model_is_mapped_by_speaker_name_or_number(tmp_path: Path) -> None:
    assert VOICE is not None
    config = json.loads(VOICE.config.read_text())
    config.update(num_speakers=3, speaker_id_map={"alice": 0, "bob": 1, "carol": 2})
    model = tmp_path / "en_US-trio-medium.onnx"
    model.write_bytes(VOICE.path.read_bytes()[:4096])  # only the config is read here
    (tmp_path / "en_US-trio-medium.onnx.json").write_text(json.dumps(config))
    assert (load_model(f"{model}#bob").speaker, load_model(f"{model}#bob").label) == (
        1,
        "en_US-trio-medium#bob",
    )
    assert load_model(f"{model}#2").speaker == 2
    assert load_model(str(model)).speaker == 0  # the first speaker unless told
    with pytest.raises(PiperSetupError, match="no speaker 'dave'"):
        load_model(f"{model}#dave")


# -- `outeai serve` start-up ----------------------------------------------------------------


def test_startup_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    assert VOICE is not None
    assert "does not exist" in serve_fails("--voice", f"EN-MALE-1-NEUTRAL={tmp_path}/none.onnx")
    # A file piper cannot load is found by starting the workers: still one line, no server.
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(os.urandom(4096))
    (tmp_path / "junk.onnx.json").write_text(VOICE.config.read_text())
    line = serve_fails("--voice", f"EN-MALE-1-NEUTRAL={junk}")
    assert "cannot load" in line and str(junk) in line


@pytest.mark.parametrize(
    ("spec", "program", "expected"),
    [
        ("DE-FEMALE-1-NEUTRAL={model}", None, "DE-FEMALE-1-NEUTRAL is a 'de' voice but "),
        ("NOBODY={model}", None, "'NOBODY' is not a catalogue voice name"),
        ("EN-MALE-1-NEUTRAL={model}#7", None, "has one speaker; drop '#7'"),
        ("EN-MALE-1-NEUTRAL", None, "is not NAME=PATH.onnx[#SPEAKER]"),
        ("EN-MALE-1-NEUTRAL={model}|en-male-1-neutral={model}", None, "mapped to a model twice"),
        ("EN-MALE-1-NEUTRAL={model}", "{tmp}/piper", "cannot run the piper program"),
    ],
)
def test_each_startup_error_names_its_cause(
    tmp_path: Path, spec: str, program: str | None, expected: str
) -> None:
    """The same path `outeai serve` takes (its RuntimeError becomes the one line above)."""
    assert VOICE is not None
    voices = spec.format(model=VOICE.path).split("|")
    with pytest.raises(RuntimeError) as caught:
        pick_engine("piper", voices, 1, program.format(tmp=tmp_path) if program else None)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_voice_that_reads_the_framing_block_aloud_is_refused_at_start(tmp_path: Path) -> None:
    """Piper's `text` phonemes read every character, `[[ ]]` too: its sentences could not be
    told apart, so the voice is refused in one line rather than served garbled."""
    assert VOICE is not None
    model = tmp_path / "en_US-letters-medium.onnx"
    model.symlink_to(VOICE.path)
    config = json.loads(VOICE.config.read_text())
    (tmp_path / "en_US-letters-medium.onnx.json").write_text(
        json.dumps({**config, "phoneme_type": "text"})
    )
    with pytest.raises(RuntimeError) as caught:
        pick_engine("piper", [f"EN-MALE-1-NEUTRAL={model}"], 1)
    assert "reads piper's empty phoneme block [[ ]] aloud" in str(caught.value)
    assert "\n" not in str(caught.value)

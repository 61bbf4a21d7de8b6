"""Speech engines for the local server: real speech through espeak-ng, or a deterministic tone."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from typing import Protocol

import numpy as np

from outeai_cli.catalogue import Voice

SAMPLE_RATE = 44100


class Engine(Protocol):
    name: str

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        """Mono int16 samples at SAMPLE_RATE for one chunk of text."""
        ...


class ToneEngine:
    """A deterministic signal whose length follows the text: 60 ms per character, 0.3 s minimum.

    The same text, voice and temperature always give the same samples, so tests can compare.
    """

    name = "tone"
    seconds_per_char = 0.06

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

    def __init__(self, binary: str) -> None:
        self.binary = binary

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


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target or len(samples) == 0:
        return samples
    frames = round(len(samples) * target / rate)
    positions = np.linspace(0, len(samples) - 1, frames)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.int16)


def pick_engine(name: str) -> Engine:
    """`espeak`, `tone`, or `auto` (espeak-ng when installed, else tone)."""
    if name == "tone":
        return ToneEngine()
    espeak = EspeakEngine.available()
    if name == "espeak":
        if espeak is None:
            raise RuntimeError("espeak-ng is not installed (e.g. apt-get install espeak-ng)")
        return espeak
    return espeak or ToneEngine()


def encode_flac(samples: np.ndarray) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def noise_padding(frames: int, seed: int = 7) -> np.ndarray:
    """Deterministic white noise: it barely compresses, so it makes FLAC of a chosen size."""
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=frames, dtype=np.int16)

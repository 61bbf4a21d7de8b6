"""One `piper` worker program, and the line protocol it is spoken to in.

The program (piper-tts, GPL-3.0-or-later, never imported here) runs with `--output-raw`: each
line of stdin is spoken as int16 samples on stdout, as they are made, with nothing between
lines. `--debug` makes it log each line it starts (`text=LINE, phonemes=[...]`) on stderr.
After each sentence comes a line that says nothing, an empty raw-phoneme block (`[[ ]]`): its
start, logged once the sentence's samples are all written, frames them.

So a line with nothing to pronounce (punctuation, digits of a script the voice cannot read)
is an empty answer, not a dead worker: in its file mode piper wrote no WAV for one and exited
("# channels not specified").
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import selectors
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np  # imported where samples are made: the offline engine starts first


# Longest a single sentence may take before its worker is treated as hung.
SENTENCE_TIMEOUT = 120.0
_SENTINEL = "[[ ]]"
_STARTED = "DEBUG:piper.voice:text="
_SENTINEL_STARTED = f"{_STARTED}{_SENTINEL}, phonemes="
_READ = 1 << 16
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Control characters are no speech, and NUL ends the C string espeak-ng reads.
_CONTROLS = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], " ")
# "[[" opens a block of raw phonemes in piper; a text's brackets stay brackets.
_RAW_PHONEMES = re.compile(r"\[(?=\[)")


class VoiceModel(Protocol):
    """What a worker is started with (`piper.PiperModel` is one)."""

    @property
    def path(self) -> Path: ...
    @property
    def config(self) -> Path: ...
    @property
    def speaker(self) -> int | None: ...
    @property
    def label(self) -> str: ...


class WorkerCrashed(RuntimeError):
    """A `piper` worker died or hung while speaking; it has been replaced."""


class UnframedVoice(WorkerCrashed):
    """The model speaks the empty phoneme block that frames sentences: it cannot be served."""


class _Unframed:
    """What the reader hands over when the sentinel line itself was spoken (a model whose
    phonemizer reads `[[ ]]` as text): the sentences' samples can no longer be told apart."""


def worker_line(text: str) -> str:
    """`text` as one line piper reads as plain words ("" when nothing is left)."""
    return " ".join(_RAW_PHONEMES.sub("[ ", text.translate(_CONTROLS)).split())


class PiperProcess:
    """One `piper` program: one model, one speaker, one noise scale, a sentence per line."""

    def __init__(
        self, program: str, model: VoiceModel, noise: float, threads: int | None = None
    ) -> None:
        self.model = model
        self.noise = noise
        args = [program, "-m", str(model.path), "-c", str(model.config), "--output-raw"]
        args += ["--debug", "--noise-scale", str(noise)]
        if model.speaker is not None:
            args += ["-s", str(model.speaker)]
        env = {**os.environ, "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}
        if threads is not None:
            # onnxruntime's own thread pool (1.32+ reads this; older ones ignore it). Each
            # pool thread spins while it waits: more of them than cores, and the workers
            # spend the machine waiting on one another. An explicit setting is kept.
            env.setdefault("ORT_INTRA_OP_NUM_THREADS", str(threads))
        # Its own session: a Ctrl-C at the terminal stops the server, which then stops these.
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self._spoken: queue.Queue[bytes | _Unframed | None] = queue.Queue()
        self._said: deque[str] = deque(maxlen=20)
        threading.Thread(target=self._read_output, daemon=True).start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _read_output(self) -> None:
        """Samples from stdout, lines from stderr; each sentinel's start ends a sentence."""
        out, err = self._proc.stdout, self._proc.stderr
        assert out is not None and err is not None
        os.set_blocking(out.fileno(), False)
        samples = bytearray()
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            selector.register(err, selectors.EVENT_READ)
            while selector.get_map():
                for key, _ in selector.select():
                    try:
                        data = os.read(key.fd, _READ)
                    except BlockingIOError:
                        continue
                    if not data:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is out:
                        samples += data
                    else:
                        *lines, pending = (pending + data).split(b"\n")
                        for raw in lines:
                            if self._on_line(raw.decode("utf-8", "replace"), samples):
                                samples = bytearray()
        out.close()
        err.close()
        self._spoken.put(None)

    def _on_line(self, line: str, samples: bytearray) -> bool:
        """Handle one line piper logged; True when it ends a sentence (`samples` handed over)."""
        if line.startswith(_SENTINEL_STARTED):
            # Written after the sentence's last sample: whatever the pipe still holds is its.
            out = self._proc.stdout
            assert out is not None
            with contextlib.suppress(BlockingIOError):
                while data := os.read(out.fileno(), _READ):
                    samples += data
            silent = line.removeprefix(_SENTINEL_STARTED).strip() == "[]"
            self._spoken.put(bytes(samples) if silent else _Unframed())
            return True
        if line.strip() and not line.startswith("DEBUG:"):
            self._said.append(line.strip()[:300])
        return False

    def said_anything(self) -> bool:
        return bool(self._said)

    def last_words(self) -> str:
        """The most telling line the program printed (its exception), for error messages."""
        for line in reversed(self._said):
            if not line.startswith(("File ", "Traceback", "^", "~")):
                # "onnxruntime.capi.x.InvalidProtobuf: ..." -> "InvalidProtobuf: ..."
                return re.sub(r"^(?:\w+\.)+(?=\w+: )", "", line)[:300]
        return f"exit status {self._proc.poll()}"

    def speak(self, text: str, timeout: float = SENTENCE_TIMEOUT) -> np.ndarray:
        """int16 samples at the model's rate for one sentence; none when nothing in it can
        be pronounced. WorkerCrashed if the worker died or hung (it is stopped)."""
        import numpy as np

        line = worker_line(text)
        if not line:
            return np.zeros(0, dtype=np.int16)
        assert self._proc.stdin is not None
        try:
            # Half a surrogate pair cannot be UTF-8: it becomes "?" rather than an error.
            self._proc.stdin.write(f"{line}\n{_SENTINEL}\n".encode("utf-8", "replace"))
            self._proc.stdin.flush()
            spoken = self._spoken.get(timeout=timeout)
        except (BrokenPipeError, OSError):
            spoken = None
        except queue.Empty:
            self.close()
            raise WorkerCrashed(
                f"the piper worker took over {timeout:.0f} s on one sentence"
            ) from None
        if spoken is None:
            self.close()
            raise WorkerCrashed(f"the piper worker exited: {self.last_words()}")
        if isinstance(spoken, _Unframed):
            self.close()
            raise UnframedVoice(
                f"{self.model.label} reads piper's empty phoneme block {_SENTINEL} aloud, so "
                "its sentences cannot be told apart (only espeak-phonemized voices work here)"
            )
        return np.frombuffer(spoken[: len(spoken) // 2 * 2], dtype="<i2").astype(np.int16)

    def memory(self) -> int:
        """The bytes of memory the program holds now (0 where that cannot be read)."""
        try:
            with open(f"/proc/{self._proc.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            return 0

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)

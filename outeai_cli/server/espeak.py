"""espeak-ng for the local server, run at arm's length.

libespeak-ng (GPL-3.0-or-later) is never loaded into this process: `espeak_worker.py` runs as
a program of its own, loads the library and speaks one request per line (see its docstring for
the protocol). The library comes from the `espeakng-loader` package that the `voice` extra
installs (a pip build with its own voice data: no system package needed), else from the
system's espeak-ng. This module only finds the files, by their distribution's file list (no
import), and keeps a few workers ready.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np  # imported where samples are made: the offline engine starts first

PIP_DISTRIBUTION = "espeakng-loader"
KANA_DISTRIBUTION = "pykakasi"
WORKER = Path(__file__).with_name("espeak_worker.py")
# Longest one request may take before its worker is treated as hung.
REQUEST_TIMEOUT = 60.0
_START_TIMEOUT = 30.0
_HEADER_LIMIT = 4096


class EspeakCrashed(RuntimeError):
    """A worker died, hung or could not start; it has been stopped (the message is one line)."""


class EspeakRefused(EspeakCrashed):
    """espeak-ng refused this request (an unknown voice, text it cannot encode); the worker
    is fine and goes on."""


@dataclass(frozen=True)
class EspeakLibrary:
    """Where libespeak-ng and its voice data are: `source` is "pip" or "system"."""

    library: str
    data: str | None  # None: the library's built-in path (a system install)
    source: str


def find_library() -> EspeakLibrary | None:
    """The pip build (the `voice` extra's `espeakng-loader`) if installed, else the system's."""
    with contextlib.suppress(metadata.PackageNotFoundError):
        dist = metadata.distribution(PIP_DISTRIBUTION)
        files = [Path(str(dist.locate_file(f))) for f in dist.files or ()]
        library = next((f for f in files if f.name.startswith("libespeak-ng.")), None)
        data = next((f.parent for f in files if f.name == "phontab"), None)
        if library is not None and data is not None and library.is_file():
            return EspeakLibrary(str(library), str(data), "pip")
    name = ctypes.util.find_library("espeak-ng")
    return EspeakLibrary(name, None, "system") if name else None


def reads_kanji() -> bool:
    """Whether the worker can spell kanji in kana for the Japanese voice (pykakasi)."""
    try:
        metadata.distribution(KANA_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


class EspeakProcess:
    """One worker program: a request per line in, a header line and the samples out."""

    def __init__(self, library: EspeakLibrary) -> None:
        args = [sys.executable, "-I", str(WORKER), library.library]
        if library.data:
            args.append(library.data)
        try:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                # Its own session: a Ctrl-C at the terminal stops the server, which stops these.
                start_new_session=True,
            )
        except OSError as exc:
            raise EspeakCrashed(f"cannot run {sys.executable}: {exc.strerror}") from None
        self._buffer = bytearray()
        ready = self._header(time.monotonic() + _START_TIMEOUT)
        if "error" in ready or not isinstance(ready.get("rate"), int):
            self.close()
            raise EspeakCrashed(str(ready.get("error", "the espeak-ng worker did not start")))
        self.rate: int = ready["rate"]

    def speak(self, voice: str, pitch: int, text: str) -> np.ndarray:
        """int16 samples at `self.rate`; EspeakCrashed if the worker failed (it is stopped)."""
        request = {"voice": voice, "pitch": pitch, "text": " ".join(text.split())}
        deadline = time.monotonic() + REQUEST_TIMEOUT
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
            header = self._header(deadline)
            if "error" in header:
                raise EspeakRefused(f"espeak-ng: {header['error']}"[:300])
            frames = header.get("frames")
            if not isinstance(frames, int) or frames < 0:
                raise EspeakCrashed("the espeak-ng worker answered without audio")
            audio = self._read(frames * 2, deadline)
        except EspeakRefused:
            raise
        except EspeakCrashed:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise EspeakCrashed(f"the espeak-ng worker failed: {exc.strerror}") from None
        import numpy as np

        return np.frombuffer(audio, dtype=np.int16).copy()

    def _header(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            if len(self._buffer) > _HEADER_LIMIT:
                raise EspeakCrashed("the espeak-ng worker sent a garbled answer")
            self._fill(deadline)
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        try:
            header = json.loads(line)
        except ValueError:
            header = None
        if not isinstance(header, dict):
            raise EspeakCrashed("the espeak-ng worker sent a garbled answer")
        return header

    def _read(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _fill(self, deadline: float) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise EspeakCrashed(f"the espeak-ng worker took over {REQUEST_TIMEOUT:.0f} s")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise EspeakCrashed(f"the espeak-ng worker exited (status {self._proc.wait()})")
        self._buffer += chunk

    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def pid(self) -> int:
        return self._proc.pid

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


class EspeakPool:
    """At most `workers` requests spoken at once; workers start on demand and are reused."""

    def __init__(self, library: EspeakLibrary, workers: int) -> None:
        self.library = library
        self.workers = max(1, workers)
        self._slots = threading.BoundedSemaphore(self.workers)
        self._lock = threading.Lock()
        self._idle: list[EspeakProcess] = []
        self._closed = False

    def start(self) -> None:
        """One worker now, so a library that cannot load stops start-up (EspeakCrashed)."""
        self._keep(EspeakProcess(self.library))

    def start_soon(self) -> None:
        """One worker, started in the background; a failure shows on first use instead."""
        threading.Thread(target=self._warm, daemon=True).start()

    def _warm(self) -> None:
        with contextlib.suppress(EspeakCrashed, OSError):
            self._keep(EspeakProcess(self.library))

    def _keep(self, process: EspeakProcess) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(process)
                return
        process.close()

    def speak(self, voice: str, pitch: int, text: str) -> tuple[np.ndarray, int]:
        """(samples, rate) for one request; EspeakCrashed if its worker failed."""
        with self._slots:
            with self._lock:
                idle = self._idle.pop() if self._idle else None
            if idle is not None:
                try:
                    return self._speak_on(idle, voice, pitch, text)
                except EspeakRefused:
                    raise
                except EspeakCrashed:
                    pass  # it may have died while idle (killed, out of memory): a fresh one tries
            return self._speak_on(EspeakProcess(self.library), voice, pitch, text)

    def _speak_on(
        self, process: EspeakProcess, voice: str, pitch: int, text: str
    ) -> tuple[np.ndarray, int]:
        try:
            samples = process.speak(voice, pitch, text)
        except EspeakRefused:
            self._keep(process)  # the request's fault: the worker goes on
            raise
        self._keep(process)
        return samples, process.rate

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._idle]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            processes, self._idle = self._idle, []
        for process in processes:
            process.close()

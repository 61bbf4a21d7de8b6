"""A head start for the warm engine: it may begin speaking a sentence before it is asked.

A short `say` spends most of its first 0.1-0.2 s importing and parsing before its request goes
out, while the engine waits. The program's entry point guesses the text, voice and temperature
from its command line and sends them to a warm engine as a hint (`POST /_outeai/prefetch`);
the engine starts speaking them at once, and the request, when it comes by the usual path,
takes the samples of any sentence that matches exactly (text, voice, temperature) instead of
speaking it again. A wrong guess costs only the work done for it; a hint never answers a
request by itself, and an unclaimed one is dropped after a few seconds.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from outeai_cli.server.engines import Engine, EngineVoice
    from outeai_cli.voices.catalogue import Voice

PREFETCH_PATH = "/_outeai/prefetch"
MAX_HINT_BYTES = 8192
MAX_SENTENCES = 4  # of one hint: a short say's text
MAX_PENDING = 8
UNCLAIMED_SECONDS = 10.0

Key = tuple[str, str | None, float]


class PrefetchingEngine:
    """`engine`, which may be told to start on sentences before a request asks for them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.name = engine.name
        self.deterministic = engine.deterministic
        self._lock = threading.Lock()
        self._pending: dict[Key, tuple[float, Future[np.ndarray]]] = {}
        self._speaker = ThreadPoolExecutor(1, thread_name_prefix="prefetch")

    def prefetch(self, text: str, voice: Voice | None, temperature: float) -> None:
        """Start speaking the sentences of `text` (as the server splits a request's text)."""
        from outeai_cli.server.text import split_sentences

        now = time.monotonic()
        with self._lock:
            for key in [k for k, (t, _) in self._pending.items() if now - t > UNCLAIMED_SECONDS]:
                del self._pending[key]
            for chunk in split_sentences(text)[:MAX_SENTENCES]:
                key = _key(chunk, voice, temperature)
                if key in self._pending or len(self._pending) >= MAX_PENDING:
                    continue
                future = self._speaker.submit(self.engine.synthesize, chunk, voice, temperature)
                self._pending[key] = (now, future)

    def synthesize(self, text: str, voice: Voice | None, temperature: float) -> np.ndarray:
        with self._lock:
            entry = self._pending.pop(_key(text, voice, temperature), None)
        if entry is not None:
            try:
                return entry[1].result()
            except Exception:
                pass
        return self.engine.synthesize(text, voice, temperature)

    def speaker(self, voice: Voice | None) -> EngineVoice:
        return self.engine.speaker(voice)

    def substitution(self, voice: Voice | None, name: str) -> str | None:
        return self.engine.substitution(voice, name)

    def close(self) -> None:
        self._speaker.shutdown(wait=False, cancel_futures=True)
        self.engine.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)  # what else the engine offers (its pool's size...)


def _key(text: str, voice: Voice | None, temperature: float) -> Key:
    return text, voice.name if voice is not None else None, round(temperature, 3)


def read_hint(body: bytes) -> tuple[str, Voice, float] | None:
    """(text, voice, temperature) of a hint, or None for anything not worth speaking ahead."""
    from outeai_cli.server.common import DEFAULT_TEMPERATURE
    from outeai_cli.voices.catalogue import find_voice

    try:
        hint = json.loads(body) if len(body) <= MAX_HINT_BYTES else None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(hint, dict) or not isinstance(hint.get("text"), str):
        return None
    speaker, temperature = hint.get("speaker"), hint.get("temperature", DEFAULT_TEMPERATURE)
    name = speaker.get("default") if isinstance(speaker, dict) else None
    voice = find_voice(name) if isinstance(name, str) else None
    if voice is None or isinstance(temperature, bool) or not isinstance(temperature, int | float):
        return None
    if not hint["text"].strip() or not 0.1 <= temperature <= 1.0:
        return None
    return hint["text"], voice, float(temperature)

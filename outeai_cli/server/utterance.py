"""A request's text spoken chunk by chunk, the same way in every dialect.

A chunk with nothing the voice can pronounce (punctuation alone, digits of a script it does not
read) becomes a short pause, as a reader would leave one. A text with nothing to pronounce at
all is refused (422) before any answer starts: `start` speaks the first chunks ahead until one
says something, and the stream then sends them without speaking them again.
"""

from __future__ import annotations

import numpy as np
from starlette.concurrency import run_in_threadpool

from outeai_cli.server.common import Admission, HTTPProblem, ServerState, SpeechRequest
from outeai_cli.server.engines import SAMPLE_RATE, Engine, EngineFailure
from outeai_cli.server.text import split_sentences

PAUSE_SECONDS = 0.25


class Utterance:
    def __init__(self, engine: Engine, speech: SpeechRequest) -> None:
        self.engine = engine
        self.speech = speech
        self.chunks = split_sentences(speech.text)
        self._ahead: dict[int, np.ndarray] = {}

    async def start(self) -> None:
        """Speak ahead until a chunk says something: HTTPProblem 422 when none does, 503 when
        the engine failed (nothing has been answered yet, so both are plain refusals)."""
        for index in range(len(self.chunks)):
            try:
                samples = await self._synthesize(index)
            except EngineFailure as exc:
                raise HTTPProblem(503, f"{exc}; try again", "engine_failed") from None
            self._ahead[index] = samples
            if len(samples):
                return
        who = self.engine.speaker(self.speech.voice).describe()
        raise HTTPProblem(
            422,
            f"nothing in this text can be pronounced by {who}: it has no words in a language "
            "or script that voice reads",
            "nothing_to_say",
        )

    async def speak(self, index: int) -> np.ndarray:
        """Chunk `index` (0-based) at SAMPLE_RATE: a short pause when nothing in it is said.
        EngineFailure if the engine failed."""
        samples = self._ahead.pop(index, None)
        if samples is None:
            samples = await self._synthesize(index)
        if len(samples) == 0:
            return np.zeros(round(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.int16)
        return samples

    async def _synthesize(self, index: int) -> np.ndarray:
        chunk, speech = self.chunks[index], self.speech
        return await run_in_threadpool(
            self.engine.synthesize, chunk, speech.voice, speech.temperature
        )


async def started(utterance: Utterance, state: ServerState, admission: Admission) -> None:
    """`utterance.start()` for an admitted request: a refusal becomes the request's status in
    the control log, and its concurrency slot is given back."""
    try:
        await utterance.start()
    except HTTPProblem as problem:
        state.release(admission.slot)
        admission.record.status = problem.status
        raise

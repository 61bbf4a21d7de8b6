"""The warm engine's head start: a short `say` tells the engine what it will ask for before its
own imports are done, and the request takes the sentences spoken ahead when they match exactly.

The engine here is the real tone engine, counted: a head start must not change what is spoken,
must speak each sentence once, and a wrong guess must cost only its own work.
"""

from __future__ import annotations

import json
import threading

import numpy as np

from outeai_cli.offline.early import guess_request
from outeai_cli.offline.prefetch import PrefetchingEngine, read_hint
from outeai_cli.server.engines import ToneEngine
from outeai_cli.settings.config import Settings
from outeai_cli.voices.catalogue import find_voice

VOICE = find_voice("EN-MALE-1-NEUTRAL")


class CountedTone(ToneEngine):
    def __init__(self) -> None:
        super().__init__()
        self.spoken: list[str] = []
        self.lock = threading.Lock()

    def synthesize(self, text, voice, temperature):  # type: ignore[no-untyped-def]
        with self.lock:
            self.spoken.append(text)
        return super().synthesize(text, voice, temperature)


def test_sentences_spoken_ahead_are_handed_to_the_request_once() -> None:
    tone = CountedTone()
    engine = PrefetchingEngine(tone)
    engine.prefetch("First sentence. Second one!", VOICE, 0.4)
    first = engine.synthesize("First sentence.", VOICE, 0.4)
    second = engine.synthesize("Second one!", VOICE, 0.4)
    assert np.array_equal(first, ToneEngine().synthesize("First sentence.", VOICE, 0.4))
    assert np.array_equal(second, ToneEngine().synthesize("Second one!", VOICE, 0.4))
    assert sorted(tone.spoken) == ["First sentence.", "Second one!"]  # each once
    engine.synthesize("First sentence.", VOICE, 0.4)  # a second request speaks afresh
    assert tone.spoken.count("First sentence.") == 2
    engine.close()


def test_a_hint_that_does_not_match_is_not_used() -> None:
    tone = CountedTone()
    engine = PrefetchingEngine(tone)
    engine.prefetch("Guessed text.", VOICE, 0.4)
    other_temperature = engine.synthesize("Guessed text.", VOICE, 0.7)
    assert np.array_equal(other_temperature, ToneEngine().synthesize("Guessed text.", VOICE, 0.7))
    other_voice = find_voice("EN-FEMALE-1-NEUTRAL")
    engine.synthesize("Guessed text.", other_voice, 0.4)
    assert tone.spoken.count("Guessed text.") == 3  # the guess, then both requests themselves
    engine.close()


def test_only_a_plain_hint_is_taken() -> None:
    good = {"text": "Hello.", "speaker": {"default": "EN-MALE-1-NEUTRAL"}, "temperature": 0.5}
    assert read_hint(json.dumps(good).encode()) == ("Hello.", VOICE, 0.5)
    for bad in (
        b"not json",
        b"[]",
        json.dumps({**good, "text": "  "}).encode(),
        json.dumps({**good, "speaker": {"custom": "my-clone"}}).encode(),
        json.dumps({**good, "speaker": {"default": "NO-SUCH-VOICE"}}).encode(),
        json.dumps({**good, "temperature": 7}).encode(),
        json.dumps({**good, "temperature": True}).encode(),
        json.dumps({**good, "text": "x" * 9000}).encode(),
    ):
        assert read_hint(bad) is None, bad


def test_the_guess_reads_a_plain_say_line() -> None:
    settings = Settings({}, environ={}, file_data={"speaker": "EN-MALE-1-NEUTRAL"})
    assert guess_request(["--offline", "Hello there.", "-o", "x.flac", "--force"], settings) == {
        "text": "Hello there.",
        "speaker": {"default": "EN-MALE-1-NEUTRAL"},
        "temperature": 0.4,
    }
    guess = guess_request(["-s", "EN-FEMALE-2-NEUTRAL", "-t", "0.6", "-q", "Hi."], settings)
    assert guess == {
        "text": "Hi.",
        "speaker": {"default": "EN-FEMALE-2-NEUTRAL"},
        "temperature": 0.6,
    }
    assert guess_request(["--voice=DE-FEMALE-1-NEUTRAL", "--", "-dash text"], settings) == {
        "text": "-dash text",
        "speaker": {"default": "DE-FEMALE-1-NEUTRAL"},
        "temperature": 0.4,
    }
    assert guess_request(["-f", "chapter.txt", "-o", "x.flac"], settings) is None
    assert guess_request(["-o", "x.flac"], settings) is None  # stdin
    assert guess_request(["One.", "Two."], settings) is None  # a usage error, not a guess

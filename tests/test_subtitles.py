"""Subtitles by the conventions: at most 2 lines of at most 42 characters, at most 7 s a cue,
never across a paragraph; piece boundaries at the audio's own times. Read back with the
independent readers (srt, webvtt-py)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import srt
import webvtt

from outeai_cli.synthesis.subtitles import Cue, subtitle_cues
from tests.conftest import TOKEN
from tests.helpers import assert_subtitle_conventions, frames, reference_audio

RATE = 44100
PARAGRAPHS = [
    "The lighthouse keeper climbed the stairs at dusk, as he had every evening for forty "
    "years. The lamp was cold. He struck a match; the wick caught, and the glass began to glow.",
    "Below, the sea was calm.",
    "Nobody in the village remembered a night when the light had failed, not once, not even "
    "in the great storm of the winter the harbour froze over from one end to the other.",
]
TEXT = "\n\n".join(PARAGRAPHS)


def as_tuples(cues: list[Cue]) -> list[tuple[float, float, str]]:
    return [(c.start / c.sample_rate, c.end / c.sample_rate, c.text) for c in cues]


def test_one_piece_becomes_cues_by_the_conventions_within_its_audio_times() -> None:
    piece = Cue(TEXT, 1000, 1000 + 30 * RATE, RATE)  # 30 s of audio for one piece
    cues = subtitle_cues([piece])
    assert len(cues) > 4
    assert_subtitle_conventions(as_tuples(cues), PARAGRAPHS)
    assert cues[0].start == piece.start and cues[-1].end == piece.end  # the audio's times
    assert all(a.end == b.start for a, b in itertools.pairwise(cues))
    # A cue that must end early ends at a clause (or a sentence), and no word is left alone.
    assert any(c.text.endswith("dusk,") for c in cues), [c.text for c in cues]
    assert all(" " in c.text.replace("\n", " ") for c in cues), [c.text for c in cues]


def test_time_within_a_piece_follows_the_characters() -> None:
    piece = Cue(" ".join(["word"] * 40), 0, 40 * RATE, RATE)  # slow speech: 40 s
    cues = subtitle_cues([piece])
    spans = [(c.end - c.start) / RATE for c in cues]
    assert max(spans) <= 7.0 and abs(sum(spans) - 40) < 1e-6, spans
    # Even words, even times: each cue's time is its share of the characters.
    per_char = [(c.end - c.start) / (len(c.text) + 1) for c in cues]
    assert max(per_char) - min(per_char) < 0.01 * RATE, per_char


def test_a_word_longer_than_a_line_stays_whole_on_its_own_line() -> None:
    url = "https://example.org/" + "a" * 50
    cues = subtitle_cues([Cue(f"Visit {url} today.", 0, 5 * RATE, RATE)])
    assert any(url in c.text.split("\n") for c in cues), [c.text for c in cues]
    assert " ".join(c.text.replace("\n", " ") for c in cues) == f"Visit {url} today."


def test_a_pieces_boundaries_are_cue_boundaries_at_the_audio_times() -> None:
    pieces = [Cue("First piece of text.", 0, 44100, RATE), Cue("Second.", 44100, 50000, RATE)]
    cues = subtitle_cues(pieces)
    assert [(c.start, c.end) for c in cues] == [(0, 44100), (44100, 50000)]


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_say_writes_subtitles_readers_parse_to_the_conventions(
    outeai, make_server, tmp_path: Path, fmt: str
) -> None:
    srv = make_server(max_chars=200)
    (tmp_path / "story.txt").write_text(TEXT, encoding="utf-8")
    result = outeai(
        "say", "-f", "story.txt", "-o", "story.flac", "--subtitles", f"story.{fmt}",
        env={"OUTEAI_BASE_URL": srv.base_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = tmp_path / f"story.{fmt}"
    if fmt == "srt":
        parsed = [
            (c.start.total_seconds(), c.end.total_seconds(), c.content)
            for c in srt.parse(path.read_text(encoding="utf-8"))
        ]
    else:
        parsed = [(_seconds(c.start), _seconds(c.end), c.text) for c in webvtt.read(path)]
    assert_subtitle_conventions(parsed, PARAGRAPHS)
    # Every request's audio begins and ends at a cue boundary, to the millisecond.
    texts = sorted((r["text"] for r in srv.tts_requests()), key=TEXT.index)
    assert len(texts) > 1
    pieces = [frames(reference_audio(srv.base_url, t, TOKEN)) for t in texts]
    bounds = np.cumsum([0, *pieces]) / RATE
    assert sf.info(tmp_path / "story.flac").frames == sum(pieces)
    starts = {round(start, 3) for start, _, _ in parsed}
    ends = {round(end, 3) for _, end, _ in parsed}
    for bound in bounds[:-1]:
        assert round(bound, 3) in starts, (bound, sorted(starts))
    assert round(bounds[-1], 3) in ends


def _seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)

"""Audio with nothing to hear is said to be silent: a fact on the library's result (from the
decode every output passes), a warning line, a `--json` field, and a field per batch row.

The local server's tone engine answers a text with no letter or digit (`🎉🎉`) with silence,
as a real engine does."""

from __future__ import annotations

import io
import json
from array import array
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from outeai_cli.audio.loudness import Loudness
from outeai_cli.audio.verify import check_audio

SILENT_TEXT = "🎉🎉"
WARNING = "outeai: warning: the audio is silent (no sample above -60 dBFS)"


def block(values: list[int], dtype: str) -> bytes:
    return array("i" if dtype == "int32" else "h", values).tobytes()


@pytest.mark.parametrize(
    ("values", "silent"),
    [
        ([0] * 1000, True),
        ([31, -31, 5] * 300, True),  # under -60 dBFS (32 of 32768)
        ([0] * 999 + [32], False),  # one sample at the threshold is heard
        ([0] * 999 + [-33], False),
        ([0] * 999 + [300], False),  # found by the glance at the top bytes
    ],
)
def test_loudness_of_16_bit_blocks(values: list[int], silent: bool) -> None:
    loudness = Loudness()
    assert loudness.silent is None  # nothing fed: not known
    loudness.feed(block(values, "int16"), "int16")
    assert loudness.silent is silent


def test_loudness_of_wide_samples_and_across_blocks() -> None:
    loudness = Loudness()
    loudness.feed(block([31 << 16] * 100, "int32"), "int32")
    assert loudness.silent is True
    loudness.feed(block([0, 40 << 16], "int32"), "int32")
    assert loudness.silent is False
    loudness.feed(block([0] * 100, "int32"), "int32")
    assert loudness.silent is False  # once heard, heard


def test_check_audio_says_whether_a_file_is_silent(tmp_path: Path) -> None:
    quiet = np.zeros(11025, dtype=np.int16)
    tone = (np.sin(np.arange(11025) / 10) * 8000).astype(np.int16)
    for name, samples, silent in (("quiet", quiet, True), ("tone", tone, False)):
        for fmt in ("flac", "wav"):
            path = tmp_path / f"{name}.{fmt}"
            sf.write(path, samples, 22050)
            assert check_audio(path).silent is silent, path
    buffer = io.BytesIO()
    sf.write(buffer, tone, 22050, format="MP3")
    (tmp_path / "tone.mp3").write_bytes(buffer.getvalue())
    assert check_audio(tmp_path / "tone.mp3").silent is None  # walked, not decoded


def test_say_warns_when_the_audio_is_silent(outeai, tmp_path: Path) -> None:
    result = outeai("say", SILENT_TEXT, "-o", "party.flac", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.out)["silent"] is True
    lines = result.stderr.splitlines()
    assert any(line.startswith(WARNING) for line in lines), result.stderr
    assert lines[-1].startswith("Saved party.flac")
    assert sf.info(tmp_path / "party.flac").frames > 0  # kept: the decision is the user's


def test_say_says_nothing_of_silence_for_speech(outeai) -> None:
    result = outeai("say", "Hello there.", "-o", "hello.flac", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.out)["silent"] is False
    assert "silent" not in result.stderr


def test_a_stitched_silent_text_is_silent_in_any_format(outeai, tmp_path: Path) -> None:
    # Split into pieces: the fact comes from the pieces the stitcher joins (an MP3 output
    # itself is only walked).
    text = " ".join([SILENT_TEXT + "."] * 12)
    result = outeai("say", text, "-o", "long.mp3", "--max-chars", "20", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.out)
    assert document["pieces"] > 1 and document["silent"] is True, document
    assert WARNING in result.stderr


def test_batch_marks_each_silent_row(outeai, tmp_path: Path) -> None:
    result = outeai("batch", "-", "-o", "out", "--json", input=f"Hello there.\n{SILENT_TEXT}\n")
    assert result.returncode == 0, result.stderr
    rows = [
        json.loads(line)
        for line in (tmp_path / "out" / "outeai-results.jsonl").read_text().splitlines()
    ]
    by_input = {row["input"]: row["silent"] for row in rows}
    assert by_input == {"stdin line 1": False, "stdin line 2": True}, rows
    silent_name = next(row["output"] for row in rows if row["silent"])
    assert json.loads(result.out)["silent"] == [silent_name]
    assert f"is silent (no sample above -60 dBFS): {silent_name}" in result.stderr

"""Output names at the edges: all 255 bytes a file system allows (for a text of many pieces
too), and names that are directories. Each is made, or refused before any request."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from tests.helpers import error_lines

LONG_TEXT = " ".join(f"Sentence number {n} is here." for n in range(12))


def test_a_long_text_saves_under_a_name_of_255_bytes(outeai, tmp_path: Path) -> None:
    name = "é" * 60 + "n" * (255 - 120 - len(".flac")) + ".flac"  # 255 bytes, 2-byte characters
    assert len(name.encode()) == 255
    result = outeai("say", LONG_TEXT, "--max-chars", "60", "-o", name)
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / name)).frames > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_batch_item_with_a_name_of_250_bytes_is_made(outeai, tmp_path: Path) -> None:
    name = "b" * (250 - len(".flac")) + ".flac"
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(json.dumps({"text": LONG_TEXT, "output": name}) + "\n")
    result = outeai("batch", str(manifest), "-o", "out", "--max-chars", "60")
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / "out" / name)).frames > 0


def test_a_name_with_a_trailing_slash_is_refused_and_nothing_is_written(outeai, server, tmp_path):
    (tmp_path / "name.flac").write_bytes(b"precious")
    for extra in ((), ("--force",)):
        result = outeai("say", "Hello", "-o", "name.flac/", *extra)
        assert result.returncode == 2, result.stderr
        (line,) = error_lines(result.stderr)
        assert "ends with a slash" in line
    assert (tmp_path / "name.flac").read_bytes() == b"precious"
    assert server.tts_requests() == []


def test_a_directory_is_named_as_a_directory(outeai, server, tmp_path):
    (tmp_path / "adir").mkdir()
    for name in ("adir/", "adir"):
        result = outeai("say", "Hello", "-o", name)
        assert result.returncode == 2, result.stderr
        (line,) = error_lines(result.stderr)
        assert "is a directory" in line and "extension" not in line
    assert server.tts_requests() == []

"""An output name may use all 255 bytes a file system allows, for a text of many pieces too:
the hidden work folder beside it shortens its own name instead of failing."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

LONG_TEXT = " ".join(f"Sentence number {n} is here." for n in range(12))


def test_a_long_text_saves_under_a_name_of_255_bytes(run_cli, tmp_path: Path) -> None:
    name = "é" * 60 + "n" * (255 - 120 - len(".flac")) + ".flac"  # 255 bytes, 2-byte characters
    assert len(name.encode()) == 255
    result = run_cli("say", LONG_TEXT, "--max-chars", "60", "-o", name)
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / name)).frames > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_batch_item_with_a_name_of_250_bytes_is_made(run_cli, tmp_path: Path) -> None:
    name = "b" * (250 - len(".flac")) + ".flac"
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(json.dumps({"text": LONG_TEXT, "output": name}) + "\n")
    result = run_cli("batch", str(manifest), "-o", "out", "--max-chars", "60")
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / "out" / name)).frames > 0

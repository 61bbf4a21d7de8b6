"""The main job end to end: the README's first commands against the local server."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf


def test_say_writes_a_playable_flac_named_by_dash_o(run_cli, tmp_path: Path) -> None:
    result = run_cli("say", "Hello there. How are you?", "-s", "EN-FEMALE-1-NEURAL", "-o", "out.flac")
    assert result.returncode == 0, result.stderr
    info = sf.info(tmp_path / "out.flac")
    assert info.format == "FLAC" and info.samplerate == 44100
    assert info.frames > 0
    assert "Saved out.flac" in result.stderr


def test_say_reads_piped_stdin(run_cli, tmp_path: Path) -> None:
    result = run_cli("say", "-o", "hi.flac", input="hi from a pipe\n")
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "hi.flac").frames > 0

"""`outeai voices` on a terminal of any width: the names (what people copy) stay whole, the
description is what gives way. Seen through a terminal emulator on a real pseudo-terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from outeai_cli.voices.catalogue import BUILTIN_VOICES
from tests.helpers import screens_in_pty


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_voice_names_stay_whole_at_any_width(cli_env, tmp_path: Path, columns: int) -> None:
    code, shots, _ = screens_in_pty(["voices", "--local"], cli_env, tmp_path, columns=columns)
    assert code == 0, shots
    screen = shots[-1]
    lines = screen.splitlines()
    assert all(len(line) <= columns for line in lines), screen
    # The last (unscrolled) rows hold whole voices: each name there is whole on one line.
    names = {voice.name for voice in BUILTIN_VOICES}
    shown = {name for name in names if re.search(rf"(?<![\w-]){name}(?![\w-])", screen)}
    assert "JA-FEMALE-1-NEUTRAL" in shown, screen  # the last one listed
    assert not re.search(r"[A-Z]{2}-[\w-]*…", screen), screen  # no name cut
    assert not re.search(r"(?m)[A-Z]{2}-(?:FE)?MALE-?$", screen), screen  # no name broken
    if columns <= 60:  # a voice takes its line and its description's, not a dozen rows
        rows_per_voice = len(lines) / len(shown)
        assert rows_per_voice <= 3, screen
        assert "Neutral Japanese female voice" in screen, screen  # the description kept


def test_a_pipe_still_gets_plain_columns(outeai) -> None:
    result = outeai("voices", "--local")
    assert result.returncode == 0, result.stderr
    header = result.out.splitlines()[0]
    assert header.split() == ["NAME", "KIND", "LANGUAGE", "GENDER", "DESCRIPTION"]
    assert "│" not in result.out

"""What outeai prints about the user's own names (paths) cannot act on the terminal either.

Server text is cleaned of control characters (tests/test_hostile_server.py); a path the user
gave, or one read from a file, is shown with them escaped, so a file named with an escape
sequence or a newline can neither retitle the window nor forge a second line.
"""

from __future__ import annotations

import re

from outeai_cli.untrusted import clean_text

CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
NAME = "a\nb\x1b]0;TITLE\x07\u202egalf.flac"


def test_a_saved_path_with_control_characters_is_shown_escaped(outeai, tmp_path) -> None:
    result = outeai("say", "hi", "-o", NAME)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / NAME).is_file()  # the file has the name asked for
    assert not CONTROLS.search(result.stderr), repr(result.stderr)
    assert result.stderr.count("\n") == 1  # one line
    assert "Saved a\\nb\\x1b]0;TITLE\\x07\\u202egalf.flac" in result.stderr


def test_bidi_marks_from_a_server_are_removed() -> None:
    assert clean_text("evil\u061c\u202eexe.txt") == "evilexe.txt"

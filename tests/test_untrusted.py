"""The one parser of untrusted JSON and the one cleaner of server text."""

from __future__ import annotations

import pytest

from outeai_cli.security import register_secret
from outeai_cli.server.faults import HOSTILE_TEXT
from outeai_cli.untrusted import clean_text, parse_json


def test_deep_nesting_is_a_value_error_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="nested over 64 levels"):
        parse_json("[" * 60_000 + "]" * 60_000)
    assert parse_json('{"a": [[["deep enough"]]]}') == {"a": [[["deep enough"]]]}


def test_the_depth_bound_is_exactly_64_levels() -> None:
    deep: list = []
    for _ in range(63):
        deep = [deep]
    assert parse_json("[" * 64 + "]" * 64) == deep
    # With more brackets than levels the depth is counted: 64 deep still parses.
    assert parse_json("[" * 64 + "]" * 63 + ", []]") == [*deep, []]
    nested = parse_json('{"a": ' * 63 + "{}" + "}" * 63)
    for _ in range(63):
        nested = nested["a"]
    assert nested == {}
    with pytest.raises(ValueError, match="nested over 64 levels"):
        parse_json("[" * 65 + "]" * 65)
    with pytest.raises(ValueError, match="nested over 64 levels"):
        parse_json('{"a": ' * 64 + "{}" + "}" * 64)
    # Many brackets side by side are not depth: 200 of them, two levels deep.
    assert parse_json("[" + ",".join(["[]"] * 100) + "]") == [[]] * 100


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert parse_json('{"m": "' + "[" * 1000 + '"}') == {"m": "[" * 1000}


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}'])
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a JSON number"):
        parse_json(text)


def test_size_and_encoding_are_bounded() -> None:
    with pytest.raises(ValueError, match="over 10 bytes"):
        parse_json('"0123456789"', max_bytes=10)
    with pytest.raises(ValueError, match="not UTF-8"):
        parse_json(b'"\xff"')


def test_terminal_sequences_go_whole_and_printable_text_stays() -> None:
    assert clean_text("bad request" + HOSTILE_TEXT + " (check)") == (
        "bad requestred OVERWRITTEN  (check)"
    )
    assert clean_text("é 你好 \u202eevil\u202c\tline\nbreak") == "é 你好 evil line break"


def test_a_secret_split_by_control_characters_is_still_masked() -> None:
    register_secret("split-secret-0123456789")
    assert clean_text("token split-\x07secret-0123\x1b[0m456789 echoed") == "token spli…6789 echoed"

"""The one parser of untrusted JSON and the one cleaner of server text."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from outeai_cli.errors import ProtocolError
from outeai_cli.security import register_secret
from outeai_cli.server.faults import HOSTILE_TEXT
from outeai_cli.untrusted import (
    UnreadableFile,
    body_chunks,
    clean_text,
    parse_json,
    read_bounded,
)


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


def test_a_lone_surrogate_reads_back_as_json_itself_reads_it() -> None:
    """JSON may escape half a surrogate pair ("\\ud800"); text given as a str may hold one."""
    assert parse_json('"hi \ud800 there"') == "hi \ud800 there"
    assert parse_json(b'"hi \\ud800 there"') == "hi \ud800 there"


def test_closing_brackets_do_not_hide_a_deep_nesting_after_them() -> None:
    shallow_then_deep = "[" + "[]," * 70 + "[" * 64 + "]" * 64 + "]"  # 65 levels at its end
    with pytest.raises(ValueError, match="nested over 64 levels"):
        parse_json(shallow_then_deep)


def test_nan_is_unknown_where_asked_and_refused_elsewhere() -> None:
    assert parse_json('{"seconds": NaN}', nonfinite_as_none=True) == {"seconds": None}
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        parse_json('{"seconds": NaN}')


def test_server_text_is_cut_past_its_limit_and_any_value_is_shown_as_text() -> None:
    assert clean_text("x" * 10, limit=10) == "x" * 10
    assert clean_text("x" * 11, limit=10) == "x" * 10 + "…"
    assert clean_text(404) == "404" and clean_text(None) == "None"


@pytest.mark.parametrize("size", [1024, 1025, (3 << 20) + 5])
def test_read_bounded_reads_up_to_its_limit_exactly(tmp_path, size: int) -> None:
    path = tmp_path / "data"
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    path.write_bytes(data)
    limit = 1024 if size < 2048 else 3 << 20
    if size > limit:
        words = "it is over 1 KiB" if limit == 1024 else "it is over 3 MiB"
        with pytest.raises(UnreadableFile, match=f"^{words}$"):
            read_bounded(path, limit)
        assert read_bounded(path, size) == data  # read in 1 MiB pieces, every one kept
    else:
        assert read_bounded(path, limit) == data


@pytest.mark.parametrize("coding", ["", "identity", "IDENTITY", "gzip", "x-gzip", "deflate"])
def test_a_body_is_read_in_each_coding_a_server_may_use(coding: str) -> None:
    payload = b'{"message": "' + b"a long message " * 1000 + b'"}'
    if coding in ("gzip", "x-gzip"):
        body = gzip.compress(payload)
    elif coding == "deflate":
        body = zlib.compress(payload)
    else:
        body = payload
    pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
    assert b"".join(body_chunks(pieces, f" {coding} ")) == payload


def test_a_coding_not_read_is_named_cleaned_and_short() -> None:
    with pytest.raises(
        ProtocolError, match=r"compressed its answer as 'br', which outeai does not read"
    ):
        list(body_chunks([b"x"], "br"))
    with pytest.raises(ProtocolError, match=r"as '" + "z" * 40 + "…', which outeai does not read"):
        list(body_chunks([b"x"], "\x1b[31m" + "z" * 60))


def test_a_fifo_read_without_following_links_is_refused_without_waiting(tmp_path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_bounded(fifo, 1024, follow=False)  # no writer ever comes: this must not wait

"""Splitting long text: sentence-aware, within the cap, every character once, in order."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outeai_cli.errors import InputError
from outeai_cli.synthesis.splitting import split_piece, split_text
from tests.helpers import assert_lossless


def non_space(text: str) -> str:
    return "".join(c for c in text if not c.isspace())


def test_sentences_are_packed_greedily_up_to_the_cap() -> None:
    text = "One two three. Four five six. Seven eight nine. Ten."
    pieces = split_text(text, 30)
    assert [p.text for p in pieces] == ["One two three. Four five six.", "Seven eight nine. Ten."]


def test_text_within_the_cap_is_one_piece_as_written() -> None:
    text = '  He said "hi" -- twice!\n'
    assert [p.text for p in split_text(text, 200)] == ['He said "hi" -- twice!']


def test_abbreviations_numbers_and_quotes_stay_inside_their_sentence() -> None:
    first = 'Dr. Smith measured 3.5 litres, then said "That is enough." '
    second = "Mr. Jones e.g. disagreed at 10 a.m. on the U.S. coast."
    pieces = split_text(first + second, len(first) + 5)
    assert [p.text for p in pieces] == [first.strip(), second]


def test_a_cut_never_falls_after_dr_or_inside_a_number() -> None:
    sentence = "Dr. Adams paid 3.5 dollars for the 12.75 kg crate at 4 p.m. yesterday. "
    text = sentence * 30
    pieces = split_text(text, 100)
    assert_lossless(text, pieces, 100)
    assert len(pieces) >= len(text) // 100  # 30 sentences of 72 characters: cut many times
    for piece in pieces:
        assert not piece.text.endswith(("Dr.", "3.", "12.", "p.")), piece.text
        assert not re.match(r"^(Adams|5 |75 |m\.)", piece.text), piece.text


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        pytest.param(
            "It was the best of times, it was the worst\nof times, it was the age of wisdom. It was\n"
            "the age of foolishness.",
            80,
            [
                "It was the best of times, it was the worst\nof times, it was the age of wisdom.",
                "It was\nthe age of foolishness.",
            ],
            id="hard-wrapped-lines-are-not-taken-for-sentences",
        ),
        pytest.param(
            "When the rain came down over the hills, the farmers ran to the barns; "
            "the children stayed inside: nobody wanted to be out in that storm.",
            75,
            [
                "When the rain came down over the hills, the farmers ran to the barns;",
                "the children stayed inside: nobody wanted to be out in that storm.",
            ],
            id="a-long-sentence-splits-at-clause-punctuation-first",
        ),
    ],
)
def test_pieces_end_where_the_text_allows(text: str, max_chars: int, expected: list[str]) -> None:
    assert [p.text for p in split_text(text, max_chars)] == expected


def test_an_unpunctuated_600_character_sentence_splits_at_whitespace_never_in_a_word() -> None:
    words = [f"wd{i:03d}" for i in range(100)]
    text = " ".join(words)  # 599 characters, no punctuation at all
    pieces = split_text(text, 200)
    assert_lossless(text, pieces, 200)
    assert [w for p in pieces for w in p.text.split()] == words
    for piece, after in itertools.pairwise(pieces):  # greedy: the next word did not fit
        assert len(piece.text) + 1 + len(after.text.split()[0]) > 200


def test_a_single_word_longer_than_the_cap_is_the_only_thing_cut_inside() -> None:
    url = "https://example.com/" + "a" * 300
    text = f"See {url} now."
    pieces = split_text(text, 100)
    assert_lossless(text, pieces, 100)
    assert "".join(p.text for p in pieces).replace(" ", "") == text.replace(" ", "")


def test_a_hard_cut_keeps_combining_marks_with_their_letter() -> None:
    text = "e\u0301" * 150  # 300 code points: e + combining acute, repeated
    pieces = split_text(text, 101)
    assert_lossless(text, pieces, 101)
    assert all(not p.text.startswith("\u0301") for p in pieces)


def test_cjk_text_without_spaces_splits_at_its_punctuation() -> None:
    text = "今日は天気がいいです、散歩に行きましょう、公園まで歩きます。" * 3
    pieces = split_text(text, 40)
    assert_lossless(text, pieces, 40)
    assert all(p.text.endswith(("、", "。")) for p in pieces[:-1])


def test_paragraph_breaks_are_kept_inside_a_piece_as_written() -> None:
    text = "First paragraph.\n\nSecond paragraph."
    assert [p.text for p in split_text(text, 200)] == [text]


def test_split_piece_cuts_again_with_offsets_in_the_original() -> None:
    text = "Intro. " + "alpha beta gamma delta. " * 6
    (piece,) = [p for p in split_text(text, 200) if len(p.text) > 100]
    halves = split_piece(piece, len(piece.text) // 2)
    assert len(halves) >= 2
    assert_lossless(text[: piece.end], halves, len(piece.text) // 2)
    assert all(text[h.start : h.end] == h.text for h in halves)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_a_cap_below_one_or_not_whole_is_an_input_error(bad) -> None:
    with pytest.raises(InputError, match="character cap"):
        split_text("Hello.", bad)


def test_whitespace_only_text_gives_no_pieces() -> None:
    assert split_text(" \n\t ", 10) == []


ALPHABET = st.sampled_from([*"ab .,;:!?\"'\n\t-—…3.5Dr", "Dr. ", "3.5", "e\u0301", "。", "、"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(ALPHABET, max_size=400).map("".join) | st.text(max_size=300),
    cap=st.integers(min_value=1, max_value=120),
)
def test_any_text_is_split_losslessly_within_the_cap(text: str, cap: int) -> None:
    pieces = split_text(text, cap)
    assert_lossless(text, pieces, cap)
    # Only the pieces and whitespace: nothing rewritten, nothing repeated.
    assert non_space("".join(p.text for p in pieces)) == non_space(text)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=12), min_size=1, max_size=80),
    cap=st.integers(min_value=12, max_value=90),
)
def test_words_no_longer_than_the_cap_are_never_cut(words: list[str], cap: int) -> None:
    text = " ".join(words)
    pieces = split_text(text, cap)
    assert [w for p in pieces for w in p.text.split()] == words

"""Text that is still arriving: pieces as soon as sentences end, in bounded memory."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outeai_cli.errors import InputError
from outeai_cli.synthesis.live_text import (
    LivePiece,
    LiveText,
    SentenceBuffer,
    StrictDecoder,
    TextEnded,
)
from outeai_cli.synthesis.splitting import split_text
from tests.helpers import assert_lossless

SENTENCES = "The first sentence is here. Dr. Smith paid 3.5 dollars. Then a third one! And the end"


def fed_in(text: str, sizes: list[int], cap: int = 200) -> list:
    """Feed `text` to a SentenceBuffer in fragments of `sizes` (cycled), then end it."""
    buffer = SentenceBuffer(cap)
    pieces, cursor, index = [], 0, 0
    while cursor < len(text):
        size = sizes[index % len(sizes)]
        pieces += buffer.feed(text[cursor : cursor + size])
        cursor += size
        index += 1
    return pieces + buffer.flush()


def test_a_sentence_is_a_piece_as_soon_as_the_space_after_it_arrives() -> None:
    buffer = SentenceBuffer(200)
    seen = {}
    for word in SENTENCES.split(" "):
        for piece in buffer.feed(word + " "):
            seen[piece.text] = word
    assert seen == {
        "The first sentence is here.": "here.",
        "Dr. Smith paid 3.5 dollars.": "dollars.",  # not after "Dr." nor inside "3.5"
        "Then a third one!": "one!",
    }
    assert [p.text for p in buffer.flush()] == ["And the end"]


def test_a_sentence_end_without_the_space_after_it_waits_for_more() -> None:
    buffer = SentenceBuffer(200)
    assert buffer.feed("It costs 3.") == []  # "3.5" may follow
    assert [p.text for p in buffer.feed("5 dollars. ")] == ["It costs 3.5 dollars."]
    assert buffer.feed("Wait.") == [] and buffer.feed("..") == []
    assert [p.text for p in buffer.feed(" Go")] == ["Wait..."]


def test_a_blank_line_ends_a_sentence_but_a_wrapped_line_does_not() -> None:
    buffer = SentenceBuffer(200)
    assert buffer.feed("a line that wraps\n") == []
    assert [p.text for p in buffer.feed("here\n\n")] == ["a line that wraps\nhere"]


def test_complete_sentences_that_arrive_together_are_packed_like_a_whole_text() -> None:
    text = "One two three. Four five six. Seven eight nine. Ten. Eleven"
    buffer = SentenceBuffer(30)
    assert [p.text for p in buffer.feed(text)] == [
        "One two three. Four five six.",
        "Seven eight nine. Ten.",
    ]
    assert buffer.held == "Eleven"


def test_a_line_without_a_sentence_end_is_cut_at_the_cap_and_never_held_whole() -> None:
    buffer = SentenceBuffer(50)
    longest_held = 0
    pieces = []
    for _ in range(2000):
        pieces += buffer.feed("word " * 100)
        longest_held = max(longest_held, len(buffer.held))
    pieces += buffer.flush()
    assert longest_held <= 50
    assert all(len(p.text) <= 50 for p in pieces)
    assert sum(p.text.count("word") for p in pieces) == 200_000


def test_one_unbroken_run_is_cut_inside_at_the_cap() -> None:
    buffer = SentenceBuffer(64)
    pieces = []
    for _ in range(100):
        pieces += buffer.feed("x" * 1000)
        assert len(buffer.held) <= 64
    pieces += buffer.flush()
    assert "".join(p.text for p in pieces) == "x" * 100_000
    assert {len(p.text) for p in pieces} == {64, 100_000 % 64}


def test_offsets_count_from_the_start_of_everything_fed() -> None:
    text = "  Hello there.   How are you? Fine"
    pieces = fed_in(text, [3, 1, 7])
    assert [p.text for p in pieces] == ["Hello there.", "How are you?", "Fine"]
    assert all(text[p.start : p.end] == p.text for p in pieces)


@settings(max_examples=150, deadline=None)
@given(
    text=st.lists(
        st.sampled_from([*"ab .,!?\n\u00e9\u4e2d", "Dr. ", "3.5", "e.g. ", "\n\n", "word"]),
        max_size=150,
    ).map("".join),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5),
    cap=st.integers(1, 60),
)
def test_any_fragmentation_speaks_every_character_once_in_order_within_the_cap(
    text: str, sizes: list[int], cap: int
) -> None:
    assert_lossless(text, fed_in(text, sizes, cap), cap)


def test_a_text_fed_at_once_is_cut_as_the_whole_text_splitter_cuts_it() -> None:
    text = (SENTENCES + ". ") * 40
    assert [p.text for p in fed_in(text, [len(text)], 120)] == [
        p.text for p in split_text(text, 120)
    ]


# -- decoding -------------------------------------------------------------------------------------


def test_utf8_split_across_reads_is_joined_and_a_bom_dropped() -> None:
    data = "\ufeffcafé 中文 ok".encode()
    decoder = StrictDecoder("standard input")
    text = "".join(decoder.decode(data[i : i + 1]) for i in range(len(data)))
    assert text + decoder.decode(b"", final=True) == "café 中文 ok"


def test_invalid_utf8_names_the_byte_and_its_offset_in_the_whole_input() -> None:
    decoder = StrictDecoder("standard input")
    decoder.decode(b"hello \xc3")  # a character split across reads...
    with pytest.raises(InputError, match=r"invalid byte 0xc3 at offset 6"):
        decoder.decode(b"(")  # ...that the next read shows to be broken


def test_input_ending_inside_a_character_is_an_error() -> None:
    decoder = StrictDecoder("notes.txt")
    decoder.decode(b"ok \xe4\xb8")
    with pytest.raises(InputError, match=r"notes.txt is not valid UTF-8 .*offset 3"):
        decoder.decode(b"", final=True)


# -- reading a descriptor -------------------------------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def collect(live: LiveText, timeout: float = 10) -> tuple[list[LivePiece], TextEnded]:
    pieces = []
    while True:
        item = live.next(timeout)
        assert item is not None, "nothing came"
        if isinstance(item, TextEnded):
            return pieces, item
        pieces.append(item)


def test_input_that_ends_at_once_is_handed_back_whole(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.write(write_end, b"Hello there. How are you?\n")
    os.close(write_end)
    assert LiveText(read_end, "standard input", max_chars=200).start() == (
        "Hello there. How are you?\n"
    )


def test_input_still_open_after_a_sentence_is_live(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    live = LiveText(read_end, "standard input", max_chars=200, pause=5)
    os.write(write_end, b"Hello there. How")
    assert live.start() is None
    first = live.next(5)
    assert isinstance(first, LivePiece) and first.piece.text == "Hello there."
    os.write(write_end, b" are you? Fine")
    os.close(write_end)
    pieces, end = collect(live)
    assert [p.piece.text for p in pieces] == ["How are you?", "Fine"]
    assert end.pieces == 3


def test_a_pause_in_the_input_speaks_what_is_held(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    live = LiveText(read_end, "standard input", max_chars=200, pause=0.3)
    os.write(write_end, b"a log line without a full stop\n")
    started = time.monotonic()
    assert live.start() is None
    item = live.next(5)
    assert isinstance(item, LivePiece) and item.piece.text == "a log line without a full stop"
    assert 0.25 <= time.monotonic() - started < 3
    os.write(write_end, b"another line\n")
    item = live.next(5)
    assert isinstance(item, LivePiece) and item.piece.text == "another line"
    os.close(write_end)
    assert isinstance(live.next(5), TextEnded)


def test_reading_stops_while_the_run_does_not_take_pieces(pipe: tuple[int, int]) -> None:
    """A producer faster than speech is held back by the pipe, not by memory."""
    read_end, write_end = pipe
    live = LiveText(read_end, "standard input", max_chars=100, ahead=4)
    block = b"y\n" * 4096
    written = os.write(write_end, block)
    assert live.start() is None  # pieces are ready and the input is still open
    os.set_blocking(write_end, False)
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        try:
            written += os.write(write_end, block)
        except BlockingIOError:
            time.sleep(0.05)
    # What the reader took is at most a block, four queued pieces and one held: the rest waits
    # in the pipe (64 KiB on Linux) and the writer is blocked.
    assert written < 300_000, written
    assert live.received_bytes <= 4 * 100 + 2 * (1 << 16)
    live.stop()


def test_invalid_utf8_on_a_live_input_stops_it_with_the_offset(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    live = LiveText(read_end, "standard input", max_chars=200, pause=5)
    os.write(write_end, b"First sentence. Second")
    assert live.start() is None
    assert isinstance(live.next(5), LivePiece)
    os.write(write_end, b" \xff")
    with pytest.raises(InputError, match=r"invalid byte 0xff at offset 23"):
        live.next(5)


def test_empty_input_is_refused(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.write(write_end, b"  \n\n ")
    os.close(write_end)
    with pytest.raises(InputError, match="standard input is empty"):
        LiveText(read_end, "standard input", max_chars=200).start()


def test_a_regular_file_is_read_whole_when_small(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("One. Two. Three.")
    with open(path, "rb") as handle:
        assert LiveText(handle.fileno(), "notes.txt", max_chars=5).start() == "One. Two. Three."


def test_a_pause_inside_a_word_speaks_up_to_the_word_and_keeps_it_for_later() -> None:
    buffer = SentenceBuffer(200)
    text = "  First bo"
    assert buffer.feed(text) == []
    (first,) = buffer.pause()
    assert first.text == "First" and buffer.held == "bo"
    later = buffer.feed("ld step. Next")
    assert [p.text for p in later] == ["bold step."]
    whole = text + "ld step. Next"
    assert all(whole[p.start : p.end] == p.text for p in [first, *later])
    (last,) = buffer.pause()  # one word only: spoken as it is
    assert last.text == "Next" and whole[last.start : last.end] == "Next"

"""Split a long text into pieces the service accepts: sentence-aware, lossless, in order.

Guarantees, whatever the input:
- every piece is `text[start:end]`, sent exactly as written (no rewriting of quotes, numbers or
  abbreviations), at most `max_chars` characters, and never empty or whitespace-only;
- pieces follow each other in text order and only whitespace lies between them, so every other
  character of the input is spoken exactly once;
- a cut falls between sentences where it can; a sentence longer than the cap is cut after clause
  punctuation, then at whitespace. Only a single "word" longer than the cap (a long URL, a run of
  digits) is cut inside, because nothing else would let it through.

Sentences come from sentencex (Wikimedia's segmenter): it keeps abbreviations like "Dr." and
numbers like "3.5" inside their sentence, treats blank lines as paragraph ends, joins
hard-wrapped lines, and runs in linear time. It only proposes boundaries: the offsets are
recomputed here against the original text, so a surprise in its output can never drop or
repeat a character.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from outeai_cli.errors import Advice, Fix, InputError
from outeai_cli.settings.table import DEFAULT_MAX_CHARS

# NUL and the other control characters are not text: read as spaces, so a piece of nothing
# but them (`-f /dev/zero`) is never sent, and never paid for. Tabs and line ends stay.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_controls(text: str) -> str:
    """`text` with its control characters read as spaces."""
    return _NOT_TEXT.sub(" ", text)


# A cut may follow clause punctuation when whitespace comes next (", ", "; ", " - "), or CJK
# clause punctuation directly (those scripts put no space after it).
# Written as escapes: ellipsis, em and en dash; fullwidth comma, semicolon, colon; ideographic comma.
_CLAUSE_END = re.compile(r"[,;:\u2026\u2014\u2013)\]}](?=\s)|\s-(?=\s)|[\uff0c\uff1b\uff1a\u3001]")
_WORD = re.compile(r"\S+")

Span = tuple[int, int]


class Piece(NamedTuple):
    """One request's text: `text == original[start:end]`."""

    start: int
    end: int
    text: str


def split_text(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, *, language: str = "en"
) -> list[Piece]:
    """Cut `text` into pieces of at most `max_chars` characters (see the module docstring)."""
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise InputError(
            f"the character cap must be a whole number of at least 1, got {max_chars!r}",
            advice=(Advice(Fix.SET, "max_chars", str(DEFAULT_MAX_CHARS)),),
        )
    return [
        Piece(s, e, text[s:e])
        for s, e in pack_sentences(text, _sentences(text, language), max_chars)
    ]


def sentence_spans(text: str, language: str = "en") -> list[Span]:
    """The (trimmed) sentences of `text` as spans, in order, covering every non-space character."""
    return _sentences(text, language)


def pack_sentences(text: str, spans: Iterable[Span], max_chars: int) -> Iterator[Span]:
    """Sentence spans of `text` joined greedily into pieces of at most `max_chars` characters;
    a sentence over the cap is cut after clauses, then between words (see the module docstring).
    """
    return _pack(spans, max_chars, lambda s, e: _split_long(text, s, e, max_chars))


def split_piece(piece: Piece, max_chars: int, *, language: str = "en") -> list[Piece]:
    """Cut one piece again under a smaller cap, keeping offsets in the original text."""
    return [
        Piece(piece.start + p.start, piece.start + p.end, p.text)
        for p in split_text(piece.text, max_chars, language=language)
    ]


def _trim(text: str, start: int, end: int) -> Span | None:
    """The span without its surrounding whitespace, or None if nothing else is in it."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _sentences(text: str, language: str) -> list[Span]:
    """Sentence spans (trimmed) covering every non-space character of `text`, in order."""
    from sentencex import segment

    spans: list[Span] = []
    cursor = 0
    for sentence in segment(language, text):
        if text.startswith(sentence, cursor):
            end = cursor + len(sentence)
        else:  # the segmenter changed something: locate its sentence, or stop trusting it
            core = sentence.strip()
            found = text.find(core, cursor) if core else -1
            if found < 0:
                break
            end = found + len(core)
        span = _trim(text, cursor, end)
        if span is not None:
            spans.append(span)
        cursor = end
    tail = _trim(text, cursor, len(text))
    if tail is not None:
        spans.append(tail)
    return spans


def _pack(
    spans: Iterable[Span], cap: int, finer: Callable[[int, int], Iterator[Span]]
) -> Iterator[Span]:
    """Join consecutive spans greedily while the joined span fits in `cap`.

    A span longer than `cap` starts afresh and is handed to `finer` to be cut smaller.
    """
    start = end = -1
    for s, e in spans:
        if e - s > cap:
            if start >= 0:
                yield start, end
                start = -1
            yield from finer(s, e)
        elif start < 0:
            start, end = s, e
        elif e - start <= cap:
            end = e
        else:
            yield start, end
            start, end = s, e
    if start >= 0:
        yield start, end


def _split_long(text: str, start: int, end: int, cap: int) -> Iterator[Span]:
    """A sentence over the cap: clauses packed greedily; a clause over the cap, by words."""
    clauses: list[Span] = []
    cursor = start
    for match in _CLAUSE_END.finditer(text, start, end):
        span = _trim(text, cursor, match.end())
        if span is not None:
            clauses.append(span)
        cursor = match.end()
    tail = _trim(text, cursor, end)
    if tail is not None:
        clauses.append(tail)
    yield from _pack(clauses, cap, lambda s, e: _split_words(text, s, e, cap))


def _split_words(text: str, start: int, end: int, cap: int) -> Iterator[Span]:
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    yield from _pack(words, cap, lambda s, e: _cut_word(text, s, e, cap))


def _cut_word(text: str, start: int, end: int, cap: int) -> Iterator[Span]:
    """The last resort for one unbroken run longer than the cap: cut it, but never between a
    character and the combining marks or joiners that belong to it."""
    while end - start > cap:
        cut = start + cap
        while cut > start + 1 and _clings(text[cut]):
            cut -= 1
        yield start, cut
        start = cut
    yield start, end


def _clings(char: str) -> bool:
    return bool(unicodedata.combining(char)) or char in "\u200d\ufe0e\ufe0f"

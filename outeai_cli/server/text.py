"""How the local server splits a request's text into the chunks it speaks and reports.

One chunk per sentence, and a sentence too long for an engine to speak in bounded memory is
cut smaller first (after clause punctuation, then between words, as the client cuts a long
text: `synthesis.splitting`). A Piper worker's memory grows with the sounds in one chunk,
about 1 MB each (1,000 characters without a full stop took a worker to 1.6 GB, 5,000 past
6 GB), and it keeps what it reached; so the bound is on an estimate of those sounds, not on
characters: a digit can be read as a word ("2024": "two thousand twenty-four"), and a voice
spells a letter of a script it does not read by its name ("Chinese letter").
"""

from __future__ import annotations

import re
import unicodedata

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# The most a chunk may weigh: about 150 characters of plain words, which a Piper worker speaks
# in 310-400 MB (150 MB of it the model itself).
MAX_CHUNK_WEIGHT = 150
_DIGIT = 6  # "123,456,789": ~7 sounds a character
_OTHER = 4  # a letter of another script: ~1 sound in its own voice, ~5 spelled out in another
_WIDE = 8  # a CJK character or a symbol: a word or two ("Chinese letter", "grinning face")


def split_sentences(text: str) -> list[str]:
    """Sentence-sized chunks of `text`, none over MAX_CHUNK_WEIGHT; never empty."""
    chunks: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        if sentence.strip():
            chunks += _bounded(sentence)
    return chunks or [text]


def _bounded(text: str) -> list[str]:
    """`text` whole, or cut into pieces of at most MAX_CHUNK_WEIGHT."""
    weight = chunk_weight(text)
    if weight <= MAX_CHUNK_WEIGHT:
        return [text]
    from outeai_cli.synthesis.splitting import split_text

    # A cap in characters that fits the average character; a piece heavier than its share
    # (the digits of a sentence) is cut again, under a smaller cap.
    cap = max(1, len(text) * MAX_CHUNK_WEIGHT // weight)
    return [chunk for piece in split_text(text, cap) for chunk in _bounded(piece.text)]


def chunk_weight(text: str) -> int:
    """About how many sounds a voice makes of `text` (plain words: about one a character)."""
    if text.isascii():
        return len(text) + (_DIGIT - 1) * sum(ch.isdigit() for ch in text)
    return sum(_weight(ch) for ch in text)


def _weight(ch: str) -> int:
    if ch.isascii():
        return _DIGIT if ch.isdigit() else 1
    if ch.isspace() or unicodedata.combining(ch):
        return 1
    if unicodedata.east_asian_width(ch) in "WF" or unicodedata.category(ch)[0] == "S":
        return _WIDE
    if ch.isdigit():
        return _DIGIT
    # Latin letters with accents (é, ß, ø) are read as letters of the voice's own script.
    return 1 if "LATIN" in unicodedata.name(ch, "") else _OTHER

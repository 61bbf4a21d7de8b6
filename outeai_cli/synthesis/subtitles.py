"""Subtitles for stitched audio: cues cut to the usual conventions, timed from the audio.

Each piece's place in the audio is known to the sample (the frames it was stitched to: `Cue`);
the API gives no word times. So cues are cut within a piece, and a cue's share of its piece's
time is its share of the piece's characters (spaces included, one for each break between
cues): within a few sentences speech keeps close to a steady rate of characters, and an error
in that never crosses a piece boundary, where the times are the audio's.

The conventions (as broadcasters' subtitle guidelines give them):

- at most 2 lines of at most 42 characters (a single word longer than a line stays whole);
- at most 7 seconds a cue (a longer one is cut again between words, if it has two);
- never across a paragraph (a blank line in the text);
- a cue that must end before its sentence does ends at the last sentence end that keeps it
  at least 40% full, else at the last clause mark (, ; : or a dash) that keeps it half full,
  else between words; the last two cues of a paragraph share their words (at a sentence or a
  clause if one leaves each a third, else evenly), so no word is left alone; a cue's two
  lines are as even as they can be.

`.srt` is written with the `srt` library; `.vtt` (WebVTT) by the few lines below, which
escape the characters the format reserves.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from outeai_cli.errors import InputError
from outeai_cli.output.commit import AtomicFile, OutputExistsError, target_kind

SUBTITLE_FORMATS = ("srt", "vtt")
LINE = 42  # characters a line
LINES = 2  # lines a cue
MAX_SECONDS = 7.0  # a cue's longest time on screen

_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
_CLOSERS = "[\"'\u201d\u2019)\\]]*$"  # closing quotes and brackets after the mark
_SENTENCE_END = re.compile("[.!?\u2026]" + _CLOSERS)
_CLAUSE_END = re.compile("(?:[,;:\u2013\u2014]|^-)" + _CLOSERS)  # (en and em dashes)


class Cue(NamedTuple):
    """A piece's (or a subtitle's) place in the output: frames [start, end) at `sample_rate`."""

    text: str
    start: int
    end: int
    sample_rate: int

    @property
    def end_seconds(self) -> float:
        return self.end / self.sample_rate


def subtitle_format(path: str | os.PathLike[str]) -> str:
    """'srt' or 'vtt' from the extension; anything else is refused before any request."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in SUBTITLE_FORMATS:
        raise InputError(
            f"cannot tell the subtitle format of {os.fspath(path)!r}",
            hint="name the file .srt or .vtt",
        )
    return suffix


def check_subtitles_target(path: Path, *, force: bool) -> None:
    """Fail before any request if the subtitles could not be written."""
    subtitle_format(path)
    kind = target_kind(path)  # refuses directories, terminals, sockets...
    if kind == "stream":
        return
    if kind == "file" and not force:
        raise OutputExistsError(path)
    if not path.parent.is_dir():
        raise InputError(
            f"the directory {os.fspath(path.parent)} does not exist", hint="create it first"
        )


def render(pieces: Sequence[Cue], fmt: str) -> str:
    """The subtitles of the pieces (see the module docstring) in `fmt`."""
    cues = subtitle_cues(pieces)
    if fmt == "srt":
        return _render_srt(cues)
    if fmt == "vtt":
        return _render_vtt(cues)
    raise ValueError(f"unknown subtitle format {fmt!r}")


def prepare_subtitles(path: Path, cues: Sequence[Cue], *, force: bool = False) -> AtomicFile:
    """The cues written into a temp file that takes `path` only when committed (so that they
    can be committed together with their audio)."""
    text = render(cues, subtitle_format(path))
    pending = AtomicFile(path, force=force)
    try:
        pending.file.write(text.encode("utf-8"))
    except BaseException:
        pending.discard()
        raise
    return pending


# -- cues by the conventions -----------------------------------------------------------------------


def subtitle_cues(pieces: Sequence[Cue]) -> list[Cue]:
    """The pieces' cues cut to the conventions above; each text is its lines joined by "\\n"."""
    cues: list[Cue] = []
    for piece in pieces:
        texts = [chunk for paragraph in _paragraphs(piece.text) for chunk in _chunks(paragraph)]
        for cue in _timed(piece, texts):
            cues.extend(_within_max_time(cue))
    return [cue._replace(text="\n".join(_lines(cue.text.split(" ")))) for cue in cues]


def _paragraphs(text: str) -> list[str]:
    paragraphs = (" ".join(part.split()) for part in _PARAGRAPH.split(text))
    return [paragraph for paragraph in paragraphs if paragraph]


def _timed(span: Cue, texts: Sequence[str]) -> list[Cue]:
    """`texts` over the frames of `span`, each for its share of the characters."""
    if not texts:
        return []
    weights = [len(text) + 1 for text in texts]
    total = sum(weights)
    frames = span.end - span.start
    cues: list[Cue] = []
    start, done = span.start, 0
    for text, weight in zip(texts, weights, strict=True):
        done += weight
        end = span.start + round(frames * done / total)
        cues.append(Cue(text, start, end, span.sample_rate))
        start = end
    return cues


def _within_max_time(cue: Cue) -> list[Cue]:
    """The cue, or (too long on screen) its words in as many even cues as keep each within."""
    seconds = (cue.end - cue.start) / cue.sample_rate
    words = cue.text.split(" ")
    parts = min(len(words), math.ceil(seconds / MAX_SECONDS - 1e-9))
    if parts <= 1:
        return [cue]
    texts: list[str] = []
    rest = words
    for remaining in range(parts, 1, -1):
        goal = len(" ".join(rest)) / remaining
        cut = min(
            range(1, len(rest) - remaining + 2), key=lambda k: abs(len(" ".join(rest[:k])) - goal)
        )
        texts.append(" ".join(rest[:cut]))
        rest = rest[cut:]
    texts.append(" ".join(rest))
    return _timed(cue, texts)


def _chunks(paragraph: str) -> list[str]:
    """The paragraph in cue texts: each as many words as fit on the lines of a cue, ended at a
    sentence or a clause where one comes late enough (see the module docstring); the last two
    share what is left evenly, so that no word is left alone on screen."""
    words = paragraph.split(" ")
    chunks: list[str] = []
    start = 0
    while start < len(words):
        end = start + 1  # a word always goes in, even one longer than a line
        while end < len(words) and _fits(words[start : end + 1]):
            end += 1
        if end < len(words):  # (what is left after it would fit one cue: share it in two)
            share = len(words) - end <= LINES * LINE and _fits(words[end:])
            end = _even_end(words, start, end) if share else _natural_end(words, start, end)
        chunks.append(" ".join(words[start:end]))
        start = end
    return chunks


def _natural_end(words: Sequence[str], start: int, end: int) -> int:
    full = len(" ".join(words[start:end]))
    for pattern, share in ((_SENTENCE_END, 0.4), (_CLAUSE_END, 0.5)):
        for cut in range(end, start, -1):
            if len(" ".join(words[start:cut])) < share * full:
                break
            if pattern.search(words[cut - 1]):
                return cut
    return end


def _even_end(words: Sequence[str], start: int, end: int) -> int:
    """Where to end the first of the last two cues: at a sentence, else a clause, that leaves
    each at least a third of the text; else where the two are most even."""
    cuts = [
        cut
        for cut in range(start + 1, len(words))
        if _fits(words[start:cut]) and _fits(words[cut:])
    ]
    total = len(" ".join(words[start:]))

    def balance(cut: int) -> int:
        return max(len(" ".join(words[start:cut])), len(" ".join(words[cut:])))

    for pattern in (_SENTENCE_END, _CLAUSE_END):
        marked = [c for c in cuts if pattern.search(words[c - 1]) and balance(c) <= total * 2 / 3]
        if marked:
            return min(marked, key=balance)
    return min(cuts, key=balance, default=end)


def _fits(words: Sequence[str]) -> bool:
    """Whether the words make a cue: on its lines, or one word alone (kept whole)."""
    if len(words) == 1:
        return True
    width = sum(map(len, words)) + len(words) - 1
    if width <= LINE or width > LINES * LINE + 1:
        return width <= LINE
    return all(len(line) <= LINE for line in _lines(words))


def _lines(words: Sequence[str]) -> list[str]:
    """One line if it fits, else two as even as can be (a cue holds what fits on two)."""
    text = " ".join(words)
    if len(text) <= LINE or len(words) < 2:
        return [text]
    best, best_width = 1, len(text)
    first = -1  # the width of the first k words, spaces between them included
    for k in range(1, len(words)):
        first += len(words[k - 1]) + 1
        width = max(first, len(text) - first - 1)
        if width < best_width:
            best, best_width = k, width
    return [" ".join(words[:best]), " ".join(words[best:])]


# -- the formats ----------------------------------------------------------------------------------


def _millis(frames: int, rate: int) -> int:
    """Cue times are whole milliseconds in both formats: round, so SRT and VTT agree."""
    return round(frames * 1000 / rate)


def _delta(frames: int, rate: int) -> timedelta:
    return timedelta(milliseconds=_millis(frames, rate))


def _render_srt(cues: Sequence[Cue]) -> str:
    import srt

    return srt.compose(
        [
            srt.Subtitle(
                index=number,
                start=_delta(cue.start, cue.sample_rate),
                end=_delta(cue.end, cue.sample_rate),
                content=cue.text,
            )
            for number, cue in enumerate(cues, start=1)
        ],
        reindex=False,
    )


def _vtt_time(frames: int, rate: int) -> str:
    millis = _millis(frames, rate)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _vtt_escape(text: str) -> str:
    # WebVTT reserves & and < in cue text; escaping > too keeps "-->" out of it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _render_vtt(cues: Sequence[Cue]) -> str:
    blocks = ["WEBVTT\n"]
    for number, cue in enumerate(cues, start=1):
        start = _vtt_time(cue.start, cue.sample_rate)
        end = _vtt_time(cue.end, cue.sample_rate)
        blocks.append(f"{number}\n{start} --> {end}\n{_vtt_escape(cue.text)}\n")
    return "\n".join(blocks)

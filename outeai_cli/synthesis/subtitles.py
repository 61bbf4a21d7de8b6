"""Subtitles for stitched audio: one cue per piece, timed by the samples actually decoded.

`.srt` is written with the `srt` library; `.vtt` (WebVTT) by the few lines below, which
escape the characters the format reserves. Cue text is the piece's text with its whitespace
runs (line breaks of the source included) collapsed to single spaces; players wrap it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from outeai_cli.errors import InputError
from outeai_cli.output.commit import AtomicFile, OutputExistsError, target_kind

SUBTITLE_FORMATS = ("srt", "vtt")
_SPACES = re.compile(r"\s+")


class Cue(NamedTuple):
    """One piece's place in the output: frames [start, end) at `sample_rate`."""

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


def render(cues: Sequence[Cue], fmt: str) -> str:
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


def cue_text(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


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
                content=cue_text(cue.text),
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
        blocks.append(f"{number}\n{start} --> {end}\n{_vtt_escape(cue_text(cue.text))}\n")
    return "\n".join(blocks)

"""What one synthesis is given and what it returns: the request, its options, its result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from outeai_cli.settings.table import DEFAULT_JOBS, DEFAULT_MAX_CHARS
from outeai_cli.voices.speakers import Speaker

if TYPE_CHECKING:
    from outeai_cli.synthesis.cache import PieceCache
    from outeai_cli.synthesis.subtitles import Cue


class SynthesisRequest(NamedTuple):
    text: str
    speaker: Speaker
    temperature: float


class SynthesisOptions(NamedTuple):
    max_chars: int = DEFAULT_MAX_CHARS  # the per-request cap; longer texts are split
    jobs: int = DEFAULT_JOBS  # requests in flight at most
    pause: float = 0.0  # seconds of silence between pieces
    language: str | None = None  # for the sentence splitter; None: the voice's language
    cache: PieceCache | None = None  # pieces kept for re-runs (split texts only)
    subtitles: Path | None = None  # .srt or .vtt (cues by the conventions in `subtitles`)
    force: bool = False  # replace an existing output file (and subtitles)
    fresh_name: bool = False  # an output name taken meanwhile: use the next free one (name-2...)
    spool_dir: Path | None = None  # where a stream's audio waits until complete


class SynthesisResult(NamedTuple):
    path: str  # "-" for a stream
    format: str
    bytes: int
    duration: float | None
    speaker: str
    temperature: float
    elapsed: float
    delivered_format: str
    pieces: int = 1
    from_cache: int = 0
    requests: int = 1
    cues: tuple[Cue, ...] = ()
    # What really spoke, when the server said it is not what the voice's name promises
    # (`AudioEvent.voice_notice`); None from the hosted API, and for a run wholly from cache.
    voice_notice: str | None = None
    # No sample above -60 dBFS (`audio.loudness`): a text with nothing to say (`🎉🎉`) comes back
    # as silence that decodes perfectly. None: not known (audio streamed out unchecked).
    silent: bool | None = None

    def as_json(self) -> dict[str, Any]:
        data = self._asdict()
        del data["cues"]
        return data


def needs_pieces(text: str, options: SynthesisOptions) -> bool:
    """Whether `synthesize` splits the text: over the per-request cap, or subtitles asked for
    (they need the piece timings). A display can ask the same question up front."""
    return len(text) > options.max_chars or options.subtitles is not None

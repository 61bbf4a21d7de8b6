"""The long-text path of `outeai say`: options checked up front, then the library does the work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outeai_cli.cli.progress import OverallReporter
    from outeai_cli.client import TTSClient
    from outeai_cli.longtext import LongTextResult
    from outeai_cli.synthesis import SynthesisRequest


def subtitles_target(path: str | None, *, force: bool) -> Path | None:
    """The --subtitles path, checked before any request (extension, directory, overwrite)."""
    if path is None:
        return None
    from outeai_cli.subtitles import check_subtitles_target

    target = Path(path)
    check_subtitles_target(target, force=force)
    return target


def needs_long_path(text: str, max_chars: int, subtitles: Path | None) -> bool:
    """Text over the per-request cap is split; subtitles need the piece timings too.

    Anything else keeps the single-request path exactly as it was.
    """
    return len(text) > max_chars or subtitles is not None


def speak_long(
    client: TTSClient,
    request: SynthesisRequest,
    target: Path | None,
    fmt: str,
    reporter: OverallReporter,
    *,
    max_chars: int,
    jobs: int,
    pause: float,
    subtitles: Path | None,
    use_cache: bool,
    force: bool,
) -> LongTextResult:
    """Split, request concurrently, stitch; to `target`, or to stdout when it is None."""
    import sys

    from outeai_cli.cache import PieceCache
    from outeai_cli.longtext import (
        LongTextOptions,
        language_of,
        synthesize_long_to_path,
        synthesize_long_to_stream,
    )

    options = LongTextOptions(
        max_chars=max_chars, jobs=jobs, pause=pause, language=language_of(request.speaker)
    )
    cache = PieceCache() if use_cache else None
    if target is None:
        return synthesize_long_to_stream(
            client,
            request,
            sys.stdout.buffer,
            fmt,
            options=options,
            cache=cache,
            subtitles=subtitles,
            force=force,
            on_progress=reporter.update,
        )
    return synthesize_long_to_path(
        client,
        request,
        target,
        fmt,
        options=options,
        cache=cache,
        subtitles=subtitles,
        force=force,
        on_progress=reporter.update,
    )

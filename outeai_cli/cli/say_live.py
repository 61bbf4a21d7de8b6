"""`say` when the sound goes out as it is made: played (`--play`), streamed (`-o -` of a text in
pieces) or saved while the text is still arriving. The library's `speech.Speech` does the
work; this module picks the player, draws the display and words the outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from outeai_cli.audio.playback import Choice
    from outeai_cli.cli.terminal import CountedOutput, Terminal
    from outeai_cli.http.client import TTSClient
    from outeai_cli.settings.config import Settings
    from outeai_cli.synthesis.live_text import LiveText
    from outeai_cli.synthesis.types import SynthesisOptions, SynthesisRequest, SynthesisResult


class Spoken(NamedTuple):
    result: SynthesisResult
    heard: float  # seconds played (0 without a player)


def stream_player(settings: Settings) -> Choice:
    """The player `--play` feeds (the player setting's, else the first found), found before
    any request is sent."""
    from outeai_cli.audio.playback import find_stream_player

    return find_stream_player(settings.get("player"))


def speak_as_made(
    *,
    terminal: Terminal,
    settings: Settings,
    client: TTSClient,
    request: SynthesisRequest,
    live: LiveText | None,
    target: Path | None,
    stdout: CountedOutput | None,
    player: Choice | None,
    out_format: str,
    options: SynthesisOptions,
    quiet: bool,
) -> Spoken:
    """One run that plays, streams and saves as the pieces are made; the line that reports a
    stop or a failure says what was heard and what was kept."""
    import contextlib

    from outeai_cli.errors import OuteAIError
    from outeai_cli.synthesis.speech import Outputs, Speech

    display: Any = None
    speech = Speech(
        client,
        request,
        Outputs(file=target, stream=stdout, player=player),  # type: ignore[arg-type]
        out_format,
        options,
        text=live,
        on_progress=lambda progress: display.update(progress) if display is not None else None,
    )
    display = _display(terminal, settings, speech, quiet=quiet, player=player, target=target)
    kept = _kept(target, stdout, speech)
    try:
        with client, display or contextlib.nullcontext():
            outcome = speech.run()
    except OuteAIError as exc:
        heard = speech.heard_note()
        exc.hint = "; ".join(filter(None, (exc.hint, heard, kept(exc))))
        raise
    except BaseException as exc:
        exc.add_note(kept(exc))
        raise
    return Spoken(outcome.result, outcome.heard)


def _kept(target: Path | None, stdout: CountedOutput | None, speech: Any) -> Any:
    """What a stopped or failed run leaves: a file only once complete, what went to stdout."""

    def words(exc: BaseException) -> str:
        if speech.result is not None and speech.result.path:
            return f"the audio is saved in {speech.result.path}"
        if stdout is not None:
            from outeai_cli.cli.progress_line import human_size

            if not stdout.written:
                return "nothing was written to stdout"
            return f"{human_size(stdout.written)} of audio had already gone to stdout, incomplete"
        if target is not None:
            return f"nothing was saved in {target}"
        return ""

    return words


def _display(
    terminal: Terminal,
    settings: Settings,
    speech: Any,
    *,
    quiet: bool,
    player: Choice | None,
    target: Path | None,
) -> Any:
    from outeai_cli.cli.progress import notice_wording
    from outeai_cli.cli.progress_speech import PlainSpeechDisplay, SpeechDisplay

    if quiet:
        return None
    if not terminal.live:
        return PlainSpeechDisplay(terminal, notice_wording(settings))

    doing = "Playing" if player is not None else "Saving" if target is not None else "Streaming"
    return SpeechDisplay(terminal, notice_wording(settings), speech.status, doing=doing)

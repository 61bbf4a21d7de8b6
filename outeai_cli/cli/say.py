"""`outeai say`: text in, audio out."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from outeai_cli.audio.formats import OUTPUT_FORMATS
from outeai_cli.cli.completion import complete_path
from outeai_cli.cli.errors import EXIT_CODES_HELP
from outeai_cli.cli.options import (
    OUTPUT,
    JobsOpt,
    JsonOpt,
    MaxCharsOpt,
    NoCacheOpt,
    PauseOpt,
    QuietOpt,
    SpeakerOpt,
    TemperatureOpt,
    examples,
    option,
    with_connection_options,
)

if TYPE_CHECKING:
    from typing import IO

    from outeai_cli.audio.playback import Choice
    from outeai_cli.cli.terminal import CountedOutput, Terminal
    from outeai_cli.settings.config import Settings
    from outeai_cli.synthesis.cache import PieceCache

EPILOG = (
    examples(
        'outeai say "Hello" -s EN-FEMALE-1-NEURAL -o out.flac',
        "echo hi | outeai say -o hi.flac",
        "outeai say -f chapter.txt -o chapter.mp3",
        "outeai say -f chapter.txt -o chapter.flac -j 4 --subtitles chapter.srt",
        'outeai say "Hi" -o - | ffplay -autoexit -nodisp -',
        'llm "Explain DNS" | outeai say --play --markdown',
        'outeai say "Hi" -o hi.wav --json',
    )
    + "\n\n"
    + EXIT_CODES_HELP
)


@with_connection_options
def say(
    context: typer.Context,
    text: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TEXT",
            help="Text to speak (unquoted words are joined by spaces, as echo does). Omit it "
            "to read --file or piped stdin.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        str | None,
        option(
            "file", help="Read the text from a file ('-' for stdin).", autocompletion=complete_path
        ),
    ] = None,
    speaker: SpeakerOpt = None,
    temperature: TemperatureOpt = None,
    output: Annotated[
        str | None,
        option(
            "output",
            help=f"Output file ({' '.join('.' + f for f in OUTPUT_FORMATS)}) or '-' for stdout. "
            "Default: stdout when piped, "
            "else a new file named from the text.",
            autocompletion=complete_path,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        option(
            "format",
            help=f"Output format: {', '.join(OUTPUT_FORMATS)} (an audio extension on -o must agree).",
        ),
    ] = None,
    force: Annotated[bool, option("force", help="Overwrite the output file if it exists.")] = False,
    play: Annotated[
        bool,
        typer.Option(
            "--play",
            help="Play the audio as it is made, each piece once it is checked, through the first "
            "player found (ffplay, mpv, pw-play, paplay, aplay, afplay, play; the player setting "
            "names one). Without -o a text given at once is also saved in a file named from it, "
            "even when stdout is piped; a text still arriving is only played. Refused with -o -.",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    jobs: JobsOpt = None,
    max_chars: MaxCharsOpt = None,
    pause: PauseOpt = 0.0,
    subtitles: Annotated[
        str | None,
        option(
            "subtitles",
            help="Also write subtitles (.srt or .vtt): cues of up to 2 lines of 42 characters "
            "and 7 s, timed from the audio.",
            autocompletion=complete_path,
        ),
    ] = None,
    no_cache: NoCacheOpt = False,
    markdown: Annotated[bool, option("markdown")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Speak TEXT and save the audio (or write it to stdout)."""
    from outeai_cli.cli.options import ConnectionOptions
    from outeai_cli.cli.progress import make_display
    from outeai_cli.cli.progress_line import human_size
    from outeai_cli.cli.terminal import CountedOutput, Terminal
    from outeai_cli.errors import APIError, InterruptedByUser
    from outeai_cli.http.client import TTSClient, validate_temperature
    from outeai_cli.synthesis.synthesize import (
        SynthesisOptions,
        SynthesisRequest,
        needs_pieces,
        synthesize,
    )
    from outeai_cli.synthesis.textinput import Following, open_text
    from outeai_cli.voices.catalogue import language_of
    from outeai_cli.voices.speakers import parse_speaker

    terminal = Terminal.of(context)
    # The connection flags (--token ... --max-time) are read by name from the parsed ones.
    settings = ConnectionOptions.of(context.params).settings(
        speaker=speaker,
        temperature=temperature,
        format=fmt,
        max_chars=max_chars,
        jobs=jobs,
        markdown=True if markdown else None,  # off is the absence of the flag
    )
    words = " ".join(text) if text else None  # `say Hello world` says both words
    if file == "-" and words is None and not quiet:
        terminal.say_reading_the_terminal("the text")
    voice = parse_speaker(settings.get("speaker"), frozenset(settings.custom_voices()))
    chosen_temperature = validate_temperature(settings.get("temperature"))
    following = Following(
        settings.get("max_chars"),
        language_of(voice),
        settings.get("input_pause"),
        settings.get("markdown"),
    )
    source = open_text(words, file, terminal.stdin_bytes, terminal.stdin_is_tty, following)
    live = None if isinstance(source, str) else source
    if live is not None:  # its reading thread is gone before the process exits, however it ends
        context.call_on_close(live.close)
    text_to_speak = source if isinstance(source, str) else ""

    target, out_format, to_stdout = _choose_output(
        output,
        fmt,
        settings.get("format"),
        text_to_speak or (live.beginning if live is not None else ""),
        terminal,
        play=play,
        live=live is not None,
        as_json=as_json,
        force=force,
    )
    player, play_after = _player_for(settings, play=play, whole=live is None)

    client = TTSClient.from_settings(settings)
    subtitles_path = _subtitles_target(subtitles, force=force)
    if subtitles_path is not None:
        from outeai_cli.errors import InputError
        from outeai_cli.output.destination import same_place

        if same_place(subtitles_path, target if target is not None else terminal.stdout_bytes):
            raise InputError(
                f"the subtitles and the audio would both go to {subtitles}",
                hint="give the subtitles a file of their own",
            )
    options = SynthesisOptions(
        max_chars=settings.get("max_chars"),
        jobs=settings.get("jobs"),
        pause=pause,
        subtitles=subtitles_path,
        force=force,
        # A name made from the text that another run takes meanwhile: the next free one.
        fresh_name=output is None and target is not None,
    )
    stdout = CountedOutput(terminal.stdout_bytes) if to_stdout else None
    # Sound as it is made: a text still arriving, played, or streamed in pieces to a reader
    # (a file that stdout redirects to gets the whole output, checked, as any file does).
    as_made = live is not None or player is not None
    as_made = as_made or (
        stdout is not None
        and needs_pieces(text_to_speak, options)
        and not _is_file(terminal.stdout_bytes)
    )
    if (as_made or needs_pieces(text_to_speak, options)) and not no_cache:
        options = options._replace(cache=_piece_cache())  # only texts in pieces use the cache
    if out_format is None:
        out_format = client.dialect.audio_format  # (--api auto asks the server here)
    request = SynthesisRequest(text_to_speak, voice, chosen_temperature)
    heard = 0.0
    try:
        if as_made:
            from outeai_cli.cli.say_live import speak_as_made

            result, heard = speak_as_made(
                terminal=terminal,
                settings=settings,
                client=client,
                request=request,
                live=live,
                target=target,
                stdout=stdout,
                player=player,
                out_format=out_format,
                options=options,
                quiet=quiet,
            )
        else:
            display = make_display(terminal, settings, quiet=quiet)
            destination = target if target is not None else cast("IO[bytes]", stdout)
            with client, display or contextlib.nullcontext():
                result = synthesize(
                    client,
                    request,
                    destination,
                    out_format,
                    options,
                    on_progress=display.update if display is not None else None,
                )
    except APIError as exc:
        if exc.status == 404 and not exc.hint:  # the API's own 404: an unknown voice
            from outeai_cli.cli.voices_cmd import unknown_voice_hint

            exc.hint = unknown_voice_hint(voice.name, settings.custom_voices(), kind=voice.kind)
        raise
    except BaseException as exc:
        if not as_made and (not isinstance(exc, Exception) or isinstance(exc, InterruptedByUser)):
            exc.add_note(_what_was_written(stdout))  # the line reporting the stop says it
        raise

    if as_json:
        import json

        terminal.print_out(json.dumps(result.as_json()))
    if not quiet:
        if result.voice_notice:
            terminal.print_err(f"outeai: note: {result.voice_notice}")
        if result.silent:
            terminal.print_err(f"outeai: warning: {SILENT}")
        size = stdout.written if stdout is not None and as_made else result.bytes
        seconds = f"{result.duration:.1f} s of audio, " if result.duration is not None else ""
        summary = f"({seconds}{human_size(size)}, {result.format.upper()})"
        if stdout is not None:
            terminal.print_err(f"Wrote the audio to stdout {summary}")
        elif result.path:
            terminal.print_err(f"Saved {result.path} {summary}")
        else:
            terminal.print_err(f"Played {heard:.1f} s of audio ({result.pieces} pieces)")
    if play_after:  # a player that plays only files (afplay): the saved file, as it is
        from outeai_cli.audio.playback import play as play_file
        from outeai_cli.errors import OuteAIError

        try:
            play_file(result.path, result.format)
        except OuteAIError as exc:
            exc.hint = "; ".join(filter(None, (exc.hint, f"the audio is saved in {result.path}")))
            raise


SILENT = (
    "the audio is silent (no sample above -60 dBFS): the text may hold nothing the voice can "
    "say, such as only emoji or symbols"
)


def _is_file(stdout: "IO[bytes]") -> bool:
    """Whether stdout is a regular file (`> out.flac`): no one reads it while it is written."""
    import os
    import stat

    try:
        return stat.S_ISREG(os.fstat(stdout.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def _player_for(settings: "Settings", *, play: bool, whole: bool) -> "tuple[Choice | None, bool]":
    """The player `--play` feeds as the audio is made, found before any request; or, where
    only a player of files is installed (afplay), none: the saved file is played after."""
    if not play:
        return None, False
    from outeai_cli.audio.playback import PlayerNotFoundError
    from outeai_cli.cli.say_live import stream_player

    try:
        return stream_player(settings), False
    except PlayerNotFoundError:
        if not whole or settings.get("player"):
            raise
        return None, True


def _what_was_written(stdout: "CountedOutput | None") -> str:
    """For a stopped run: what its output holds (a file is only ever replaced whole)."""
    from outeai_cli.cli.progress_line import human_size

    if stdout is None:
        return "no partial file was left behind"
    if stdout.maybe_written:
        most = human_size(stdout.written + stdout.maybe_written)
        return f"up to {most} of audio had already gone to stdout, incomplete"
    if not stdout.written:
        return "nothing was written to stdout"
    return f"{human_size(stdout.written)} of audio had already gone to stdout, incomplete"


def _piece_cache() -> "PieceCache":
    from outeai_cli.synthesis.cache import PieceCache

    return PieceCache()


def _subtitles_target(path: str | None, *, force: bool) -> Path | None:
    """The --subtitles path, checked before any request (extension, directory, overwrite)."""
    if path is None:
        return None
    from outeai_cli.synthesis.subtitles import check_subtitles_target

    target = Path(path)
    check_subtitles_target(target, force=force)
    return target


def _choose_output(
    output: str | None,
    fmt: str | None,
    config_format: str | None,
    text: str,
    terminal: "Terminal",
    *,
    play: bool,
    live: bool,
    as_json: bool,
    force: bool,
) -> "tuple[Path | None, str | None, bool]":
    """Where the audio goes: a file (None: none), in which format (None: as the API sends it),
    and whether to stdout. A text still arriving that is played is kept only with -o FILE.

    Everything here is checked before any request, so no credits go to audio that cannot land.
    """
    from outeai_cli.audio.formats import format_for_output, format_for_path
    from outeai_cli.errors import InputError
    from outeai_cli.output.destination import check_target
    from outeai_cli.synthesis.textinput import name_from_text

    chosen_format = fmt or config_format
    if output == "-" or (output is None and not terminal.stdout_is_tty and not play):
        if play:
            raise InputError(
                "--play needs a file, but the audio is going to stdout",
                hint="give -o FILE, or pipe it to a player: -o - | ffplay -autoexit -nodisp -",
            )
        if terminal.stdout_closed:
            raise InputError(
                "standard output is closed, so the audio has nowhere to go", hint="give -o FILE"
            )
        if terminal.stdout_is_tty:
            raise InputError(
                "refusing to write audio to a terminal",
                hint="redirect stdout (> file.flac, | player) or give -o FILE",
            )
        if as_json:
            raise InputError(
                "--json needs stdout, but the audio is going there", hint="give -o FILE"
            )
        return None, format_for_path("x.flac", chosen_format) if chosen_format else None, True
    if output is None and play and live:
        return None, format_for_path("x.flac", chosen_format) if chosen_format else None, False
    if output is not None:
        target = Path(output)
        # An explicit --format (refused if the extension names another); then the extension;
        # then the configured format. (The string, not the Path, is checked: Path drops the
        # slash of `name.flac/`.)
        out_format = format_for_output(output, fmt or (None if target.suffix else config_format))
    else:
        out_format = format_for_path("x.flac", chosen_format)
        target = name_from_text(text, out_format, Path.cwd())
    check_target(target, force=force)
    return target, out_format, False

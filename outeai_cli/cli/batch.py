"""`outeai batch`: many texts to many files, resumable."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

import contextlib
import json
from pathlib import Path
from typing import Annotated

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

EPILOG = (
    examples(
        "outeai batch chapters/ -o audio/",
        "outeai batch list.jsonl -o audio/ --format mp3 -j 8",
        "outeai batch list.csv -o audio/ -s EN-MALE-1-NEUTRAL",
        "outeai batch lines.txt -o clips/",
        "cut -f2 lines.tsv | outeai batch - -o clips/",
    )
    + "\n\nManifest rows (.jsonl objects or .csv columns): text or file (relative to the "
    "manifest), and optionally output (relative to DIR), speaker, temperature. "
    "Each finished item adds a line to DIR/outeai-results.jsonl; run the same command again "
    "to finish an interrupted or failed batch: complete outputs are checked and skipped. "
    "Exit status 1 when some items failed (they are named; the others are kept).\n\n"
    + EXIT_CODES_HELP
)


@with_connection_options
def batch(
    context: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="A directory of .txt files, a .jsonl or .csv manifest, or one text per line "
            "in any other text file or on stdin ('-').",
            show_default=False,
            autocompletion=complete_path,
        ),
    ],
    output_dir: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output-dir",
            metavar="DIR",
            help="Directory for the audio files (created if missing).",
            show_default=False,
            autocompletion=complete_path,
            rich_help_panel=OUTPUT,
        ),
    ],
    fmt: Annotated[
        str | None,
        option(
            "format",
            help=f"Audio format of derived names: {', '.join(OUTPUT_FORMATS)} (config: format; "
            "default flac).",
        ),
    ] = None,
    speaker: SpeakerOpt = None,
    temperature: TemperatureOpt = None,
    jobs: JobsOpt = None,
    max_chars: MaxCharsOpt = None,
    pause: PauseOpt = 0.0,
    no_cache: NoCacheOpt = False,
    force: Annotated[
        bool, option("force", help="Make every item again, overwriting existing outputs.")
    ] = False,
    results: Annotated[
        Path | None,
        typer.Option(
            "--results",
            metavar="FILE",
            help="Results file (JSONL), appended as items finish [default: DIR/outeai-results.jsonl].",
            show_default=False,
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Speak many texts into many files (resumable: re-run to finish)."""
    from outeai_cli.audio.formats import format_for_path
    from outeai_cli.batch.inputs import load_items
    from outeai_cli.batch.run import BatchFailedError, run_batch
    from outeai_cli.cli.errors import format_error
    from outeai_cli.cli.machine import error_object
    from outeai_cli.cli.options import ConnectionOptions
    from outeai_cli.cli.progress import make_display
    from outeai_cli.cli.terminal import Terminal, shown_path
    from outeai_cli.errors import InputError
    from outeai_cli.http.client import TTSClient, validate_temperature
    from outeai_cli.synthesis.cache import PieceCache
    from outeai_cli.synthesis.synthesize import SynthesisOptions
    from outeai_cli.voices.speakers import parse_speaker

    terminal = Terminal.of(context)
    # The connection flags (--token ... --max-time) are read by name from the parsed ones.
    settings = ConnectionOptions.of(context.params).settings(
        speaker=speaker, temperature=temperature, format=fmt, max_chars=max_chars, jobs=jobs
    )
    out_format = format_for_path("x.flac", settings.get("format") or "flac")
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(f"{output_dir} is not a directory", hint="give a directory with -o")
    custom = frozenset(settings.custom_voices())
    default_speaker = parse_speaker(settings.get("speaker"), custom)
    default_temperature = validate_temperature(settings.get("temperature"))
    if source == "-" and not quiet:
        terminal.say_reading_the_terminal("texts, one per line,")
    items = load_items(source, fmt=out_format, stdin=terminal.stdin_bytes)

    client = TTSClient.from_settings(settings)
    options = SynthesisOptions(
        max_chars=settings.get("max_chars"),
        jobs=settings.get("jobs"),
        pause=pause,
        cache=None if no_cache else PieceCache(),
    )
    display = make_display(terminal, settings, quiet=quiet)
    with client, display or contextlib.nullcontext():
        summary = run_batch(
            client,
            items,
            output_dir,
            speaker=default_speaker,
            temperature=default_temperature,
            custom_voices=custom,
            options=options,
            force=force,
            results_path=results,
            on_progress=display.update if display is not None else None,
        )
    failure = None
    if summary.failed:
        named = ", ".join(name for name, _ in summary.failed[:5])
        more = f" and {len(summary.failed) - 5} more" if len(summary.failed) > 5 else ""
        failure = BatchFailedError(
            f"{len(summary.failed)} of {summary.total} items failed: {named}{more}",
            hint=f"the errors are in {shown_path(summary.results)}; run the same command again "
            "to retry them",
        )
    if as_json:
        document = summary.as_json()
        if failure is not None:  # one document on stdout: the summary carries the error too
            document.update(error_object(failure.message, int(failure.exit_code), failure.hint))
        terminal.print_out(json.dumps(document))
    if not quiet:
        if summary.silent:
            named = ", ".join(summary.silent[:5])
            more = f" and {len(summary.silent) - 5} more" if len(summary.silent) > 5 else ""
            terminal.print_err(
                f"outeai: warning: the audio of {len(summary.silent)} item"
                f"{'s' if len(summary.silent) != 1 else ''} is silent (no sample above -60 "
                f"dBFS): {named}{more}; their texts may hold nothing the voice can say"
            )
        terminal.print_err(
            f"Batch: {summary.made} made, {summary.skipped} already complete, "
            f"{len(summary.failed)} failed of {summary.total} "
            f"({summary.audio_seconds:.1f} s of audio); results in {shown_path(summary.results)}"
        )
    if failure is not None:
        if as_json:  # already on stdout: only the line for people, and the exit status
            terminal.print_err(format_error(failure))
            raise typer.Exit(int(failure.exit_code))
        raise failure

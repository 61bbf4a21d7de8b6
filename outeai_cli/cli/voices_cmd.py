"""`outeai voices`: list the voices (catalogue, your custom voices, the server's), add, remove."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

import typer

from outeai_cli.cli.options import examples, with_connection_options

EPILOG = examples(
    "outeai voices",
    "outeai voices --local --language en",
    "outeai voices --kind custom --json",
    "outeai voices --remote --api tts-stream",
    "outeai voices --offline --remote",
    'outeai voices add my-voice --description "my cloned voice"',
    "outeai voices remove my-voice",
)

app = typer.Typer(
    name="voices",
    help="List the voices: built-in, your custom ones, and the server's list.",
)


def unknown_voice_hint(
    name: str, custom_names: Iterable[str] = (), *, kind: str = "default"
) -> str:
    """A hint for a voice the server refused: the closest other names, and where to see all."""
    from outeai_cli.voices.listing import close_names

    custom = list(custom_names)
    if kind == "custom" and name in custom:
        return (
            f"'{name}' is registered here ('outeai voices add' only records the name), but the "
            f"server has no custom voice by that name: check it in your account, or for "
            f"'outeai serve' start it with --custom-voice {name}"
        )
    close = close_names(name, custom)
    if close:
        return f"did you mean {', '.join(close)}? Run 'outeai voices' to see every voice"
    return "run 'outeai voices' to see every voice"


class Kind(StrEnum):
    default = "default"
    custom = "custom"


@app.callback(invoke_without_command=True)
@with_connection_options(without=("retries", "model"))  # one quick request, whatever the model
def voices(
    ctx: typer.Context,
    kind: Annotated[
        Kind | None,
        typer.Option(
            "--kind", help="Only built-in (default) or custom voices.", show_default=False
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="Only this language, e.g. en (also matches en-gb).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of voice objects for scripts.")
    ] = False,
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Do not ask the server: the catalogue and custom voices only."
        ),
    ] = False,
    remote: Annotated[
        bool,
        typer.Option("--remote", help="Only the server's list; fail if the server cannot give it."),
    ] = False,
) -> None:
    """List the voices: built-in, your custom ones, and the server's list."""
    if ctx.invoked_subcommand is not None:
        return
    from outeai_cli.cli.errors import format_error
    from outeai_cli.cli.options import ConnectionOptions
    from outeai_cli.cli.tables import print_rows
    from outeai_cli.cli.terminal import Terminal
    from outeai_cli.errors import InputError
    from outeai_cli.voices.listing import list_voices

    if local and remote:
        raise InputError("--local and --remote exclude each other", hint="give one of them")
    # The connection flags (--token ... --max-time) are read by name from the parsed ones.
    settings = ConnectionOptions.of(ctx.params).settings()
    mode = "local" if local else "remote" if remote else "auto"
    entries, server = list_voices(
        settings, mode=mode, kind=kind.value if kind else None, language=language
    )
    terminal = Terminal.of(ctx)
    if server.note:
        terminal.print_err(f"outeai: note: {server.note} (set one with 'outeai config set token')")
    if server.warning:
        problem = format_error(server.warning).removeprefix("outeai: error: ")
        source = "the offline engine" if settings.get("offline") else settings.get("base_url")
        terminal.print_err(
            f"outeai: warning: could not get the server's voice list from {source}: {problem} "
            "(showing the local lists; --local skips the server)"
        )
    if as_json:
        import json

        terminal.print_out(json.dumps([e.as_json() for e in entries], indent=2))
        return
    if not entries:
        terminal.print_err("outeai: no voices match")
        return
    rows = [[e.name, e.kind, e.language, e.gender, e.description] for e in entries]
    print_rows(terminal, ["NAME", "KIND", "LANGUAGE", "GENDER", "DESCRIPTION"], rows, gives_way=4)


@app.command("add", epilog=EPILOG)
def add(
    name: Annotated[str, typer.Argument(help="Your custom voice's identifier on the service.")],
    description: Annotated[
        str, typer.Option("-d", "--description", help="A note shown by 'outeai voices'.")
    ] = "",
) -> None:
    """Register a custom voice, so 'outeai say -s NAME' sends it as {"custom": NAME}."""
    from outeai_cli.cli.terminal import Terminal
    from outeai_cli.settings.file import add_custom_voice

    name, is_new, path = add_custom_voice(name, description)
    verb = "registered" if is_new else "updated"
    Terminal.current().print_err(
        f"outeai: {verb} the custom voice {name} in {path}; "
        f'use it with: outeai say -s {name} "Hello"'
    )


@app.command("remove", epilog=EPILOG)
def remove(
    name: Annotated[str, typer.Argument(help="A name registered with 'outeai voices add'.")],
) -> None:
    """Forget a registered custom voice (nothing is deleted on the service)."""
    from outeai_cli.cli.terminal import Terminal
    from outeai_cli.settings.file import remove_custom_voice

    path = remove_custom_voice(name)
    Terminal.current().print_err(f"outeai: removed the custom voice {name} from {path}")

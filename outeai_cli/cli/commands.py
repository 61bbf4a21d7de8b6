"""The one table of `outeai`'s commands: the app registers them from it (cli/app.py) and the docs
generator (scripts/gen_docs.py) reads it. A command is a module in cli/ and a row here.

Each module gives `EPILOG` (its --help's examples) and either a function named as the command
or, for a group of subcommands, a Typer `app`. Only the module of the command a run names is
imported (start-up).
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    name: str  # as typed after `outeai`
    module: str  # outeai_cli.cli.<module>
    group: bool = False  # the module's Typer `app` holds subcommands (else the function `name`)
    short_help: str | None = None  # for `outeai --help` (None: the first line of its own help)
    reads_settings: bool = False  # the config file and the environment (OUTEAI_TOKEN...)


# In the order `outeai --help` and the docs list them (Typer shows groups after the others).
COMMANDS = (
    Command("say", "say", reads_settings=True),
    Command("batch", "batch", reads_settings=True),
    Command("serve", "serve", short_help="Run a local server that speaks the same API."),
    Command(
        "config",
        "config_cmd",
        group=True,
        short_help="Read and change settings (token, base URL, voice, format...).",
        reads_settings=True,
    ),
    Command(
        "voices",
        "voices_cmd",
        group=True,
        short_help="List voices; register your custom ones.",
        reads_settings=True,
    ),
    Command(
        "cache",
        "cache_cmd",
        group=True,
        short_help="Show or clear the audio pieces kept for re-runs.",
    ),
    Command(
        "engine",
        "engine_cmd",
        group=True,
        short_help="Show or stop the offline engine (started by the first offline call).",
    ),
)
COMMAND_NAMES = tuple(command.name for command in COMMANDS)

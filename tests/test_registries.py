"""Each list is written once and read by whoever needs it: the dialects, the options, the commands.

These check that the readers agree with the one list, so a row added there reaches them all.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from outeai_cli.http.dialects import (
    API_CHOICES,
    AUTO,
    DEFAULT_DIALECT,
    DIALECTS,
    REGISTRY,
    DialectEntry,
)

# -- the dialect registry ----------------------------------------------------------------------


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda entry: entry.name)
def test_each_registered_dialect_is_built_and_imports_only_its_own_module(
    entry: DialectEntry,
) -> None:
    """A process that speaks one dialect imports that dialect's module and no other."""
    code = (
        "import sys\n"
        "from outeai_cli.http.dialects import get_dialect\n"
        f"dialect = get_dialect({entry.name!r}, model='m')\n"
        "print(dialect.name)\n"
        "print(' '.join(sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
        "    if m.startswith('outeai_cli.http.dialects.'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    name, modules = proc.stdout.splitlines()
    assert name == entry.name
    others = {e.module for e in REGISTRY} - {entry.module}
    assert entry.module in modules.split()
    assert not others & set(modules.split()), modules


def test_the_api_choices_are_the_registry_and_auto() -> None:
    from outeai_cli.cli.options import Api
    from outeai_cli.settings.table import SETTINGS, parse_setting

    assert DIALECTS == ("tts", "audio", "tts-stream")
    assert [member.value for member in Api] == [*DIALECTS, AUTO] == list(API_CHOICES)
    assert SETTINGS["api"].default == DEFAULT_DIALECT
    assert all(parse_setting("api", name) == name for name in API_CHOICES)
    assert all(name in SETTINGS["api"].help for name in API_CHOICES)


# -- options and the settings table ------------------------------------------------------------


def command_params(name: str) -> dict[str, Any]:
    """The parsed parameters (Click's) of `outeai NAME`, by name."""
    import typer

    from outeai_cli.cli.app import app

    group = typer.main.get_command(app)
    command = group.commands[name]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params}


@pytest.mark.parametrize("command", ["say", "batch", "voices"])
def test_a_setting_flag_shows_where_else_it_is_set_and_the_tables_default(command: str) -> None:
    from outeai_cli.cli.options import FLAGS
    from outeai_cli.settings.table import SETTINGS

    checked = []
    for name, param in command_params(command).items():
        if name not in SETTINGS or not FLAGS[name].sources:
            continue
        spec = SETTINGS[name]
        assert f"config: {name}" in param.help, (name, param.help)
        if spec.default not in (None, False):
            shown = f"{spec.default:g}" if isinstance(spec.default, float) else str(spec.default)
            assert f"default {shown})" in param.help, (name, param.help)
        checked.append(name)
    assert {"timeout", "base_url", "api"} <= set(checked)
    if command != "voices":
        assert {"speaker", "jobs", "max_chars", "temperature"} <= set(checked)


def test_the_defaults_the_library_uses_are_the_tables() -> None:
    import inspect

    from outeai_cli.http.client import TTSClient
    from outeai_cli.settings.table import SETTINGS
    from outeai_cli.synthesis.splitting import split_text
    from outeai_cli.synthesis.synthesize import SynthesisOptions

    assert SynthesisOptions().jobs == SETTINGS["jobs"].default
    assert SynthesisOptions().max_chars == SETTINGS["max_chars"].default
    assert inspect.signature(split_text).parameters["max_chars"].default == (
        SETTINGS["max_chars"].default
    )
    speaker = inspect.signature(TTSClient.generate).parameters["speaker"].default
    assert speaker == SETTINGS["speaker"].default
    assert inspect.signature(TTSClient).parameters["api"].default == SETTINGS["api"].default


def test_every_command_that_talks_to_the_server_takes_the_connection_options() -> None:
    from outeai_cli.cli.options import CONNECTION_OPTIONS, ConnectionOptions

    for command in ("say", "batch"):
        assert set(CONNECTION_OPTIONS) <= set(command_params(command))
    voices = set(command_params("voices"))
    assert set(CONNECTION_OPTIONS) - voices == {"retries", "model"}
    given = ConnectionOptions.of(
        {"timeout": 5.0, "token": None, "allow_insecure_http": False, "profile": "p", "text": "x"}
    )
    assert given == ConnectionOptions({"timeout": 5.0}, "p")


# -- the command table -------------------------------------------------------------------------


def test_the_app_and_the_docs_have_exactly_the_commands_of_the_table() -> None:
    import typer

    from outeai_cli.cli.app import app
    from outeai_cli.cli.commands import COMMAND_NAMES, COMMANDS
    from scripts import gen_docs

    group = typer.main.get_command(app)
    assert list(group.commands) == list(COMMAND_NAMES)  # type: ignore[attr-defined]
    assert set(gen_docs.man_pages()) == {f"man/outeai-{name}.1" for name in COMMAND_NAMES} | {
        "man/outeai.1"
    }
    for entry in COMMANDS:
        command = group.commands[entry.name]  # type: ignore[attr-defined]
        assert bool(getattr(command, "commands", None)) == entry.group, entry.name
        if entry.short_help:
            assert command.get_short_help_str(limit=300) == entry.short_help
        documented = {var for var, _ in gen_docs.environment(entry.name)}
        assert ("OUTEAI_TOKEN" in documented) == entry.reads_settings, entry.name

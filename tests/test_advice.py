"""The library speaks in options, the CLI in flags: errors carry structured advice, and only
outeai_cli/cli/errors.py words it with the flags a user types."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from outeai_cli.cli.app import _register
from outeai_cli.cli.errors import flag_name, format_error, hint_text, word_advice
from outeai_cli.cli.options import FLAGS
from outeai_cli.errors import Advice, Fix, InputError, TimeoutExpired
from outeai_cli.settings.table import SETTINGS

PACKAGE = Path(__file__).resolve().parents[1] / "outeai_cli"
SHORT_OR_LONG = re.compile(r"(?<![\w-])(--[a-z][a-z-]+|-[a-zA-Z])(?![\w-])")


def our_flags() -> set[str]:
    """Every option string of every outeai command."""
    flags: set[str] = set()

    def walk(command: Any) -> None:  # Typer's (vendored) Click command or group
        for param in command.params:
            flags.update(o for o in param.opts + param.secondary_opts if o.startswith("-"))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(_register()))
    return flags - {"-h", "--help"}


def library_strings() -> Iterator[tuple[str, int, str]]:
    """(module, line, text) for every string a library module could show, docstrings aside."""
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ("cli", "server"):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                yield str(relative), node.lineno, node.value


def test_no_library_message_names_a_flag_of_ours() -> None:
    flags = our_flags()
    assert {"--idle-timeout", "-j", "--force", "--max-time", "--api"} <= flags
    offenders = [
        f"{module}:{line}: {text!r}"
        for module, line, text in library_strings()
        # A lone "-q" is an argument handed to another program (a player), not a message.
        if " " in text and any(match in flags for match in SHORT_OR_LONG.findall(text))
    ]
    assert offenders == []


def test_every_option_the_advice_can_name_is_a_real_flag() -> None:
    flags = our_flags()
    assert {name for flag in FLAGS.values() for name in flag.names} <= flags


def advised_options() -> set[str]:
    """The options the library's advice names: `Advice(Fix.X, "name", ...)` and the limits of
    `TimeoutExpired(..., limit="name")` written in its modules."""
    names: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in ("cli", "server"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            if called == "Advice" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                names.add(node.args[1].value)
            if called == "TimeoutExpired":
                names.update(
                    k.value.value
                    for k in node.keywords
                    if k.arg == "limit" and isinstance(k.value, ast.Constant)
                )
    return names


def test_every_option_the_library_advises_on_is_worded_as_its_flag() -> None:
    """A setting without a flag (set in the config file only) keeps its name."""
    advised = advised_options()
    assert {"idle_timeout", "max_chars", "jobs", "file", "output", "api"} <= advised
    unknown = {name for name in advised if name not in FLAGS and name not in SETTINGS}
    assert unknown == set()
    assert flag_name("jobs") == "-j"
    assert flag_name("file") == "--file"


def test_the_cli_words_advice_with_flags_and_the_library_without() -> None:
    error = TimeoutExpired("idle timeout: nothing for 3 s", limit="idle_timeout")
    assert hint_text(error) == "retry, or raise --idle-timeout"
    assert error.hint_text == "retry, or raise the idle timeout"
    assert format_error(error) == (
        "outeai: error: idle timeout: nothing for 3 s; retry, or raise --idle-timeout"
    )


def test_fixing_a_bad_setting_is_worded_for_where_it_came_from() -> None:
    def fix(source: str) -> str:
        return word_advice(Advice(Fix.CORRECT, "timeout", "120", source=source))

    assert fix("flag") == "e.g. --timeout 120"
    assert fix("environment (OUTEAI_X)") == "fix or unset $OUTEAI_X"
    assert fix("profile local") == "fix it with 'outeai config set --profile local timeout 120'"
    assert fix("config file") == "fix it with 'outeai config set timeout 120'"


def test_several_pieces_of_advice_read_as_alternatives() -> None:
    error = InputError(
        "x", hint="wait a moment", advice=(Advice(Fix.LOWER, "jobs"), Advice(Fix.RAISE, "retries"))
    )
    assert hint_text(error) == "wait a moment, or lower -j, or raise --retries"

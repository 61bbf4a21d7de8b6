"""Plain help text (no Rich: it would cost more start-up than Typer itself), laid out as uv and
hf lay theirs: options grouped under their `rich_help_panel` headings, arguments shown by name
alone, and names never broken across lines (`EN-FEMALE-1-NEUTRAL`, `--max-chars`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from typer import _click
from typer.core import TyperCommand, TyperGroup

OPTIONS = "Options"  # the heading of options that name no panel (e.g. -h/--help)

# Click wraps at hyphens; a non-breaking hyphen (same width) hides them from the wrapper and is
# turned back into "-" when the help is taken out of the formatter.
_NB_HYPHEN = "\u2011"


def _glued(text: str) -> str:
    return text.replace("-", _NB_HYPHEN)


class NoBreakFormatter(_click.HelpFormatter):
    def write_text(self, text: str) -> None:
        super().write_text(_glued(text))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        super().write_dl([(first, _glued(second)) for first, second in rows], col_max, col_spacing)

    def getvalue(self) -> str:
        return super().getvalue().replace(_NB_HYPHEN, "-")


class HelpContext(_click.Context):
    formatter_class = NoBreakFormatter


# Typer shows a value's Python type (`TEXT <str>`, `--profile <str>`); a name says more.
_PYTHON_TYPE = re.compile(r" <(?:str|int|float|path|Path|list\[str\])>(?=$|\.\.\.)")


def help_record(param: _click.Parameter, ctx: _click.Context) -> tuple[str, str] | None:
    """(names, help) as --help and the man pages show a parameter."""
    record = param.get_help_record(ctx)
    if record is None:
        return None
    name, text = record
    value_name = "" if param.param_type_name == "argument" else f" {(param.name or '').upper()}"
    if param.param_type_name == "argument" and param.nargs == -1:
        value_name = "..."  # any number of words: `TEXT...`
    return _PYTHON_TYPE.sub(value_name, name, count=1), text


def format_panels(command: _click.Command, ctx: _click.Context, fmt: _click.HelpFormatter) -> None:
    """Arguments, then each panel in the order its first option appears, unpanelled ones last."""
    arguments: list[tuple[str, str]] = []
    panels: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        record = help_record(param, ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            arguments.append(record)
        else:
            panel = getattr(param, "rich_help_panel", None) or OPTIONS
            panels.setdefault(panel, []).append(record)
    if arguments:
        with fmt.section("Arguments"):
            fmt.write_dl(arguments)
    ungrouped = panels.pop(OPTIONS, [])
    for panel, rows in [*panels.items(), (OPTIONS, ungrouped)]:
        if not rows:
            continue
        heading = panel if panel == OPTIONS else f"{panel} options"
        with fmt.section(heading):
            fmt.write_dl(rows)


class PanelCommand(TyperCommand):
    context_class = HelpContext

    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        format_panels(self, ctx, formatter)


class PanelGroup(TyperGroup):
    context_class = HelpContext

    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        format_panels(self, ctx, formatter)
        self.format_commands(ctx, formatter)


def use_panels(group: Any) -> None:
    """Give a Typer app, its commands and its sub-apps this help layout."""
    group.info.cls = PanelGroup
    for command in group.registered_commands:
        command.cls = PanelCommand
    for sub in group.registered_groups:
        sub.cls = PanelGroup
        if sub.typer_instance is not None:
            use_panels(sub.typer_instance)

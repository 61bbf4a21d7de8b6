"""Plain help text (no Rich: it would cost more start-up than Typer itself), laid out as uv and
hf lay theirs: options grouped under their `rich_help_panel` headings, arguments shown by name
alone, and names never broken across lines (`EN-FEMALE-1-NEUTRAL`, `--max-chars`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from typer import _click
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

OPTIONS = "Options"  # the heading of options that name no panel (e.g. -h/--help)

# Click wraps at hyphens; a non-breaking hyphen (same width) hides them from the wrapper and is
# turned back into "-" when the help is taken out of the formatter.
_NB_HYPHEN = "\u2011"


def _glued(text: str) -> str:
    return text.replace("-", _NB_HYPHEN)


class NoBreakFormatter(_click.HelpFormatter):
    def write_text(self, text: str) -> None:
        super().write_text(_glued(self._examples_fitted(text)))

    def _examples_fitted(self, text: str) -> str:
        """Paragraphs Click keeps as written (`\b`: the examples) broken to fit the width,
        between words, as commands that still paste whole (`wrapping.example_lines`)."""
        from outeai_cli.cli.wrapping import example_lines

        width = self.width - self.current_indent
        paragraphs = text.split("\n\n")
        for index, paragraph in enumerate(paragraphs):
            if paragraph.startswith("\b\n"):
                lines = paragraph.split("\n")[1:]
                fitted = [part for line in lines for part in example_lines(line, width)]
                paragraphs[index] = "\n".join(["\b", *fitted])
        return "\n\n".join(paragraphs)

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


@contextlib.contextmanager
def _naming(ctx: _click.Context) -> Iterator[None]:
    """The command line's parser raises some usage errors (`-s` without its value) without
    saying whose they are: name the command, so the hint is its help (`outeai say -h`)."""
    try:
        yield
    except UsageError as exc:
        if exc.ctx is None:
            exc.ctx, exc.cmd = ctx, ctx.command
        raise


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

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        with _naming(ctx):
            return super().parse_args(ctx, args)


class PanelGroup(TyperGroup):
    context_class = HelpContext

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """Each command with its whole short help, wrapped (Click cuts it to one line: `...`)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1 << 16)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        with _naming(ctx):
            return super().parse_args(ctx, args)

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

"""Rows for people and pipes: a Rich table on a terminal, plain aligned columns otherwise."""

from __future__ import annotations

from collections.abc import Sequence

from outeai_cli.cli.terminal import Terminal

EMPTY = "-"


def print_rows(
    terminal: Terminal, headers: Sequence[str], rows: Sequence[Sequence[str | None]]
) -> None:
    """Rich table when stdout is a terminal; else columns separated by two spaces, no boxes."""
    cells = [[cell or EMPTY for cell in row] for row in rows]
    if terminal.stdout_is_tty:
        _rich_table(terminal, headers, cells)
        return
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in [list(headers), *cells]:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        print(line.rstrip(), file=terminal.stdout)


def _rich_table(terminal: Terminal, headers: Sequence[str], cells: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    plain = "NO_COLOR" in terminal.environ or terminal.environ.get("TERM") == "dumb"
    # color_system=None, not just no_color: Rich keeps bold/dim escapes under no_color.
    console = Console(file=terminal.stdout, color_system=None if plain else "auto", highlight=False)
    table = Table(*headers, header_style="bold", show_lines=False)
    for row in cells:
        table.add_row(*(Text(c) for c in row))  # Text: a server's "[...]" is not markup
    console.print(table)

"""Rows for people and pipes: a Rich table on a terminal, plain aligned columns otherwise."""

from __future__ import annotations

from collections.abc import Sequence

from outeai_cli.cli.terminal import Terminal

EMPTY = "-"
# Narrower than this, the column that gives way reads badly as a column: it moves under its row.
_READABLE = 20


def print_rows(
    terminal: Terminal,
    headers: Sequence[str],
    rows: Sequence[Sequence[str | None]],
    *,
    gives_way: int | None = None,
) -> None:
    """Rich table when stdout is a terminal; else columns separated by two spaces, no boxes.

    `gives_way`: the index of the one column (a description) that wraps on a terminal; every
    other column is kept whole. When the terminal is too narrow for it to be readable beside
    the others, each row is printed as a line of the others with it wrapped beneath.
    """
    cells = [[cell or EMPTY for cell in row] for row in rows]
    if terminal.stdout_is_tty:
        _rich_table(terminal, headers, cells, gives_way)
        return
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in [list(headers), *cells]:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        print(line.rstrip(), file=terminal.stdout)


def _rich_table(
    terminal: Terminal, headers: Sequence[str], cells: list[list[str]], gives_way: int | None
) -> None:
    from rich.cells import cell_len
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    plain = "NO_COLOR" in terminal.environ or terminal.environ.get("TERM") == "dumb"
    # color_system=None, not just no_color: Rich keeps bold/dim escapes under no_color.
    console = Console(file=terminal.stdout, color_system=None if plain else "auto", highlight=False)
    if gives_way is not None:
        widths = [max(cell_len(c) for c in col) for col in zip(headers, *cells, strict=True)]
        kept = sum(w for i, w in enumerate(widths) if i != gives_way)
        # A box: one bar per column edge and a blank either side of each cell.
        room = console.width - kept - 3 * len(headers) - 1
        if room < min(widths[gives_way], _READABLE):
            columns = [col for i, col in enumerate(zip(*cells, strict=True)) if i != gives_way]
            kept_widths = [max(cell_len(c) for c in col) for col in columns]
            for row in cells:
                whole = [c for i, c in enumerate(row) if i != gives_way]
                line = "  ".join(c.ljust(w) for c, w in zip(whole, kept_widths, strict=True))
                if cell_len(line.rstrip()) > console.width:  # aligned does not fit: packed
                    line = "  ".join(whole)
                console.print(Text(line.rstrip()))  # wraps between cells: names stay whole
                if row[gives_way] != EMPTY:
                    console.print(Padding(Text(row[gives_way], style="dim"), (0, 0, 0, 2)))
            return
    table = Table(header_style="bold", show_lines=False)
    for i, header in enumerate(headers):
        table.add_column(header, no_wrap=gives_way is not None and i != gives_way)
    for row in cells:
        table.add_row(*(Text(c) for c in row))  # Text: a server's "[...]" is not markup
    console.print(table)

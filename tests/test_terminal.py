"""Everything a command writes goes through its `Terminal`, so it runs the same in-process.

A command given a Terminal (tests/helpers.run_in_process) must write only to that
Terminal's streams: a `print()` to sys.stderr, a `typer.echo`, or a fresh `Terminal()` would
reach the real process's streams instead, and a test in-process would not see it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import outeai_cli

PACKAGE = Path(outeai_cli.__file__).parent

# Where the process's own streams are meant: the Terminal itself, the program's entry (which
# builds the one Terminal of a run), Click's own printing (--help) pointed at the Terminal,
# and the server's request log (written by its threads).
OWN_STREAMS = {
    "cli/terminal.py",
    "cli/app.py:main",
    "cli/app.py:_occupy_closed_standard_streams",
    "cli/app.py:_click_prints_to",
    # A program of its own (the espeak-ng worker): its stdin and stdout are its protocol.
    "server/espeak_worker.py:main",
}
SERVER_LOG = "server/requestlog.py:_write_stderr"
# What reaches the process's streams directly.
PROCESS_STREAMS = (
    "sys.stdout",
    "sys.stderr",
    "sys.stdin",
    "typer.echo",
    "typer.secho",
    "click.echo",
    "click.prompt",
)


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Each node's enclosing top-level function (or class) name."""
    owner: dict[ast.AST, str] = {}
    for top in ast.iter_child_nodes(tree):
        name = getattr(top, "name", "")
        for node in ast.walk(top):
            owner[node] = name
    return owner


def writes_around_the_terminal(source: str, relative: str) -> list[str]:
    """`file:line what` for each write to the process's streams that bypasses a Terminal."""
    if 'if __name__ == "__main__":' in source:  # a program of its own (a worker process)
        return []
    tree = ast.parse(source, relative)
    owner = _functions(tree)
    found = []
    for node in ast.walk(tree):
        where = f"{relative}:{owner.get(node, '')}"
        if relative in OWN_STREAMS or where in OWN_STREAMS or where == SERVER_LOG:
            continue
        what = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            dotted = f"{node.value.id}.{node.attr}"
            if dotted in PROCESS_STREAMS:
                what = dotted
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "print" and not any(k.arg == "file" for k in node.keywords):
                what = "print() to stdout"
            elif node.func.id == "Terminal" and not node.args and not node.keywords:
                what = "Terminal() instead of the command's"
        if what:
            found.append(f"{relative}:{node.lineno} {what}")
    return found


def test_no_command_writes_around_its_terminal() -> None:
    found = [
        write
        for path in sorted(PACKAGE.rglob("*.py"))
        for write in writes_around_the_terminal(
            path.read_text(), path.relative_to(PACKAGE).as_posix()
        )
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nprint('x', file=sys.stderr)\n",
        "import typer\ntyper.echo('x')\n",
        "print('x')\n",
        "from outeai_cli.cli.terminal import Terminal\nTerminal().print_err('x')\n",
    ],
)
def test_the_scan_sees_each_way_around(source: str) -> None:
    assert writes_around_the_terminal(source, "cli/probe.py")


# -- the in-process runner is the program ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("say", "Hello there.", "-o", "-"),
        ("say", "Hello there.", "-o", "hello.wav"),
        ("say", "Hi.", "-o", "x.wav", "--temperature", "9", "--json"),
        ("say", "--no-such-flag"),
        ("say", "Hi.", "--api", "v3", "--json"),
        ("config", "get", "speaker"),
        ("voices", "--local", "--language", "de"),
        ("cache", "--json"),
        ("config",),
        ("--version",),
        ("voices", "--help"),
    ],
    ids=" ".join,
)
def test_a_command_line_in_process_does_what_the_program_does(
    args: tuple[str, ...], outeai, run_cli, server, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "process").mkdir()
    in_process = outeai(*args, cwd=tmp_path / "in")
    program = run_cli(*args, cwd=tmp_path / "process")
    assert in_process.returncode == program.returncode
    assert in_process.stderr == program.stderr
    assert in_process.stdout == program.stdout
    assert in_process.stdout or in_process.stderr  # the comparison compared something
    written = {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()}
    assert written == {p.name: p.read_bytes() for p in (tmp_path / "process").iterdir()}


def test_stdin_and_terminals_are_the_ones_given(outeai, server, tmp_path: Path) -> None:
    piped = outeai("say", "-o", "-", "--format", "wav", input="Read from stdin.")
    assert piped.returncode == 0 and piped.stdout.startswith(b"RIFF")
    named = outeai("say", "Hi.", stdout_tty=True)  # no -o on a terminal: a name from the text
    assert named.returncode == 0 and named.stdout == b"", named.stderr
    assert named.stderr.startswith("Saved ") and (tmp_path / "hi.flac").is_file()
    waiting = outeai("say", stdin_tty=True)  # no text, and a keyboard on stdin
    assert waiting.returncode == 2, waiting.stderr

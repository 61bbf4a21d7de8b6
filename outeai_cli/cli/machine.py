"""`--json` on failure: one JSON object on stdout, so scripts branch without parsing stderr.

    {"error": {"message": "...", "code": "network", "exit_code": 5, "hint": "..." or null}}

`code` names the exit status (the same word for the same number, whatever the command); the
human line still goes to stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from outeai_cli.errors import ExitCode

if TYPE_CHECKING:
    from outeai_cli.cli.terminal import Terminal

_CODES: dict[int, str] = {
    ExitCode.FAILURE: "failure",
    ExitCode.USAGE: "usage",
    ExitCode.AUTH: "auth",
    ExitCode.REFUSED: "refused",
    ExitCode.NETWORK: "network",
    ExitCode.PROTOCOL: "protocol",
    ExitCode.HUNG_UP: "hung-up",
    ExitCode.INTERRUPTED: "interrupted",
    ExitCode.TERMINATED: "terminated",
}


def json_requested(args: Sequence[str]) -> bool:
    """Whether the command line asks for --json (options end at a bare `--`)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def error_object(message: str, exit_code: int, hint: str | None) -> dict[str, object]:
    return {
        "error": {
            "message": message.rstrip("."),
            "code": _CODES.get(exit_code, "failure"),
            "exit_code": exit_code,
            "hint": hint or None,
        }
    }


def print_error_object(terminal: Terminal, message: str, exit_code: int, hint: str | None) -> None:
    import json  # only on this path: start-up stays light

    terminal.print_out(json.dumps(error_object(message, exit_code, hint)))

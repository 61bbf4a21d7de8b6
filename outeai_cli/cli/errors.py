"""Map the library's typed errors to one line on stderr and a documented exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from outeai_cli.errors import OuteAIError

EXIT_CODES_HELP = """Exit status: 0 ok; 1 other failure (a file could not be written, the audio
player failed); 2 bad usage or input; 3 missing or rejected token; 4 request refused by the API
(other 4xx); 5 network or server failure (5xx, timeouts); 6 malformed response stream;
130 interrupted (Ctrl-C); 141 stdout closed by its reader; 143 terminated (SIGTERM)."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so cleanup handlers run as for Ctrl-C."""


def format_error(exc: OuteAIError) -> str:
    message = exc.message.rstrip(".")
    return f"outeai: error: {message}" + (f"; {exc.hint}" if exc.hint else "")


def report(exc: OuteAIError) -> int:
    print(format_error(exc), file=sys.stderr)
    return int(exc.exit_code)


def interrupted(signal_name: str = "interrupted", notes: Sequence[str] = ()) -> str:
    """Report a stop in one line: what the run kept and what its output holds (the notes the
    library and the command added to the exception). Returns the line's message."""
    kept = "; ".join(notes) or "no partial file was left behind"
    message = f"{signal_name}; {kept}"
    print(f"outeai: {message}", file=sys.stderr)
    return message

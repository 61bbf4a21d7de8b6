"""Map the library's typed errors to one line on stderr and a documented exit code."""

from __future__ import annotations

import sys

from outeai_cli.errors import ExitCode, OuteAIError

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


def interrupted(signal_name: str = "interrupted") -> int:
    print(f"outeai: {signal_name}; no partial file was left behind", file=sys.stderr)
    return int(ExitCode.INTERRUPTED)

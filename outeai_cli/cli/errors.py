"""Map the library's typed errors to one line on stderr and a documented exit code.

The only place advice (`outeai_cli.errors.Advice`) becomes words with flag names.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

from outeai_cli.errors import Advice, Fix, OuteAIError

EXIT_CODES_HELP = """Exit status: 0 ok; 1 other failure (a file could not be written, the audio
player failed); 2 bad usage or input; 3 missing or rejected token; 4 request refused by the API
(other 4xx); 5 network or server failure (5xx, timeouts); 6 malformed response stream or
audio that does not decode completely; 129 hung up (SIGHUP); 130 interrupted (Ctrl-C);
141 stdout closed by its reader; 143 terminated (SIGTERM)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread so cleanup handlers run as for Ctrl-C."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


def word_advice(advice: Advice) -> str:
    """One piece of advice as the user types it: "raise --idle-timeout"."""
    flag = flag_name(advice.option)
    if advice.option == "token" and advice.fix is Fix.GIVE:
        words = "run 'outeai config set token' or export OUTEAI_TOKEN=..."
    elif advice.option == "token" and advice.fix in (Fix.REPLACE, Fix.CORRECT):
        words = "set a valid one with 'outeai config set token' or OUTEAI_TOKEN"
    elif advice.fix is Fix.CORRECT:
        words = _correct(advice, flag)
    elif advice.fix is Fix.CREATE:
        words = f"create it with 'outeai config set {flag} {advice.value} KEY VALUE'"
    else:
        words = {
            Fix.RAISE: f"raise {flag}",
            Fix.LOWER: f"lower {flag}",
            Fix.ENABLE: f"pass {flag}",
            Fix.SET: f"try {flag} {advice.value}",
            Fix.CHOOSE: f"choose one of {flag} {advice.value}",
            Fix.GIVE: f"use {flag}",
            Fix.REPLACE: f"give another {flag}",
        }[advice.fix]
    return f"{words} {advice.purpose}".rstrip()


def flag_name(option: str) -> str:
    """How advice names an option: its flag as declared in cli/options.py ("-j" for jobs), or
    the option's own name when it has no flag (a setting only the config file sets)."""
    from outeai_cli.cli.options import FLAGS

    flag = FLAGS.get(option)
    return flag.names[0] if flag is not None else option


def _correct(advice: Advice, flag: str) -> str:
    """How to fix an invalid setting, depending on where the value came from."""
    example = advice.value or "VALUE"
    source = advice.source
    if source == "flag":
        return f"e.g. {flag} {example}"
    if not source:  # a value being typed for `outeai config set`
        return f"e.g. outeai config set {advice.option} {example}".rstrip()
    if source.startswith("environment ("):
        return f"fix or unset ${source.removeprefix('environment (').rstrip(')')}"
    profile = (
        f"--profile {source.removeprefix('profile ')} " if source.startswith("profile ") else ""
    )
    return f"fix it with 'outeai config set {profile}{advice.option} {example}'"


def hint_text(exc: OuteAIError) -> str:
    """The error's hint and advice, worded for this CLI: "retry, or raise --idle-timeout"."""
    advice = ", or ".join(word_advice(a) for a in exc.advice)
    if not exc.hint or not advice:
        return exc.hint or advice
    return f"{exc.hint} {advice}" if exc.hint.endswith(":") else f"{exc.hint}, or {advice}"


def format_error(exc: OuteAIError) -> str:
    from outeai_cli.untrusted import clean_text

    message = exc.message.rstrip(".")
    hint = hint_text(exc)
    line = f"outeai: error: {message}" + (f"; {hint}" if hint else "")
    return clean_text(line, limit=4000)


def error_parts(exc: OuteAIError) -> tuple[str, str]:
    """The message and hint as `format_error` shows them, for the --json error object."""
    from outeai_cli.untrusted import clean_text

    return clean_text(exc.message.rstrip("."), limit=4000), clean_text(hint_text(exc))


def unexpected(exc: BaseException) -> tuple[str, str]:
    """An exception no one expected, in one line: its message, and the hint that it is a bug."""
    from outeai_cli.untrusted import clean_text

    detail = clean_text(str(exc), limit=300)
    message = f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else "")
    return message, "this is a bug in outeai; run it again with OUTEAI_DEBUG=1 for the traceback"


def interrupted(signal_name: str = "interrupted", notes: Sequence[str] = ()) -> str:
    """A stop in one line: what the run kept and what its output holds (the notes the library
    and the command added to the exception)."""
    # A command that writes files says what it kept; the others (serve, config...) just stop.
    return "; ".join([signal_name, *notes])

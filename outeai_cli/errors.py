"""Typed errors raised by the library, the advice they carry, and the exit code of each.

The library never words a fix with a command-line flag: an error carries `Advice` naming the
setting or call option to change (`Advice(Fix.RAISE, "idle_timeout")`), and the CLI alone
turns that into "raise --idle-timeout" (outeai_cli/cli/errors.py). `str(advice)` is the
library's own wording, for callers that are not the CLI.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import NamedTuple


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2  # bad usage or input
    AUTH = 3  # missing or rejected token
    REFUSED = 4  # request refused by the API (other 4xx)
    NETWORK = 5  # network or server failure (5xx, connect, timeout)
    PROTOCOL = 6  # malformed response stream
    HUNG_UP = 129  # SIGHUP: the terminal closed
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


class Fix(Enum):
    """What to do with an option (a setting name, or a call option such as `force`)."""

    RAISE = "raise"  # a larger number
    LOWER = "lower"  # a smaller number
    ENABLE = "enable"  # turn a switch on (force, allow_insecure_http)
    SET = "set"  # give this value (Advice.value)
    CHOOSE = "choose"  # pick one of these values (Advice.value: "a|b|c")
    GIVE = "give"  # the option is missing: give one (e.g. the token, an output file)
    REPLACE = "replace"  # the value given was refused: give another one
    CORRECT = "correct"  # an invalid setting: fix it where it came from (Advice.source)
    CREATE = "create"  # a named thing (a profile) does not exist yet: create it


class Advice(NamedTuple):
    """One change that fixes (or avoids) an error, in terms of options, never of flags."""

    fix: Fix
    option: str
    value: str = ""  # SET/CHOOSE/CORRECT: the value(s) to use, as text
    purpose: str = ""  # why, e.g. "to overwrite it"
    source: str = ""  # CORRECT: where the bad value came from (a `Resolved.source`)

    def __str__(self) -> str:
        name = self.option.replace("_", " ")
        words = {
            Fix.RAISE: f"raise the {name}",
            Fix.LOWER: f"lower the {name}",
            Fix.ENABLE: f"enable {name}",
            Fix.SET: f"set {name} to {self.value}",
            Fix.CHOOSE: f"choose {name}: {self.value}",
            Fix.GIVE: f"give the {name}",
            Fix.REPLACE: f"give another {name}",
            Fix.CORRECT: f"correct {name} in the {self.source or 'settings'}"
            + (f", e.g. {self.value}" if self.value else ""),
            Fix.CREATE: f"create the {name} {self.value}",
        }[self.fix]
        return f"{words} {self.purpose}".rstrip()


class OuteAIError(Exception):
    """Base of every error this library raises on purpose.

    `hint` is plain advice in words (no flags); `advice` the option changes that fix it.
    """

    exit_code: ExitCode = ExitCode.FAILURE
    hint: str = ""
    advice: tuple[Advice, ...] = ()

    def __init__(self, message: str, *, hint: str = "", advice: tuple[Advice, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint
        if advice:
            self.advice = advice

    def __str__(self) -> str:
        return self.message

    @property
    def hint_text(self) -> str:
        """The hint and the advice in the library's words (the CLI words advice itself)."""
        advice = ", or ".join(str(a) for a in self.advice)
        if not self.hint or not advice:
            return self.hint or advice
        return f"{self.hint} {advice}" if self.hint.endswith(":") else f"{self.hint}, or {advice}"


class InputError(OuteAIError):
    """The caller's input is unusable; nothing was sent."""

    exit_code = ExitCode.USAGE


class ConfigError(InputError):
    """The configuration file or a setting is invalid."""


class AuthenticationError(OuteAIError):
    """No token, or the service rejected it (then `status` is 401 and `code` is the API's)."""

    exit_code = ExitCode.AUTH

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        hint: str = "",
        advice: tuple[Advice, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint, advice=advice)
        self.status = status
        self.code = code


class APIError(OuteAIError):
    """The API answered with a non-2xx status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        retry_after: float | None = None,
        hint: str = "",
        advice: tuple[Advice, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint, advice=advice)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def exit_code(self) -> ExitCode:  # type: ignore[override]
        if self.status == 401:
            return ExitCode.AUTH
        if 400 <= self.status < 500:
            return ExitCode.REFUSED
        return ExitCode.NETWORK

    @property
    def retryable(self) -> bool:
        return self.status in (429, 502, 503, 504)


class ProtocolError(OuteAIError):
    """The response stream is malformed: no final event, bad base64, not NDJSON..."""

    exit_code = ExitCode.PROTOCOL
    hint = "retry; if it persists, check that the base URL is the OuteTTS API, not a proxy page"


class TransportError(OuteAIError):
    """The connection failed, broke, or timed out."""

    exit_code = ExitCode.NETWORK

    timeout = False  # True for the timeouts: retrying would only wait as long again

    def __init__(
        self,
        message: str,
        *,
        after_audio_started: bool = False,
        hint: str = "",
        advice: tuple[Advice, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint, advice=advice)
        self.after_audio_started = after_audio_started


class TimeoutExpired(TransportError):
    """One of the time limits expired (`limit`: connect, first_event, idle, max_time)."""

    timeout = True

    def __init__(self, message: str, *, limit: str, advice: tuple[Advice, ...] = ()) -> None:
        super().__init__(message, hint="retry", advice=advice or (Advice(Fix.RAISE, limit),))
        self.limit = limit


class EngineError(OuteAIError):
    """The offline engine could not be started or reached (it is the server when offline)."""

    exit_code = ExitCode.NETWORK


class InsecureTransportError(InputError):
    """Plain http to a non-loopback host: refused before any connection."""


class OutputError(OuteAIError):
    """The output could not be written (a full disk, a quota, an I/O error); nothing was
    committed."""

    exit_code = ExitCode.FAILURE

    @classmethod
    def of(cls, exc: OSError, destination: object) -> OutputError | None:
        """The error a failed write stands for, naming where; None for other OS errors
        (a closed pipe, say, which is not a storage problem)."""
        import errno
        import os

        causes = {
            errno.ENOSPC: "no space left on the device",
            errno.EDQUOT: "the disk quota is exhausted",
            errno.EFBIG: "the file grew over the size this system allows",
            errno.EIO: "the device reported an I/O error",
            errno.EROFS: "the file system is read-only",
        }
        cause = causes.get(exc.errno or 0)
        if cause is None:
            return None
        detail = f" (while writing {exc.filename})" if exc.filename else ""
        if isinstance(destination, str | os.PathLike):
            message = f"cannot write {os.fspath(destination)}: {cause}{detail}; nothing was saved"
        else:
            message = f"cannot write standard output: {cause}{detail}"
        return cls(message, hint="free some space", advice=(Advice(Fix.REPLACE, "output"),))


class ResourceError(OuteAIError):
    """This machine's limits leave no room for the work (open files): found before any
    request, so nothing is paid for and nothing is left behind."""

    exit_code = ExitCode.FAILURE


class InterruptedByUser(OuteAIError):
    exit_code = ExitCode.INTERRUPTED

"""Typed errors raised by the library, and the exit code each maps to in the CLI."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2  # bad usage or input
    AUTH = 3  # missing or rejected token
    REFUSED = 4  # request refused by the API (other 4xx)
    NETWORK = 5  # network or server failure (5xx, connect, timeout)
    PROTOCOL = 6  # malformed response stream
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


class OuteAIError(Exception):
    """Base of every error this library raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILURE
    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(OuteAIError):
    """The caller's input is unusable; nothing was sent."""

    exit_code = ExitCode.USAGE


class ConfigError(InputError):
    """The configuration file or a setting is invalid."""


class AuthenticationError(OuteAIError):
    """No token, or the service rejected it (then `status` is 401 and `code` is the API's)."""

    exit_code = ExitCode.AUTH

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, hint: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
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
    ) -> None:
        super().__init__(message, hint=hint)
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
    hint = "retry; if it persists, check --base-url points at the OuteTTS API, not a proxy page"


class TransportError(OuteAIError):
    """The connection failed, broke, or timed out."""

    exit_code = ExitCode.NETWORK

    def __init__(self, message: str, *, after_audio_started: bool = False, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.after_audio_started = after_audio_started


class InsecureTransportError(InputError):
    """Plain http to a non-loopback host: refused before any connection."""


class InterruptedByUser(OuteAIError):
    exit_code = ExitCode.INTERRUPTED

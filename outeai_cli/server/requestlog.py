"""`outeai serve`'s request log: one line per request on stderr, as text or JSON Lines.

An ASGI middleware opens a `LogEntry` per request and writes it when the response is over
(sent, refused, or cut); the routes fill in what only they know (dialect, characters, audio
seconds, the token from a JSON body) through `entry_of(request)`. Tokens appear masked and
every text field goes through the library's `untrusted.clean_text` (whole escape sequences
and control characters removed), so a hostile client cannot write escape sequences into the
terminal or a log file through a path or a token.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outeai_cli.security import mask_token
from outeai_cli.untrusted import clean_text

_SCOPE_KEY = "outeai.log"


@dataclass
class LogEntry:
    method: str = ""
    path: str = ""
    dialect: str | None = None
    status: int | None = None
    chars: int | None = None
    audio_seconds: float | None = None
    token: str | None = None
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    complete: bool = False  # False when the response was cut short (an error, a drop)

    def as_dict(self) -> dict[str, Any]:
        """The entry as logged: tokens masked, control characters gone."""
        return {
            "time": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="milliseconds"),
            "method": clean_text(self.method),
            "path": clean_text(self.path),
            "dialect": self.dialect,
            "status": self.status,
            "chars": self.chars,
            "audio_seconds": None if self.audio_seconds is None else round(self.audio_seconds, 3),
            "seconds": round(self.seconds, 3),
            "token": None if self.token is None else clean_text(mask_token(self.token)),
            "complete": self.complete,
        }

    def as_text(self) -> str:
        shown = self.as_dict()
        clock = datetime.fromtimestamp(self.started).strftime("%H:%M:%S.%f")[:-3]
        audio = "-" if shown["audio_seconds"] is None else f"{shown['audio_seconds']:.2f}s"
        parts = [
            clock,
            shown["method"],
            shown["path"],
            shown["dialect"] or "-",
            str(shown["status"] or "-"),
            f"chars={'-' if shown['chars'] is None else shown['chars']}",
            f"audio={audio}",
            f"took={shown['seconds']:.3f}s",
            f"token={shown['token'] or '-'}",
        ]
        if not self.complete:
            parts.append("(cut short)")
        return " ".join(parts)


def entry_of(request: Request) -> LogEntry:
    """This request's log entry (a throwaway one when the log is off), for routes to fill."""
    entry = request.scope.get(_SCOPE_KEY)
    return entry if isinstance(entry, LogEntry) else LogEntry()


def _token_in(scope: Scope) -> str | None:
    """A token the request carries outside its body: a Bearer header or `?token=`."""
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query["token"][0] if query.get("token") else None


def _write_stderr(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or gone: the log is best effort
        pass


class RequestLogger:
    """ASGI middleware writing one line per HTTP request once its response is over."""

    def __init__(
        self, app: ASGIApp, fmt: str = "text", write: Callable[[str], None] = _write_stderr
    ) -> None:
        self.app = app
        self.fmt = fmt
        self.write = write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = LogEntry(method=scope["method"], path=scope["path"], token=_token_in(scope))
        scope[_SCOPE_KEY] = entry
        started = time.monotonic()

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                entry.complete = True
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        except Exception:
            if entry.status is None:  # the server's last-resort handler answers 500
                entry.status = 500
            raise
        finally:
            entry.seconds = time.monotonic() - started
            line = json.dumps(entry.as_dict()) if self.fmt == "json" else entry.as_text()
            self.write(line)

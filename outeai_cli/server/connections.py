"""Connections to the local server: a deadline to send each request, a cap on how many are open.

uvicorn times out only the wait between two requests (`timeout_keep_alive`, restarted by each
byte received) and has no limit on sending one: a client that sends its headers a byte at a
time, or connects and sends nothing, holds its connection and a file descriptor for ever, and
`limit_concurrency` answers 503 only once a request has arrived. So here:

- a request must arrive whole, headers and body, within `request_timeout` of its first byte
  (of the connection, for the first request); else the connection is closed;
- at most `cap` connections are open, the cap below the process's descriptor limit: past it,
  the connection waiting longest without a request being served is closed to make room (a
  flood of half-sent requests cannot starve a real one), or when every one is being served,
  the newcomer is told 503;
- if descriptors run out all the same (accept fails with EMFILE), one line says so and the
  server goes on once some close (asyncio retries the accept every second, and logged a
  traceback for each of up to a backlog of attempts, every second).
"""

from __future__ import annotations

import asyncio
import errno
from collections import OrderedDict
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from outeai_cli.server.requestlog import _write_stderr

# Connections accepted in one go (the listen backlog): each holds a descriptor until the loop
# runs their protocols and closes what the cap turns away, a few bursts later; the cap leaves
# room for that.
ACCEPT_BURST = 64
_BURSTS_IN_FLIGHT = 4
# Descriptors kept for everything else: the listening socket, stdio, the workers' pipes.
_RESERVED = 64
# However long descriptors stay short, the log says so once in this many seconds.
_REPEAT_AFTER = 60.0
DEFAULT_MAX_CONNECTIONS = 4096
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_BUSY_BODY = (
    b'{"message": "too many connections at once; try again", "code": "too_many_connections"}'
)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


def descriptor_limit() -> int | None:
    """The process's soft limit on open files; None where it is unlimited or unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover (not a Unix)
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def connection_cap(asked: int = 0) -> int:
    """`asked` (0: DEFAULT_MAX_CONNECTIONS), lowered to what the descriptor limit leaves."""
    cap = asked or DEFAULT_MAX_CONNECTIONS
    limit = descriptor_limit()
    if limit is not None:
        cap = min(cap, limit - _RESERVED - _BURSTS_IN_FLIGHT * ACCEPT_BURST)
    return max(8, cap)


class Guard:
    """One server's connections: which may be closed to make room, oldest first."""

    def __init__(self, request_timeout: float, cap: int) -> None:
        self.request_timeout = request_timeout
        self.cap = cap
        self.waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()
        self._said_at: float | None = None  # when the log last said descriptors ran out

    def handle_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The loop's exception handler: accept's EMFILE is one line a minute at most, not a
        traceback per attempt; everything else goes to the default handler."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES:
            now = loop.time()
            if self._said_at is None or now - self._said_at > _REPEAT_AFTER:
                self._said_at = now
                limit = descriptor_limit()
                # Through the request log's writer: one place writes the server's stderr.
                _write_stderr(
                    f"outeai serve: cannot accept connections: {exc.strerror} (open files "
                    f"limit {limit if limit is not None else 'unknown'}); new connections "
                    "wait until some close"
                )
            return
        loop.default_exception_handler(context)


def guarded_protocol(request_timeout: float, cap: int) -> tuple[type[H11Protocol], Guard]:
    """An HTTP protocol class for uvicorn bound to a new Guard (also returned)."""
    guard = Guard(request_timeout, cap)
    return type("GuardedProtocol", (GuardedProtocol,), {"guard": guard}), guard


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request and a place under the cap."""

    guard: Guard
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        guard = self.guard
        if len(self.connections) > guard.cap:
            victim = next(iter(guard.waiting), None)
            if victim is None:  # every connection is being served: this one waits no more
                self.transport.write(_BUSY)
                self.transport.close()
                return
            victim._stop()
        guard.waiting[self] = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and not self._serving():
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()  # the request arrived whole (or the connection is ending)
        if self._serving():
            self.guard.waiting.pop(self, None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.guard.waiting[self] = None  # newest: the last to be closed for room

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.waiting.pop(self, None)
        super().connection_lost(exc)

    def _serving(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.guard.request_timeout, self._stop)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _stop(self) -> None:
        """Close the connection: its request is overdue, or its place is needed."""
        self._disarm()
        self.guard.waiting.pop(self, None)
        self.transport.close()

"""Enforce the first-event, idle and max-time limits on a streaming response.

httpx applies one read timeout to every socket read of a request, but a cold start needs a
long wait for the first bytes while a stalled stream should fail sooner, and a stream that
keeps trickling (a byte every few seconds, the same status event forever) never trips a read
timeout at all. A small thread watches three clocks and shuts the socket down when one of
them passes its limit; the blocked read then returns and the client reports which expired:

- first-event: nothing at all arrived yet;
- idle: no progress since the last (the parser's progress count, which grows only with new
  audio or a status that says something new; bytes alone are not progress);
- max_time: the whole request, however it progresses.

The socket is known from the moment it connects (httpx's `trace` hook), so the limits hold
before the response headers too: a server that accepts and never answers, drips its header
lines or sends `102 Processing` forever is cut off like a stalled body. That is also why the
client keeps no idle connections: a reused one would not be seen connecting.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from outeai_cli.errors import TimeoutExpired
from outeai_cli.http.errors import Answer
from outeai_cli.untrusted import response_chunks

if TYPE_CHECKING:
    import httpx


def fetch(
    http: httpx.Client, method: str, url: str, *, seconds: float, limit: int, **kwargs: Any
) -> Answer:
    """One small request (a voice list, a health probe) that takes `seconds` at most in all;
    its answer read whole, up to `limit` bytes.

    A byte drip cannot stretch it: the watchdog ends the whole exchange when time is up
    (httpx.ReadTimeout then, like any read timeout).
    """
    import httpx

    watchdog = StreamWatchdog(seconds, seconds, seconds)
    body = bytearray()
    truncated = False
    try:
        with (
            watchdog,
            http.stream(method, url, extensions={"trace": watchdog.trace}, **kwargs) as response,
        ):
            watchdog.attach(response)
            for chunk in response_chunks(response):
                body += chunk
                if len(body) > limit:
                    truncated = True
                    break
    except httpx.TransportError:
        if watchdog.expired:
            raise httpx.ReadTimeout(f"no whole answer within {seconds:g} s") from None
        raise
    if watchdog.expired:
        raise httpx.ReadTimeout(f"no whole answer within {seconds:g} s")
    return Answer(response.status_code, response.headers, bytes(body[:limit]), "", truncated)


class StreamWatchdog:
    def __init__(self, first_event: float, idle: float, max_time: float = float("inf")) -> None:
        self.first_event = first_event
        self.idle = idle
        self.max_time = max_time
        self.expired: str | None = None  # "first-event", "idle" or "max_time" once it fired
        self._started = time.monotonic()
        self._last = self._started  # the last progress (or the response's start)
        self._got_bytes = False
        self._progress = 0
        self._bytes_since_progress = False
        self._socket: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outeai-watchdog", daemon=True)

    def __enter__(self) -> StreamWatchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's trace hook: watch the socket as soon as it is connected."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            if stream is not None:
                self._socket = stream.get_extra_info("socket")

    def attach(self, response: Any) -> None:
        """Watch the socket behind an httpx response (its `network_stream` extension)."""
        stream = response.extensions.get("network_stream")
        if stream is not None:
            self._socket = stream.get_extra_info("socket")
        self._last = time.monotonic()

    def touch(self, progress: int) -> None:
        """Bytes arrived; `progress` is the parser's count after them."""
        if not self._got_bytes or progress != self._progress:
            self._got_bytes = True
            self._progress = progress
            self._bytes_since_progress = False
            self._last = time.monotonic()
        else:
            self._bytes_since_progress = True

    @property
    def got_bytes(self) -> bool:
        return self._got_bytes

    @property
    def got_bytes_without_progress(self) -> bool:
        """Bytes kept coming after the last progress (a drip, or a repeated status)."""
        return self._bytes_since_progress

    @property
    def limit(self) -> float:
        return self.idle if self._got_bytes else self.first_event

    def timeout_error(self, exc: Exception | None, *, connect: float) -> TimeoutExpired:
        """The limit that ended the request, as a typed error: `exc` is httpx's timeout (None
        when the watchdog cut the stream); `connect` the connection's own limit."""
        import httpx

        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return TimeoutExpired(
                f"connect timeout: no connection within {connect:g} s "
                "(check the network and the base URL)",
                limit="connect_timeout",
            )
        if isinstance(exc, httpx.WriteTimeout):
            return TimeoutExpired(
                f"write timeout: could not send the request within {connect:g} s",
                limit="connect_timeout",
            )
        if self.expired == "max_time":
            return TimeoutExpired(
                f"max-time expired: the request was still running after {self.max_time:g} s",
                limit="max_time",
            )
        if self.expired == "idle" or (self.expired is None and self.got_bytes):
            if self.got_bytes_without_progress:
                what = "kept sending events that did not advance the audio"
            else:
                what = "sent nothing"
            return TimeoutExpired(
                f"idle timeout: the server {what} for {self.idle:g} s mid-response",
                limit="idle_timeout",
            )
        return TimeoutExpired(
            f"first-event timeout: no response within {self.first_event:g} s "
            "(the service may be cold-starting)",
            limit="timeout",
        )

    def _run(self) -> None:
        while not self._stop.wait(min(0.25, self.limit / 4, self.max_time / 4)):
            if self._socket is None:
                continue
            now = time.monotonic()
            if now - self._started > self.max_time:
                self.expired = "max_time"
            elif now - self._last > self.limit:
                self.expired = "idle" if self._got_bytes else "first-event"
            else:
                continue
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            return

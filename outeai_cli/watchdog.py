"""Enforce the first-event and idle timeouts on a streaming response.

httpx applies one read timeout to every socket read of a request, but a cold start needs a
long wait for the first bytes while a stalled stream should fail sooner. A small thread
watches the time since the last bytes and shuts the socket down when the current limit
passes; the blocked read then returns and the client reports which timeout expired.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any


class StreamWatchdog:
    def __init__(self, first_event: float, idle: float) -> None:
        self.first_event = first_event
        self.idle = idle
        self.expired: str | None = None  # "first-event" or "idle" once it fired
        self._last = time.monotonic()
        self._got_bytes = False
        self._socket: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outeai-watchdog", daemon=True)

    def __enter__(self) -> StreamWatchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1)

    def attach(self, response: Any) -> None:
        """Watch the socket behind an httpx response (its `network_stream` extension)."""
        stream = response.extensions.get("network_stream")
        if stream is not None:
            self._socket = stream.get_extra_info("socket")
        self._last = time.monotonic()

    def touch(self) -> None:
        self._got_bytes = True
        self._last = time.monotonic()

    @property
    def got_bytes(self) -> bool:
        return self._got_bytes

    @property
    def limit(self) -> float:
        return self.idle if self._got_bytes else self.first_event

    def _run(self) -> None:
        while not self._stop.wait(min(0.25, self.limit / 4)):
            if time.monotonic() - self._last > self.limit and self._socket is not None:
                self.expired = "idle" if self._got_bytes else "first-event"
                with contextlib.suppress(OSError):
                    self._socket.shutdown(socket.SHUT_RDWR)
                return

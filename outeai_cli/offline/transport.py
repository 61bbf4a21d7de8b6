"""The client's way to the offline engine: HTTP over its Unix socket, behind `TTSClient`.

Everything above the transport is what a server gets: the same dialect, requests, checks,
retries, cache and exit codes. The transport adds only what a private engine needs: it waits
for the engine the first time (it may still be loading), starts it again if it is gone (a
crash, a stop), tells it how long to stay, and lets go of it when the client closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from outeai_cli.offline.engine_process import KEEP_ALIVE_HEADER
from outeai_cli.offline.launch import EngineLease

if TYPE_CHECKING:
    from outeai_cli.http.transport import Timeouts
    from outeai_cli.settings.config import Settings

# What the engine accepts (it takes any token: the socket's permissions are the access check).
OFFLINE_TOKEN = "offline-engine-token"


def offline_base_url(engine: str) -> str:
    """The base URL requests to `engine` are made under: loopback, so no proxy, no TLS and no
    token warning apply; its path keeps each engine's audio apart in the piece cache."""
    return f"http://localhost/offline-{engine}/api/v1"


class EngineTransport(httpx.BaseTransport):
    def __init__(self, lease: EngineLease, wait: float) -> None:
        self._lease = lease
        self._wait = wait
        self._keep_alive = f"{lease.keep_alive:g}"
        # No idle connections kept, as over TCP (the watchdog sees each connect); plain HTTP
        # on a private socket, so no CA bundle to load.
        self._http = httpx.HTTPTransport(
            uds=str(lease.places.socket),
            verify=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[KEEP_ALIVE_HEADER.decode()] = self._keep_alive
        self._lease.ready(self._wait)
        try:
            return self._http.handle_request(request)
        except httpx.ConnectError:
            # Gone since it was found (a crash, `outeai engine stop`): start it again, once.
            self._lease.restart(self._wait)
            return self._http.handle_request(request)

    def close(self) -> None:
        self._http.close()
        self._lease.close()


def offline_engine(settings: Settings, timeouts: Timeouts) -> tuple[str, str, EngineTransport]:
    """(token, base URL, transport) of a client whose server is the offline engine the
    settings name: started now in the background unless it runs (or started early)."""
    from outeai_cli.offline.early import take_early_lease

    engine = settings.get("engine")
    keep_alive = settings.get("keep_alive")
    wait = min(timeouts.first_event, timeouts.max_time)
    lease = take_early_lease(engine, keep_alive) or EngineLease(engine, keep_alive, wait)
    transport = EngineTransport(lease, wait=timeouts.first_event)
    return OFFLINE_TOKEN, offline_base_url(engine), transport

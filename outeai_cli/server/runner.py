"""Run the local server: in the foreground (`outeai serve`) or in a thread (tests, scripts)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outeai_cli.server.common import ServerSettings, ServerState


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen before the server starts, so port 0 gives a known free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP; without it Nagle + delayed ACK add ~40 ms to every keep-alive response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _HideInjectedDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from outeai_cli.server.common import InjectedDrop

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDrop)


def _uvicorn_server(settings: ServerSettings, log_level: str) -> object:
    import uvicorn

    from outeai_cli.server.app import create_app
    from outeai_cli.server.connections import ACCEPT_BURST, connection_cap, guarded_protocol

    logging.getLogger("uvicorn.error").addFilter(_HideInjectedDrops())
    protocol, guard = guarded_protocol(
        settings.request_timeout, connection_cap(settings.max_connections)
    )
    config = uvicorn.Config(
        create_app(settings),
        http=protocol,
        backlog=ACCEPT_BURST,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            asyncio.get_running_loop().set_exception_handler(guard.handle_loop_error)
            await super().startup(sockets)

    return Server(config)


def serve_forever(
    settings: ServerSettings, sock: socket.socket, log_level: str = "warning"
) -> None:
    server = _uvicorn_server(settings, log_level)
    server.run(sockets=[sock])  # type: ignore[attr-defined]


class LocalServer:
    """`with LocalServer(settings) as srv: srv.base_url` — a real server on a loopback port."""

    def __init__(self, settings: ServerSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self._sock = bind(host, port)
        self.host = host
        self.port = self._sock.getsockname()[1]
        self._server = _uvicorn_server(settings, "critical")
        self._thread = threading.Thread(
            target=self._server.run,  # type: ignore[attr-defined]
            kwargs={"sockets": [self._sock]},
            daemon=True,
        )

    @property
    def state(self) -> ServerState:
        """The app's state: what it keeps between requests (the control log, the slots)."""
        state: ServerState = self._server.config.app.state.outeai  # type: ignore[attr-defined]
        return state

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"

    def start(self) -> LocalServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not getattr(self._server, "started", False):
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True  # type: ignore[attr-defined]
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The offline engine process: the local server's app on a private Unix socket, for one user.

Started in the background by the first offline call (`launch.EngineLease`), with the engine
name, the installation it belongs to and how long to stay after its last client:

    python -c '…main(argv)' ENGINE INSTALL KEEP_ALIVE

Order matters for that first call: the voice workers start loading before anything else (they
take longest), then the server's modules import and the socket is bound while they load: the
client's first request is taken at once and waits only for the voice. Then it serves until no
client has held the users' lock for KEEP_ALIVE seconds (each request may change that number),
or until SIGTERM (`outeai engine stop`); either way the workers stop with it and the socket
and state file go. A second engine for the same files gives way: it exits at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outeai_cli.offline.places import EnginePlaces, lock_within, runtime_dir
from outeai_cli.offline.prefetch import (
    MAX_HINT_BYTES,
    PREFETCH_PATH,
    PrefetchingEngine,
    read_hint,
)

if TYPE_CHECKING:
    from outeai_cli.server.engines import Engine
    from outeai_cli.voices.catalogue import Voice

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEEP_ALIVE_HEADER = b"x-outeai-keep-alive"
# How often the idle clock is read: the most an engine overstays its keep_alive.
IDLE_POLL_SECONDS = 0.1
# A client checking whether an engine runs holds the lifetime lock for microseconds.
_LOCK_PATIENCE_SECONDS = 0.3


def main(argv: list[str]) -> int:
    engine_name, install, keep_text = argv
    # SIGTERM (`outeai engine stop`) ends the process through the cleanup below: the server
    # shuts down on it, then passes it on to this handler.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    places = EnginePlaces(runtime_dir(), engine_name, install)
    lifetime = os.open(places.lock, os.O_RDWR | os.O_CREAT, 0o600)
    if not lock_within(lifetime, fcntl.LOCK_EX, _LOCK_PATIENCE_SECONDS, poll=0.01):
        return 0  # another engine for these files is running or starting: it serves
    os.ftruncate(lifetime, 0)
    os.write(lifetime, f"{os.getpid()}\n".encode())  # for `outeai engine stop`
    # The voice first: its workers take longest to load, so they start before anything else
    # is imported, and load while the rest happens (the first request waits for them).
    from outeai_cli.server.engines import pick_engine  # light: numpy waits for samples

    try:
        engine = PrefetchingEngine(
            pick_engine(
                engine_name,
                program=os.environ.get("OUTEAI_SERVE_PIPER") or None,
                start_workers=1,  # the others when a long text needs them: a small
                warm=False,  # machine's cores go to this one, and to the first answer
            )
        )
    except RuntimeError as exc:  # one line saying what cannot be used, as `serve` prints it
        print(f"outeai engine: {exc}", file=sys.stderr, flush=True)
        return 1
    import uvicorn

    from outeai_cli.server.app import create_app
    from outeai_cli.server.common import ServerSettings

    _prepare_answers()
    activity = Activity(
        create_app(ServerSettings(engine=engine)), float(keep_text), engine.prefetch
    )
    server = uvicorn.Server(
        uvicorn.Config(
            activity,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    listener = _bind(places)
    users = os.open(places.users, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _write_state(places, engine, activity.keep_alive)
        watcher = threading.Thread(
            target=_watch_idle, args=(server, activity, places, users), daemon=True
        )
        watcher.start()
        server.run(sockets=[listener])
    finally:
        _remove(places, listener)
        engine.close()
        # The lifetime lock first: a client waiting on the users' lock must find this engine
        # gone once it gets it (at exit the kernel releases locks in no set order).
        os.close(lifetime)
        os.close(users)
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _prepare_answers() -> None:
    """Load what the first answer needs while the voice loads: libsndfile (the FLAC encoder)
    and the resampler's filter from a voice's 22,050 Hz to the API's 44,100 Hz."""
    import numpy as np

    from outeai_cli.server.engines import SAMPLE_RATE, encode_flac
    from outeai_cli.server.resampling import resample

    encode_flac(np.zeros(64, dtype=np.int16))
    resample(np.zeros(64, dtype=np.int16), 22050, SAMPLE_RATE)


class Activity:
    """The app, counting the requests in flight and taking each client's keep_alive.

    Requests arrive under `/offline-ENGINE/`, the base URL's path that keeps each engine's
    audio apart in the client's cache; the prefix is dropped before the app routes them.
    """

    def __init__(
        self,
        app: ASGIApp,
        keep_alive: float,
        prefetch: Callable[[str, Voice, float], None] | None = None,
    ) -> None:
        self.app = app
        self.keep_alive = keep_alive
        self.prefetch = prefetch
        self.active = 0
        self.last_request = time.monotonic()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == KEEP_ALIVE_HEADER:
                self._take_keep_alive(value)
        path = scope.get("path", "")
        if path.startswith("/offline-"):
            rest = "/" + path.split("/", 2)[2] if path.count("/") >= 2 else "/"
            scope = {**scope, "path": rest, "raw_path": rest.encode()}
        self.active += 1
        try:
            if scope["path"] == PREFETCH_PATH and scope.get("method") == "POST":
                await self._take_hint(receive, send)
                return
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            self.last_request = time.monotonic()

    async def _take_hint(self, receive: Receive, send: Send) -> None:
        """A client's guess at what it will ask (see `prefetch`): started, answered at once."""
        body = bytearray()
        while len(body) <= MAX_HINT_BYTES:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        hint = read_hint(bytes(body))
        if hint is not None and self.prefetch is not None:
            self.prefetch(*hint)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _take_keep_alive(self, raw: bytes) -> None:
        from outeai_cli.settings.table import SETTINGS

        # The client checked it: a value no client of ours sends changes nothing.
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            self.keep_alive = float(SETTINGS["keep_alive"].parse(raw.decode("ascii")))


def _watch_idle(server: Any, activity: Activity, places: EnginePlaces, users: int) -> None:
    """Stop the server once no client has held the users' lock for keep_alive seconds.

    Each client holds that lock (shared) from before it connects until it is done. Taking it
    exclusively proves there is none; kept through the shutdown, it makes a client that
    arrives meanwhile wait, then find the engine gone and start a new one.

    It stops too once its socket is gone or replaced (a cleaner of /tmp, a hand): no client
    can reach it, and one that tries waits for it to go, then starts a new one.
    """
    bound = _identity(places.socket)
    last_used = time.monotonic()
    while not server.should_exit:
        time.sleep(IDLE_POLL_SECONDS)
        if _identity(places.socket) != bound:
            server.should_exit = True
            return
        now = time.monotonic()
        if activity.active or not lock_within(users, fcntl.LOCK_EX):
            last_used = now
            continue
        if now - max(last_used, activity.last_request) >= activity.keep_alive:
            places.socket.unlink(missing_ok=True)
            server.should_exit = True
            return
        fcntl.flock(users, fcntl.LOCK_UN)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _bind(places: EnginePlaces) -> Any:
    import socket

    # A socket left by an engine that was killed: nothing listens on it (we hold the lock).
    places.socket.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)  # the socket is created 0600: only its owner may connect
    try:
        listener.bind(str(places.socket))
    finally:
        os.umask(old_mask)
    listener.listen(128)
    return listener


def _write_state(places: EnginePlaces, engine: Engine, keep_alive: float) -> None:
    import json

    from outeai_cli.version import __version__
    from outeai_cli.voices.catalogue import BUILTIN_VOICES

    pool = getattr(engine, "pool", None)
    state = {
        "pid": os.getpid(),
        "engine": engine.name,
        "asked": places.engine,
        "workers": getattr(pool, "workers", 0),
        "voices": {v.name: engine.speaker(v).describe() for v in BUILTIN_VOICES},
        "keep_alive": keep_alive,
        "version": __version__,
        "python": sys.executable,
        "socket": str(places.socket),
        "started": time.time(),
    }
    temporary = places.state.with_suffix(".json.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(temporary, places.state)


def _remove(places: EnginePlaces, listener: Any) -> None:
    listener.close()
    places.socket.unlink(missing_ok=True)
    places.state.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Finding, starting and stopping the offline engine, from the client's side.

A client holds an `EngineLease` while it uses the engine: a shared lock on the engine's users
file (the engine's idle clock runs only while no one holds it) and, when the engine is not
answering yet, the starting lock, under which at most one client starts it and the others
wait for it. The engine process holds its own lifetime lock; a client tells a running engine
from a dead one's leftovers (a stale socket, a state file) by that lock alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outeai_cli.errors import EngineError
from outeai_cli.offline.places import EnginePlaces, all_engines, engine_places, lock_within

if TYPE_CHECKING:
    import subprocess

_POLL_SECONDS = 0.005


class EngineLease:
    """A client's use of the engine called `engine`: started in the background if it is not
    running, waited for by `ready()`, and let go by `close()`."""

    def __init__(self, engine: str, keep_alive: float, wait: float) -> None:
        self.places = engine_places(engine)
        self.keep_alive = keep_alive
        self._lock = threading.Lock()
        self._starting: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self.was_running = False  # the engine answered when this lease began
        self._users: int | None = _open(self.places.users)
        # Waits only while an engine shuts down: after it, this client starts a new one. An
        # engine stuck in its shutdown (stopped, swapped out) is reported, not waited on for ever.
        if not lock_within(self._users, fcntl.LOCK_SH, wait):
            os.close(self._users)
            self._users = None
            raise EngineError(
                f"the offline engine has been shutting down for over {wait:g} s",
                hint="'outeai engine stop' stops it",
            )
        self._begin()

    def _begin(self) -> None:
        if _answers(self.places.socket):
            self.was_running = True
            return
        self._starting = _open(self.places.starting)
        fcntl.flock(self._starting, fcntl.LOCK_EX)  # another client may be starting it
        if _answers(self.places.socket):
            self._stop_starting()
        elif not engine_running(self.places):
            self._child = _spawn(self.places, self.keep_alive)
        # else: an engine is loading (its client gave up waiting) or stopping; `ready` waits

    def ready(self, wait: float) -> None:
        """Return once the engine answers on its socket; EngineError if it cannot start."""
        with self._lock:
            if self._starting is None:
                return
            deadline = time.monotonic() + wait
            while not _answers(self.places.socket):
                if not engine_running(self.places):
                    # None: the engine found running has gone since; 0: ours gave way to
                    # another one, which has gone since. Either way: start one now.
                    if self._child is None or self._child.poll() == 0:
                        self._child = _spawn(self.places, self.keep_alive)
                    elif self._child.poll() is not None:
                        self._stop_starting()
                        raise EngineError(
                            f"the offline engine could not start: {_last_words(self.places)}",
                            hint=f"its log is {self.places.log}",
                        )
                if time.monotonic() > deadline:
                    self._stop_starting()
                    raise EngineError(
                        f"the offline engine did not start within {wait:g} s",
                        hint=f"its log is {self.places.log}; 'outeai engine stop' stops it",
                    )
                time.sleep(_POLL_SECONDS)
            self._stop_starting()

    def restart(self, wait: float) -> None:
        """After a refused connection: start the engine again if it is gone, and wait for it."""
        with self._lock:
            if self._starting is None:
                self._begin()
        self.ready(wait)

    def _stop_starting(self) -> None:
        if self._starting is not None:
            os.close(self._starting)  # closing releases the lock
            self._starting = None

    def close(self) -> None:
        with self._lock:
            self._stop_starting()
            if self._users is not None:
                os.close(self._users)
                self._users = None


def engine_running(places: EnginePlaces) -> bool:
    """Whether an engine process holds these files' lifetime lock (it may still be loading)."""
    try:
        fd = os.open(places.lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and with it the lock, if it was taken
    return False


def _answers(path: Path) -> bool:
    """Whether something listens on the socket (the engine binds it once it can speak)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(str(path))
    except BlockingIOError:
        return True  # listening, with a full backlog
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
            return False
        raise EngineError(f"cannot reach the offline engine at {path}: {exc.strerror}") from None
    finally:
        probe.close()
    return True


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _spawn(places: EnginePlaces, keep_alive: float) -> subprocess.Popen[bytes]:
    import subprocess

    package_root = str(Path(__file__).resolve().parents[2])
    code = (
        f"import sys; sys.path.insert(0, {package_root!r}); "
        "from outeai_cli.offline.engine_process import main; sys.exit(main(sys.argv[1:]))"
    )
    log = os.open(places.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        return subprocess.Popen(
            [sys.executable, "-c", code, places.engine, places.install, f"{keep_alive:g}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=places.directory,  # not the caller's: the engine outlives it
            start_new_session=True,  # no terminal: a Ctrl-C meant for the caller passes it by
        )
    except OSError as exc:
        raise EngineError(f"cannot start the offline engine: {exc.strerror}") from None
    finally:
        os.close(log)


def _last_words(places: EnginePlaces) -> str:
    from outeai_cli.untrusted import clean_text

    try:
        lines = places.log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    said = [line.removeprefix("outeai engine: ") for line in lines if line.strip()]
    return clean_text(said[-1], limit=400) if said else "it exited without saying why"


# -- `outeai engine status` and `outeai engine stop` ------------------------------------------


def running_engines() -> list[dict[str, Any]]:
    """What each running engine says about itself (its state file), oldest first."""
    found = []
    for places in all_engines():
        pid = _pid_of(places)
        if pid is None:
            continue
        found.append(_state_of(places) or {"pid": pid, "asked": places.engine, "starting": True})
    return sorted(found, key=lambda s: float(s.get("started", 0)))


def stop_engines(wait: float = 10.0) -> list[dict[str, Any]]:
    """Stop every running engine (SIGTERM, then SIGKILL after `wait`); what was stopped."""
    import signal

    stopped = []
    for places in all_engines():
        pid = _pid_of(places)
        if pid is None:
            continue
        state = _state_of(places) or {"pid": pid, "asked": places.engine, "starting": True}
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while _exists(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _exists(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stopped.append(state)
    return stopped


def _exists(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no /proc here: it exists
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _pid_of(places: EnginePlaces) -> int | None:
    """The running engine's process id (it writes it into its lifetime lock file)."""
    if not engine_running(places):
        return None
    try:
        return int(places.lock.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None  # it has the lock but has not written its id yet


def _state_of(places: EnginePlaces) -> dict[str, Any] | None:
    try:
        state = json.loads(places.state.read_text(encoding="utf-8"))
        int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if isinstance(state, dict) else None

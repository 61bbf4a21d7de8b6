"""How `outeai serve`'s banner says to stop it: Ctrl-C in the terminal's foreground, a kill for
a background job (`outeai serve ... &`), which Ctrl-C at that terminal does not reach.

Each runs in a real pseudo-terminal as its controlling terminal (a session of its own), as a
shell in a terminal window runs it.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time

BANNER_END = re.compile(rb"stop with ([^\r\n]+)")


def _read_until(master: int, pattern: re.Pattern[bytes], timeout: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while not pattern.search(seen):
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


def _in_terminal(argv: list[str]) -> tuple[int, int]:
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.execvpe(argv[0], argv, {**os.environ, "TERM": "dumb"})
    return pid, master


def test_a_foreground_server_says_ctrl_c_and_stops_on_it() -> None:
    pid, master = _in_terminal(
        [sys.executable, "-m", "outeai_cli", "serve", "--port", "0", "--engine", "tone", "-q"]
    )
    seen = _read_until(master, BANNER_END)
    assert BANNER_END.search(seen).group(1).strip() == b"Ctrl-C"  # type: ignore[union-attr]
    os.write(master, b"\x03")  # Ctrl-C typed at the terminal
    seen += _read_until(master, re.compile(rb"outeai serve: stopped"))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    os.close(master)


def test_a_background_job_names_the_kill_that_stops_it() -> None:
    script = (
        "set -m; "
        f"{sys.executable} -m outeai_cli serve --port 0 --engine tone -q & "
        'echo "job pid $!"; wait'
    )
    pid, master = _in_terminal(["bash", "--norc", "--noprofile", "-c", script])
    seen = _read_until(master, BANNER_END)
    job = int(re.search(rb"job pid (\d+)", seen).group(1))  # type: ignore[union-attr]
    advice = BANNER_END.search(seen).group(1).strip()  # type: ignore[union-attr]
    assert advice == f"kill {job}".encode(), seen
    os.kill(job, signal.SIGTERM)  # what the banner says to do
    _read_until(master, re.compile(rb"outeai serve: stopped"))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    os.close(master)

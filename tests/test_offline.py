"""Speaking offline: `--offline` runs the local server's engines for the command, in a
background engine process on a private Unix socket that stays warm for `keep_alive` seconds.

Every test runs `outeai` as a real subprocess in its own runtime, config and cache directories,
with the tone engine (fast and deterministic) unless it is about the neural voice, and checks
that no engine process is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.piper import find_program, packaged_model

SENTENCE = "Hello from the engine on this machine."


class Offline:
    """One test's private world: its directories, its environment, its engine processes."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        # A short path: a Unix socket's path is limited to 107 bytes.
        self.runtime = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OUTEAI_")},
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "HOME": str(tmp_path / "home"),
            "OUTEAI_ENGINE": "tone",
            "OUTEAI_KEEP_ALIVE": "30",
        }
        (tmp_path / "home").mkdir()

    @property
    def directory(self) -> Path:
        return self.runtime / "outeai"

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "outeai_cli", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            timeout=timeout,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "outeai_cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.cwd,
        )

    def say(
        self, text: str = SENTENCE, output: str = "out.flac", *extra: str, **kw: object
    ) -> Path:
        result = self.run("say", "--offline", text, "-o", output, "--force", *extra, **kw)  # type: ignore[arg-type]
        assert result.returncode == 0, result.stderr
        return self.cwd / output

    def engine_pids(self) -> list[int]:
        """The engine processes alive now (each writes its id into its lifetime lock file)."""
        pids = []
        for lock in self.directory.glob("*.lock") if self.directory.exists() else ():
            text = lock.read_text().strip()
            if text.isdigit() and _alive(int(text)):
                pids.append(int(text))
        return pids

    def engine_pid(self) -> int:
        pids = self.engine_pids()
        assert len(pids) == 1, pids
        return pids[0]

    def wait_gone(self, pid: int, within: float) -> float:
        """Seconds until `pid` exited; fails after `within`."""
        started = time.monotonic()
        while _alive(pid):
            assert time.monotonic() - started < within, f"engine {pid} still running"
            time.sleep(0.05)
        return time.monotonic() - started

    def stop_all(self) -> None:
        self.run("engine", "stop")
        for pid in self.engine_pids():
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[Offline]:
    world = Offline(tmp_path)
    yield world
    world.stop_all()
    for pid in world.engine_pids():  # one that had let go of its files, finishing its exit
        world.wait_gone(pid, within=5)
    shutil.rmtree(world.runtime, ignore_errors=True)


def duration(path: Path) -> float:
    info = sf.info(str(path))
    return info.frames / info.samplerate


def tone_seconds(text: str) -> float:
    return max(0.3, ToneEngine.seconds_per_char * len(text.strip()))


# -- speaking offline --------------------------------------------------------------------------


def test_say_offline_needs_no_server_and_no_token(offline: Offline) -> None:
    result = offline.run("say", "--offline", SENTENCE, "-o", "hello.flac")
    assert result.returncode == 0, result.stderr
    assert "Saved hello.flac" in result.stderr
    audio = offline.cwd / "hello.flac"
    assert audio.read_bytes()[:4] == b"fLaC"
    assert duration(audio) == pytest.approx(tone_seconds(SENTENCE), abs=0.01)


def test_the_engine_opens_no_network_port_and_its_files_are_private(offline: Offline) -> None:
    offline.say()
    pid = offline.engine_pid()
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            sockets.add(target[8:-1])
    assert sockets  # the check sees the engine's own (Unix) socket
    for table in ("tcp", "tcp6", "udp", "udp6"):
        rows = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        inodes = {row.split()[9] for row in rows}
        assert not sockets & inodes, f"the engine has a {table} socket"
    assert stat.S_IMODE(offline.directory.stat().st_mode) == 0o700
    (sock,) = offline.directory.glob("*.sock")
    assert stat.S_IMODE(sock.stat().st_mode) & 0o077 == 0


def test_a_second_call_reuses_the_warm_engine(offline: Offline) -> None:
    offline.say(output="one.flac")
    pid = offline.engine_pid()
    offline.say("Once more.", output="two.flac")
    assert offline.engine_pid() == pid
    assert duration(offline.cwd / "two.flac") == pytest.approx(tone_seconds("Once more."), abs=0.01)
    status = offline.run("engine")
    assert status.returncode == 0
    assert f"tone: running (pid {pid}" in status.stdout
    assert "stays 30 s after its last call" in status.stdout
    listed = json.loads(offline.run("engine", "--json").stdout)
    assert [e["pid"] for e in listed] == [pid]


def test_the_engine_exits_by_itself_once_idle_for_keep_alive(offline: Offline) -> None:
    offline.say(env={"OUTEAI_KEEP_ALIVE": "1.5"})
    pid = offline.engine_pid()
    time.sleep(0.8)
    assert offline.engine_pids() == [pid]  # still warm within keep_alive
    waited = offline.wait_gone(pid, within=10)
    assert waited < 5
    assert not list(offline.directory.glob("*.sock"))
    assert "No offline engine is running" in offline.run("engine").stdout


def test_keep_alive_zero_stops_the_engine_with_the_call(offline: Offline) -> None:
    offline.say(env={"OUTEAI_KEEP_ALIVE": "0"})
    pids = offline.engine_pids()
    if pids:
        offline.wait_gone(pids[0], within=3)


def test_the_engine_stays_while_a_call_uses_it_however_short_keep_alive(offline: Offline) -> None:
    """A long text's pieces are separate requests: the engine must not leave between them."""
    text = " ".join(f"Sentence number {n} of a longer text." for n in range(12))
    path = offline.say(text, "long.flac", "--max-chars", "40", env={"OUTEAI_KEEP_ALIVE": "0"})
    assert duration(path) > 10


def test_engine_stop_stops_it_and_the_next_call_starts_another(offline: Offline) -> None:
    offline.say()
    pid = offline.engine_pid()
    stopped = offline.run("engine", "stop")
    assert stopped.returncode == 0
    assert f"Stopped the offline engine tone (pid {pid})" in stopped.stdout
    offline.wait_gone(pid, within=5)
    assert not list(offline.directory.glob("*.sock"))
    assert "No offline engine was running" in offline.run("engine", "stop").stdout
    offline.say("Back again.")
    assert offline.engine_pid() != pid


def test_a_killed_engine_is_replaced_on_the_next_call(offline: Offline) -> None:
    offline.say()
    pid = offline.engine_pid()
    os.kill(pid, signal.SIGKILL)
    offline.wait_gone(pid, within=5)
    assert list(offline.directory.glob("*.sock"))  # a stale socket is left behind
    path = offline.say("After the crash.", "after.flac")
    assert duration(path) == pytest.approx(tone_seconds("After the crash."), abs=0.01)
    assert offline.engine_pid() != pid


def test_a_stale_socket_nobody_listens_on_is_replaced(offline: Offline) -> None:
    offline.say()
    pid = offline.engine_pid()
    (sock_path,) = offline.directory.glob("*.sock")
    offline.stop_all()
    offline.wait_gone(pid, within=5)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock_path))  # a socket file with nothing listening: connections are refused
    stale.close()
    offline.say("Still speaks.")


def test_two_first_calls_at_once_start_one_engine(offline: Offline) -> None:
    calls = [offline.start("say", "--offline", f"Caller {n}.", "-o", f"{n}.flac") for n in range(3)]
    for call in calls:
        _, err = call.communicate(timeout=60)
        assert call.returncode == 0, err
    for n in range(3):
        assert duration(offline.cwd / f"{n}.flac") == pytest.approx(
            tone_seconds(f"Caller {n}."), abs=0.01
        )
    assert len(offline.engine_pids()) == 1


def test_a_call_arriving_while_the_engine_shuts_down_gets_a_new_one(offline: Offline) -> None:
    """Calls spaced around keep_alive: each either reuses the engine or starts a fresh one."""
    env = {"OUTEAI_KEEP_ALIVE": "0.3"}
    for n in range(6):
        offline.say(f"Call {n}.", f"{n}.flac", env=env)
        time.sleep(0.1 * n)


# -- settings, errors and the other commands ---------------------------------------------------


def test_without_a_token_the_error_names_the_offline_alternative(offline: Offline) -> None:
    result = offline.run("say", "Hello", "-o", "x.flac")
    assert result.returncode == 3
    assert "no API token" in result.stderr and "--offline" in result.stderr
    assert not offline.engine_pids()


def test_the_offline_setting_needs_no_flag_and_the_environment_overrides_it(
    offline: Offline,
) -> None:
    config = offline.cwd / "config" / "outeai"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("offline = true\nkeep_alive = 20\n")
    result = offline.run(
        "say", "From the config file.", "-o", "cfg.flac", env={"OUTEAI_KEEP_ALIVE": ""}
    )
    assert result.returncode == 0, result.stderr
    assert "stays 20 s" in offline.run("engine").stdout
    online = offline.run("say", "Hosted.", "-o", "hosted.flac", env={"OUTEAI_OFFLINE": "0"})
    assert online.returncode == 3 and "no API token" in online.stderr


def test_with_a_token_and_no_offline_setting_nothing_changes(offline: Offline, server) -> None:
    env = {"OUTEAI_TOKEN": "t", "OUTEAI_BASE_URL": server.base_url}
    result = offline.run("say", "To the server.", "-o", "server.flac", env=env)
    assert result.returncode == 0, result.stderr
    assert [r["text"] for r in server.tts_requests()] == ["To the server."]
    assert not offline.directory.exists() or not list(offline.directory.iterdir())


def test_an_engine_that_cannot_start_is_one_line_and_exit_5(offline: Offline) -> None:
    env = {"OUTEAI_ENGINE": "piper", "OUTEAI_SERVE_PIPER": str(offline.cwd / "no-such-piper")}
    result = offline.run("say", "--offline", "Hello", "-o", "x.flac", env=env)
    assert result.returncode == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("outeai: error: the offline engine could not start:")
    assert not (offline.cwd / "x.flac").exists()


def test_voices_offline_lists_who_speaks_each_name(offline: Offline) -> None:
    result = offline.run("voices", "--offline", "--remote", "--json")
    assert result.returncode == 0, result.stderr
    voices = {v["name"]: v for v in json.loads(result.stdout)}
    assert voices["EN-MALE-1-NEUTRAL"]["spoken_by"] == "tone test signal"


def test_batch_offline_and_long_text_use_the_cache(offline: Offline) -> None:
    (offline.cwd / "in").mkdir()
    (offline.cwd / "in" / "a.txt").write_text("First file.\n")
    (offline.cwd / "in" / "b.txt").write_text("Second file.\n")
    batch = offline.run("batch", "--offline", "in", "-o", "out")
    assert batch.returncode == 0, batch.stderr
    assert duration(offline.cwd / "out" / "b.flac") == pytest.approx(
        tone_seconds("Second file."), abs=0.01
    )
    text = "One sentence here. Another one there. And a third to finish."
    args = ("say", "--offline", text, "--max-chars", "20", "--json", "-q")
    first = json.loads(offline.run(*args, "-o", "a.flac").stdout)
    again = json.loads(offline.run(*args, "-o", "b.flac").stdout)
    assert first["pieces"] == again["pieces"] == again["from_cache"] > 1
    assert first["requests"] == first["pieces"] and again["requests"] == 0


# -- the neural voice --------------------------------------------------------------------------

needs_piper = pytest.mark.skipif(
    packaged_model() is None or find_program() is None, reason="needs the voice extra"
)


@needs_piper
def test_piper_offline_speaks_and_its_workers_leave_with_the_engine(offline: Offline) -> None:
    env = {"OUTEAI_ENGINE": "auto", "OUTEAI_KEEP_ALIVE": "60"}
    path = offline.say("The quick brown fox jumps over the lazy dog.", "fox.flac", env=env)
    assert 1.5 < duration(path) < 6
    pid = offline.engine_pid()
    workers = _children(pid)
    assert workers and all(_alive(w) for w in workers)
    assert "piper en_US-joe-medium" in offline.run("engine").stdout
    offline.run("engine", "stop")
    offline.wait_gone(pid, within=10)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers):
        assert time.monotonic() < deadline, "piper workers outlived their engine"
        time.sleep(0.05)


def test_the_warm_engine_takes_a_head_start_hint_and_any_junk_quietly(offline: Offline) -> None:
    offline.say()
    (sock_path,) = offline.directory.glob("*.sock")
    for body in (
        json.dumps({"text": SENTENCE, "speaker": {"default": "EN-MALE-1-NEUTRAL"}}).encode(),
        b"\xff not json",
    ):
        with socket.socket(socket.AF_UNIX) as engine:
            engine.connect(str(sock_path))
            engine.sendall(
                b"POST /_outeai/prefetch HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert engine.recv(100).startswith(b"HTTP/1.1 204 ")
    path = offline.say(SENTENCE, "after-hint.flac", "-s", "EN-MALE-1-NEUTRAL")
    assert duration(path) == pytest.approx(tone_seconds(SENTENCE), abs=0.01)

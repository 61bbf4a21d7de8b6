"""Text still arriving, spoken as it comes: `outeai say --play` fed at an LLM's pace.

Both sides in one run, against `outeai serve` with the tone engine (a set latency) and with
the piper engine (the `voice` extra), through all three API dialects. A script writes an
LLM-like answer into outeai's stdin at 8 words per second, a word and its space at a time,
with no newline; the player is the stand-in of tests/standin_player.py, put first on PATH: it
consumes its stdin at the sample rate and records the moment of its first byte and every
underrun (its buffer ran dry before the input ended).

Targets (issue: "Speak as the text arrives"):
1. First sound (the stand-in's first byte) <= the moment the first sentence is complete on
   stdin + that piece's server time (from the server's JSON request log) + 150 ms.
2. No underrun while the server makes audio at >= 2x real time (its audio seconds over its
   request seconds, printed per run). A gap while data was waiting in the pipe is the stand-in
   starved by a loaded machine: counted apart ("late"), not as an underrun.
3. Peak RSS <= 64 MiB after an hour's worth of input (28,800 words, 8 words/s for an hour)
   fed as fast as outeai takes it (`-o -` to a reader that discards, the tone engine).
4. For comparison, the same text through piper's own `--output-raw` line mode, fed the same
   way: its first byte comes only after the newline that ends the text.

Timings on a shared machine are noisy: run it alone when the figures matter.

Each engine and dialect runs three times (the median is shown; --quick: once, and a twelfth
of the hour for the memory run).

    python benchmarks/bench_live.py [--quick]
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _serving import outeai_command

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from standin_player import install_standin  # noqa: E402 (tests/standin_player.py)

WORDS_PER_SECOND = 8
BUDGET = 0.150  # seconds allowed on top of the sentence and its server time
LATENCY = 0.3  # the tone server's set latency per request
RSS_LIMIT_MIB = 64
ANSWER = (
    "Sure, here is a short answer to your question. The capital of France is Paris, a city "
    "on the river Seine. It has been the seat of government for most of the last thousand "
    "years. Its museums hold some of the most visited collections in the world. Let me know "
    "if you would like to hear more about its history."
)
DIALECTS = ("tts", "audio", "tts-stream")


class Server:
    """`outeai serve --json-log` on a free port; its request log collected as it comes."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*outeai_command(), "serve", "--port", "0", "--json-log", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        assert self.proc.stderr is not None
        banner = ""
        while "  stop with " not in banner:  # Ctrl-C, or a kill for a background job
            line = self.proc.stderr.readline().decode()
            if not line:
                raise SystemExit(f"the server did not start:\n{banner}")
            banner += line
        match = re.search(r"listening on (\S+/api/v1)", banner)
        assert match, banner
        self.base_url = match.group(1)
        self.log: list[dict] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with contextlib.suppress(ValueError):
                self.log.append(json.loads(line))

    def syntheses(self, since: int) -> list[dict]:
        return [e for e in self.log[since:] if e.get("dialect") and e.get("status") == 200]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def feed(stdin, text: str) -> list[float]:  # type: ignore[no-untyped-def]
    """Write `text` a word at a time at WORDS_PER_SECOND; when each sentence was complete."""
    complete = []
    for word in text.split(" "):
        stdin.write((word + " ").encode())
        stdin.flush()
        if word.endswith((".", "!", "?")):
            complete.append(time.monotonic())
        time.sleep(1 / WORDS_PER_SECOND)
    return complete


def wait_until_reading(stdin, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Until the process has read what was written (it is up: start-up is not what is timed)."""
    import fcntl
    import struct
    import termios

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        unread = fcntl.ioctl(stdin.fileno(), termios.FIONREAD, b"\0" * 4)
        if struct.unpack("i", unread)[0] == 0:
            return
        time.sleep(0.01)
    raise SystemExit("outeai never read its input")


def live_play(server: Server, api: str, work: Path) -> dict:
    """One `say --play` fed at 8 words/s; the figures of that run."""
    bin_dir = work / "bin"
    install_standin(bin_dir)
    log = work / f"player-{api}.json"
    env = {
        **os.environ,
        "OUTEAI_BASE_URL": server.base_url,
        "OUTEAI_TOKEN": "bench",
        "OUTEAI_PLAYER": "aplay",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "STANDIN_LOG": str(log),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    since = len(server.log)
    proc = subprocess.Popen(
        [*outeai_command(), "say", "--play", "--api", api, "--no-cache", "-q"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=work,
    )
    assert proc.stdin is not None
    words = ANSWER.split(" ")
    proc.stdin.write((words[0] + " ").encode())
    proc.stdin.flush()
    wait_until_reading(proc.stdin)
    time.sleep(1 / WORDS_PER_SECOND)
    complete = feed(proc.stdin, " ".join(words[1:]))
    proc.stdin.close()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    if proc.wait(timeout=300) != 0:
        raise SystemExit(f"say --api {api} failed: {stderr.decode()}")
    player = json.loads(log.read_text())
    requests = server.syntheses(since)
    first = requests[0]
    audio = sum(r.get("audio_seconds") or 0 for r in requests)
    busy = sum(r["seconds"] for r in requests)
    gaps = [gap for _, gap in player["underruns"]]
    late = [gap for _, gap in player.get("late_wakeups", [])]
    return {
        "api": api,
        "first_sentence": complete[0],
        "first_byte": player["first_byte_at"],
        "server_first": first["seconds"],
        "requests": len(requests),
        "speed": audio / busy if busy else float("inf"),
        "underruns": len(gaps),
        "underrun_seconds": sum(gaps),
        "late_wakeups": len(late),
        "heard_seconds": player["bytes"] / (2 * player["rate"] * player["channels"]),
    }


def piper_line_mode(work: Path) -> float | None:
    """piper --output-raw fed the same way; seconds from the first sentence to its first byte."""
    from outeai_cli.server.piper import find_program, packaged_model

    program, model = find_program(), packaged_model()
    if program is None or model is None:
        return None
    proc = subprocess.Popen(
        [str(program), "-m", str(model.path), "--output-raw"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=work,
    )
    assert proc.stdin is not None and proc.stdout is not None
    first_byte: list[float] = []

    def read() -> None:
        assert proc.stdout is not None
        if proc.stdout.read(1):
            first_byte.append(time.monotonic())
        proc.stdout.read()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(3)  # its model loads before the text starts, as outeai's server had
    complete = feed(proc.stdin, ANSWER)
    proc.stdin.write(b"\n")  # the text ends: only now does line mode speak
    proc.stdin.close()
    reader.join(300)
    proc.wait(timeout=60)
    return first_byte[0] - complete[0] if first_byte else None


def rss_over_an_hour_of_text(work: Path, quick: bool) -> tuple[float, list[float]]:
    """Peak RSS (MiB) of `say -o -` given an hour's worth of text as fast as it reads, and the
    resident size at each quarter of the run."""
    words = WORDS_PER_SECOND * 3600 // (12 if quick else 1)
    sentence = ANSWER.split(" ")
    text = " ".join(sentence[i % len(sentence)] for i in range(words))
    server = Server("--engine", "tone")
    env = {
        **os.environ,
        "OUTEAI_BASE_URL": server.base_url,
        "OUTEAI_TOKEN": "bench",
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    try:
        proc = subprocess.Popen(
            [*outeai_command(), "say", "-o", "-", "--format", "flac", "--no-cache", "-q"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=work,
        )
        assert proc.stdin is not None
        samples: list[float] = []
        peak = [0.0]

        def watch() -> None:
            while proc.poll() is None:
                try:
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                except OSError:
                    return
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if "VmHWM" in fields:
                    peak[0] = int(fields["VmHWM"].split()[0]) / 1024
                    samples.append(int(fields["VmRSS"].split()[0]) / 1024)
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        proc.stdin.write(text.encode())  # as fast as it takes it: held back by the pipe
        proc.stdin.close()
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        proc.wait(timeout=3600)
        watcher.join(5)
        if proc.returncode != 0:
            raise SystemExit(f"the long feed failed: {stderr.decode()}")
    finally:
        server.stop()
    quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)] for q in (1, 2, 3, 4)]
    return peak[0], quarters


def main() -> int:
    quick = "--quick" in sys.argv
    repeat = 1 if quick else 3
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        engines = [("tone", ("--engine", "tone", "--latency", str(LATENCY)))]
        from outeai_cli.server.piper import find_program, packaged_model

        if find_program() is not None and packaged_model() is not None:
            engines.append(("piper", ("--engine", "piper")))
        else:
            print("piper: the voice extra is not installed; skipped")
        print(
            f"{'engine':6} {'api':10} {'first sound':>11} {'budget':>7} {'over':>6} "
            f"{'speed':>6} {'underruns':>9} {'late':>4}  result  (median of {repeat} runs)"
        )
        for engine, args in engines:
            server = Server(*args)
            try:
                for api in DIALECTS:
                    runs = [live_play(server, api, work) for _ in range(repeat)]
                    runs.sort(
                        key=lambda r: r["first_byte"] - r["first_sentence"] - r["server_first"]
                    )
                    run = runs[len(runs) // 2]
                    after = run["first_byte"] - run["first_sentence"]
                    over = after - run["server_first"]  # what outeai adds to the server's time
                    worst = max(
                        r["first_byte"] - r["first_sentence"] - r["server_first"] for r in runs
                    )
                    underruns = sum(r["underruns"] for r in runs if r["speed"] >= 2)
                    ok = over <= BUDGET and underruns == 0
                    failed |= not ok
                    print(
                        f"{engine:6} {api:10} {after:10.3f}s {run['server_first'] + BUDGET:6.3f}s "
                        f"{over * 1000:4.0f}ms {run['speed']:5.1f}x "
                        f"{sum(r['underruns'] for r in runs):9d} "
                        f"{sum(r['late_wakeups'] for r in runs):4d}  {'PASS' if ok else 'FAIL'}"
                        f"  (worst +{worst * 1000:.0f} ms; {run['requests']} requests, "
                        f"{run['heard_seconds']:.1f} s heard)"
                    )
            finally:
                server.stop()
        piper = piper_line_mode(work)
        if piper is not None:
            print(
                f"piper --output-raw (line mode), same feed: first byte {piper:.3f} s after "
                "the first sentence (it waits for the newline that ends the text)"
            )
        peak, quarters = rss_over_an_hour_of_text(work, quick)
        ok = peak <= RSS_LIMIT_MIB
        failed |= not ok
        words = WORDS_PER_SECOND * 3600 // (12 if quick else 1)
        print(
            f"peak RSS, {words} words fed fast to say -o -: {peak:.1f} MiB "
            f"(limit {RSS_LIMIT_MIB}); resident at each quarter: "
            + ", ".join(f"{q:.1f}" for q in quarters)
            + f" MiB  {'PASS' if ok else 'FAIL'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

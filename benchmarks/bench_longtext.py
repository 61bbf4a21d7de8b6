"""Long text and batch against `outeai serve --latency 0.25`: time against a lean client, and memory.

The lean client is a few lines of standard library run the same way (a fresh interpreter):
the same texts, as many requests at once, each answer's audio base64-decoded into a file,
nothing checked, converted or joined. It shows what the server and the machine allow; the
ideal (requests x 0.25 s / jobs) is printed beside it, as what no client reaches.

1. `outeai say -f book.txt -j 4` on 20,000 characters at a cap of 200 (the lean client sends
   the same pieces): wall time within 1.15x of the lean client's, start-up and stitching
   included.
2. `outeai batch - -j 8` on 200 short texts: within 1.10x of the lean client's.
3. Peak RSS of `outeai say` as the text grows (5k, 20k, 80k characters, no latency): flat,
   because pieces spill to disk and are stitched in blocks (80k characters are about 80 minutes
   of audio, 420 MB as raw samples).

Every run uses --no-cache so each piece is really requested. Prints the figures and PASS/FAIL;
exits 1 if a target is missed.

    python benchmarks/bench_longtext.py
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _serving import start_server  # benchmarks/_serving.py (scripts run from here)

LATENCY = 0.25
# argv: base URL, requests at once, output directory; stdin: one JSON string (a text) a line.
LEAN_CLIENT = """
import base64, http.client, json, queue, sys, threading, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
texts = queue.SimpleQueue()
for number, line in enumerate(sys.stdin):
    texts.put((number, json.loads(line)))
def work():
    connection = http.client.HTTPConnection(url.hostname, url.port)
    while True:
        try:
            number, text = texts.get_nowait()
        except queue.Empty:
            return
        body = {"token": "bench", "text": text, "speaker": {"default": "EN-FEMALE-1-NEUTRAL"}}
        connection.request("POST", url.path + "/tts", json.dumps(body))
        for line in connection.getresponse():
            event = json.loads(line) if line.strip() else {}
            if "data" in event:
                with open(f"{sys.argv[3]}/{number}.flac", "wb") as out:
                    out.write(base64.b64decode(event["data"]["audio_bytes"]))
threads = [threading.Thread(target=work) for _ in range(int(sys.argv[2]))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""
WORDS = [
    "river",
    "stone",
    "lantern",
    "orchard",
    "harbour",
    "meadow",
    "violin",
    "thunder",
    "copper",
    "willow",
    "garden",
    "marble",
    "window",
    "silver",
    "canyon",
    "falcon",
    "ribbon",
    "pepper",
    "saddle",
    "kettle",
    "glacier",
    "compass",
    "feather",
    "timber",
    "quarry",
    "beacon",
    "walnut",
    "lagoon",
    "parsley",
    "hammock",
    "tundra",
    "velvet",
    "anchor",
    "cobalt",
    "spindle",
    "juniper",
]


def book(size: int, seed: int = 1) -> str:
    """Paragraphs of sentences with quotes, decimals and abbreviations, about `size` chars."""
    rng = random.Random(seed)
    out: list[str] = []
    total = 0
    while total < size:
        sentences = []
        for _ in range(rng.randint(3, 7)):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 26)))
            kind = rng.randrange(4)
            if kind == 0:
                sentences.append(f'Dr. Moreau said, "The {words} weighs {rng.randint(1, 9)}.5 kg."')
            else:
                sentences.append(words.capitalize() + ".")
        paragraph = " ".join(sentences)
        out.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(out)


def cli_env(url: str, cwd: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OUTEAI_BASE_URL": url,
        "OUTEAI_TOKEN": "bench",
        "XDG_CONFIG_HOME": str(cwd / "config"),
        "XDG_CACHE_HOME": str(cwd / "cache"),
    }


def run_outeai(
    args: list[str], url: str, cwd: Path, stdin: bytes | None = None
) -> tuple[float, str]:
    """Run `outeai ARGS` as a user would; returns (wall seconds, stdout). Fails loudly."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "outeai_cli", *args],
        cwd=cwd,
        env=cli_env(url, cwd),
        input=stdin or b"",
        capture_output=True,
    )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"outeai {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()}"
        )
    return elapsed, proc.stdout.decode()


def run_lean(texts: list[str], jobs: int, url: str, out: Path) -> float:
    """Wall seconds of the lean client fetching `texts`, `jobs` at a time, into `out`."""
    out.mkdir()
    lines = "".join(json.dumps(text) + "\n" for text in texts).encode()
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", LEAN_CLIENT, url, str(jobs), str(out)], input=lines, check=True
    )
    elapsed = time.monotonic() - started
    if len(list(out.iterdir())) != len(texts):
        raise SystemExit("the lean client did not get every text's audio")
    return elapsed


def ratios(elapsed: float, lean: float, ideal: float, target: float) -> tuple[str, bool]:
    ok = elapsed / lean <= target
    return (
        f"  wall {elapsed:.2f} s, lean client {lean:.2f} s: {elapsed / lean:.3f}x "
        f"(target <= {target:.2f}x)  {verdict(ok)}; ideal {ideal:.2f} s: outeai "
        f"{elapsed / ideal:.3f}x, lean client {lean / ideal:.3f}x"
    ), ok


def peak_rss_mib(args: list[str], url: str, cwd: Path) -> float:
    """Peak RSS of one `outeai ARGS` run, from wait4 on that very child."""
    env = cli_env(url, cwd)
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"outeai {' '.join(args)} failed ({proc.returncode})")
    return usage.ru_maxrss / 1024  # KiB on Linux


def audio_seconds(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / info.samplerate


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    failures = 0
    work = Path(tempfile.mkdtemp(prefix="outeai-bench-longtext-"))
    server, url = start_server("--latency", str(LATENCY), "--max-chars", "200")
    try:
        # 1. 20,000 characters, cap 200, 4 at a time
        text = book(20_000)[:20_000]
        (work / "book.txt").write_text(text, encoding="utf-8")
        from outeai_cli.synthesis.splitting import split_text

        pieces = [piece.text for piece in split_text(text, 200, language="en")]
        lean = run_lean(pieces, 4, url, work / "lean-book")
        elapsed, out = run_outeai(
            ["say", "-f", "book.txt", "-o", "book.flac", "-j", "4", "--no-cache", "-q", "--json"],
            url,
            work,
        )
        report = json.loads(out)
        if report["pieces"] != len(pieces):
            raise SystemExit(f"say made {report['pieces']} pieces, the lean client {len(pieces)}")
        line, ok = ratios(elapsed, lean, len(pieces) * LATENCY / 4, 1.15)
        failures += not ok
        print(
            f"say, {len(text):,} characters, cap 200, -j 4: {report['pieces']} pieces, "
            f"{report['duration']:.0f} s of audio, {report['bytes'] / 2**20:.1f} MiB FLAC"
        )
        print(line)

        # 2. 200 short texts, 8 at a time
        texts = [f"Short text number {i} for the batch run." for i in range(200)]
        lines = "".join(text + "\n" for text in texts)
        lean = run_lean(texts, 8, url, work / "lean-batch")
        elapsed, out = run_outeai(
            ["batch", "-", "-o", "batch", "-j", "8", "--no-cache", "-q", "--json"],
            url,
            work,
            stdin=lines.encode(),
        )
        summary = json.loads(out)
        line, ok = ratios(elapsed, lean, 200 * LATENCY / 8, 1.10)
        ok = ok and summary["made"] == 200
        failures += not ok
        print(f"batch, 200 short texts, -j 8: {summary['made']} made, {summary['failed']} failed")
        print(line)
    finally:
        server.terminate()
        server.wait()

    # 3. memory as the text grows (no latency: only the client's footprint matters here)
    server, url = start_server("--max-chars", "200")
    try:
        peaks = []
        for size in (5_000, 20_000, 80_000):
            name = f"book{size}.txt"
            (work / name).write_text(book(size, seed=size)[:size], encoding="utf-8")
            output = f"book{size}.flac"
            rss = peak_rss_mib(
                ["say", "-f", name, "-o", output, "-j", "4", "--no-cache", "-q"], url, work
            )
            seconds = audio_seconds(work / output)
            peaks.append(rss)
            print(
                f"say, {size:,} characters: {seconds / 60:.1f} min of audio "
                f"({seconds * 44100 * 2 / 2**20:.0f} MiB as 16-bit samples), peak RSS {rss:.1f} MiB"
            )
        growth = peaks[-1] - peaks[0]
        ok = growth <= 25
        failures += not ok
        print(
            f"  peak RSS grows {growth:+.1f} MiB from 5k to 80k characters "
            f"(target: flat, <= 25 MiB)  {verdict(ok)}"
        )
    finally:
        server.terminate()
        server.wait()
    print("PASS" if not failures else f"FAIL: {failures} target(s) missed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

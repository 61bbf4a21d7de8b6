"""Benchmark: receive 1 to 100 MiB of audio with `outeai say`, against curl and the official SDK.

Run it with `make bench` or `.venv/bin/python benchmarks/bench_stream.py` (about a minute).
Each audio size gets a fresh `outeai serve --engine tone --pad-audio-mib N --port 0`, warmed up
once (the server caches the encoded audio, so timed requests measure streaming, not encoding).
The targets are about what receiving costs, not start-up (benchmarks/bench_startup.py measures
that): what `say` adds from the smallest to the largest size, against what curl adds from the
same server answering from memory; and at the largest size, against a server that encodes every
request (as the service generates every request), `say`'s wall against curl's.

How it measures (children only, never this process):
- wall time: `time.perf_counter()` around each child, median of several runs;
- peak RSS: GNU time's `%M` (the child's own max resident set, from wait4). GNU time is a small
  process, so its figure is not inflated by the benchmark's memory the way a plain
  fork/exec from Python can be (Linux carries the parent's high-water RSS into the exec'd child).
  Without /usr/bin/time it falls back to os.wait4 on the child, flagged as an upper bound;
- byte identity: the audio curl received is decoded independently (json + base64 in a child
  process) and its SHA-256 compared with every other tool's output file.

Exits 1 if any target is missed; it prints PASS or FAIL for each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from _serving import SDK_SCRIPT, outeai_command  # benchmarks/_serving.py (scripts run from here)
from bench_verify import check_in_child

TOKEN = "bench-token"
TEXT = "Hello there, this is a benchmark."
SENTENCE = "The quick brown fox jumps over the lazy dog."
SIZES_MIB = (1, 4, 20, 100)
SDK_SIZES_MIB = (1, 4)  # the SDK is quadratic in the audio size: small sizes only
GNU_TIME = "/usr/bin/time"
MIB = 1024 * 1024

# Targets.
GROWTH_RATIO = 1.5  # what say adds from the smallest to the largest size, over what curl adds
COLD_RATIO = 1.05  # say's wall over curl's at the largest size, the server encoding each request
RSS_LIMIT_MIB = 64.0
RSS_FLAT_MIB = 10.0


@dataclass
class Run:
    wall: float
    rss_mib: float


@dataclass
class Row:
    size_mib: int
    tool: str
    runs: list[Run] = field(default_factory=list)
    identical: bool | None = None

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mib for r in self.runs)


@dataclass
class Target:
    name: str
    measured: str
    ok: bool


class Bench:
    def __init__(self, workdir: Path, repeats: int) -> None:
        self.workdir = workdir
        self.repeats = repeats
        self.gnu_time = _has_gnu_time()
        self.env = _child_env(workdir)
        self.outeai = outeai_command()

    # -- running children ------------------------------------------------------------------
    def measure(
        self, argv: Sequence[str], *, stdout: Path | None = None, env: dict[str, str] | None = None
    ) -> Run:
        """Run one child to completion; its wall time and peak RSS. Fails loudly on error."""
        rss_file = self.workdir / "rss.txt"
        out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
        err = open(self.workdir / "stderr.txt", "wb")  # noqa: SIM115
        try:
            if self.gnu_time:
                argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv]
            started = time.perf_counter()
            proc = subprocess.Popen(
                argv, stdout=out, stderr=err, env={**self.env, **(env or {})}, cwd=self.workdir
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdout:
                out.close()  # type: ignore[union-attr]
            err.close()
        if proc.returncode != 0:
            detail = (self.workdir / "stderr.txt").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{shlex.join(argv)} exited {proc.returncode}:\n{detail}")
        rss_kib = int(rss_file.read_text().split()[-1]) if self.gnu_time else usage.ru_maxrss
        return Run(wall, rss_kib / 1024)

    def curl(self, url: str, text: str, out: Path) -> tuple[Run, float]:
        """curl saving the raw response: its Run and curl's own time_total."""
        body = self.workdir / "body.json"
        body.write_text(
            json.dumps(
                {"token": TOKEN, "text": text, "speaker": {"default": "EN-FEMALE-1-NEUTRAL"}}
            )
        )
        timing = self.workdir / "curl-time.txt"
        argv = [
            "curl", "-sS", "--fail", "--noproxy", "*", "-o", str(out),
            "-H", "Content-Type: application/json", "--data-binary", f"@{body}",
            "-w", "%{time_total}", url + "/tts",
        ]  # fmt: skip
        run = self.measure(argv, stdout=timing)
        return run, float(timing.read_text().strip())

    def say(self, url: str, text: str, out: Path, *, to_stdout: bool = False) -> Run:
        env = {"OUTEAI_BASE_URL": url, "OUTEAI_TOKEN": TOKEN}
        if to_stdout:
            return self.measure([*self.outeai, "say", text, "-o", "-"], stdout=out, env=env)
        return self.measure([*self.outeai, "say", text, "-o", str(out), "--force"], env=env)

    def sdk(self, url: str, text: str, out: Path) -> Run:
        return self.measure([sys.executable, "-c", SDK_SCRIPT, url + "/tts", TOKEN, text, str(out)])

    # -- the server ------------------------------------------------------------------------
    @contextmanager
    def server(self, pad_mib: float) -> Iterator[str]:
        log = self.workdir / f"serve-{pad_mib}.log"
        argv = [*self.outeai, "serve", "--engine", "tone", "--port", "0"]
        if pad_mib:
            argv += ["--pad-audio-mib", str(pad_mib)]
        with open(log, "wb") as err:
            proc = subprocess.Popen(argv, stderr=err, stdout=subprocess.DEVNULL, env=self.env)
        try:
            yield _wait_for_banner(proc, log)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the two parts of the benchmark -------------------------------------------------------
check_seconds: dict[int, float] = {}  # size -> seconds the decode check of say's output takes


reference_seconds: dict[int, float] = {}  # size -> seconds libFLAC's own `flac -t` takes


def check_time(path: Path, runs: int = 3) -> float:
    """Median seconds `verify.check_audio` takes on `path` (bench_verify's child process)."""
    return statistics.median(check_in_child(path, "flac")[0] for _ in range(runs))


def reference_time(path: Path, runs: int = 3) -> float | None:
    """Median seconds the reference decoder takes to test `path` (`flac -t`: every frame
    decoded, the MD5 compared), the floor of any complete decode; None without `flac`."""
    if shutil.which("flac") is None:
        return None
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(["flac", "-t", "-s", str(path)], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_sizes(bench: Bench, sizes: Sequence[int], sdk_sizes: Sequence[int]) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        with bench.server(size) as url:
            raw = bench.workdir / "curl.ndjson"
            bench.curl(url, TEXT, raw)  # warm-up: the server encodes and caches the audio
            reference = reference_digest(raw)
            out = bench.workdir / "out.flac"
            bench.say(url, TEXT, out)  # warm-up: the CLI's modules into the page cache
            curl = Row(size, "curl (floor)", identical=True)
            say = Row(size, "outeai say -o FILE")
            say_pipe = Row(size, "outeai say -o - >FILE")
            for _ in range(bench.repeats):
                raw.unlink()  # every tool starts without an output file to replace
                curl.runs.append(bench.curl(url, TEXT, raw)[0])
                say.runs.append(bench.say(url, TEXT, out))
                say.identical = _same(say.identical, file_digest(out) == reference)
                out.unlink()
                say_pipe.runs.append(bench.say(url, TEXT, out, to_stdout=True))
                say_pipe.identical = _same(say_pipe.identical, file_digest(out) == reference)
                out.unlink()
            bench.say(url, TEXT, out)
            check_seconds[size] = check_time(out)
            floor = reference_time(out)
            if floor is not None:
                reference_seconds[size] = floor
            out.unlink()
            rows += [curl, say, say_pipe]
            if size in sdk_sizes:
                sdk = Row(size, "official SDK 0.2.1")
                sdk.runs.append(bench.sdk(url, TEXT, out))
                sdk.identical = file_digest(out) == reference
                out.unlink()
                rows.append(sdk)
            raw.unlink()
        print(f"  {size} MiB done", file=sys.stderr, flush=True)
    return rows


def bench_cold(bench: Bench, size: int, runs: int) -> tuple[Row, Row]:
    """Each request a new text, so the server synthesizes and encodes the audio again, as a
    real service generates every request; curl and say take turns."""
    curl = Row(size, "curl (floor), cold")
    say = Row(size, "outeai say -o FILE, cold")
    with bench.server(size) as url:
        raw = bench.workdir / "cold.ndjson"
        out = bench.workdir / "cold.flac"
        for run in range(runs):
            curl.runs.append(bench.curl(url, f"{TEXT} Cold run {run}, curl.", raw)[0])
            raw.unlink()
            say.runs.append(bench.say(url, f"{TEXT} Cold run {run}, say.", out))
            out.unlink()
    return curl, say


# -- reporting -------------------------------------------------------------------------------
def print_table(rows: list[Row]) -> None:
    floors = {r.size_mib: r for r in rows if r.tool == "curl (floor)"}
    print(
        f"{'audio':>7}  {'tool':<22} {'runs':>4} {'wall s':>8} {'peak RSS MiB':>13}"
        f" {'wall/curl':>10} {'RSS/curl':>9}  identical"
    )
    for row in rows:
        floor = floors[row.size_mib]
        same = "reference" if row is floor else ("yes" if row.identical else "NO")
        print(
            f"{row.size_mib:>3} MiB  {row.tool:<22} {len(row.runs):>4} {row.wall:>8.3f}"
            f" {row.rss:>13.1f} {row.wall / floor.wall:>9.2f}x {row.rss / floor.rss:>8.2f}x"
            f"  {same}"
        )


def print_breakdown(rows: list[Row]) -> None:
    """Split each tool's wall time into its cost at the smallest size and the growth above it.

    Informational: at the smallest size the time is mostly start-up (the interpreter and its
    imports for `say`); the growth is what streaming the extra audio costs.
    """
    say = {r.size_mib: r for r in rows if r.tool == "outeai say -o FILE"}
    curl = {r.size_mib: r for r in rows if r.tool == "curl (floor)"}
    base = min(say)
    print(
        f"at {base} MiB (mostly start-up): say {say[base].wall:.3f} s, curl {curl[base].wall:.3f} s"
    )
    for size in sorted(say):
        if size == base:
            continue
        grow_say = say[size].wall - say[base].wall
        grow_curl = curl[size].wall - curl[base].wall
        ratio = f"{grow_say / grow_curl:.2f}x" if grow_curl > 0 else "n/a"
        print(
            f"growth {base} -> {size} MiB: say {grow_say:+.3f} s, curl {grow_curl:+.3f} s ({ratio})"
        )


def size_targets(rows: list[Row]) -> list[Target]:
    say = {r.size_mib: r for r in rows if r.tool.startswith("outeai say -o FILE")}
    curl = {r.size_mib: r for r in rows if r.tool == "curl (floor)"}
    biggest, smallest = max(say), min(say)
    all_say = [r for r in rows if r.tool.startswith("outeai")]
    targets = []
    grow_curl = curl[biggest].wall - curl[smallest].wall
    grow_check = check_seconds[biggest] - check_seconds[smallest]
    print(
        f"decode check of say's output (every output passes it before its commit): "
        f"{check_seconds[smallest]:.3f} s at {smallest} MiB, {check_seconds[biggest]:.3f} s at "
        f"{biggest} MiB"
    )
    if biggest in reference_seconds and smallest in reference_seconds:
        grow_reference = reference_seconds[biggest] - reference_seconds[smallest]
        print(
            f"the reference decoder alone (`flac -t`) adds {grow_reference:+.3f} s from "
            f"{smallest} to {biggest} MiB, {grow_reference / grow_curl:.2f}x what curl adds: the "
            "floor of any client that fully decodes an output before committing it"
        )
    else:
        print("(install flac to compare the check with the reference decoder, `flac -t`)")
    for tool in ("outeai say -o FILE", "outeai say -o - >FILE"):
        runs = {r.size_mib: r for r in rows if r.tool == tool}
        grow_say = runs[biggest].wall - runs[smallest].wall
        receive = grow_say - grow_check
        print(
            f"{tool}: receiving alone (growth minus the check) adds {receive:+.3f} s, "
            f"{receive / grow_curl:.2f}x what curl adds ({grow_curl:+.3f} s); against curl "
            f"followed by the same check: {(receive + grow_check) / (grow_curl + grow_check):.2f}x"
        )
        ratio = grow_say / grow_curl if grow_curl > 0 else float("inf")
        targets.append(
            Target(
                f"{tool}: added {smallest}->{biggest} MiB <= {GROWTH_RATIO}x what curl adds",
                f"{grow_say:+.3f} s / {grow_curl:+.3f} s = {ratio:.2f}x",
                ratio <= GROWTH_RATIO,
            )
        )
    peak = max(r.rss for r in all_say)
    targets.append(
        Target(
            f"say peak RSS <= {RSS_LIMIT_MIB:.0f} MiB (every size, -o FILE and -o -)",
            f"max {peak:.1f} MiB",
            peak <= RSS_LIMIT_MIB,
        )
    )
    growth = say[biggest].rss - say[smallest].rss
    targets.append(
        Target(
            f"say RSS flat {smallest}->{biggest} MiB (within {RSS_FLAT_MIB:.0f} MiB)",
            f"{say[smallest].rss:.1f} -> {say[biggest].rss:.1f} MiB ({growth:+.1f})",
            abs(growth) <= RSS_FLAT_MIB,
        )
    )
    identical = all(r.identical for r in rows)
    targets.append(
        Target("outputs byte-identical to curl's decoded audio", str(identical), identical)
    )
    return targets


# -- helpers -----------------------------------------------------------------------------------
_DECODE_REFERENCE = """
import base64, hashlib, json, sys
for line in open(sys.argv[1], "rb"):
    event = json.loads(line) if line.strip() else {}
    if "data" in event:
        print(hashlib.sha256(base64.b64decode(event["data"]["audio_bytes"])).hexdigest())
"""


def reference_digest(raw: Path) -> str:
    """SHA-256 of the audio in a saved response, decoded the obvious way in a child process."""
    out = subprocess.run(
        [sys.executable, "-c", _DECODE_REFERENCE, str(raw)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if len(out) != 1:
        raise RuntimeError(f"the saved response {raw} does not hold exactly one audio event")
    return out[0]


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _same(previous: bool | None, now: bool) -> bool:
    return now if previous is None else previous and now


def _wait_for_banner(proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"listening on (http://\S+)", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"outeai serve exited early:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError("outeai serve printed no 'listening on' banner within 30 s")


def _has_gnu_time() -> bool:
    if not os.access(GNU_TIME, os.X_OK):
        return False
    probe = subprocess.run([GNU_TIME, "-f", "%M", "true"], capture_output=True, text=True)
    return probe.returncode == 0 and probe.stderr.strip().isdigit()


def _child_env(workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OUTEAI_")
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    # Children may cache bytecode, as a pip-installed package has it: an environment that sets
    # PYTHONDONTWRITEBYTECODE would otherwise recompile the editable package on every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # A private config dir, so a user's config file cannot change what is measured.
    env.update(
        XDG_CONFIG_HOME=str(workdir / "config"),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES_MIB),
        metavar="MIB",
        help="audio sizes; the targets use the smallest and the largest",
    )
    parser.add_argument(
        "--sdk-sizes",
        type=int,
        nargs="*",
        default=list(SDK_SIZES_MIB),
        metavar="MIB",
        help="sizes at which to also run the official SDK (quadratic: keep them small)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per tool and size")
    parser.add_argument(
        "--cold-runs",
        type=int,
        default=3,
        help="runs against a server encoding every request (0: skip that target)",
    )
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        print("bench_stream: curl is needed (apt-get install curl)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="outeai-bench-") as tmp:
        bench = Bench(Path(tmp), args.repeats)
        if not bench.gnu_time:
            print(
                "bench_stream: /usr/bin/time (GNU time) not found: peak RSS comes from os.wait4 "
                "and is an upper bound (it can include this process's own RSS)",
                file=sys.stderr,
            )
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs", file=sys.stderr)
        targets: list[Target] = []
        rows = bench_sizes(bench, args.sizes, args.sdk_sizes)
        print()
        print_table(rows)
        print()
        print_breakdown(rows)
        targets += size_targets(rows)
        if args.cold_runs:
            cold_curl, cold_say = bench_cold(bench, max(args.sizes), args.cold_runs)
            ratio = cold_say.wall / cold_curl.wall
            biggest = max(args.sizes)
            if biggest in reference_seconds:
                floor = (cold_curl.wall + reference_seconds[biggest]) / cold_curl.wall
                print(
                    f"cold, {biggest} MiB: curl {cold_curl.wall:.3f} s; curl then `flac -t` "
                    f"{cold_curl.wall + reference_seconds[biggest]:.3f} s = {floor:.2f}x curl"
                )
            targets.append(
                Target(
                    f"{cold_say.size_mib} MiB, server encoding each request: say wall <= "
                    f"{COLD_RATIO}x curl (median of {args.cold_runs})",
                    f"{cold_say.wall:.3f} s / {cold_curl.wall:.3f} s = {ratio:.2f}x",
                    ratio <= COLD_RATIO,
                )
            )
    print()
    for target in targets:
        print(f"{'PASS' if target.ok else 'FAIL'}  {target.name}: {target.measured}")
    return 0 if all(t.ok for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())

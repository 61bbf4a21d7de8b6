"""Benchmark: the fixed cost of a call, what a shell script calling `outeai` once per line feels.

Measured in one run, alternating the commands of each comparison (median of --runs):
- one sentence, `outeai say TEXT -o FILE -q`, against the official SDK 0.2.1 doing the same
  (`TTSClient(token).generate(...).save(...)`), both against one local `outeai serve --engine
  tone`; then the same `say` without -q, its progress going to a pipe;
- `outeai --help`, `outeai config get speaker` and `outeai voices --local` against
  `python -c "import typer"`.
Prints each median, the ratios, and PASS/FAIL against the targets; exits 1 on a FAIL.
`--importtime` also prints the biggest imports of the quiet `say` (from `python -X importtime`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _serving import SDK_SCRIPT, outeai_command, start_server

TEXT = "Hello there, how are you today?"
TOKEN = "bench-token"
QUIET_SAY_VS_SDK = 1.0
PIPED_SAY_VS_SDK = 1.1
LIGHT_VS_TYPER = 1.25


def wall(argv: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-500:]!r}")
    return elapsed


def alternate(
    commands: dict[str, list[str]], env: dict[str, str], cwd: Path, runs: int
) -> dict[str, float]:
    """Median wall of each command, the commands taking turns so load drift hits all alike;
    each round starts with the next one, so none always runs just after the same neighbour
    (the server may still be finishing the previous request)."""
    for argv in commands.values():  # warm the page cache and the server's keep-alive paths
        wall(argv, env, cwd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for run in range(runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            times[name].append(wall(commands[name], env, cwd))
    return {name: statistics.median(values) for name, values in times.items()}


def import_breakdown(argv: list[str], env: dict[str, str], cwd: Path, top: int = 12) -> str:
    """The top-level packages a command imports, by cumulative import time."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "outeai_cli", *argv[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    totals: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        _, self_us, _, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
        if not self_us.isdigit():
            continue
        package = name.split(".")[0]
        totals[package] = totals.get(package, 0) + int(self_us)
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    total_ms = sum(totals.values()) / 1000
    rows = "\n".join(f"  {name:<22} {us / 1000:7.1f} ms" for name, us in ranked)
    return f"imports of `{' '.join(argv[1:])}`: {total_ms:.1f} ms in all\n{rows}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (median)")
    parser.add_argument("--importtime", action="store_true", help="print the import breakdown")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="outeai-bench-startup-"))
    server, url = start_server()
    try:
        env = {
            **os.environ,
            "OUTEAI_BASE_URL": url,
            "OUTEAI_TOKEN": TOKEN,
            "XDG_CONFIG_HOME": str(workdir / "config"),
            "XDG_CACHE_HOME": str(workdir / "cache"),
            "NO_COLOR": "1",
        }
        # An installed tool runs from compiled .pyc files: let the warm-up runs write them
        # (an editable install, or PYTHONDONTWRITEBYTECODE, would compile every module anew).
        for name in ("OUTEAI_API", "OUTEAI_PROFILE", "OUTEAI_CONFIG", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        outeai = outeai_command()
        quiet_say = [*outeai, "say", TEXT, "-o", "say.flac", "-q", "--force"]
        piped_say = [*outeai, "say", TEXT, "-o", "say.flac", "--force"]
        sdk = [sys.executable, "-c", SDK_SCRIPT, url + "/tts", TOKEN, TEXT, "sdk.flac"]
        typer_only = [sys.executable, "-c", "import typer"]

        requests = alternate(
            {"sdk": sdk, "quiet": quiet_say, "piped": piped_say}, env, workdir, args.runs
        )
        light = alternate(
            {
                "typer": typer_only,
                "help": [*outeai, "--help"],
                "config": [*outeai, "config", "get", "speaker"],
                "voices": [*outeai, "voices", "--local"],
            },
            env,
            workdir,
            args.runs,
        )
        if args.importtime:
            print(import_breakdown(quiet_say, env, workdir), end="\n\n")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:6.0f} ms"

    checks = [
        ("outeai say -o FILE -q", requests["quiet"], requests["sdk"], QUIET_SAY_VS_SDK, "SDK"),
        ("outeai say -o FILE, piped", requests["piped"], requests["sdk"], PIPED_SAY_VS_SDK, "SDK"),
        ("outeai --help", light["help"], light["typer"], LIGHT_VS_TYPER, "import typer"),
        ("outeai config get speaker", light["config"], light["typer"], LIGHT_VS_TYPER, "import typer"),
        ("outeai voices --local", light["voices"], light["typer"], LIGHT_VS_TYPER, "import typer"),
    ]  # fmt: skip
    print(f"median of {args.runs} alternating runs, one sentence against outeai serve (tone)")
    print(f"  {'official SDK 0.2.1 script':<28} {ms(requests['sdk'])}")
    print(f"  {'python -c import typer':<28} {ms(light['typer'])}")
    failed = False
    for label, measured, baseline, target, against in checks:
        ratio = measured / baseline
        ok = ratio <= target
        failed |= not ok
        verdict = "PASS" if ok else "FAIL"
        print(
            f"{verdict}  {label:<26} {ms(measured)}  {ratio:.2f}x {against} (target <= {target}x)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The decode check every output passes before it is committed: its cost and its memory.

For each output format, a file of speech-like audio (a tone with noise, 24 kHz mono as the
service sends) is checked with `outeai_cli.audio.verify.check_audio`, which walks the container and
decodes every frame. Prints seconds per 100 MiB of file and per hour of audio, and the peak
RSS growth, which must stay flat (the check streams in 64k-frame blocks). WAV and FLAC files
are 100 MiB; MP3 and Ogg (slow to encode, small per hour) are scaled from 10 MiB.

    python benchmarks/bench_verify.py [--mib 100]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from outeai_cli.audio.formats import OUTPUT_FORMATS

RATE = 24000
BLOCK = RATE * 60  # write a minute at a time
RSS_LIMIT_MIB = 64  # growth allowed while checking


def make_file(path: Path, fmt: str, target_mib: float) -> float:
    """Write about `target_mib` MiB of audio in `fmt`; returns its seconds of audio."""
    container, subtype = OUTPUT_FORMATS[fmt]
    rng = np.random.default_rng(7)
    seconds = 0.0
    with sf.SoundFile(path, "w", RATE, 1, format=container, subtype=subtype or "PCM_16") as writer:
        while path.stat().st_size < target_mib * 2**20:
            t = (np.arange(BLOCK) + seconds * RATE) / RATE
            tone = 0.3 * np.sin(2 * np.pi * (180 + 40 * np.sin(t)) * t)
            writer.write(tone + 0.05 * rng.standard_normal(BLOCK))
            seconds += BLOCK / RATE
    return seconds


CHILD = """
import json, resource, sys, time
from outeai_cli.audio.verify import check_audio
import _soundfile  # the decoder's declarations, imported before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
check = check_audio(sys.argv[1], expected=sys.argv[2])
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps([elapsed, check.seconds, (peak - before) / 1024, peak / 1024]))
"""


def check_in_child(path: Path, fmt: str) -> tuple[float, float, float, float]:
    """(seconds the check took, seconds of audio it found, peak RSS growth and peak, MiB), measured
    in a fresh interpreter so that making the file does not hide the check's peak."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), fmt], check=True, capture_output=True, text=True
    ).stdout
    elapsed, seconds, grown, peak = json.loads(out)
    return elapsed, seconds, grown, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=100.0, help="size of the WAV and FLAC files")
    args = parser.parse_args()
    failed = False
    print(
        f"{'format':<6} {'file MiB':>9} {'audio h':>8} {'check s':>8} {'s/100 MiB':>10}"
        f" {'s/audio h':>10} {'RSS +MiB':>9} {'peak MiB':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("wav", "flac", "ogg", "mp3"):
            path = Path(tmp) / f"bench.{fmt}"
            size_mib = args.mib if fmt in ("wav", "flac") else min(args.mib, 10.0)
            seconds = make_file(path, fmt, size_mib)
            mib = path.stat().st_size / 2**20
            elapsed, checked, grown, peak = check_in_child(path, fmt)
            assert abs(checked - seconds) < 1, (checked, seconds)
            hours = seconds / 3600
            print(
                f"{fmt:<6} {mib:>9.1f} {hours:>8.2f} {elapsed:>8.2f} {elapsed / mib * 100:>10.2f}"
                f" {elapsed / hours:>10.2f} {grown:>9.1f} {peak:>9.1f}"
            )
            failed |= grown > RSS_LIMIT_MIB
            path.unlink()
    print("memory: " + ("FAIL (grew with the file)" if failed else "PASS (flat)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Speaking offline (`outeai say --offline`) beside the `piper` program on the same text.

1. First call: `outeai say --offline SENTENCE -o FILE` with no engine running (it starts
   one) against `piper -m MODEL -f FILE -- SENTENCE` (Python, onnxruntime, the model, one
   sentence). Target: at most the piper program's time + 0.2 s (medians, alternated rounds).
2. Later calls: the same `say` again while the engine is warm, as a shell loop makes them.
   Target: at most 0.35 s each (median).
3. Long text: a few hundred words, once warm, as seconds of audio per second of wall time,
   beside the piper program speaking the same text into one WAV. Target: 10x real time.

Each process is timed from start to exit. The engine runs from a private runtime directory (a
temporary XDG_RUNTIME_DIR) with fresh config and cache directories, so nothing of yours is
used or left behind; it is stopped at the end. Needs the `voice` extra.

    python benchmarks/bench_offline.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

SENTENCE = "The quick brown fox jumps over the lazy dog beside the quiet river."
# Every sentence once: a repeated piece would come from the cache, not the engine.
LONG_TEXT = " ".join(
    [
        "It was a bright cold day in April, and the clocks were striking thirteen.",
        "The hallway smelt of boiled cabbage and old rag mats.",
        "At one end of it a coloured poster, too large for indoor display, had been tacked "
        "to the wall.",
        "It depicted simply an enormous face, more than a metre wide.",
        "Winston made for the stairs; it was no use trying the lift.",
        "Even at the best of times it was seldom working, and at present the electric "
        "current was cut off during daylight hours.",
        "It was part of the economy drive in preparation for Hate Week.",
        "The flat was seven flights up, and Winston, who was thirty-nine, went slowly.",
        "On each landing, opposite the lift shaft, the poster gazed from the wall.",
        "It was one of those pictures which are so contrived that the eyes follow you about.",
        "Inside the flat a fruity voice was reading out a list of figures.",
        "The voice came from an oblong metal plaque like a dulled mirror.",
        "Winston turned a switch and the voice sank somewhat, though the words were still "
        "distinguishable.",
        "The instrument could be dimmed, but there was no way of shutting it off completely.",
        "He moved over to the window: a smallish, frail figure in blue overalls.",
        "His hair was very fair, his face naturally sanguine, his skin roughened by coarse "
        "soap and blunt razor blades.",
        "Outside, even through the shut window pane, the world looked cold.",
        "Down in the street little eddies of wind were whirling dust and torn paper into spirals.",
        "Though the sun was shining and the sky a harsh blue, there seemed to be no colour "
        "in anything.",
        "The black moustachio'd face gazed down from every commanding corner.",
        "There was one on the house front immediately opposite.",
        "Down at street level another poster, torn at one corner, flapped fitfully in the wind.",
        "In the far distance a helicopter skimmed down between the roofs.",
        "It hovered for an instant like a bluebottle, and darted away again with a curving flight.",
    ]
)
FIRST_MARGIN = 0.2
LATER_TARGET = 0.35
LONG_TARGET = 10.0


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, timeout=600)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args[:3])}... failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return took


def audio_seconds(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / info.samplerate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--later", type=int, default=5, help="warm calls per round")
    args = parser.parse_args()

    from outeai_cli.server.piper import find_program, packaged_model

    model, piper = packaged_model(), find_program()
    if model is None or piper is None:
        sys.exit("needs the voice extra: pip install -e '.[voice]'")
    outeai = str(Path(sys.executable).with_name("outeai"))
    work = Path(tempfile.mkdtemp(prefix="bench-offline-"))
    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OUTEAI_")},
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    say = [outeai, "say", "--offline", "-q", "--force"]
    piper_cli = [piper, "-m", str(model.path), "-c", str(model.config)]
    stop = [outeai, "engine", "stop"]
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.2f} on {os.cpu_count()} cores")

    firsts, pipers, laters = [], [], []
    try:
        for round_ in range(args.rounds):
            timed(stop, env, work)
            runs = [("piper", [*piper_cli, "-f", "p.wav", "--", SENTENCE])]
            runs.append(("first", [*say, SENTENCE, "-o", "first.flac"]))
            for name, command in runs if round_ % 2 == 0 else reversed(runs):
                took = timed(command, env, work)
                (pipers if name == "piper" else firsts).append(took)
            for _ in range(args.later):
                laters.append(timed([*say, SENTENCE, "-o", "later.flac"], env, work))
        (work / "long.txt").write_text(LONG_TEXT + "\n", encoding="utf-8")
        long_took = timed([*say, "-f", "long.txt", "-o", "long.flac", "--no-cache"], env, work)
        long_audio = audio_seconds(work / "long.flac")
        with (work / "long.txt").open("rb") as text:
            started = time.perf_counter()
            subprocess.run(
                [*piper_cli, "-f", "long.wav"], stdin=text, env=env, cwd=work, check=True,
                capture_output=True,
            )  # fmt: skip
            piper_long_took = time.perf_counter() - started
        with wave.open(str(work / "long.wav")) as wav:
            piper_long_audio = wav.getnframes() / wav.getframerate()
    finally:
        timed(stop, env, work)

    first, piper_first, later = map(statistics.median, (firsts, pipers, laters))
    long_speed, piper_speed = long_audio / long_took, piper_long_audio / piper_long_took
    print(f"one sentence ({len(SENTENCE)} characters), median of {args.rounds} rounds:")
    print(f"  piper program                 {piper_first:6.3f} s")
    verdict = "PASS" if first <= piper_first + FIRST_MARGIN else "FAIL"
    print(
        f"  first offline call            {first:6.3f} s  ({first - piper_first:+.3f} s; "
        f"target <= +{FIRST_MARGIN} s) {verdict}"
    )
    verdict = "PASS" if later <= LATER_TARGET else "FAIL"
    print(
        f"  later calls (engine warm)     {later:6.3f} s  (max {max(laters):.3f} s; "
        f"target <= {LATER_TARGET} s) {verdict}"
    )
    print(f"long text ({len(LONG_TEXT)} characters), engine warm:")
    print(
        f"  piper program                 {piper_long_took:6.2f} s for {piper_long_audio:.1f} s "
        f"of audio = {piper_speed:.1f}x real time"
    )
    verdict = "PASS" if long_speed >= LONG_TARGET else "FAIL"
    print(
        f"  outeai say --offline          {long_took:6.2f} s for {long_audio:.1f} s "
        f"of audio = {long_speed:.1f}x real time (target >= {LONG_TARGET:g}x) {verdict}"
    )
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A stand-in for `aplay` reading raw samples on stdin, for tests and benchmarks.

It consumes its input at the sample rate, as a sound card would: it keeps a small device
buffer (`BUFFER` seconds) and reads only while that has room, so its writer is held back by
the pipe exactly as by a real player. It records the moment of its first byte and every
underrun (the buffer ran dry, the pipe empty, before the input ended: a gap a listener would
hear; a gap while data was waiting in the pipe is this process starved by a loaded machine,
kept apart as a late wake-up), and can keep every byte it was given so a test can compare
what was "heard".

    install_standin(bin_dir) -> path   # an executable `aplay` in bin_dir; put bin_dir first on PATH

Environment: STANDIN_LOG (a JSON file written when it exits), STANDIN_CAPTURE (a file that
receives the samples as they are read), STANDIN_EXIT (an exit code to end with after the first byte, to act
a failing player).
"""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import sys
import time
from pathlib import Path

BUFFER = 0.2  # seconds of sound the "device" holds


def install_standin(bin_dir: Path, name: str = "aplay") -> Path:
    """Write an executable `name` into `bin_dir` that runs this stand-in."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(Path(__file__))!r}, run_name='__main__')\n"
    )
    script.chmod(0o755)
    return script


def read_log(path: Path) -> dict:
    return json.loads(path.read_text())


def _options(argv: list[str]) -> tuple[int, int]:
    rate, channels = 44100, 1
    for flag, value in itertools.pairwise(argv):
        if flag == "-r":
            rate = int(value)
        elif flag == "-c":
            channels = int(value)
        elif flag == "-f" and value != "S16_LE":
            raise SystemExit(f"stand-in player: unsupported sample format {value}")
    return rate, channels


def main() -> None:
    rate, channels = _options(sys.argv[1:])
    per_second = rate * channels * 2
    record: dict = {
        "args": sys.argv[1:],
        "rate": rate,
        "channels": channels,
        "started_at": time.monotonic(),
        "first_byte_at": None,
        "bytes": 0,
        "underruns": [],
        "late_wakeups": [],
        "end": "eof",
    }
    capture = (
        open(os.environ["STANDIN_CAPTURE"], "wb")  # noqa: SIM115 (closed by finish, or by the exit)
        if os.environ.get("STANDIN_CAPTURE")
        else None
    )
    fail_with = int(os.environ.get("STANDIN_EXIT", "0"))

    def finish(how: str) -> None:
        record["end"] = how
        record["end_at"] = time.monotonic()
        if capture is not None:
            capture.close()
        if os.environ.get("STANDIN_LOG"):
            Path(os.environ["STANDIN_LOG"]).write_text(json.dumps(record))

    def stopped(signum: int, frame: object) -> None:
        finish(signal.Signals(signum).name)
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, stopped)
    signal.signal(signal.SIGTERM, stopped)

    received = 0  # bytes
    base = 0  # bytes played when the clock last (re)started
    since: float | None = None  # when the clock last (re)started
    fd = sys.stdin.fileno()
    dry = False

    def played(now: float) -> int:
        if since is None:
            return 0
        return min(received, base + int((now - since) * per_second))

    while True:
        now = time.monotonic()
        held = received - played(now)
        room = int(BUFFER * per_second) - held
        if room <= 0:  # the device is full: wait for it to play some
            time.sleep(min(0.05, -room / per_second + 0.005))
            continue
        wait = held / per_second if since is not None else None
        ready, _, _ = select.select([fd], [], [], wait)
        now = time.monotonic()
        if not ready:
            dry = since is not None  # it ran dry, the pipe empty: the next data ends an underrun
            continue
        data = os.read(fd, min(room, 1 << 16))
        if not data:
            time.sleep(max(0.0, (received - played(now)) / per_second))
            finish("eof")
            return
        if record["first_byte_at"] is None:
            record["first_byte_at"] = now
            since, base = now, 0
        elif played(now) >= received:  # the buffer emptied before this was read
            dry_at = since + (received - base) / per_second
            # With the pipe seen empty, the writer was late: an underrun. Otherwise the data
            # was waiting and this process woke late (a loaded machine starved it).
            record["underruns" if dry else "late_wakeups"].append([dry_at, now - dry_at])
            since, base = now, received
        dry = False
        received += len(data)
        record["bytes"] = received
        if capture is not None:
            capture.write(data)
            capture.flush()  # a test may watch the capture grow to see playing under way
        if fail_with:
            finish("failed")
            print("stand-in player: failing as asked", file=sys.stderr)
            sys.exit(fail_with)


if __name__ == "__main__":
    main()

"""Shared by the benchmarks: start `outeai serve` (a free port) and find the `outeai` to time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# One synthesis through the official SDK (outeai 1.0), for comparisons:
# argv: API URL, token, text, output path.
SDK_SCRIPT = (
    "import sys\n"
    "from loguru import logger\n"
    "import outeai.api.v1 as v1\n"
    "logger.remove()\n"
    "v1.API_URL = sys.argv[1]\n"
    "v1.TTSClient(sys.argv[2]).generate(text=sys.argv[3], verbose=False).save(sys.argv[4])\n"
)


def start_server(*args: str, engine: str = "tone") -> tuple[subprocess.Popen[bytes], str]:
    # --quiet: nobody reads the pipe after the banner, so a request log would fill it.
    argv = ["serve", "--port", "0", "--quiet", "--engine", engine, *args]
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", *argv],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    match = re.search(r"listening on (\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, match.group(1)


def outeai_command() -> list[str]:
    """The installed `outeai` console script beside this interpreter, as users run it."""
    script = Path(sys.executable).parent / "outeai"
    return [str(script)] if script.exists() else [sys.executable, "-m", "outeai_cli"]

"""Every shell example in README.md runs as written (against local servers only).

Blocks fenced as ```sh are run verbatim with bash, one block per test, in a fresh directory.
A block preceded by `<!-- readme-test: skip (reason) -->` is not run (installing from PyPI,
the hosted API, the test command itself). Blocks that need a server get OUTEAI_BASE_URL and
OUTEAI_TOKEN pointing at the test's local server, as the README tells readers to export them;
blocks that start their own server do so on the port the README names.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(?P<marker><!-- readme-test: skip[^>]*-->\s*)?```sh\n(?P<body>.*?)```", re.S)


def sh_blocks() -> list[tuple[int, str, bool]]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        blocks.append((line, match.group("body"), match.group("marker") is not None))
    return blocks


def test_readme_has_runnable_examples() -> None:
    runnable = [b for b in sh_blocks() if not b[2]]
    assert len(runnable) >= 5, "README.md lost its runnable ```sh examples"


@pytest.mark.parametrize(
    ("line", "body", "skipped"), sh_blocks(), ids=lambda v: str(v) if isinstance(v, int) else ""
)
def test_readme_example_runs(line: int, body: str, skipped: bool, cli_env, tmp_path: Path) -> None:
    if skipped:
        pytest.skip(f"README.md line {line}: marked as not runnable here")
    bin_dir = str(Path(sys.executable).parent)
    env = {**cli_env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    # Files, not pipes: a background `outeai serve &` would hold a pipe open after bash exits.
    with (tmp_path / ".stdout").open("wb") as stdout, (tmp_path / ".stderr").open("wb") as stderr:
        proc = subprocess.Popen(
            ["bash", "-eu", "-c", body],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # so a background server is stopped with the group
        )
        try:
            proc.wait(timeout=90)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    out, err = (tmp_path / ".stdout").read_bytes(), (tmp_path / ".stderr").read_bytes()
    assert proc.returncode == 0, (
        f"README.md example at line {line} failed ({proc.returncode}):\n{body}\n"
        f"--- stdout ---\n{out.decode(errors='replace')[-2000:]}\n--- stderr ---\n{err.decode(errors='replace')[-2000:]}"
    )

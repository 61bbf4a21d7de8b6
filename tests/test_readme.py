"""Every shell example in README.md runs as written (against local servers only).

Blocks fenced as ```sh are run verbatim with bash, one block per test, in a fresh directory.
A block preceded by `<!-- readme-test: skip (reason) -->` is not run (installing from PyPI,
the hosted API, the test command itself). Blocks that need a server get OUTEAI_BASE_URL and
OUTEAI_TOKEN pointing at the test's local server, as the README tells readers to export them;
blocks that start their own server do so on the port the README names.

A block preceded by `<!-- readme-test: fresh-machine -->` is the set-up a new user types: it
runs in a copy of this clone, with a new home directory, no token, no setting and the PATH a
fresh login shell has there (not this test's virtualenv), so `outeai` is found only if the
block itself puts it where that shell looks. Its pip has no index: it installs from wheels
repacked from this environment (tests/wheelhouse.py), as a user's pip would from PyPI.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(
    r"(?:<!-- readme-test: (?P<kind>skip|fresh-machine)[^>]*-->\s*)?```sh\n(?P<body>.*?)```", re.S
)


def sh_blocks() -> list[tuple[int, str, str]]:
    """(line, body, kind): kind is "skip", "fresh-machine" or "" (run with the test's server)."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        blocks.append((line, match.group("body"), match.group("kind") or ""))
    return blocks


def test_readme_has_runnable_examples() -> None:
    runnable = [b for b in sh_blocks() if b[2] != "skip"]
    assert len(runnable) >= 5, "README.md lost its runnable ```sh examples"
    assert [b for b in sh_blocks() if b[2] == "fresh-machine"], "the set-up block is gone"


@pytest.mark.parametrize(
    ("line", "body", "kind"),
    [b for b in sh_blocks() if b[2] != "fresh-machine"],
    ids=lambda v: str(v) if isinstance(v, int) else "",
)
def test_readme_example_runs(line: int, body: str, kind: str, cli_env, tmp_path: Path) -> None:
    if kind == "skip":
        pytest.skip(f"README.md line {line}: marked as not runnable here")
    bin_dir = str(Path(sys.executable).parent)
    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # an offline engine's, if any
    env = {
        **cli_env,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "XDG_RUNTIME_DIR": str(runtime),
    }
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
            subprocess.run(["outeai", "engine", "stop"], env=env, capture_output=True, timeout=60)
            shutil.rmtree(runtime, ignore_errors=True)
    out, err = (tmp_path / ".stdout").read_bytes(), (tmp_path / ".stderr").read_bytes()
    assert proc.returncode == 0, (
        f"README.md example at line {line} failed ({proc.returncode}):\n{body}\n"
        f"--- stdout ---\n{out.decode(errors='replace')[-2000:]}\n--- stderr ---\n{err.decode(errors='replace')[-2000:]}"
    )


# -- the set-up on a fresh machine -------------------------------------------------------------

REPO = README.parent


def _fresh_home(home: Path) -> None:
    """A new user's home: the login profile Debian and Ubuntu give every user (it puts
    ~/.local/bin on PATH when that exists, as it does for anyone who ever ran pip --user)."""
    (home / ".local" / "bin").mkdir(parents=True)
    skel = Path("/etc/skel/.profile")
    profile = (
        skel.read_text(encoding="utf-8")
        if skel.is_file()
        else 'if [ -d "$HOME/.local/bin" ] ; then PATH="$HOME/.local/bin:$PATH"; fi\n'
    )
    (home / ".profile").write_text(profile, encoding="utf-8")


def _login_path(home: Path) -> str:
    """The PATH a fresh login shell of that user has on this machine."""
    shell = subprocess.run(
        ["bash", "-lc", 'printf %s "$PATH"'],
        env={"HOME": str(home), "USER": "root", "LOGNAME": "root", "TERM": "dumb"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return shell.stdout


def _clone(target: Path) -> None:
    """This clone's tracked files (as they are now) in `target`, modes kept."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.wheelhouse import build_wheelhouse

    return build_wheelhouse(
        tmp_path_factory.mktemp("wheels"),
        ["outeai-cli[voice]", "hatchling>=1.25"],
        leave_out="outeai-cli",
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("line", "body"),
    [(b[0], b[1]) for b in sh_blocks() if b[2] == "fresh-machine"],
    ids=lambda v: str(v) if isinstance(v, int) else "",
)
def test_readme_setup_runs_on_a_fresh_machine(
    line: int, body: str, wheelhouse: Path, tmp_path: Path
) -> None:
    from tests.spectral import SPEECH_MIN, audio_variation

    clone, home = tmp_path / "outeai", tmp_path / "home"
    _clone(clone)
    _fresh_home(home)
    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # a socket's path is short
    env = {
        "HOME": str(home),
        "USER": "root",
        "LOGNAME": "root",
        "PATH": _login_path(home),
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(runtime),
        # The user's pip as configured here, less the network: the same packages, as wheels.
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_NO_COMPILE": "1",
    }
    assert str(Path(sys.executable).parent) not in env["PATH"].split(os.pathsep)
    outeai = home / ".local" / "bin" / "outeai"
    try:
        proc = subprocess.run(
            ["bash", "-eu", "-c", body],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=540,
        )
        assert proc.returncode == 0, (
            f"README.md set-up at line {line} failed ({proc.returncode}):\n{body}\n"
            f"--- stderr ---\n{proc.stderr.decode(errors='replace')[-3000:]}"
        )
        status = subprocess.run(
            [str(outeai), "engine", "--json"], env=env, capture_output=True, timeout=60
        )
        engines = json.loads(status.stdout)
        assert [e["engine"] for e in engines] == ["piper"], engines  # the neural voice spoke
        spoken = sorted(clone.glob("*.flac"))
        assert spoken, "the set-up made no FLAC"
        for audio in spoken:
            assert audio_variation(audio.read_bytes()) > SPEECH_MIN, f"{audio.name} is no speech"
        # `man outeai-say` works from the same shell: its page is linked where man looks.
        page = home / ".local" / "share" / "man" / "man1" / "outeai-say.1"
        assert page.resolve().is_file(), "install.sh linked no manual pages"
        if shutil.which("man"):
            found = subprocess.run(["man", "-w", "outeai-say"], env=env, capture_output=True)
            assert found.stdout.decode().strip() == str(page.resolve()), found
    finally:
        if outeai.exists():
            subprocess.run(
                [str(outeai), "engine", "stop"], env=env, capture_output=True, timeout=60
            )
        shutil.rmtree(runtime, ignore_errors=True)


def test_readme_server_wait_ends_when_the_server_cannot_start(tmp_path: Path) -> None:
    """The quick start's wait for `listening on` stops, showing why, when `outeai serve` exits
    instead (here: its port is taken); it used to poll serve.log for ever."""
    (body,) = [b for _, b, _ in sh_blocks() if "outeai serve --port 8765 --quiet" in b]
    lines = body.splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if re.search(r"\bdone\b", line))
    wait = "".join(lines[: end + 1])  # the start and the wait, not the say
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            ["bash", "-eu", "-c", wait.replace("8765", str(port))],
            cwd=tmp_path,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            },
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
    assert proc.returncode == 0, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stdout.decode(), proc.stdout

"""Commands that do not talk to the network stay light: no httpx, no soundfile (issue 5).

Each command runs as a real `python -X importtime -m outeai_cli ...` subprocess; the import
log on stderr names every module the process loaded. How fast they start is measured by
benchmarks/bench_stream.py, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import HEAVY, run_with_import_log

LIGHT_COMMANDS = [
    ("--help",),
    ("--version",),
    ("say", "--help"),
    ("serve", "--help"),
    ("config", "--help"),
    ("config", "path"),
    ("voices", "--help"),
    ("voices", "--local"),
]


def imported_modules(*args: str, tmp_path: Path) -> set[str]:
    code, modules = run_with_import_log(*args, tmp_path=tmp_path)
    assert code == 0, f"outeai {' '.join(args)} exited {code}"
    return modules


@pytest.mark.parametrize("args", LIGHT_COMMANDS, ids=" ".join)
def test_light_command_imports_neither_httpx_nor_soundfile(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    modules = imported_modules(*args, tmp_path=tmp_path)
    assert "outeai_cli.cli.app" in modules  # the import log is really there
    top_level = {name.split(".")[0] for name in modules}
    assert not top_level & set(HEAVY), f"outeai {' '.join(args)} imported {top_level & set(HEAVY)}"


def test_help_is_plain_click_help_without_rich(tmp_path: Path) -> None:
    """Rendering help with Rich would cost more than importing Typer itself."""
    modules = imported_modules("--help", tmp_path=tmp_path)
    assert not {name for name in modules if name == "rich" or name.startswith("rich.")}


def test_the_import_check_sees_a_command_that_needs_httpx(tmp_path: Path) -> None:
    """Control: `say` does import httpx, so an absent name above means it was not loaded."""
    # Nothing listens on port 9: the command fails after importing its client, which is enough.
    code, modules = run_with_import_log(
        "say", "hello", "-o", "x.flac", "--retries", "0",
        tmp_path=tmp_path,
        env={"OUTEAI_TOKEN": "t", "OUTEAI_BASE_URL": "http://127.0.0.1:9/api/v1"},
    )  # fmt: skip
    assert code == 5  # a network failure
    assert "httpx" in modules


def test_loopback_server_is_reached_directly_even_with_a_proxy_configured(outeai) -> None:
    """A loopback http base URL skips the proxy environment and the CA bundle (start-up cost).

    The proxy here is a closed port: going through it would fail with a network error.
    """
    dead_proxy = "http://127.0.0.1:9"
    result = outeai(
        "say", "hello", "-o", "hello.flac",
        env={"HTTP_PROXY": dead_proxy, "http_proxy": dead_proxy, "ALL_PROXY": dead_proxy,
             "NO_PROXY": "", "no_proxy": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# What a quiet one-sentence `say` to a FLAC file has no use for: pydantic (Typer's default
# parameter coercion), Rich's live display, and soundfile/numpy (only conversion needs them).
NOT_FOR_A_QUIET_SAY = ("pydantic", "pydantic_core", "soundfile", "numpy", "rich")


def quiet_say_imports(server, tmp_path: Path, text: str, output: str) -> set[str]:
    """The modules `outeai say TEXT -o OUTPUT -q` imports (it must succeed)."""
    code, modules = run_with_import_log(
        "say", text, "-o", output, "-q",
        tmp_path=tmp_path,
        env={"OUTEAI_TOKEN": "t", "OUTEAI_BASE_URL": server.base_url},
    )  # fmt: skip
    assert code == 0
    return modules


def test_quiet_one_sentence_say_imports_no_display_no_audio_library(server, tmp_path: Path) -> None:
    modules = quiet_say_imports(server, tmp_path, "Hello there, how are you today?", "one.flac")
    assert (tmp_path / "one.flac").read_bytes()[:4] == b"fLaC"
    top_level = {name.split(".")[0] for name in modules}
    assert "httpx" in top_level  # the import log is really there: the request needs httpx
    assert not top_level & set(NOT_FOR_A_QUIET_SAY), top_level & set(NOT_FOR_A_QUIET_SAY)


def test_a_converting_say_does_import_soundfile(server, tmp_path: Path) -> None:
    """Control: the check above would see soundfile if a path loaded it."""
    assert "soundfile" in quiet_say_imports(server, tmp_path, "Hello there.", "one.wav")


def test_plain_option_values_are_checked_without_pydantic(tmp_path: Path) -> None:
    """Ranges, numbers and choices keep their one-line usage errors on the light path."""
    cases = [
        (("-j", "0"), "'-j' / '--jobs': 0 is below the minimum, 1"),
        (("-j", "two"), "'two' is not a whole number"),
        (("-t", "warm"), "'warm' is not a number"),
        (("--timeout", "inf"), "'inf' is not a finite number"),
        (("--api", "bogus"), "'bogus' is not one of 'tts', 'audio', 'tts-stream', 'auto'"),
    ]
    for extra, expected in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "outeai_cli", "say", "hi", "-o", "x.flac", *extra],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OUTEAI_TOKEN": "t"},
            timeout=60,
        )
        assert proc.returncode == 2, (extra, proc.stderr)
        assert expected in proc.stderr, (extra, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.flac").exists()

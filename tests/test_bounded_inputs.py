"""Every file the tool reads whole is a regular file under a size limit: a link to /dev/zero,
a FIFO, `yes |` or a planted symbolic link is one line and exit 2, never a read until memory
runs out, a hang, or a write through the link."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outeai_cli.untrusted import UnreadableFile, read_bounded
from tests.helpers import error_lines


def test_read_bounded_refuses_devices_fifos_directories_and_big_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2049)
    link = tmp_path / "link"
    link.symlink_to(big)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_bounded("/dev/zero", 1024)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_bounded(fifo, 1024)  # and without waiting for a writer
    with pytest.raises(UnreadableFile, match="directory"):
        read_bounded(tmp_path, 1024)
    with pytest.raises(UnreadableFile, match="over 2 KiB"):
        read_bounded(big, 2048)
    with pytest.raises(UnreadableFile, match="symbolic link"):
        read_bounded(link, 4096, follow=False)
    assert read_bounded(link, 4096) == b"x" * 2049
    assert read_bounded(big, 2049) == b"x" * 2049


def test_a_manifest_row_naming_dev_zero_is_a_row_error(run_cli, tmp_path: Path) -> None:
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(json.dumps({"file": "/dev/zero"}) + "\n")
    result = run_cli("batch", str(manifest), "-o", "out", timeout=30)
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "list.jsonl line 1" in line and "not a regular file" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_manifest_that_is_a_link_to_dev_zero_is_refused(run_cli, tmp_path: Path) -> None:
    (tmp_path / "list.jsonl").symlink_to("/dev/zero")
    result = run_cli("batch", "list.jsonl", "-o", "out", timeout=30)
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "not a regular file" in line


def test_results_from_dev_zero_are_refused(run_cli, tmp_path: Path) -> None:
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("Hello.")
    result = run_cli("batch", "texts", "-o", "out", "--results", "/dev/zero", timeout=30)
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "/dev/zero" in line and "not a regular file" in line


def test_endless_stdin_to_batch_stops_at_its_limit(cli_env, tmp_path: Path) -> None:
    started = time.monotonic()
    yes = subprocess.Popen(["yes", "Hello there."], stdout=subprocess.PIPE)
    result = subprocess.run(
        [sys.executable, "-m", "outeai_cli", "batch", "-", "-o", "out"],
        stdin=yes.stdout,
        capture_output=True,
        env=cli_env,
        cwd=tmp_path,
        timeout=60,
    )
    yes.kill()
    yes.wait()
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr.decode())
    assert "standard input is over 64 MiB" in line
    assert time.monotonic() - started < 30


def test_a_results_file_linked_out_of_the_output_directory_is_not_followed(
    run_cli, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "outeai-results.jsonl").symlink_to(victim)
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("Hello.")
    result = run_cli("batch", "texts", "-o", "out", timeout=30)
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "outeai-results.jsonl" in line and "symbolic link" in line
    assert victim.read_text() == "precious\n"

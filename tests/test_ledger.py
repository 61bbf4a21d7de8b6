"""The batch's results file (outeai_cli.batch.ledger): what a line holds, what a re-run reads
back, and the file's own safety (one batch at a time, never through a link or a FIFO)."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
import soundfile as sf

from outeai_cli.batch.ledger import ResultsLog
from outeai_cli.errors import InputError
from tests.helpers import sha256_of


def test_a_results_line_says_all_a_rerun_and_a_reader_need(outeai, server, tmp_path) -> None:
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"text": "Héllo there.", "output": "é.wav", "temperature": 0.5}),
        encoding="utf-8",
    )
    assert outeai("batch", "m.jsonl", "-o", "out").returncode == 0
    raw = (tmp_path / "out" / "outeai-results.jsonl").read_text(encoding="utf-8")
    assert "é.wav" in raw  # written as UTF-8, not \\u escapes
    (line,) = [json.loads(text) for text in raw.splitlines()]
    made = tmp_path / "out" / "é.wav"
    assert line["input"] == "m.jsonl line 1" and line["output"] == "é.wav"
    assert (line["status"], line["error"], line["pieces"], line["from_cache"]) == ("ok", None, 1, 0)
    assert line["bytes"] == made.stat().st_size and line["sha256"] == sha256_of(made)
    assert line["duration"] == pytest.approx(sf.info(made).duration, abs=0.001)
    assert line["speaker"] == "default:EN-FEMALE-1-NEUTRAL" and line["temperature"] == 0.5
    assert line["silent"] is False and re.fullmatch(r"[0-9a-f]{64}", line["key"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", line["time"])


def test_a_file_vouched_for_as_skipped_is_still_vouched_for_on_the_next_run(
    outeai, server, tmp_path
) -> None:
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "one.txt").write_text("One.", encoding="utf-8")
    assert outeai("batch", "texts", "-o", "out").returncode == 0
    (tmp_path / "out" / "outeai-results.jsonl").unlink()  # made, but no line says so
    server.reset()
    first = outeai("batch", "texts", "-o", "out")
    second = outeai("batch", "texts", "-o", "out")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert server.tts_requests() == []
    lines = [
        json.loads(t) for t in (tmp_path / "out" / "outeai-results.jsonl").read_text().splitlines()
    ]
    assert [r["status"] for r in lines] == ["skipped"]  # vouched for by that line since
    assert lines[0]["note"] == "no results line for it, but it decodes completely"
    assert lines[0]["duration"] == pytest.approx(
        sf.info(tmp_path / "out" / "one.flac").duration, abs=0.001
    )


def test_reading_back_keeps_each_outputs_latest_line_and_skips_torn_or_foreign_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out" / "outeai-results.jsonl"  # its folder is made when missing
    lines = [
        {"output": "a.flac", "status": "failed"},
        {"output": "a.flac", "status": "ok", "note": "é"},
        [1, 2],
        {"output": 3, "status": "ok"},
        {"status": "ok"},
    ]
    path.parent.mkdir()
    path.write_bytes(
        b"".join(json.dumps(x).encode() + b"\n" for x in lines) + b'{"output": "b.fl\xff'
    )
    with ResultsLog(path) as log:
        assert log.latest == {"a.flac": {"output": "a.flac", "status": "ok", "note": "é"}}
        log.append({"output": "b.flac", "status": "ok", "note": "naïve"})
        assert log.latest["b.flac"]["note"] == "naïve"
        assert path.read_bytes().endswith('"naïve"}\n'.encode())  # flushed, one whole line
    with ResultsLog(path) as again:  # the torn line did not swallow the one after it
        assert set(again.latest) == {"a.flac", "b.flac"}


def test_one_batch_at_a_time_writes_into_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "outeai-results.jsonl"
    with ResultsLog(path):
        with pytest.raises(InputError, match=f"another outeai batch is writing into {tmp_path}$"):
            ResultsLog(path).__enter__()
        outcome: list[BaseException] = []
        other = threading.Thread(target=lambda: outcome.append(_open_elsewhere(path)))
        other.start()
        other.join(5)
        assert isinstance(outcome[0], InputError)
    with ResultsLog(path):  # released with the first
        pass


def _open_elsewhere(path: Path) -> BaseException:
    try:
        ResultsLog(path).__enter__()
    except InputError as exc:
        return exc
    return AssertionError("a second batch was let in")


@pytest.mark.parametrize("kind", ["link", "dangling-link", "fifo"])
def test_a_results_file_that_is_a_link_or_a_fifo_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "outeai-results.jsonl"
    if kind == "link":
        (tmp_path / "elsewhere.jsonl").write_text("")
        path.symlink_to(tmp_path / "elsewhere.jsonl")
        words = "it is a symbolic link"
    elif kind == "dangling-link":  # opening it to append would create what it points at
        path.symlink_to(tmp_path / "created.jsonl")
        words = "it is a symbolic link"
    else:
        os.mkfifo(path)
        words = r"it is not a regular file \(a pipe"
    with pytest.raises(InputError, match=f"cannot use the results file {path}: {words}") as caught:
        ResultsLog(path).__enter__()
    assert caught.value.hint == "remove it, or name another results file"
    if kind == "link":
        assert (tmp_path / "elsewhere.jsonl").read_text() == ""
    assert not (tmp_path / "created.jsonl").exists()

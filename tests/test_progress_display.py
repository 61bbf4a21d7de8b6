"""What a person sees while waiting: the live line at 40-120 columns, on a real pseudo-terminal
read through a terminal emulator (pyte) every few tenths of a second, and the sparse plain lines
of a pipe. The local server's latency holds each stage long enough to be seen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import screens_in_pty

WIDTHS = [40, 60, 80, 120]
BAR = re.compile(r"[━─]{8,}")
ELAPSED = re.compile(r"\b\d+:\d\d\b")
# Pieces of three short sentences at --max-chars 40: the server reports each as 3 chunks.
LONG_TEXT = (
    "One two. Three four. Five six. Seven eight. Nine ten. Eleven twelve. Thirteen now. "
    "Fourteen then. Fifteen here. Sixteen there. Seventeen. Eighteen. Nineteen. Twenty."
)


def progress_lines(shots: list[str], stage: str) -> list[str]:
    return [line for shot in shots for line in shot.splitlines() if stage in line]


@pytest.mark.parametrize("columns", WIDTHS)
def test_single_request_line_keeps_stage_counts_audio_and_elapsed_at_any_width(
    cli_env, make_server, tmp_path: Path, columns: int
) -> None:
    slow = make_server(latency=1.2)  # three chunks, 0.4 s each
    code, shots, _ = screens_in_pty(
        ["say", "One. Two. Three.", "-o", "x.flac"],
        {**cli_env, "OUTEAI_BASE_URL": slow.base_url},
        tmp_path,
        columns=columns,
        every=0.1,
    )
    assert code == 0, shots
    assert shots[-1].startswith("Saved x.flac"), shots[-1]
    lines = progress_lines(shots, "Generating audio")
    assert lines, shots
    for line in lines:
        assert len(line) < columns
        assert re.search(r"\b[0-3]/3\b", line), line  # chunk counts
        assert re.search(r"\d\.\d s\b", line), line  # seconds of audio
        assert ELAPSED.search(line), line
    bars = {len(m.group()) for shot in shots for m in BAR.finditer(shot)}
    if columns <= 40:
        assert not bars, "the bar should give way first"
    else:
        assert len(bars) == 1, f"the bar changed width between stages: {bars}"
    if columns >= 80:
        assert any("chunks" in line and "s audio" in line for line in lines), lines


@pytest.mark.parametrize("columns", WIDTHS)
def test_long_text_line_and_pieces_in_flight_at_any_width(
    cli_env, make_server, tmp_path: Path, columns: int
) -> None:
    slow = make_server(latency=0.9)
    code, shots, _ = screens_in_pty(
        ["say", LONG_TEXT, "-o", "x.flac", "--max-chars", "40", "-j", "2", "--no-cache"],
        {**cli_env, "OUTEAI_BASE_URL": slow.base_url},
        tmp_path,
        columns=columns,
        every=0.1,
    )
    assert code == 0, shots
    assert "Saved x.flac" in shots[-1]
    lines = progress_lines(shots, "Speaking")
    assert lines, shots
    for line in lines:
        assert len(line) < columns
        assert re.search(r"\b\d/\d\b", line), line
        assert re.search(r"\d\.\d s\b", line), line
        assert ELAPSED.search(line), line
        assert "-:--" not in line
        assert not re.search(r"ETA 0:00(:00)?(?![:\d])", line), line  # never a zero ETA
    flights = [line.strip() for shot in shots for line in shot.splitlines() if "#" in line]
    assert flights and all(len(f) < columns for f in flights), flights
    # Each piece in flight shows its latest stage, with the chunk counts once the server sends them.
    assert any(re.fullmatch(r"#\d+ Generating audio \d+/\d+", f) for f in flights), flights
    assert any("ETA" in line for line in lines) or columns < 60, lines


def test_no_eta_until_a_piece_finished(cli_env, make_server, tmp_path: Path) -> None:
    slow = make_server(latency=1.0)
    _, shots, _ = screens_in_pty(
        ["say", LONG_TEXT, "-o", "x.flac", "--max-chars", "40", "-j", "2", "--no-cache"],
        {**cli_env, "OUTEAI_BASE_URL": slow.base_url},
        tmp_path,
        columns=120,
        every=0.1,
    )
    lines = progress_lines(shots, "Speaking")
    before = [line for line in lines if re.search(r"\b0/\d+ pieces", line)]
    assert before and not any("ETA" in line for line in before), before


def test_the_cold_start_hint_shows_only_once_the_first_event_is_late(
    cli_env, make_server, tmp_path: Path
) -> None:
    cold = make_server(cold_start=3.6)
    code, shots, _ = screens_in_pty(
        ["say", "Hello.", "-o", "x.flac"],
        {**cli_env, "OUTEAI_BASE_URL": cold.base_url},
        tmp_path,
        columns=60,
        every=0.2,
    )
    assert code == 0, shots
    hinted = [i for i, shot in enumerate(shots) if "cold start" in shot]
    assert hinted, shots
    assert any("Waiting for the service" in s and "cold start" not in s for s in shots[: hinted[0]])
    assert "cold start" not in shots[-1]  # gone once the service answered


def test_a_quick_request_on_a_pipe_prints_only_the_summary(outeai) -> None:
    result = outeai("say", "Hello there.", "-o", "x.flac")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [result.stderr.splitlines()[-1]]
    assert result.stderr.startswith("Saved x.flac (")


def test_a_slow_request_on_a_pipe_says_why_it_waits_and_what_it_does(outeai, make_server) -> None:
    slow = make_server(cold_start=3.3, latency=3.3)
    result = outeai("say", "One. Two.", "-o", "x.flac", env={"OUTEAI_BASE_URL": slow.base_url})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "outeai: no answer yet; a cold start can take up to 40 s"
    assert "outeai: Warming up TTS model" in lines
    assert any(re.fullmatch(r"outeai: Generating audio \(chunk 2/2, [\d.]+ s of audio\)", line)
               for line in lines), lines  # fmt: skip
    assert len(lines) <= 4, lines  # a line at most every few seconds, not one per event
    assert lines[-1].startswith("Saved x.flac")
    assert "\x1b[" not in result.stderr


def test_a_long_run_on_a_pipe_prints_progress_every_few_seconds_with_an_eta(
    outeai, make_server
) -> None:
    slow = make_server(latency=1.1)
    result = outeai(
        "say", LONG_TEXT, "-o", "x.flac", "--max-chars", "40", "-j", "1", "--no-cache",
        env={"OUTEAI_BASE_URL": slow.base_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    done = [line for line in lines if " pieces done" in line]
    assert done and len(done) < 4, lines  # every few seconds, not every piece
    for line in done:
        assert re.fullmatch(
            r"outeai: \d+/\d+ pieces done, [\d.]+ s of audio(, ETA 0:00:\d\d)?", line
        ), line
        assert "ETA 0:00:00" not in line
    assert any("ETA" in line for line in done), done


def test_summary_lines_wrap_between_words_and_keep_paths_whole(
    cli_env, server, tmp_path: Path
) -> None:
    (tmp_path / "a-rather-long-directory-name" / "and-another-level").mkdir(parents=True)
    target = "a-rather-long-directory-name/and-another-level/greeting-for-the-summary.flac"
    code, shots, _ = screens_in_pty(["say", "Hello.", "-o", target], cli_env, tmp_path, columns=100)
    assert code == 0, shots
    lines = shots[-1].splitlines()
    assert lines[0].startswith(f"Saved {target} ("), lines  # the path on one line, whole
    assert len(lines) == 2 and lines[1].startswith("  "), lines  # the rest indented below


def test_batch_summary_names_the_results_file_relative_and_whole(
    cli_env, server, tmp_path: Path
) -> None:
    out = "a-directory-with-a-long-name-for-the-batch-outputs/and-a-second-level"
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "one.txt").write_text("One.", encoding="utf-8")
    code, shots, _ = screens_in_pty(["batch", "texts", "-o", out], cli_env, tmp_path, columns=100)
    assert code == 0, shots
    screen = shots[-1]
    assert f"{out}/outeai-results.jsonl" in screen, screen
    assert str(tmp_path) not in screen


def test_a_long_text_waiting_on_a_cold_service_says_so_live_and_on_a_pipe(
    cli_env, make_server, outeai, tmp_path: Path
) -> None:
    cold = make_server(cold_start=3.5)
    env = {**cli_env, "OUTEAI_BASE_URL": cold.base_url}
    args = ["say", LONG_TEXT, "-o", "x.flac", "--max-chars", "80", "--no-cache"]
    code, shots, _ = screens_in_pty(args, env, tmp_path, columns=80, every=0.2)
    assert code == 0, shots
    assert any("cold start" in shot for shot in shots), shots
    assert "cold start" not in shots[-1]
    piped = outeai(*args[:3], "y.flac", *args[4:], env={"OUTEAI_BASE_URL": cold.base_url})
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr.count("cold start") == 1, piped.stderr


def test_an_error_line_on_a_terminal_wraps_between_words(cli_env, tmp_path: Path) -> None:
    missing = "no-such-directory-with-a-long-name/and-another-level-below"
    code, shots, _ = screens_in_pty(
        ["say", "hi", "-o", f"{missing}/x.flac"], cli_env, tmp_path, columns=60
    )
    assert code == 2
    lines = shots[-1].splitlines()
    assert lines[0].startswith("outeai: error: the directory"), lines
    assert any(line.strip() == missing for line in lines), lines  # whole, on a line of its own
    assert all(line.startswith("  ") for line in lines[1:]), lines

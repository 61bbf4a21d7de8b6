"""What reaches a file or stdout is whole: damaged audio is exit 6 with nothing written, the
cache keeps only audio that decodes, messages never land in the audio, a hang-up cleans up,
and subtitles are committed together with their audio or not at all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from outeai_cli.audio.verify import check_audio
from tests.helpers import files_in, run_in_pty, start_say, wait_for_request, wait_until

DELIVERED = {"tts": "flac", "audio": "mp3", "tts-stream": "wav"}
ATTACKS = ["half-audio", "magic-then-garbage", "wav-many-channels", "wav-absurd-rate"]
TWO_PIECES = "The first sentence is here. And a second one follows it."


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("api", ["tts", "audio", "tts-stream"])
@pytest.mark.parametrize("where", ["as-delivered", "converted", "stdout"])
def test_audio_that_does_not_decode_completely_is_never_written(
    outeai, server, tmp_path: Path, attack: str, api: str, where: str
) -> None:
    server.set_faults(attack)
    before = files_in(tmp_path)
    if where == "stdout":  # spooled, then copied: FLAC, so never the live WAV pass-through
        args = ["-o", "-", "--format", "flac"]
    else:
        args = ["-o", f"out.{DELIVERED[api] if where == 'as-delivered' else 'ogg'}"]
    result = outeai("say", "--api", api, "Hello there.", *args)
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("outeai: error:") == 1
    assert result.stdout == b""
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("cache", [(), ("--no-cache",)], ids=["cache", "no-cache"])
@pytest.mark.parametrize("attack", ["half-audio", "magic-then-garbage"])
def test_a_damaged_piece_of_a_long_text_fails_it(
    outeai, server, tmp_path: Path, attack: str, cache: tuple[str, ...]
) -> None:
    """Caught by the cache's check before storing, or else by the stitcher's decode."""
    server.set_faults(attack)
    before = files_in(tmp_path)
    result = outeai("say", TWO_PIECES, "-o", "long.flac", "--max-chars", "30", *cache)
    assert result.returncode == 6, result.stderr
    # (with the cache, whichever piece arrives first fails the run: both are damaged)
    assert re.search(r"error: the audio of piece [12] is damaged: ", result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.count("outeai: error:") == 1
    assert files_in(tmp_path) == before


def test_a_damaged_piece_is_never_cached_so_the_next_run_requests_it(
    outeai, server, tmp_path: Path
) -> None:
    server.set_faults("half-audio")
    failed = outeai("say", TWO_PIECES, "-o", "long.flac", "--max-chars", "30")
    assert failed.returncode == 6
    assert "they are cached" not in failed.stderr  # nothing to promise
    server.reset()
    again = outeai("say", TWO_PIECES, "-o", "long.flac", "--max-chars", "30")
    assert again.returncode == 0, again.stderr
    assert "0 from the cache, 2 to request" in again.stderr
    assert len(server.tts_requests()) == 2
    check_audio(tmp_path / "long.flac", expected="flac")


def test_a_cached_piece_that_no_longer_decodes_is_requested_again(
    outeai, server, tmp_path: Path
) -> None:
    first = outeai("say", TWO_PIECES, "-o", "a.flac", "--max-chars", "30")
    assert first.returncode == 0, first.stderr
    # Damage one entry as an older version could have stored it: sidecar and hash agree.
    import hashlib
    import json

    entries = sorted((tmp_path / "cache" / "outeai" / "pieces").glob("*/*.audio"))
    assert len(entries) == 2
    audio = entries[0]
    half = audio.read_bytes()[: audio.stat().st_size // 2]
    audio.write_bytes(half)
    meta = audio.with_suffix(".json")
    record = json.loads(meta.read_text())
    record.update(bytes=len(half), sha256=hashlib.sha256(half).hexdigest())
    meta.write_text(json.dumps(record))
    server.reset()
    second = outeai("say", TWO_PIECES, "-o", "b.flac", "--max-chars", "30")
    assert second.returncode == 0, second.stderr
    assert "1 from the cache, 1 to request" in second.stderr
    assert len(server.tts_requests()) == 1
    assert sf.read(tmp_path / "a.flac")[0].tolist() == sf.read(tmp_path / "b.flac")[0].tolist()


@pytest.mark.parametrize("text", ["Hello there.", TWO_PIECES], ids=["one-request", "pieces"])
def test_with_stderr_closed_messages_never_reach_the_audio(
    cli_env, server, tmp_path: Path, text: str
) -> None:
    out = tmp_path / "out.flac"
    with open(out, "wb") as stdout:
        code = subprocess.call(
            [sys.executable, "-m", "outeai_cli", "say", text, "-o", "-", "--max-chars", "30"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=cli_env,
            cwd=tmp_path,
            pass_fds=(),
            preexec_fn=lambda: os.close(2),  # `2>&-`
        )
    assert code == 0
    assert out.read_bytes()[:4] == b"fLaC"
    check_audio(out, expected="flac")


def test_a_name_made_from_the_text_moves_on_when_another_run_takes_it(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=1.5)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}

    def take_the_name() -> None:
        deadline = time.monotonic() + 20
        while not slow.tts_requests() and time.monotonic() < deadline:
            time.sleep(0.05)
        (tmp_path / "hello-world.flac").write_bytes(b"the other run's audio")

    other = threading.Thread(target=take_the_name)
    other.start()
    code, screen, _ = run_in_pty(["say", "Hello world."], env, tmp_path)
    other.join()
    assert code == 0, screen
    assert "hello-world-2.flac (" in screen
    assert (tmp_path / "hello-world.flac").read_bytes() == b"the other run's audio"
    check_audio(tmp_path / "hello-world-2.flac", expected="flac")


@pytest.mark.parametrize("to_stdout", [False, True], ids=["file", "stdout"])
def test_sighup_stops_a_run_like_sigterm_and_leaves_no_spool(
    cli_env, make_server, tmp_path: Path, to_stdout: bool
) -> None:
    slow = make_server(latency=20)
    spool_parent = tmp_path / "tmp"
    spool_parent.mkdir()
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url, "TMPDIR": str(spool_parent)}
    args = [TWO_PIECES, "--max-chars", "30", "-o", "-" if to_stdout else "long.flac"]
    before = files_in(tmp_path)
    proc = start_say(args, env, tmp_path, stdout=subprocess.PIPE if to_stdout else None)
    wait_for_request(slow, proc)
    where = spool_parent if to_stdout else tmp_path
    wait_until(
        lambda: any(name.endswith(".pieces") for name in os.listdir(where)),
        "the pieces folder exists",
        proc=proc,
    )
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=10) == 129
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "outeai: hung up" in stderr and "Traceback" not in stderr
    assert files_in(tmp_path) == before
    assert os.listdir(spool_parent) == []


def test_subtitles_are_committed_with_their_audio_or_not_at_all(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=1.5)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    proc = start_say(
        [TWO_PIECES, "--max-chars", "30", "-o", "long.flac", "--subtitles", "long.srt"],
        env,
        tmp_path,
    )
    wait_for_request(slow, proc)
    (tmp_path / "long.flac").write_bytes(b"another run's audio")  # the audio cannot commit
    assert proc.wait(timeout=30) == 2
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "long.flac already exists" in stderr
    assert not (tmp_path / "long.srt").exists()
    assert (tmp_path / "long.flac").read_bytes() == b"another run's audio"


def test_subtitles_that_would_land_in_the_audio_stream_are_refused(
    run_cli, server, tmp_path: Path
) -> None:
    (tmp_path / "cues.srt").symlink_to("/dev/stdout")
    result = run_cli("say", TWO_PIECES, "-o", "-", "--subtitles", "cues.srt")
    assert result.returncode == 2, result.stderr
    assert "both go to cues.srt" in result.stderr
    assert result.stdout == b"" and server.tts_requests() == []


def test_a_piece_that_fails_mid_stitch_stops_the_follow_of_the_output(tmp_path: Path) -> None:
    """The output's check runs while it is written (a thread behind the writer); a damaged
    piece after good ones aborts the stitch, and the abort stops that thread at once."""
    from outeai_cli.audio.stitching import Stitcher
    from outeai_cli.audio.verify import DamagedAudio

    good = tmp_path / "good.flac"
    sf.write(good, (np.arange(48000) % 200 - 100).astype(np.int16), 24000, subtype="PCM_16")
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with open(tmp_path / "out.flac", "w+b") as out:
        stitcher = Stitcher(out, "flac")
        stitcher.append(good)
        stitcher.append(good)
        assert any(t.name == "outeai-follow" for t in threading.enumerate())
        with pytest.raises(DamagedAudio, match="the audio of piece 3 is damaged"):
            stitcher.append(damaged)
        started = time.monotonic()
        stitcher.abort()
        assert time.monotonic() - started < 1
    assert not any(t.name == "outeai-follow" for t in threading.enumerate())


@pytest.mark.parametrize("fmt", ["flac", "wav"])
def test_a_stitch_that_fills_the_disk_is_an_output_error_and_saves_nothing(
    tmp_path: Path, cli_env: dict[str, str], fmt: str
) -> None:
    """The encoder's failed write (here over RLIMIT_FSIZE, as a full disk would be) names
    the output's problem, not a bug nor a damaged piece: exit 1, nothing left."""
    import resource

    def limit_file_size() -> None:  # (EFBIG rather than the signal that would kill us)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    lean = ("--max-chars", "70", "--no-cache", "-q")
    text = " ".join(
        f"Sentence number {n} is long enough for some seconds of audio." for n in range(4)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "outeai_cli", "say", text, "-o", f"out.{fmt}", *lean],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=tmp_path,
        preexec_fn=limit_file_size,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"outeai: error: cannot write out.{fmt}: the file grew over")
    assert "nothing was saved" in proc.stderr and "bug" not in proc.stderr
    assert not (tmp_path / f"out.{fmt}").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

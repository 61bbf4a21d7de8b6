"""`outeai say` on text that is still arriving: pieces spoken as sentences end, played through
one player process, streamed and saved in the same run.

Everything is real: `outeai` runs as a process reading a pipe that the test writes into at an
LLM's pace, against the local server (all three API dialects), and plays through the stand-in
player of tests/standin_player.py, which consumes its stdin at the sample rate and keeps what
it was given and when.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf
from conftest import ServerHandle
from standin_player import install_standin, read_log

from outeai_cli.audio.verify import check_audio
from tests.helpers import screens_in_pty, wait_until

SENTENCES = [
    "The first sentence is here and it is fine.",
    "The second sentence follows it closely.",
    "And a third one ends it all.",
]


class Say:
    """`outeai say ARGS` as a process whose stdin the test writes, word by word."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "outeai_cli", "say", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self.stdout = bytearray()
        self.stdout_at: list[tuple[float, int]] = []  # (when, bytes so far)
        self._fed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while data := self.proc.stdout.read1(65536):
            self.stdout.extend(data)
            self.stdout_at.append((time.monotonic(), len(self.stdout)))

    def write(self, text: str | bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
            self.proc.stdin.flush()
        except BrokenPipeError:  # it stopped reading (a failed run): the test looks at why
            pass

    def started(self, first: str, timeout: float = 30) -> None:
        """Write `first` and wait until outeai has read it: it is up and reading (a loaded
        machine can take a second to start it, and a text written by then is all there)."""
        import fcntl
        import struct
        import termios

        self.write(first)
        assert self.proc.stdin is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            unread = fcntl.ioctl(self.proc.stdin.fileno(), termios.FIONREAD, b"\0" * 4)
            if struct.unpack("i", unread)[0] == 0:
                return
            time.sleep(0.02)
        raise AssertionError("outeai never read its input")

    def feed(self, text: str, words_per_second: float = 8) -> dict[str, float]:
        """Write `text` a word (and its space) at a time, the first once outeai reads; when
        each sentence was complete."""
        complete = {}
        words = text.split(" ")
        if not self._fed:
            self._fed = True
            self.started(words.pop(0) + " ")
        for word in words:
            self.write(word + " ")
            if word.endswith((".", "!", "?")):
                complete[word] = time.monotonic()
            time.sleep(1 / words_per_second)
        return complete

    def close(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode("utf-8", "replace")


@pytest.fixture
def player(tmp_path: Path) -> dict[str, Path]:
    bin_dir = tmp_path / "bin"
    install_standin(bin_dir)
    return {"bin": bin_dir, "log": tmp_path / "player.json", "heard": tmp_path / "heard.raw"}


@pytest.fixture
def live_env(cli_env: dict[str, str], player: dict[str, Path]) -> dict[str, str]:
    return {
        **cli_env,
        "PATH": f"{player['bin']}{os.pathsep}{cli_env.get('PATH', '')}",
        "OUTEAI_PLAYER": "aplay",
        "STANDIN_LOG": str(player["log"]),
        "STANDIN_CAPTURE": str(player["heard"]),
    }


@pytest.fixture
def slow_server(make_server) -> ServerHandle:
    return make_server(latency=0.3)


def spoken(server: ServerHandle) -> list[str]:
    """The texts the server was asked to speak, in the order it was asked (any dialect)."""
    return [r["text"] for r in server.requests() if r.get("text")]


def samples(path: Path) -> bytes:
    return sf.read(path, dtype="int16")[0].tobytes()


@pytest.mark.parametrize("api", ["tts", "audio", "tts-stream"])
def test_sentences_are_played_as_they_end_and_the_same_audio_is_saved(
    api: str, live_env, tmp_path: Path, slow_server: ServerHandle, player: dict[str, Path]
) -> None:
    env = {**live_env, "OUTEAI_BASE_URL": slow_server.base_url}
    say = Say(["--api", api, "--play", "-o", "out.wav"], env, tmp_path)
    say.feed(" ".join(SENTENCES))
    # The end of the text is not yet known: the first pieces are played.
    wait_until(lambda: read_bytes(player["heard"]), "a piece is played", proc=say.proc)
    played_before_the_end = read_bytes(player["heard"])
    say.close()
    code, stderr = say.wait()
    assert code == 0, stderr
    assert played_before_the_end, "nothing was played before the text ended"
    # One request per sentence, in order, each sent as its sentence ended.
    assert spoken(slow_server) == SENTENCES
    # What was heard is the saved audio, sample for sample: nothing missing, nothing twice.
    assert player["heard"].read_bytes() == samples(tmp_path / "out.wav")
    check_audio(tmp_path / "out.wav", expected="wav")
    assert "Saved out.wav" in stderr


def read_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def test_a_played_live_text_without_output_keeps_nothing(
    live_env, tmp_path: Path, server: ServerHandle, player: dict[str, Path]
) -> None:
    before = set(tmp_path.iterdir())
    say = Say(["--play"], live_env, tmp_path)
    say.feed(SENTENCES[0], words_per_second=20)
    deadline = time.monotonic() + 10
    while not server.tts_requests() and time.monotonic() < deadline:  # spoken while open
        time.sleep(0.05)
    say.close()
    code, stderr = say.wait()
    assert code == 0, stderr
    made = {p.name for p in set(tmp_path.iterdir()) - before}
    assert made == {player["log"].name, player["heard"].name, "cache"}
    assert re.search(r"Played \d+\.\d s of audio \(1 pieces\)", stderr)
    assert read_log(player["log"])["underruns"] == []


def test_stdout_gets_each_piece_before_the_text_ends(
    live_env, tmp_path: Path, slow_server: ServerHandle
) -> None:
    env = {**live_env, "OUTEAI_BASE_URL": slow_server.base_url}
    say = Say(["-o", "-", "--format", "wav"], env, tmp_path)
    say.feed(" ".join(SENTENCES[:2]))
    wait_until(lambda: len(say.stdout) > 44, "audio is on stdout", proc=say.proc)
    written_before_the_end = len(say.stdout)
    say.feed(SENTENCES[2])
    say.close()
    code, stderr = say.wait()
    assert code == 0, stderr
    assert written_before_the_end > 44  # a header and audio, while the input was still open
    stream = bytes(say.stdout)
    assert stream[:4] == b"RIFF" and stream[40:44] == b"\xff\xff\xff\xff"  # length unknown
    decoded, rate = sf.read(io.BytesIO(stream), dtype="int16")
    assert rate == 44100 and len(decoded) == (len(stream) - 44) // 2
    assert "Wrote the audio to stdout" in stderr


def test_a_line_without_a_sentence_end_is_spoken_after_a_pause(
    live_env, tmp_path: Path, server: ServerHandle
) -> None:
    env = {**live_env, "OUTEAI_INPUT_PAUSE": "0.3"}
    say = Say(["-o", "log.flac"], env, tmp_path)
    say.started("ERROR disk almost full on host one\n")
    deadline = time.monotonic() + 10
    while not server.tts_requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    requests = [r["text"] for r in server.tts_requests()]
    say.write("WARNING second line\n")
    say.close()
    code, stderr = say.wait()
    assert code == 0, stderr
    assert requests == ["ERROR disk almost full on host one"]  # before the input ended
    assert [r["text"] for r in server.tts_requests()][1:] == ["WARNING second line"]


def test_markdown_on_a_stream_is_spoken_as_text(
    live_env, tmp_path: Path, server: ServerHandle
) -> None:
    env = {**live_env, "OUTEAI_INPUT_PAUSE": "30"}  # (no pause long enough to speak early)
    say = Say(["-o", "md.flac", "--markdown"], env, tmp_path)
    say.started("# Plan\n\nFirst **bo")
    wait_for(lambda: spoken(server) == ["Plan"])  # the heading is spoken before the rest comes
    # (sentences complete in one read are packed into one piece, as in a text given at once)
    for fragment in ["ld** step with [a link](http", "s://x.org).\n\n", "```py\n", "print(1)\n"]:
        say.write(fragment)
        time.sleep(0.2)
    say.write("```\n- last *item*\n")
    say.close()
    code, stderr = say.wait()
    assert code == 0, stderr
    texts = [text.strip() for text in spoken(server)]
    assert texts[0] == "Plan"  # the others may reach the server in any order
    assert sorted(texts[1:]) == ["Code block skipped.", "First bold step with a link.", "last item"]


def wait_for(condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_endless_input_runs_in_flat_memory_until_ctrl_c(
    cli_env: dict[str, str], tmp_path: Path, server: ServerHandle
) -> None:
    """`yes | outeai say -o FILE`: the reader is held back by the pipe, memory stays flat,
    and Ctrl-C keeps nothing (the file is committed only at the end)."""
    producer = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", "-o", "yes.flac", "-q", "--no-cache"],
        stdin=producer.stdout,
        stderr=subprocess.PIPE,
        env=cli_env,
        cwd=tmp_path,
    )
    assert producer.stdout is not None
    producer.stdout.close()
    rss = []
    try:
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(0.5)
            rss.append(resident_kib(proc.pid))
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        producer.kill()
        producer.wait()
    assert proc.returncode == 130, stderr
    assert len(server.tts_requests()) >= 3  # it kept speaking while `yes` kept writing
    settled = rss[len(rss) // 2 :]  # (the first seconds load the libraries it needs)
    assert max(settled) - settled[0] < 4 * 1024, rss  # flat: no growth with the input
    line = stderr.decode().strip().splitlines()[-1]
    assert line.startswith("outeai: interrupted; ") and "nothing was saved in yes.flac" in line
    assert not (tmp_path / "yes.flac").exists()


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_damaged_piece_is_never_played_and_the_line_says_what_was_heard(
    live_env, tmp_path: Path, make_server, player: dict[str, Path]
) -> None:
    broken = make_server()
    env = {**live_env, "OUTEAI_BASE_URL": broken.base_url}
    say = Say(["--play", "-o", "out.flac", "--retries", "0"], env, tmp_path)
    say.feed(SENTENCES[0], words_per_second=30)
    deadline = time.monotonic() + 10
    while not broken.tts_requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    broken.set_faults("half-audio")  # every later piece comes back cut in half
    say.feed(" ".join(SENTENCES[1:]), words_per_second=30)
    say.close()
    code, stderr = say.wait()
    assert code == 6, stderr
    line = stderr.strip().splitlines()[-1]
    assert "is damaged" in line and re.search(r"heard \d+\.\d s of \d+\.\d s ready", line), line
    assert "nothing was saved in out.flac" in line
    # Only whole pieces reached the player: the first, and nothing of the damaged one.
    heard = read_bytes(player["heard"])  # (the player is stopped when the run fails)
    assert reference_samples(broken, SENTENCES[0]).startswith(heard)
    assert not (tmp_path / "out.flac").exists()


def reference_samples(server: ServerHandle, text: str) -> bytes:
    from conftest import TOKEN

    from tests.helpers import reference_audio

    server.set_faults()
    audio = reference_audio(server.base_url, text, TOKEN)
    return sf.read(io.BytesIO(audio), dtype="int16")[0].tobytes()


def test_invalid_utf8_mid_stream_stops_with_its_offset(
    live_env, tmp_path: Path, server: ServerHandle
) -> None:
    say = Say(["-o", "out.flac"], live_env, tmp_path)
    say.started("First sentence here. ")
    wait_until(lambda: spoken(server), "the first sentence is sent", proc=say.proc)
    say.write(b"bad \xff byte")
    say.close()
    code, stderr = say.wait()
    assert code == 2, stderr
    assert "standard input is not valid UTF-8 (invalid byte 0xff at offset 25)" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "out.flac").exists()


@pytest.mark.parametrize("columns", [60, 100])
def test_the_live_screen_shows_heard_pieces_text_and_lag(
    columns: int, live_env, tmp_path: Path, slow_server: ServerHandle
) -> None:
    env = {**live_env, "OUTEAI_BASE_URL": slow_server.base_url}
    read_end, write_end = os.pipe()

    def feed() -> None:
        for word in " ".join(SENTENCES).split(" "):
            os.write(write_end, (word + " ").encode())
            time.sleep(0.125)
        os.close(write_end)

    feeder = threading.Thread(target=feed)
    feeder.start()
    code, shots, _ = screens_in_pty(
        ["say", "--play"], env, tmp_path, columns=columns, every=0.3, stdin=read_end
    )
    feeder.join()
    os.close(read_end)
    assert code == 0, shots[-1]
    live = [shot for shot in shots if "heard of" in shot]
    assert live, shots
    for shot in live:
        assert all(len(line) <= columns for line in shot.splitlines()), shot
    playing = next(shot for shot in live if "lag" in shot and "more coming" in shot)
    assert re.search(r"▶ Playing 0:\d\d heard of 0:\d\d ready · lag \d+\.\d s", playing)
    assert re.search(r"pieces \d+ heard · [01] playing · \d+ queued · \d+ in flight", playing)
    assert re.search(r"text \d+ characters, more coming", playing)
    assert re.search(r"Played \d+\.\d s of audio \(3 pieces\)", shots[-1])


def test_play_save_and_subtitles_in_one_run_of_a_live_text(
    live_env, tmp_path: Path, server: ServerHandle, player: dict[str, Path]
) -> None:
    import srt

    say = Say(["--play", "-o", "out.flac", "--subtitles", "out.srt"], live_env, tmp_path)
    say.feed(" ".join(SENTENCES))
    wait_for(lambda: len(server.tts_requests()) == 3)
    say.close()
    code, stderr = say.wait()
    assert code == 0, stderr
    cues = list(srt.parse((tmp_path / "out.srt").read_text()))
    assert [cue.content for cue in cues] == SENTENCES
    frames = sf.info(tmp_path / "out.flac").frames
    assert abs(cues[-1].end.total_seconds() - frames / 44100) < 0.002
    assert player["heard"].read_bytes() == samples(tmp_path / "out.flac")


def test_a_text_in_pieces_goes_to_a_pipe_as_made_and_to_a_file_whole(
    cli_env: dict[str, str], tmp_path: Path, server: ServerHandle
) -> None:
    args = [sys.executable, "-m", "outeai_cli", "say", " ".join(SENTENCES)]
    args += ["--max-chars", "50", "-o", "-", "--format", "wav", "-q"]
    piped = subprocess.run(args, capture_output=True, env=cli_env, cwd=tmp_path, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout[40:44] == b"\xff\xff\xff\xff"  # streamed: its length was not known
    with open(tmp_path / "whole.wav", "wb") as out:
        code = subprocess.call(args, stdout=out, env=cli_env, cwd=tmp_path, timeout=60)
    assert code == 0
    whole = (tmp_path / "whole.wav").read_bytes()
    check_audio(tmp_path / "whole.wav", expected="wav")  # its header says how long it is
    assert whole[44:] == piped.stdout[44:]


def test_a_live_piece_the_server_refuses_as_too_long_is_split_and_played_in_order(
    live_env, tmp_path: Path, make_server, player: dict[str, Path]
) -> None:
    strict = make_server(max_chars=30)  # 413 for anything longer
    env = {**live_env, "OUTEAI_BASE_URL": strict.base_url}
    say = Say(["--play", "-o", "out.wav"], env, tmp_path)
    say.feed(SENTENCES[0] + " " + SENTENCES[1])
    wait_for(lambda: len([r for r in strict.requests() if r.get("status") == 200]) >= 4)
    say.close()
    code, stderr = say.wait()
    assert code == 0, stderr
    assert "refused" in stderr and "splitting it further" in stderr
    spoken_whole = [r["text"] for r in strict.requests() if r.get("status") == 200]
    assert " ".join(spoken_whole) == " ".join(SENTENCES[:2])  # every word once, in order
    assert player["heard"].read_bytes() == samples(tmp_path / "out.wav")

"""`outeai say` as users run it: a real subprocess against the local server."""

from __future__ import annotations

import io
import json
import re
import socket
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import TOKEN
from tests.helpers import files_in, frames, reference_audio, run_in_pty

TEXT = "Hello there. How are you today?"


# -- where the text comes from ----------------------------------------------------------------


def test_say_text_argument_writes_flac_and_reports_it(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", TEXT, "-s", "EN-FEMALE-1-NEURAL", "-o", "out.flac")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.flac").read_bytes() == reference_audio(server.base_url, TEXT, TOKEN)
    info = sf.info(tmp_path / "out.flac")
    assert (info.format, info.samplerate) == ("FLAC", 44100)
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"Saved out\.flac \(\d+\.\d s of audio, [\d.]+ KiB, FLAC\)", last), last
    assert server.tts_requests()[0]["speaker"] == {"default": "EN-FEMALE-1-NEURAL"}


def test_say_reads_text_from_file(outeai, server, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text(TEXT + "\n", encoding="utf-8")
    result = outeai("say", "-f", "in.txt", "-o", "out.flac")
    assert result.returncode == 0, result.stderr
    assert server.tts_requests()[0]["text"] == TEXT + "\n"


def test_say_reads_piped_stdin_when_no_text_given(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", "-o", "hi.flac", input="hi from a pipe\n")
    assert result.returncode == 0, result.stderr
    assert server.tts_requests()[0]["text"] == "hi from a pipe\n"
    assert frames(tmp_path / "hi.flac") > 0


def test_say_joins_unquoted_words_as_echo_does(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", "Hello", "world,", "-o", "x.flac", "how", "are", "you?")
    assert result.returncode == 0, result.stderr
    assert server.tts_requests()[0]["text"] == "Hello world, how are you?"
    assert frames(tmp_path / "x.flac") > 0


def test_say_file_dash_reads_stdin(outeai, server) -> None:
    result = outeai("say", "-f", "-", "-o", "x.flac", input="from dash")
    assert result.returncode == 0, result.stderr
    assert server.tts_requests()[0]["text"] == "from dash"


def test_say_file_dash_on_a_terminal_says_it_reads_the_terminal_and_how_to_end(
    cli_env, server, tmp_path: Path
) -> None:
    code, screen, _ = run_in_pty(
        ["say", "-f", "-", "-o", "x.flac"],
        cli_env,
        tmp_path,
        stdin_tty=True,
        answer=(b"Ctrl-D", b"Typed here\n\x04"),
    )
    assert code == 0, screen
    assert "outeai: reading the text from the terminal; end with Ctrl-D on a new line" in screen
    assert server.tts_requests()[0]["text"] == "Typed here\n"


def test_batch_dash_on_a_terminal_says_it_reads_lines(cli_env, server, tmp_path: Path) -> None:
    code, screen, _ = run_in_pty(
        ["batch", "-", "-o", "out"],
        cli_env,
        tmp_path,
        stdin_tty=True,
        answer=(b"Ctrl-D", b"One line\nAnother\n\x04"),
    )
    assert code == 0, screen
    assert "reading texts, one per line, from the terminal; end with Ctrl-D" in screen
    assert sorted(r["text"] for r in server.tts_requests()) == ["Another", "One line"]


def test_say_file_dash_on_a_pipe_reads_without_a_word(outeai, server) -> None:
    result = outeai("say", "-f", "-", "-o", "x.flac", input="piped")
    assert result.returncode == 0, result.stderr
    assert "reading" not in result.stderr and "Ctrl-D" not in result.stderr


# -- stdout -----------------------------------------------------------------------------------


def test_say_dash_o_into_a_pipe_is_byte_identical(outeai, server) -> None:
    result = outeai("say", TEXT, "-o", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout == reference_audio(server.base_url, TEXT, TOKEN)
    assert "stdout" in result.stderr


def test_say_without_o_writes_to_a_piped_stdout(outeai, server, tmp_path: Path) -> None:
    before = files_in(tmp_path)
    result = outeai("say", "piped by default")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"fLaC")
    assert files_in(tmp_path) == before


def test_say_dash_o_wav_to_stdout_converts(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", TEXT, "-o", "-", "--format", "wav")
    assert result.returncode == 0, result.stderr
    assert result.stdout[:4] == b"RIFF" and result.stdout[8:12] == b"WAVE"


def test_say_refuses_audio_on_a_terminal_stdout(outeai, server) -> None:
    result = outeai("say", "hi", "-o", "-", stdout_tty=True, stderr_tty=True)
    assert result.returncode == 2
    assert "refusing to write audio to a terminal" in result.stderr
    assert server.tts_requests() == []


def test_say_on_a_terminal_names_a_new_file_from_the_text(outeai, server, tmp_path: Path) -> None:
    (tmp_path / "good-morning-world.flac").write_bytes(b"keep me")
    result = outeai("say", "Good morning, world!", stdout_tty=True, stderr_tty=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "good-morning-world.flac").read_bytes() == b"keep me"
    assert frames(tmp_path / "good-morning-world-2.flac") > 0
    assert "good-morning-world-2.flac" in result.stderr


# -- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["wav", "ogg", "mp3"])
def test_say_converts_by_extension_to_the_same_duration(outeai, tmp_path: Path, ext: str) -> None:
    assert outeai("say", TEXT, "-o", "ref.flac").returncode == 0
    result = outeai("say", TEXT, "-o", f"out.{ext}")
    assert result.returncode == 0, result.stderr
    ref, out = sf.info(tmp_path / "ref.flac"), sf.info(tmp_path / f"out.{ext}")
    assert out.format == ext.upper() if ext != "ogg" else out.format == "OGG"
    assert out.samplerate == ref.samplerate
    # WAV and OGG keep every frame; MP3 frames hold 1152 samples, so allow one frame of padding.
    tolerance = 1152 if ext == "mp3" else 1
    assert abs(out.frames - ref.frames) <= tolerance


def test_say_format_flag_overrides_the_extension(outeai, tmp_path: Path) -> None:
    result = outeai("say", "hi", "-o", "audio.bin", "--format", "wav")
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "audio.bin").format == "WAV"


def test_say_json_prints_a_result_object(outeai, tmp_path: Path) -> None:
    result = outeai("say", TEXT, "-o", "out.wav", "--json", "-t", "0.7", "-q")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["path"] == "out.wav" and data["format"] == "wav"
    assert data["bytes"] == (tmp_path / "out.wav").stat().st_size
    assert data["temperature"] == 0.7 and data["speaker"] == "default:EN-FEMALE-1-NEUTRAL"
    assert data["duration"] > 0 and data["elapsed"] >= 0
    assert result.stderr == ""


def test_say_quiet_prints_nothing_on_success(outeai) -> None:
    result = outeai("say", "hi", "-o", "q.flac", "-q")
    assert result.returncode == 0
    assert result.stderr == ""


# -- overwriting ------------------------------------------------------------------------------


def test_say_keeps_an_existing_file_without_force(outeai, server, tmp_path: Path) -> None:
    (tmp_path / "out.flac").write_bytes(b"precious")
    result = outeai("say", "hi", "-o", "out.flac")
    assert result.returncode == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (tmp_path / "out.flac").read_bytes() == b"precious"
    assert server.tts_requests() == []


def test_say_force_overwrites(outeai, tmp_path: Path) -> None:
    (tmp_path / "out.flac").write_bytes(b"old")
    result = outeai("say", "hi", "-o", "out.flac", "--force")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.flac").read_bytes().startswith(b"fLaC")


# -- errors: one line, the documented exit code, nothing written, nothing sent -----------------

USAGE_ERRORS = [
    (["say", "", "-o", "x.flac"], None, "the text argument is empty"),
    (["say", "   \n", "-o", "x.flac"], None, "is empty"),
    (["say", "-o", "x.flac"], b"\n\t ", "standard input is empty"),
    (["say", "-o", "x.flac"], b"caf\xe9 latin-1", "invalid byte 0xe9 at offset 3"),
    (["say", "hi", "-f", "in.txt", "-o", "x.flac"], None, "not both"),
    (["say", "-f", "missing.txt", "-o", "x.flac"], None, "no such file: missing.txt"),
    (
        ["say", "hi", "-t", "1.5", "-o", "x.flac"],
        None,
        "invalid temperature 1.5 given on the command line: must be a number from 0.1 to 1.0; "
        "e.g. -t 0.4",
    ),
    (["say", "hi", "-t", "0.05", "-o", "x.flac"], None, "temperature"),
    (["say", "hi", "-o", "x.aiff"], None, "unsupported output extension '.aiff'"),
    (["say", "hi", "-o", "noext"], None, "has no extension"),
    (["say", "hi", "-o", "x.flac", "--format", "opus"], None, "invalid format 'opus'"),
    (
        ["say", "hi", "-o", "h.flac", "--format", "mp3"],
        None,
        "h.flac is named .flac but the format asked for is mp3; name the file h.mp3, "
        "or try --format flac",
    ),
    (["say", "hi", "-o", "h.MP3", "--format", "wav"], None, "h.MP3 is named .mp3"),
    (["say", "hi", "-o", "nodir/x.flac"], None, "does not exist"),
    (["say", "hi", "-s", "default:", "-o", "x.flac"], None, "has no name"),
    (["say", "hi", "-o", "/proc/x.flac"], None, "cannot write to the directory /proc"),
    (["say", "hi", "-o", "x.flac", "--timeout", "0"], None, "invalid timeout 0 given"),
    (["say", "hi", "--bogus"], None, "No such option: --bogus"),
    (["say", "hi", "--bogus"], None, "run 'outeai say -h' for help"),
    (["say", "hi", "-s"], None, "Option '-s' requires an argument; run 'outeai say -h' for help"),
    (["say", "hi", "--api", "bogus"], None, "'bogus' is not one of 'tts'"),
    (["nosuchcommand"], None, "No such command 'nosuchcommand'; run 'outeai -h' for help"),
]


@pytest.mark.parametrize(("args", "stdin", "message"), USAGE_ERRORS)
def test_say_usage_errors_exit_2_before_any_request(
    outeai, server, tmp_path: Path, args: list[str], stdin: bytes | None, message: str
) -> None:
    (tmp_path / "in.txt").write_text("text")
    before = files_in(tmp_path)
    result = outeai(*args, input=stdin)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("outeai: error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert server.tts_requests() == []
    assert files_in(tmp_path) == before


def _error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("outeai: error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def test_say_without_token_exits_3_with_the_fix(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", "hi", "-o", "x.flac", env={"OUTEAI_TOKEN": ""})
    assert result.returncode == 3
    line = _error_line(result.stderr)
    assert "no API token" in line and "outeai config set token" in line and "OUTEAI_TOKEN" in line
    assert server.tts_requests() == []
    assert not (tmp_path / "x.flac").exists()


def test_say_rejected_token_exits_3(outeai, make_server, tmp_path: Path) -> None:
    strict = make_server(tokens=frozenset({"the-only-valid-token"}))
    result = outeai("say", "hi", "-o", "x.flac", env={"OUTEAI_BASE_URL": strict.base_url})
    assert result.returncode == 3
    line = _error_line(result.stderr)
    assert "rejected" in line and TOKEN not in result.stderr
    assert not (tmp_path / "x.flac").exists()


def test_say_unknown_voice_exits_4_and_suggests(outeai, tmp_path: Path) -> None:
    result = outeai("say", "hi", "-s", "EN-FEMALE-1-NEUTRL", "-o", "x.flac")
    assert result.returncode == 4
    line = _error_line(result.stderr)
    assert "EN-FEMALE-1-NEUTRAL" in line and "outeai voices" in line
    assert not (tmp_path / "x.flac").exists()


def test_say_registered_custom_voice_unknown_to_the_server_says_so(outeai, tmp_path: Path) -> None:
    assert outeai("voices", "add", "my-own-voice").returncode == 0
    result = outeai("say", "hi", "-s", "my-own-voice", "-o", "x.flac")
    assert result.returncode == 4
    line = _error_line(result.stderr)
    assert "registered here" in line and "--custom-voice my-own-voice" in line
    assert "did you mean my-own-voice" not in line


def test_say_base_url_without_the_api_root_names_the_fix(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", "hi", "-o", "x.flac", env={"OUTEAI_BASE_URL": server.root_url})
    assert result.returncode == 4
    assert f"ending in /api/v1, e.g. {server.root_url}/api/v1" in _error_line(result.stderr)
    assert not (tmp_path / "x.flac").exists()


def test_say_text_over_the_plan_limit_exits_4(outeai, make_server, tmp_path: Path) -> None:
    small = make_server(max_chars=10)
    result = outeai(
        "say", "this is far too long", "-o", "x.flac", env={"OUTEAI_BASE_URL": small.base_url}
    )
    assert result.returncode == 4
    assert "413" in _error_line(result.stderr)
    assert not (tmp_path / "x.flac").exists()


def test_say_connection_refused_exits_5(outeai, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = outeai(
        "say",
        "hi",
        "-o",
        "x.flac",
        "--retries",
        "0",
        env={"OUTEAI_BASE_URL": f"http://127.0.0.1:{port}/api/v1"},
    )
    assert result.returncode == 5
    assert "cannot connect" in _error_line(result.stderr)
    assert files_in(tmp_path) == {"config", "cache", "home"} & files_in(tmp_path)


def test_say_server_error_exits_5_and_leaves_nothing(outeai, server, tmp_path: Path) -> None:
    server.set_faults("http-503")
    before = files_in(tmp_path)
    result = outeai("say", "hi", "-o", "x.flac", "--retries", "0")
    assert result.returncode == 5
    assert "HTTP 503" in _error_line(result.stderr)
    assert files_in(tmp_path) == before


def test_say_malformed_stream_exits_6_and_keeps_the_old_file(
    outeai, server, tmp_path: Path
) -> None:
    (tmp_path / "x.flac").write_bytes(b"old audio")
    server.set_faults("bad-base64")
    result = outeai("say", "hi", "-o", "x.flac", "--force")
    assert result.returncode == 6
    assert "invalid base64" in _error_line(result.stderr)
    assert (tmp_path / "x.flac").read_bytes() == b"old audio"
    assert sorted(files_in(tmp_path)) == sorted(
        ["x.flac", *({"config", "cache", "home"} & files_in(tmp_path))]
    )


# -- progress -----------------------------------------------------------------------------------


def test_say_shows_a_live_progress_bar_on_a_terminal(cli_env, make_server, tmp_path: Path) -> None:
    slow = make_server(latency=1.5)  # 0.5 s a chunk: long enough for the bar to redraw
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    text = "One. Two. Three."
    code, screen, audio = run_in_pty(["say", text, "-o", "-"], env, tmp_path, stdout_tty=False)
    assert code == 0, screen
    assert audio.startswith(b"fLaC")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert "Generating audio" in plain
    assert re.search(r"[12]/3 chunks", plain), plain
    assert "\x1b[" in screen  # redrawn in place on a real terminal
    assert "Wrote the audio to stdout" in screen


def test_say_no_color_on_a_terminal_has_no_colour_codes(cli_env, server, tmp_path: Path) -> None:
    env = {**cli_env, "NO_COLOR": "1"}
    code, screen, _ = run_in_pty(
        ["say", "hi", "-o", "-", "-t", "3"], env, tmp_path, stdout_tty=False
    )
    assert code == 2
    assert not re.search(r"\x1b\[[0-9;]*m", screen), screen


# -- in-process: every byte through the Terminal object -----------------------------------------


def test_say_runs_in_process_writing_only_through_its_terminal(
    cli_env, server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Audio, --json and messages all go to the Terminal a command is given, not sys.std*."""
    from typer.testing import CliRunner

    from outeai_cli.cli.app import app
    from outeai_cli.cli.terminal import Terminal

    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)

    audio = io.BytesIO()
    messages = io.StringIO()
    terminal = Terminal(
        stdin=io.StringIO(""),
        stdout=io.TextIOWrapper(audio, write_through=True),
        stderr=messages,
        environ={},
    )
    result = CliRunner().invoke(app, ["say", TEXT, "-o", "-"], obj=terminal)
    assert result.exit_code == 0, (result.output, messages.getvalue())
    assert result.output == ""  # nothing reached the real (here: the runner's) streams
    assert audio.getvalue() == reference_audio(server.base_url, TEXT, TOKEN)
    last = messages.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"Wrote the audio to stdout \(\d+\.\d s of audio, [\d.]+ KiB, FLAC\)", last)

    out, err = io.StringIO(), io.StringIO()
    terminal = Terminal(stdin=io.StringIO(""), stdout=out, stderr=err, environ={})
    result = CliRunner().invoke(app, ["say", TEXT, "-o", "hi.wav", "--json"], obj=terminal)
    assert result.exit_code == 0, (result.output, err.getvalue())
    assert result.output == ""
    report = json.loads(out.getvalue())
    assert (report["path"], report["format"], report["pieces"]) == ("hi.wav", "wav", 1)
    assert sf.info(tmp_path / "hi.wav").frames > 0
    assert err.getvalue().strip().splitlines()[-1].startswith("Saved hi.wav (")

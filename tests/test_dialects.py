"""Every dialect of the API behind one client: `tts` (seed), `audio` (2025), `tts-stream` (2026).

The library and the real `outeai` subprocess against `outeai serve`, which speaks all three at
once: formats, stdin to stdout, the fault matrix with the primary dialect's exit codes, token
masking (the 2025 API puts the token in the URL), `--api auto`, and WAV streamed to stdout
before generation ends.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
import pytest
import soundfile as sf

from outeai_cli.errors import APIError, InsecureTransportError
from outeai_cli.http.client import TTSClient, TTSOutput
from outeai_cli.security import mask_token
from tests.conftest import TOKEN, ServerHandle
from tests.helpers import error_lines, files_in

DIALECTS = ["tts", "audio", "tts-stream"]
LATER = ["audio", "tts-stream"]  # the primary dialect's CLI behaviour has its own tests
PATH = {"tts": "tts", "audio": "audio", "tts-stream": "tts_stream"}
DELIVERED = {"tts": "FLAC", "audio": "MP3", "tts-stream": "WAV"}
SF_FORMAT = {"flac": "FLAC", "wav": "WAV", "ogg": "OGG", "mp3": "MP3"}
TEXT = "Every dialect speaks. The same words, three ways."
# Needs escaping in a URL: what the 2025 API's query string carries must be masked in every form.
URL_TOKEN = "tok/en+with spaces&=?#-0123456789abcdef"


def synth_requests(server: ServerHandle, api: str) -> list[dict]:
    return [r for r in server.requests() if r["path"] == PATH[api]]


def reference(server: ServerHandle, api: str, text: str = TEXT, **kwargs: object) -> TTSOutput:
    with TTSClient(TOKEN, base_url=server.base_url, api=api, retries=0) as client:
        return client.generate(text, **kwargs)  # type: ignore[arg-type]


def samples(data: bytes) -> tuple[np.ndarray, int]:
    decoded, rate = sf.read(io.BytesIO(data), dtype="int16")
    return decoded, rate


# -- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize("api", DIALECTS)
def test_each_dialect_delivers_its_own_format_with_the_stated_duration(
    server: ServerHandle, api: str
) -> None:
    output = reference(server, api)
    info = sf.info(io.BytesIO(output.audio_bytes))
    assert info.format == DELIVERED[api] and output.format == DELIVERED[api].lower()
    assert info.channels == 1
    assert info.samplerate == (24000 if api == "tts-stream" else 44100)
    assert output.duration == pytest.approx(info.frames / info.samplerate, abs=0.03)


def test_every_dialect_speaks_the_same_length_for_the_same_text(server: ServerHandle) -> None:
    durations = [reference(server, api).duration for api in DIALECTS]
    assert durations[0] > 2.0
    assert durations == pytest.approx([durations[0]] * 3, abs=0.03)


@pytest.mark.parametrize("api", DIALECTS)
@pytest.mark.parametrize(
    ("speaker", "recorded"),
    [
        ("EN-FEMALE-1-NEUTRAL", {"default": "EN-FEMALE-1-NEUTRAL"}),
        ("custom:my-clone", {"custom": "my-clone"}),
    ],
)
def test_each_dialect_sends_the_text_and_voice_in_its_own_request_shape(
    server: ServerHandle, api: str, speaker: str, recorded: dict[str, str]
) -> None:
    reference(server, api, speaker=speaker)
    (request,) = synth_requests(server, api)
    assert (request["text"], request["speaker"], request["status"]) == (TEXT, recorded, 200)


def test_saved_wav_stream_gets_its_real_sizes_in_the_header(server: ServerHandle) -> None:
    audio = reference(server, "tts-stream").audio_bytes
    riff_size, data_size = (
        struct.unpack_from("<I", audio, 4)[0],
        struct.unpack_from("<I", audio, 40)[0],
    )
    assert audio[36:40] == b"data"
    assert (riff_size, data_size) == (len(audio) - 8, len(audio) - 44)


@pytest.mark.parametrize(("api", "field"), [("audio", "model"), ("tts-stream", "model_name")])
def test_model_choice_is_sent_and_an_unknown_one_is_refused(
    server: ServerHandle, api: str, field: str
) -> None:
    with (
        TTSClient(TOKEN, base_url=server.base_url, api=api, model="NoSuchModel") as client,
        pytest.raises(APIError) as caught,
    ):
        client.generate("Hi.")
    assert caught.value.status == 400 and caught.value.code == "invalid_model"
    assert f"unknown {field} 'NoSuchModel'" in caught.value.message


def test_audio_api_refuses_plain_http_to_a_remote_host_even_if_insecure_http_is_allowed() -> None:
    # Refused in the constructor: nothing is resolved or sent (.invalid never resolves anyway).
    with pytest.raises(InsecureTransportError) as caught:
        TTSClient(
            TOKEN,
            base_url="http://tts.example.invalid/api/v1",
            api="audio",
            allow_insecure_http=True,
        )
    assert "puts it in the URL" in caught.value.message
    # Other dialects keep the plain --allow-insecure-http escape hatch; https is fine for all.
    TTSClient(TOKEN, base_url="http://tts.example.invalid/api/v1", allow_insecure_http=True)
    TTSClient(TOKEN, base_url="https://tts.example.invalid/api/v1", api="audio")


def test_url_token_is_masked_in_the_http_log_lines(
    server: ServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="httpx"),
        TTSClient(URL_TOKEN, base_url=server.base_url, api="audio") as client,
    ):
        client.generate("Hi.")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/api/v1/audio?token=" in logged  # the line is there, with the token masked
    assert mask_token(URL_TOKEN) in logged
    assert URL_TOKEN not in logged and quote_plus(URL_TOKEN, safe="") not in logged


@pytest.fixture
def echoing_server(raw_server) -> str:  # type: ignore[no-untyped-def]
    """A server answering 400 with the request line in its message, as some proxies do."""

    def echo(conn: socket.socket, request: bytes) -> None:
        request_line = request.split(b"\r\n", 1)[0].decode("latin-1")
        body = json.dumps({"message": f"bad request: {request_line}"}).encode()
        conn.sendall(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    return raw_server(echo)  # type: ignore[no-any-return]


def test_url_token_is_masked_when_the_server_echoes_the_url_in_an_error(
    echoing_server: str,
) -> None:
    with (
        TTSClient(URL_TOKEN, base_url=echoing_server, api="audio", retries=0) as client,
        pytest.raises(APIError) as caught,
    ):
        client.generate("Hi.")
    text = f"{caught.value} {caught.value.hint} {caught.value!r}"
    assert "bad request: POST /api/v1/audio?token=" in text
    assert URL_TOKEN not in text and quote_plus(URL_TOKEN, safe="") not in text
    assert mask_token(URL_TOKEN) in text


# -- the CLI in each dialect -----------------------------------------------------------------


@pytest.mark.parametrize("ext", ["flac", "wav", "ogg", "mp3"])
@pytest.mark.parametrize("api", LATER)
def test_say_writes_each_output_format_in_each_dialect(
    outeai, server: ServerHandle, tmp_path: Path, api: str, ext: str
) -> None:
    expected = reference(server, api).duration
    result = outeai("say", "--api", api, TEXT, "-o", f"out.{ext}")
    assert result.returncode == 0, result.stderr
    info = sf.info(tmp_path / f"out.{ext}")
    assert info.format == SF_FORMAT[ext]
    assert info.frames / info.samplerate == pytest.approx(expected, abs=0.06)
    assert f"Saved out.{ext}" in result.stderr


@pytest.mark.parametrize("api", DIALECTS)
def test_say_from_stdin_to_a_piped_stdout_writes_what_the_api_sends(
    outeai, server: ServerHandle, api: str
) -> None:
    expected = reference(server, api)
    result = outeai("say", "--api", api, input=TEXT)
    assert result.returncode == 0, result.stderr
    assert sf.info(io.BytesIO(result.stdout)).format == DELIVERED[api]
    if api == "tts-stream":  # passed on as it came: the live stream's header, same samples
        assert result.stdout[:4] == b"RIFF" and result.stdout[4:8] == b"\xff\xff\xff\xff"
        assert np.array_equal(samples(result.stdout)[0], samples(expected.audio_bytes)[0])
    else:
        assert result.stdout == expected.audio_bytes
    assert "Wrote the audio to stdout" in result.stderr


@pytest.mark.parametrize("api", LATER)
def test_say_to_stdout_with_a_format_converts_in_each_dialect(outeai, api: str) -> None:
    result = outeai("say", "--api", api, "Hi there.", "-o", "-", "--format", "flac")
    assert result.returncode == 0, result.stderr
    assert result.stdout[:4] == b"fLaC"


def test_api_comes_from_the_environment_or_the_config_file(
    outeai, server: ServerHandle, tmp_path: Path
) -> None:
    assert outeai("say", "Hi.", "-o", "a.mp3", env={"OUTEAI_API": "audio"}).returncode == 0
    assert len(synth_requests(server, "audio")) == 1
    assert outeai("config", "set", "api", "tts-stream").returncode == 0
    assert outeai("say", "Hi.", "-o", "b.wav").returncode == 0
    assert len(synth_requests(server, "tts-stream")) == 1
    bad_flag = outeai("say", "Hi.", "-o", "c.wav", "--api", "v3")
    assert bad_flag.returncode == 2 and "Invalid value for '--api'" in bad_flag.stderr
    bad_env = outeai("say", "Hi.", "-o", "c.wav", env={"OUTEAI_API": "v3"})
    assert bad_env.returncode == 2
    assert "invalid api 'v3' in $OUTEAI_API: must be one of tts, audio, tts-stream, auto" in (
        bad_env.stderr
    )
    assert not (tmp_path / "c.wav").exists()


LONG = " ".join(f"Sentence number {n} says a few words." for n in range(1, 9))


@pytest.mark.parametrize(
    ("api", "ext"), [("audio", "mp3"), ("tts-stream", "wav"), ("audio", "wav")]
)
def test_long_text_is_split_requested_and_stitched_in_each_dialect(
    outeai, server: ServerHandle, tmp_path: Path, api: str, ext: str
) -> None:
    whole = reference(server, api, LONG).duration
    server.reset()
    result = outeai("say", "--api", api, "--max-chars", "80", LONG, "-o", f"long.{ext}")
    assert result.returncode == 0, result.stderr
    pieces = synth_requests(server, api)
    texts = sorted(p["text"] for p in pieces)  # requested at once: in any order
    assert len(texts) == 4 and " ".join(texts).split() == LONG.split()
    info = sf.info(tmp_path / f"long.{ext}")
    assert info.format == SF_FORMAT[ext]
    assert info.frames / info.samplerate == pytest.approx(whole, abs=0.1)


def test_audio_api_over_plain_http_to_a_remote_host_exits_2_before_any_connection(
    outeai, tmp_path: Path
) -> None:
    result = outeai(
        "say", "--api", "audio", "Hi", "-o", "x.mp3", "--allow-insecure-http",
        "--base-url", "http://tts.example.invalid/api/v1",
    )  # fmt: skip
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "outeai: error: refusing to send the token over plain http to tts.example.invalid: the "
        "audio API puts it in the URL, where proxies and servers log it; use an https base URL"
    ]
    assert not (tmp_path / "x.mp3").exists()


# -- faults: the primary dialect's exit codes and messages in the others -------------------

FAULTS = [
    # (fault, extra args, exit code, words in the error line (audio, tts-stream), attempts)
    ("http-401", [], 3, ("was rejected (HTTP 401",) * 2, 1),
    ("http-429", ["--retries", "0"], 4, ("HTTP 429",) * 2, 1),
    ("http-500", [], 5, ("HTTP 500",) * 2, 1),
    ("http-502", ["--retries", "0"], 5, ("HTTP 502",) * 2, 1),
    ("http-503", ["--retries", "0"], 5, ("HTTP 503",) * 2, 1),
    ("http-504", ["--retries", "0"], 5, ("HTTP 504",) * 2, 1),
    ("html-502", ["--retries", "0"], 5, ("HTML page instead of JSON",) * 2, 1),
    ("drop-mid-stream", [], 5, ("connection broke",) * 2, 2),
    ("drop-in-audio", [], 5, ("connection broke",) * 2, 2),
    ("no-final-event", [], 6, ("without the final audio event", "without any audio"), 1),
    ("truncated-final-event", [], 6, ("truncated",) * 2, 1),
    ("bad-base64", [], 6, ("invalid base64", "invalid WAV header"), 1),
    ("non-json", [], 6, ("not JSON", "not WAV audio"), 1),
    ("html-200", [], 6, ("HTML page, not an event stream", "HTML page, not WAV audio"), 1),
    ("stall", ["--idle-timeout", "1"], 5, ("idle timeout",) * 2, 1),
]


@pytest.mark.parametrize(
    ("fault", "args", "code", "words", "attempts"), FAULTS, ids=[f[0] for f in FAULTS]
)
@pytest.mark.parametrize("api", LATER)
def test_fault_fails_cleanly_in_each_dialect(
    outeai,
    server: ServerHandle,
    tmp_path: Path,
    api: str,
    fault: str,
    args: list[str],
    code: int,
    words: tuple[str, str],
    attempts: int,
) -> None:
    (tmp_path / "keep.wav").write_bytes(b"previous take")
    before = files_in(tmp_path)
    server.set_faults(fault)
    result = outeai("say", "--api", api, TEXT, "-o", "keep.wav", "--force", *args)
    assert result.returncode == code, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and words[LATER.index(api)] in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "<html" not in result.stderr.lower()
    assert (tmp_path / "keep.wav").read_bytes() == b"previous take"
    assert files_in(tmp_path) == before
    assert len(synth_requests(server, api)) == attempts


@pytest.mark.parametrize("fault", ["http-503:1", "drop-mid-stream:1", "drop-in-audio:1"])
@pytest.mark.parametrize("api", LATER)
def test_transient_fault_is_retried_to_identical_audio_in_each_dialect(
    outeai, server: ServerHandle, tmp_path: Path, api: str, fault: str
) -> None:
    expected = reference(server, api).audio_bytes
    server.reset()
    server.set_faults(fault)
    result = outeai("say", "--api", api, TEXT, "-o", f"out.{DELIVERED[api].lower()}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"out.{DELIVERED[api].lower()}").read_bytes() == expected
    assert len(synth_requests(server, api)) == 2
    assert "retrying (attempt 2)" in result.stderr


@pytest.mark.parametrize(
    ("api", "quirks"),
    [
        ("audio", ["crlf", "blank-lines", "unknown-fields", "split-bytes", "escaped-slashes"]),
        ("tts-stream", ["split-bytes"]),
    ],
)
def test_awkward_but_valid_streams_give_identical_audio_in_each_dialect(
    outeai, server: ServerHandle, tmp_path: Path, api: str, quirks: list[str]
) -> None:
    expected = reference(server, api).audio_bytes
    server.set_faults(*quirks)
    result = outeai("say", "--api", api, TEXT, "-o", f"out.{DELIVERED[api].lower()}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"out.{DELIVERED[api].lower()}").read_bytes() == expected


def test_tts_stream_to_stdout_that_breaks_midway_is_not_retried_and_says_so(
    outeai, server: ServerHandle
) -> None:
    server.set_faults("drop-mid-stream:1")
    result = outeai("say", "--api", "tts-stream", TEXT, "-o", "-")
    assert result.returncode == 5
    (error,) = error_lines(result.stderr)
    assert "connection broke" in error and "already written" in error
    assert len(synth_requests(server, "tts-stream")) == 1
    assert result.stdout[:4] == b"RIFF" and len(result.stdout) > 44  # what did arrive


SCENARIOS = {
    "ok": ([], [], 0),
    "rejected": (["http-401"], [], 3),
    "broken": (["drop-in-audio"], ["--retries", "0"], 5),
    "server-error": (["http-500"], [], 5),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("api", LATER)
def test_the_token_never_appears_in_any_output(
    outeai, server: ServerHandle, api: str, scenario: str
) -> None:
    faults, args, code = SCENARIOS[scenario]
    server.set_faults(*faults)
    result = outeai(
        "say", "--api", api, "Hi.", "-o", "x.wav", "--json", *args, env={"OUTEAI_TOKEN": URL_TOKEN}
    )
    assert result.returncode == code, result.stderr
    everything = result.out + result.stderr
    for form in (URL_TOKEN, quote_plus(URL_TOKEN, safe=""), "en+with spaces"):
        assert form not in everything
    if scenario == "rejected":
        assert mask_token(URL_TOKEN) in result.stderr


# -- voices and temperature in the 2026 API ------------------------------------------------


def test_tts_stream_takes_a_voice_id_from_the_servers_list(outeai, server: ServerHandle) -> None:
    listed = outeai("voices", "--remote", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "my-clone" in {entry["name"] for entry in json.loads(listed.stdout)}
    result = outeai("say", "--api", "tts-stream", "-s", "my-clone", "Hi.", "-o", "x.wav")
    assert result.returncode == 0, result.stderr
    (request,) = synth_requests(server, "tts-stream")
    assert request["speaker"] == {"custom": "my-clone"}


def test_tts_stream_unknown_voice_exits_4_with_the_servers_message_and_a_suggestion(
    outeai,
) -> None:
    result = outeai("say", "--api", "tts-stream", "-s", "EN-FEMALE-1-NEUTRL", "Hi.", "-o", "x.wav")
    assert result.returncode == 4
    (error,) = error_lines(result.stderr)
    assert "HTTP 404: unknown voice_id 'EN-FEMALE-1-NEUTRL'" in error
    assert "did you mean EN-FEMALE-1-NEUTRAL" in error


@pytest.mark.parametrize(
    ("args", "warned"),
    [
        (["--api", "tts-stream", "-t", "0.7"], True),
        (["--api", "tts-stream"], False),
        (["--api", "tts-stream", "-t", "0.4"], False),
        (["--api", "audio", "-t", "0.7"], False),
    ],
)
def test_temperature_is_warned_about_only_where_the_api_ignores_it(
    outeai, args: list[str], warned: bool
) -> None:
    result = outeai("say", *args, "Hi.", "-o", "x.wav")
    assert result.returncode == 0, result.stderr
    warning = "outeai: warning: the tts-stream API has no temperature; -t 0.7 is ignored"
    assert (warning in result.stderr) is warned
    assert ("warning" in result.stderr) is warned


# -- --api auto ------------------------------------------------------------------------------


def cached_answers(tmp_path: Path) -> dict[str, dict]:
    return json.loads((tmp_path / "cache" / "outeai" / "api-dialects.json").read_text())


def test_auto_asks_health_once_then_remembers_the_answer_per_base_url(
    outeai, server: ServerHandle, tmp_path: Path
) -> None:
    first = outeai("say", "--api", "auto", "Hi.", "-o", "a.wav")
    assert first.returncode == 0, first.stderr
    assert (
        f"outeai: using the tts-stream API for {server.base_url} (auto-detected: it answers "
        "GET /health; remembered in " in first.stderr
    )
    second = outeai("say", "--api", "auto", "Hi.", "-o", "b.wav")
    assert second.returncode == 0, second.stderr
    assert "(auto-detected earlier;" in second.stderr
    assert [r["path"] for r in server.requests()] == ["health", "tts_stream", "tts_stream"]
    assert cached_answers(tmp_path)[server.base_url]["api"] == "tts-stream"


def test_auto_picks_the_primary_dialect_where_there_is_no_health_endpoint(
    outeai, make_server, server: ServerHandle, tmp_path: Path
) -> None:
    older = make_server(dialects=frozenset({"tts", "audio"}))
    expected = reference(older, "tts").audio_bytes
    result = outeai(
        "say", "--api", "auto", TEXT, "-o", "-", env={"OUTEAI_BASE_URL": older.base_url}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert "using the tts API" in result.stderr and "no GET /health" in result.stderr
    # Both answers are kept, each under its own base URL.
    assert outeai("say", "--api", "auto", "Hi.", "-o", "x.wav").returncode == 0
    answers = cached_answers(tmp_path)
    assert (answers[older.base_url]["api"], answers[server.base_url]["api"]) == (
        "tts",
        "tts-stream",
    )


def test_a_dialect_the_server_does_not_speak_is_named_with_the_fix(
    outeai, make_server, server: ServerHandle
) -> None:
    older = make_server(dialects=frozenset({"tts"}))
    result = outeai(
        "say", "--api", "tts-stream", "Hi.", "-o", "x.wav", env={"OUTEAI_BASE_URL": older.base_url}
    )
    assert result.returncode == 4
    assert error_lines(result.stderr) == [
        "outeai: error: HTTP 404: the server has no /tts_stream endpoint (non-JSON error body: "
        "'Not Found'); it may not speak the tts-stream API: try --api auto, or choose one of "
        "--api tts|audio|tts-stream"
    ]


def test_auto_that_cannot_reach_the_server_exits_5_and_remembers_nothing(
    outeai, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/v1"
    result = outeai("say", "--api", "auto", "Hi.", "-o", "x.wav", env={"OUTEAI_BASE_URL": closed})
    assert result.returncode == 5
    (error,) = error_lines(result.stderr)
    assert f"cannot reach {closed}/health to detect the API dialect" in error
    assert "--api tts|audio|tts-stream" in error
    assert not (tmp_path / "cache" / "outeai" / "api-dialects.json").exists()


# -- streaming ---------------------------------------------------------------------------------


def test_tts_stream_audio_reaches_stdout_before_the_server_has_finished(
    make_server, cli_env: dict[str, str], tmp_path: Path
) -> None:
    sentences = " ".join(f"Sentence number {n} is here." for n in range(1, 7))
    slow = make_server(latency=3.0)  # spread over the six sentences: one every 0.5 s
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", "--api", "tts-stream", sentences, "-o", "-"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**cli_env, "OUTEAI_BASE_URL": slow.base_url},
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    received = bytearray()
    first_audio_at = None
    while chunk := os.read(proc.stdout.fileno(), 65536):
        received += chunk
        if first_audio_at is None and len(received) > 44:  # the header and some samples
            first_audio_at = time.time()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    (request,) = [r for r in slow.requests() if r["path"] == "tts_stream"]
    assert first_audio_at is not None and request["finished_at"] is not None
    # The first sentence arrives about 2.5 s before the sixth is generated.
    assert first_audio_at < request["finished_at"] - 1.5
    decoded, rate = samples(bytes(received))
    assert rate == 24000 and len(decoded) / rate > 6.0

"""The typed client (`outeai_cli.TTSClient`) against the real local server over loopback HTTP."""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
import soundfile as sf
from conftest import TOKEN, ServerHandle

from outeai_cli import (
    APIError,
    AudioEvent,
    AuthenticationError,
    InputError,
    ProtocolError,
    StatusEvent,
    TransportError,
    TTSClient,
    TTSOutput,
)
from outeai_cli.errors import ExitCode, InsecureTransportError
from outeai_cli.http.client import Timeouts
from outeai_cli.http.events import Event, RetryEvent
from outeai_cli.http.retry import RetryPolicy
from tests.helpers import frames

TEXT = "The first sentence is here. A second one follows! Is this the third?"
FAST_RETRIES = RetryPolicy(retries=3, base_delay=0.05, max_delay=0.2)


@pytest.fixture
def client(server: ServerHandle):
    with TTSClient(TOKEN, base_url=server.base_url, retries=0) as c:
        yield c


def clean_audio(server: ServerHandle, text: str = TEXT) -> bytes:
    server.set_faults()
    with TTSClient(TOKEN, base_url=server.base_url, retries=0) as c:
        return c.generate(text).audio_bytes


# -- generate / save -------------------------------------------------------------------------


def test_generate_returns_flac_audio_of_the_stated_duration(client: TTSClient) -> None:
    out = client.generate(TEXT, speaker={"default": "EN-FEMALE-1-NEUTRAL"}, temperature=0.4)
    assert isinstance(out, TTSOutput)
    assert out.audio_bytes[:4] == b"fLaC"
    assert out.format == "flac"
    info = sf.info(io.BytesIO(out.audio_bytes))
    assert info.samplerate == 44100 == out.sample_rate
    assert out.duration is not None
    assert abs(info.frames / info.samplerate - out.duration) <= 1 / info.samplerate


def test_save_as_flac_writes_the_bytes_as_received(client: TTSClient, tmp_path: Path) -> None:
    out = client.generate(TEXT)
    target = out.save(tmp_path / "speech.flac")
    assert target.read_bytes() == out.audio_bytes
    assert os.listdir(tmp_path) == ["speech.flac"]  # no temp file left beside it


@pytest.mark.parametrize(
    ("extension", "container", "tolerance"),
    [
        ("wav", "WAV", 1),
        ("ogg", "OGG", 1),
        # MP3 codes 1152-sample frames after an encoder delay; the decoded length is exact
        # only when the decoder honours the gapless (LAME) header, so allow one MP3 frame.
        ("mp3", "MP3", 1152),
    ],
)
def test_save_converts_by_extension_keeping_the_duration(
    client: TTSClient, tmp_path: Path, extension: str, container: str, tolerance: int
) -> None:
    out = client.generate(TEXT)
    target = out.save(tmp_path / f"speech.{extension}")
    info = sf.info(target)
    assert (info.format, info.samplerate) == (container, 44100)
    assert abs(info.frames - frames(out.audio_bytes)) <= tolerance
    samples, _ = sf.read(target, dtype="float32")
    assert abs(samples).max() > 0.1  # the tone survived the conversion
    assert os.listdir(tmp_path) == [f"speech.{extension}"]


def test_failed_save_leaves_the_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "keep.wav"
    target.write_bytes(b"previous contents")
    broken = TTSOutput(audio_bytes=b"fLaC" + bytes(200), duration=1.0, format="flac")
    with pytest.raises(ProtocolError, match="the received audio is damaged"):
        broken.save(target)
    assert target.read_bytes() == b"previous contents"
    assert os.listdir(tmp_path) == ["keep.wav"]


def test_save_without_force_refuses_to_overwrite(client: TTSClient, tmp_path: Path) -> None:
    target = tmp_path / "keep.flac"
    target.write_bytes(b"previous contents")
    with pytest.raises(InputError, match="already exists"):
        client.generate("Hi.").save(target, force=False)
    assert target.read_bytes() == b"previous contents"


def test_save_rejects_an_unknown_extension_before_writing(
    client: TTSClient, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=r"\.aac"):
        client.generate("Hi.").save(tmp_path / "speech.aac")
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_format_the_extension_contradicts(client: TTSClient, tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"speech\.flac is named \.flac but the format asked for is mp3"
    ):
        client.generate("Hi.").save(tmp_path / "speech.flac", format="mp3")
    assert os.listdir(tmp_path) == []
    client.generate("Hi.").save(tmp_path / "speech.flac", format="FLAC")  # the same: fine


# -- stream ----------------------------------------------------------------------------------


def test_stream_yields_statuses_then_exactly_one_audio_event(client: TTSClient) -> None:
    events = list(client.stream(TEXT))
    *statuses, last = events
    assert all(isinstance(e, StatusEvent) for e in statuses)
    assert isinstance(last, AudioEvent)
    assert statuses[0].current_text_chunk is None  # the warm-up
    assert [s.current_text_chunk for s in statuses[1:]] == [1, 2, 3]
    assert {s.text_chunks for s in statuses[1:]} == {3}
    seconds = [s.generated_seconds for s in statuses[1:]]
    assert seconds == sorted(seconds)
    assert last.format == "flac" and last.audio_bytes is not None
    assert last.size == len(last.audio_bytes)
    assert last.duration == pytest.approx(seconds[-1], abs=0.001)
    assert last.audio_bytes == client.generate(TEXT).audio_bytes


def test_stream_into_a_sink_writes_the_audio_there(client: TTSClient, tmp_path: Path) -> None:
    with open(tmp_path / "out.flac", "w+b") as sink:
        events = list(client.stream(TEXT, sink=sink))
    final = events[-1]
    assert isinstance(final, AudioEvent) and final.audio_bytes is None
    assert (tmp_path / "out.flac").read_bytes() == client.generate(TEXT).audio_bytes


@pytest.mark.parametrize(
    ("speaker", "sent"),
    [
        ({"default": "EN-MALE-1-NEUTRAL"}, {"default": "EN-MALE-1-NEUTRAL"}),
        ({"custom": "my-clone"}, {"custom": "my-clone"}),
        ("custom:my-clone", {"custom": "my-clone"}),
        ("default:EN-FEMALE-1-NEURAL", {"default": "EN-FEMALE-1-NEURAL"}),
        ("EN-MALE-1-NEUTRAL", {"default": "EN-MALE-1-NEUTRAL"}),
    ],
)
def test_speaker_forms_reach_the_server_as_one_key_objects(
    server: ServerHandle, client: TTSClient, speaker: object, sent: dict[str, str]
) -> None:
    out = client.generate("Hi.", speaker=speaker)  # type: ignore[arg-type]
    assert out.audio_bytes[:4] == b"fLaC"
    assert server.tts_requests()[-1]["speaker"] == sent


@pytest.mark.parametrize(
    ("text", "speaker", "temperature"),
    [
        ("", "EN-FEMALE-1-NEUTRAL", 0.4),
        ("   ", "EN-FEMALE-1-NEUTRAL", 0.4),
        ("Hi.", {"default": "A", "custom": "B"}, 0.4),
        ("Hi.", {"voice": "A"}, 0.4),
        ("Hi.", "", 0.4),
        ("Hi.", "custom:", 0.4),
        ("Hi.", "EN-FEMALE-1-NEUTRAL", 0.05),
        ("Hi.", "EN-FEMALE-1-NEUTRAL", 1.5),
        ("Hi.", "EN-FEMALE-1-NEUTRAL", True),
    ],
)
def test_bad_input_is_refused_before_any_request(
    server: ServerHandle, client: TTSClient, text: str, speaker: object, temperature: float
) -> None:
    with pytest.raises(InputError) as caught:
        client.generate(text, speaker=speaker, temperature=temperature)  # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.USAGE
    assert server.requests() == []


def test_voices_lists_built_in_and_custom_voices(client: TTSClient) -> None:
    ids = {v["voice_id"] for v in client.voices()}
    assert {"EN-FEMALE-1-NEUTRAL", "my-clone"} <= ids


# -- faults give typed errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("http-400", APIError, 400),
        ("http-429", APIError, 429),
        ("http-500", APIError, 500),
        ("http-502", APIError, 502),
        ("http-503", APIError, 503),
        ("http-504", APIError, 504),
        ("drop-mid-stream", TransportError, None),
        ("drop-in-audio", TransportError, None),
        ("no-final-event", ProtocolError, None),
        ("truncated-final-event", ProtocolError, None),
        ("bad-base64", ProtocolError, None),
        ("non-json", ProtocolError, None),
        ("html-200", ProtocolError, None),
    ],
)
def test_each_fault_raises_its_typed_error(
    server: ServerHandle, client: TTSClient, fault: str, error: type, status: int | None
) -> None:
    server.set_faults(fault)
    with pytest.raises(error) as caught:
        client.generate(TEXT)
    exc = caught.value
    if status is not None:
        assert exc.status == status
        assert exc.exit_code == (ExitCode.REFUSED if status < 500 else ExitCode.NETWORK)
    elif error is ProtocolError:
        assert exc.exit_code == ExitCode.PROTOCOL
    else:
        assert exc.exit_code == ExitCode.NETWORK
        assert exc.after_audio_started  # generation had begun: a retry may be billed
    assert len(server.tts_requests()) == 1


def test_429_carries_the_retry_after_delay(server: ServerHandle, client: TTSClient) -> None:
    server.set_faults("http-429")
    with pytest.raises(APIError) as caught:
        client.generate("Hi.")
    assert caught.value.retry_after == 1.0


def test_html_502_says_html_without_dumping_the_page(
    server: ServerHandle, client: TTSClient
) -> None:
    server.set_faults("html-502")
    with pytest.raises(APIError) as caught:
        client.generate("Hi.")
    message = str(caught.value)
    assert caught.value.status == 502
    assert "HTML" in message
    assert "<" not in message and "nginx" not in message


def test_401_is_an_authentication_error_that_hides_the_token(
    server: ServerHandle, client: TTSClient
) -> None:
    server.set_faults("http-401")
    with pytest.raises(AuthenticationError) as caught:
        client.generate("Hi.")
    assert caught.value.exit_code == ExitCode.AUTH == 3
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caught.value.hint


def test_a_token_the_server_rejects_is_an_authentication_error(make_server) -> None:
    srv = make_server(tokens=frozenset({"the-only-good-token"}))
    wrong = "wrong-token-0123456789abcdef"
    with TTSClient(wrong, base_url=srv.base_url) as c, pytest.raises(AuthenticationError) as caught:
        c.generate("Hi.")
    assert caught.value.exit_code == ExitCode.AUTH
    assert wrong not in str(caught.value)
    assert len(srv.tts_requests()) == 1  # a rejected token is not retried


def test_voices_with_a_rejected_token_is_an_authentication_error(make_server) -> None:
    srv = make_server(tokens=frozenset({"the-only-good-token"}))
    with (
        TTSClient("wrong-token-0123456789", base_url=srv.base_url) as c,
        pytest.raises(AuthenticationError, match=r"was rejected \(HTTP 401"),
    ):
        c.voices()


def test_stall_fails_with_an_idle_timeout_and_is_not_retried(server: ServerHandle) -> None:
    server.set_faults("stall")
    started = time.monotonic()
    with (
        TTSClient(TOKEN, base_url=server.base_url, timeout=1.0, retry_policy=FAST_RETRIES) as c,
        pytest.raises(TransportError, match="idle timeout"),
    ):
        c.generate("Hi.")
    assert time.monotonic() - started < 5
    assert len(server.tts_requests()) == 1


@pytest.mark.parametrize(
    "quirk", ["crlf", "blank-lines", "unknown-fields", "split-bytes", "escaped-slashes"]
)
def test_quirky_but_valid_streams_give_byte_identical_audio(
    server: ServerHandle, client: TTSClient, quirk: str
) -> None:
    expected_audio = clean_audio(server)
    expected_statuses = [e for e in client.stream(TEXT) if isinstance(e, StatusEvent)]
    server.set_faults(quirk)
    events = list(client.stream(TEXT))
    statuses = [e for e in events if isinstance(e, StatusEvent)]
    assert [(s.stage, s.current_text_chunk, s.generated_seconds) for s in statuses] == [
        (s.stage, s.current_text_chunk, s.generated_seconds) for s in expected_statuses
    ]
    final = events[-1]
    assert isinstance(final, AudioEvent)
    assert final.audio_bytes == expected_audio


# -- retries ---------------------------------------------------------------------------------


def generate_with_events(client: TTSClient, text: str = "Hi.") -> tuple[TTSOutput, list[Event]]:
    events: list[Event] = []
    out = client.generate(text, on_event=events.append)
    return out, events


def test_transient_503s_are_retried_until_success(server: ServerHandle) -> None:
    expected = clean_audio(server, "Hi.")
    server.reset()
    server.set_faults("http-503:2")
    with TTSClient(TOKEN, base_url=server.base_url, retry_policy=FAST_RETRIES) as c:
        out, events = generate_with_events(c)
    assert out.audio_bytes == expected
    assert [r["status"] for r in server.tts_requests()] == [503, 503, 200]
    retries = [e for e in events if isinstance(e, RetryEvent)]
    assert [r.attempt for r in retries] == [2, 3]
    assert all("503" in r.reason for r in retries)


def test_retries_stop_at_the_configured_count(server: ServerHandle) -> None:
    server.set_faults("http-503")
    with (
        TTSClient(TOKEN, base_url=server.base_url, retry_policy=FAST_RETRIES) as c,
        pytest.raises(APIError) as caught,
    ):
        c.generate("Hi.")
    assert caught.value.status == 503
    assert len(server.tts_requests()) == 4  # the first try and 3 retries


def test_429_is_retried_after_its_retry_after_delay(server: ServerHandle) -> None:
    server.set_faults("http-429:1")
    started = time.monotonic()
    with TTSClient(TOKEN, base_url=server.base_url, retry_policy=FAST_RETRIES) as c:
        out, events = generate_with_events(c)
    assert time.monotonic() - started >= 1.0  # Retry-After: 1, not the 0.05 s backoff
    assert out.audio_bytes[:4] == b"fLaC"
    assert [e.delay for e in events if isinstance(e, RetryEvent)] == [1.0]
    assert len(server.tts_requests()) == 2


def test_a_retry_after_longer_than_the_cap_waits_the_cap(raw_server) -> None:
    """A server asking for an hour is not obeyed: the wait is capped (30 s by default; 0.3 s
    here), and the request is tried again after it."""
    asked: list[float] = []
    body = b'{"message": "rate limited: slow down", "code": "rate_limited"}'

    def rate_limited(conn: socket.socket, request: bytes) -> None:
        asked.append(time.monotonic())
        conn.sendall(
            b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
            b"Retry-After: 3600\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    policy = RetryPolicy(retries=1, base_delay=0.05, max_delay=0.2, max_retry_after=0.3)
    events: list[Event] = []
    with (
        TTSClient(TOKEN, base_url=raw_server(rate_limited), retry_policy=policy) as c,
        pytest.raises(APIError, match="rate limited") as caught,
    ):
        c.generate("Hi.", on_event=events.append)
    assert caught.value.status == 429 and caught.value.retry_after == 3600
    assert [e.delay for e in events if isinstance(e, RetryEvent)] == [0.3]
    assert len(asked) == 2 and 0.3 <= asked[1] - asked[0] < 5


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ("http-400", APIError, "HTTP 400: injected fault"),
        ("http-401", AuthenticationError, r"was rejected \(HTTP 401"),
        ("no-final-event", ProtocolError, "the stream ended without the final audio event"),
    ],
)
def test_errors_that_a_retry_cannot_fix_are_not_retried(
    server: ServerHandle, fault: str, error: type, words: str
) -> None:
    server.set_faults(fault)
    with (
        TTSClient(TOKEN, base_url=server.base_url, retry_policy=FAST_RETRIES) as c,
        pytest.raises(error, match=words),
    ):
        c.generate("Hi.")
    assert len(server.tts_requests()) == 1


def test_unknown_voice_404_is_not_retried(server: ServerHandle) -> None:
    with (
        TTSClient(TOKEN, base_url=server.base_url, retry_policy=FAST_RETRIES) as c,
        pytest.raises(APIError) as caught,
    ):
        c.generate("Hi.", speaker={"default": "XX-NOBODY-1"})
    assert caught.value.status == 404
    assert len(server.tts_requests()) == 1


def test_a_stream_broken_after_generation_started_is_retried_once_only(
    server: ServerHandle,
) -> None:
    server.set_faults("drop-mid-stream")
    events: list[Event] = []
    with (
        TTSClient(TOKEN, base_url=server.base_url, retry_policy=FAST_RETRIES) as c,
        pytest.raises(TransportError, match="the connection broke mid-response"),
    ):
        c.generate("Hi.", on_event=events.append)
    assert len(server.tts_requests()) == 2  # not 4: each try may be billed
    (retry,) = [e for e in events if isinstance(e, RetryEvent)]
    assert "billed" in retry.reason


def test_a_single_drop_is_recovered_with_identical_audio(server: ServerHandle) -> None:
    expected = clean_audio(server)
    server.reset()
    server.set_faults("drop-in-audio:1")
    with TTSClient(TOKEN, base_url=server.base_url, retry_policy=FAST_RETRIES) as c:
        out, _ = generate_with_events(c, TEXT)
    assert out.audio_bytes == expected  # the half-written first try was discarded
    assert len(server.tts_requests()) == 2


# -- tokens and transport --------------------------------------------------------------------


def test_missing_token_fails_without_sending_anything(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTEAI_TOKEN", raising=False)
    monkeypatch.delenv("OUTEAI_API_TOKEN", raising=False)
    for token in (None, ""):
        with (
            TTSClient(token, base_url=server.base_url) as c,
            pytest.raises(AuthenticationError) as caught,
        ):
            c.generate("Hi.")
        assert caught.value.exit_code == ExitCode.AUTH
        assert "token" in str(caught.value)
    assert server.requests() == []


def test_token_is_read_from_the_environment(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTEAI_TOKEN", raising=False)
    monkeypatch.setenv("OUTEAI_API_TOKEN", "from-the-environment")
    with TTSClient(base_url=server.base_url) as c:
        assert c.generate("Hi.").audio_bytes[:4] == b"fLaC"


def local_non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_plain_http_to_a_non_loopback_host_is_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[object] = []
    real_client = httpx.Client

    def spy(*args: object, **kwargs: object) -> httpx.Client:
        created.append(args)
        return real_client(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "Client", spy)
    address = local_non_loopback_address()
    listener = None
    if address:  # a real listener on that address shows that not even a connect happens
        listener = socket.create_server((address, 0))
        listener.settimeout(0.3)
        host = f"{address}:{listener.getsockname()[1]}"
    else:
        host = "tts.example.com"
    try:
        with pytest.raises(InsecureTransportError) as caught:
            TTSClient(TOKEN, base_url=f"http://{host}/api/v1")
        assert caught.value.exit_code == ExitCode.USAGE
        assert "https" in caught.value.hint
        assert created == []
        if listener is not None:
            with pytest.raises(TimeoutError, match="timed out"):
                listener.accept()
    finally:
        if listener is not None:
            listener.close()


def requests_sent(base_url: str, **options: object) -> list[httpx.Request]:
    """What a client sends to `base_url` for the voice list. The transport is a stand-in that
    records each request (a remote host is what this machine cannot reach)."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(b'{"data": {"voices": []}}'))

    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as http,
        TTSClient(TOKEN, base_url=base_url, http_client=http, **options) as client,  # type: ignore[arg-type]
    ):
        client.voices()
    return sent


@pytest.mark.parametrize(
    "base_url",
    ["https://tts.example.com/api/v1", "http://localhost:9/api/v1", "http://[::1]:9/api/v1"],
)
def test_https_and_loopback_http_are_allowed(base_url: str) -> None:
    (request,) = requests_sent(base_url)
    assert str(request.url).startswith(base_url)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_insecure_http_can_be_allowed_explicitly() -> None:
    base_url = "http://tts.example.com/api/v1"
    with pytest.raises(InsecureTransportError, match="refusing to send the token over plain"):
        requests_sent(base_url)
    (request,) = requests_sent(base_url, allow_insecure_http=True)
    assert str(request.url).startswith(base_url)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


# -- timeouts --------------------------------------------------------------------------------


def test_a_cold_start_longer_than_the_first_event_timeout_fails_saying_so(make_server) -> None:
    srv = make_server(cold_start=2.0)
    timeouts = Timeouts(connect=5, first_event=0.5, idle=10)
    started = time.monotonic()
    with (
        TTSClient(TOKEN, base_url=srv.base_url, timeout=timeouts, retries=0) as c,
        pytest.raises(TransportError, match="first-event timeout") as caught,
    ):
        c.generate("Hi.")
    assert time.monotonic() - started < 1.8
    assert caught.value.exit_code == ExitCode.NETWORK


def test_the_idle_timeout_does_not_cut_a_cold_start_short(make_server) -> None:
    srv = make_server(cold_start=1.0)
    timeouts = Timeouts(connect=5, first_event=5, idle=0.3)
    with TTSClient(TOKEN, base_url=srv.base_url, timeout=timeouts, retries=0) as c:
        assert c.generate("Hi.").audio_bytes[:4] == b"fLaC"

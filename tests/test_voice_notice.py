"""The voice-substitution notice: when what speaks is not what the voice's name promises.

`outeai serve` says so in a response header on every dialect; the client carries it, cleaned,
on the final `AudioEvent` and the `SynthesisResult`; `say` shows it once on stderr (nothing
with `-q`) and `--json` has it as `voice_notice`. A server that says nothing (the hosted API,
a tone asked for by name) gets no line.
"""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import httpx
import pytest
import soundfile as sf
from conftest import TOKEN, ServerHandle

from outeai_cli import TTSClient
from outeai_cli.http.events import AudioEvent
from outeai_cli.server.engines import PiperEngine, ToneEngine
from outeai_cli.server.piper import PiperModel
from outeai_cli.voices.catalogue import find_voice
from outeai_cli.voices.notice import NOTICE_LIMIT, VOICE_NOTICE_HEADER

GERMAN = "DE-FEMALE-1-NEUTRAL"
TONE_NOTICE = (
    f"{GERMAN} is not spoken: a test tone stands in, as the server has no voice for it "
    "(pip install 'outeai-cli[voice]' there)"
)


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("outeai: note: ")]


@pytest.fixture
def standing_in(make_server) -> ServerHandle:
    """A server whose tone was picked because nothing that speaks is installed."""
    return make_server(engine=ToneEngine(stands_in=True), custom_voices=frozenset({"stimme-ü"}))


@pytest.mark.parametrize("api", ["tts", "audio", "tts-stream"])
def test_a_tone_standing_in_is_said_once_on_stderr_and_in_json(
    standing_in: ServerHandle, outeai, tmp_path: Path, api: str
) -> None:
    env = {"OUTEAI_BASE_URL": standing_in.base_url}
    ext = {"tts": "flac", "audio": "mp3", "tts-stream": "wav"}[api]
    say = ("say", "Hallo", "-s", GERMAN, "--api", api)
    loud = outeai(*say, "-o", f"de.{ext}", env=env)
    assert loud.returncode == 0, loud.stderr
    assert notes(loud.stderr) == [f"outeai: note: {TONE_NOTICE}"]
    quiet = outeai(*say, "-o", f"quiet.{ext}", "-q", env=env)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    scripted = outeai(*say, "-o", f"json.{ext}", "-q", "--json", env=env)
    assert scripted.returncode == 0, scripted.stderr
    assert json.loads(scripted.stdout)["voice_notice"] == TONE_NOTICE
    assert sf.info(str(tmp_path / f"quiet.{ext}")).frames > 0


def test_a_tone_asked_for_by_name_says_nothing(server: ServerHandle, outeai) -> None:
    result = outeai("say", "Hallo", "-s", GERMAN, "-o", "de.flac", "--json")
    assert result.returncode == 0, result.stderr
    assert notes(result.stderr) == []
    assert json.loads(result.stdout)["voice_notice"] is None


def test_a_split_text_says_it_once(standing_in: ServerHandle, outeai) -> None:
    text = " ".join(f"Satz Nummer {n} ist hier." for n in range(12))
    result = outeai(
        "say", text, "-s", GERMAN, "-o", "long.flac", "--max-chars", "40", "--json",
        env={"OUTEAI_BASE_URL": standing_in.base_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pieces"] > 3
    assert notes(result.stderr) == [f"outeai: note: {TONE_NOTICE}"]


def test_a_custom_voice_is_named_as_it_was_asked_for(standing_in: ServerHandle, outeai) -> None:
    result = outeai(
        "say", "Hallo", "-s", "custom:stimme-ü", "-o", "c.flac",
        env={"OUTEAI_BASE_URL": standing_in.base_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert notes(result.stderr) == [f"outeai: note: {TONE_NOTICE.replace(GERMAN, 'stimme-ü')}"]


@pytest.mark.parametrize("api", ["tts", "audio", "tts-stream"])
def test_the_library_carries_the_notice_on_the_final_event(
    standing_in: ServerHandle, api: str
) -> None:
    with TTSClient(TOKEN, base_url=standing_in.base_url, api=api) as client:
        events = list(client.stream("Hallo", GERMAN))
        output = client.generate("Hallo", GERMAN)
    finals = [e for e in events if isinstance(e, AudioEvent)]
    assert [e.voice_notice for e in finals] == [TONE_NOTICE]
    assert output.audio_bytes  # the in-memory path keeps it and the audio


def test_the_official_sdk_ignores_the_notice(standing_in: ServerHandle, monkeypatch) -> None:
    import outeai.api.v1 as sdk

    monkeypatch.setattr(sdk, "API_URL", f"{standing_in.base_url}/tts")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    output = sdk.TTSClient(TOKEN).generate(text="Hallo", speaker={"default": GERMAN})
    assert sf.info(io.BytesIO(output.audio_bytes)).format == "FLAC"


def test_a_hostile_notice_is_one_clean_bounded_line(
    server: ServerHandle, raw_server, outeai
) -> None:
    body = httpx.post(
        f"{server.base_url}/tts",
        json={"token": TOKEN, "text": "hi", "speaker": {"default": GERMAN}},
        timeout=30,
    ).content
    hostile = ("\x9b2J\u202eevil\u202c spoken by " + TOKEN + " " + "x" * 5000).encode("utf-8")

    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            + f"Content-Length: {len(body)}\r\n".encode()
            + VOICE_NOTICE_HEADER.encode() + b": " + hostile + b"\r\n\r\n"
            + body
        )  # fmt: skip

    result = outeai("say", "hi", "-o", "x.flac", env={"OUTEAI_BASE_URL": raw_server(answer)})
    assert result.returncode == 0, result.stderr
    (line,) = notes(result.stderr)
    notice = line.removeprefix("outeai: note: ")
    assert notice.startswith("evil spoken by ")  # the whole CSI sequence is gone
    assert TOKEN not in result.stderr
    assert not any(ch in notice for ch in "\x9b\u202e\u202c\x1b")
    assert len(notice) <= NOTICE_LIMIT + 1


def _model(language: str, gender: str) -> PiperModel:
    path = Path(f"/models/{language}-x-medium.onnx")
    return PiperModel(path, path, None, 22050, language, 0.667, f"{language}-x-medium", gender)


@pytest.mark.parametrize(
    ("name", "model", "said"),
    [
        ("EN-MALE-1-NEUTRAL", _model("en_US", "male"), None),
        ("EN-FEMALE-1-NEUTRAL", _model("en_US", "male"), "by a male voice"),
        ("EN-MALE-2-NEUTRAL", _model("en_US", "male"), "by an en_US voice"),
        ("EN-FEMALE-2-NEUTRAL", _model("en_US", "male"), "by a male en_US voice"),
        ("EN-FEMALE-2-NEUTRAL", _model("en_GB", "female"), None),
        ("EN-FEMALE-1-NEUTRAL", _model("en_US", "female"), None),
    ],
)
def test_piper_says_when_a_model_is_not_what_the_name_promises(
    name: str, model: PiperModel, said: str | None
) -> None:
    voice = find_voice(name)
    engine = PiperEngine(pool=None, models={name: model}, fallback=ToneEngine())  # type: ignore[arg-type]
    notice = engine.substitution(voice, name)
    if said is None:
        assert notice is None
    else:
        assert notice == f"{name} is spoken here {said} (piper {model.label})"
    # A name no model speaks goes to the fallback, which says what it is.
    assert engine.substitution(find_voice(GERMAN), GERMAN) is None
    standing_in = PiperEngine(pool=None, models={}, fallback=ToneEngine(stands_in=True))  # type: ignore[arg-type]
    assert standing_in.substitution(find_voice(GERMAN), GERMAN) == TONE_NOTICE

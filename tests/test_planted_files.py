"""What another local user (or a careless one) can plant where outeai reads or writes: a FIFO
or a link in the cache, a FIFO or a folder at a batch output's name. Each is a miss or a row
error naming the path, never a hang, and the cache is private whatever the umask."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

from outeai_cli.synthesis.audio_key import audio_key
from outeai_cli.synthesis.cache import PieceCache
from tests.helpers import small_flac

KEY = audio_key(api="tts", base_url="http://x/api/v1", speaker="d", temperature=0.4, text="t")


def with_deadline(func, seconds: float = 10):
    """Run func in a thread; fail (instead of hanging the suite) if it does not return."""
    box: list[object] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            box.append(func())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "it hung"
    if errors:
        raise errors[0]
    return box[0]


@pytest.mark.parametrize("planted", ["audio", "json"])
def test_a_fifo_planted_in_the_cache_is_a_miss_not_a_hang(tmp_path: Path, planted: str) -> None:
    cache = PieceCache(tmp_path / "pieces")
    source = tmp_path / "piece.flac"
    source.write_bytes(small_flac())
    cache.store(KEY, source, format="flac", duration=0.5)
    target = cache.directory / KEY[:2] / f"{KEY}.{planted}"
    target.unlink()
    os.mkfifo(target)
    assert with_deadline(lambda: cache.fetch(KEY, io.BytesIO())) is None
    assert not target.exists()  # dropped, so the piece is requested again


def test_a_cache_entry_linked_to_dev_zero_is_a_miss(tmp_path: Path) -> None:
    cache = PieceCache(tmp_path / "pieces")
    source = tmp_path / "piece.flac"
    source.write_bytes(small_flac())
    cache.store(KEY, source, format="flac", duration=0.5)
    audio = cache.directory / KEY[:2] / f"{KEY}.audio"
    audio.unlink()
    audio.symlink_to("/dev/zero")
    assert with_deadline(lambda: cache.fetch(KEY, io.BytesIO())) is None


def test_the_cache_is_private_under_umask_000(tmp_path: Path) -> None:
    cache = PieceCache(tmp_path / "cache" / "outeai" / "pieces")
    source = tmp_path / "piece.flac"
    source.write_bytes(small_flac())
    old = os.umask(0)
    try:
        cache.store(KEY, source, format="flac", duration=0.5)
    finally:
        os.umask(old)
    for folder in (tmp_path / "cache", tmp_path / "cache" / "outeai", cache.directory,
                   cache.directory / KEY[:2]):  # fmt: skip
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_fifo_or_folder_at_a_batch_output_is_a_row_error(run_cli, tmp_path: Path) -> None:
    texts = tmp_path / "texts"
    texts.mkdir()
    for name in ("a", "b", "c"):
        (texts / f"{name}.txt").write_text(f"Text {name}.")
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "a.flac")
    (out / "b.flac").mkdir()
    result = run_cli("batch", "texts", "-o", "out", timeout=60)
    assert result.returncode != 0
    assert "a.flac is not a regular file" in result.stderr
    assert "b.flac is a directory" in result.stderr
    assert sf.info(str(out / "c.flac")).frames > 0  # the rest of the batch went on
    rows = [json.loads(line) for line in (out / "outeai-results.jsonl").read_text().splitlines()]
    assert {r["output"]: r["status"] for r in rows} == {
        "a.flac": "failed", "b.flac": "failed", "c.flac": "ok"
    }  # fmt: skip


def test_outputs_that_nest_are_refused_before_any_request(outeai, server, tmp_path: Path):
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(
        json.dumps({"text": "One.", "output": "a.flac"}) + "\n"
        + json.dumps({"text": "Two.", "output": "a.flac/b.flac"}) + "\n"
    )  # fmt: skip
    result = outeai("batch", str(manifest), "-o", "out")
    assert result.returncode == 2, result.stderr
    assert "needs as a folder" in result.stderr
    assert server.tts_requests() == []


def test_a_second_batch_into_the_same_directory_is_refused_before_any_request(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=1.0)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    texts = tmp_path / "texts"
    texts.mkdir()
    for n in range(4):
        (texts / f"t{n}.txt").write_text(f"Text number {n}.")
    command = [sys.executable, "-m", "outeai_cli", "batch", "texts", "-o", "out", "-j", "2"]
    first = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not slow.tts_requests() and time.monotonic() < deadline:
        time.sleep(0.05)  # the first batch is paying for requests now
    assert slow.tts_requests()
    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=60)
    requests_during = len(slow.tts_requests())
    assert second.returncode == 2, second.stderr
    assert b"another outeai batch is writing into" in second.stderr
    assert first.wait(timeout=60) == 0
    assert len(slow.tts_requests()) == 4 >= requests_during  # the second paid for nothing
    rows = [json.loads(line) for line in (tmp_path / "out" / "outeai-results.jsonl").open()]
    assert sorted(r["status"] for r in rows) == ["ok"] * 4


def test_a_tiny_open_file_limit_is_refused_before_any_request_and_leaves_nothing(
    cli_env, server, tmp_path: Path
) -> None:
    import resource

    text = " ".join(f"Sentence {n} is here." for n in range(30))
    result = subprocess.run(
        [sys.executable, "-m", "outeai_cli", "say", text, "--max-chars", "60", "-o", "long.flac"],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (8, 8)),
    )
    assert result.returncode == 1, result.stderr
    assert b"the open-file limit is 8" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no pieces folder, no output
    assert server.tts_requests() == []


def test_an_mp3_under_a_memory_limit_is_saved(cli_env, server, tmp_path: Path) -> None:
    import resource

    env = {k: v for k, v in cli_env.items() if k != "OPENBLAS_NUM_THREADS"}
    result = subprocess.run(
        [sys.executable, "-m", "outeai_cli", "say", "Hello there.", "-o", "h.mp3"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (250_000 * 1024,) * 2),
    )
    assert b"OpenBLAS" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "h.mp3").stat().st_size > 0


@pytest.mark.parametrize("kind", ["directory", "fifo", "dev-zero"])
def test_a_voice_model_that_is_not_a_file_is_named_as_what_it_is(tmp_path: Path, kind) -> None:
    from outeai_cli.server.piper import PiperSetupError, load_model

    model = tmp_path / "voice.onnx"
    if kind == "directory":
        model.mkdir()
    elif kind == "fifo":
        os.mkfifo(model)
    else:
        model.symlink_to("/dev/zero")
    with pytest.raises(PiperSetupError, match=r"voice\.onnx as a Piper model: it is") as caught:
        with_deadline(lambda: load_model(str(model)))
    assert "does not exist" not in str(caught.value)


def test_a_deep_voice_config_names_the_file(tmp_path: Path) -> None:
    from outeai_cli.server.piper import PiperSetupError, load_model

    model = tmp_path / "voice.onnx"
    model.write_bytes(b"\x08" * 64)
    (tmp_path / "voice.onnx.json").write_text("[" * 100_000)
    with pytest.raises(PiperSetupError, match=r"cannot read Piper config .*voice\.onnx\.json"):
        load_model(str(model))

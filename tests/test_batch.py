"""`outeai batch`: many texts to many files, resumable, as users run it (real subprocesses)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import TOKEN
from tests.helpers import reference_audio


def results(directory: Path) -> list[dict]:
    path = directory / "outeai-results.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def audio_files(directory: Path) -> list[str]:
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != "outeai-results.jsonl"
    )


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob(".*"))


# -- inputs and names ------------------------------------------------------------------------------


def test_directory_of_txt_files_gives_one_file_each_named_after_it(
    outeai, server, tmp_path: Path
) -> None:
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "intro.txt").write_text("Welcome to the show.\n", encoding="utf-8")
    (texts / "outro.txt").write_text("Thanks for listening.\n", encoding="utf-8")
    (texts / "notes.md").write_text("not a text to speak", encoding="utf-8")
    result = outeai("batch", "texts", "-o", "audio")
    assert result.returncode == 0, result.stderr
    assert audio_files(tmp_path / "audio") == ["intro.flac", "outro.flac"]
    assert sorted(r["text"] for r in server.tts_requests()) == [
        "Thanks for listening.",
        "Welcome to the show.",
    ]
    # One piece, delivered as FLAC: the file is the server's audio, byte for byte.
    expected = reference_audio(server.base_url, "Welcome to the show.", TOKEN)
    assert (tmp_path / "audio" / "intro.flac").read_bytes() == expected
    assert "Batch: 2 made, 0 already complete, 0 failed of 2" in result.stderr


def test_jsonl_manifest_sets_outputs_formats_speakers_and_files(
    outeai, server, tmp_path: Path
) -> None:
    (tmp_path / "chapter.txt").write_text("A chapter read from its own file.", encoding="utf-8")
    rows = [
        {
            "text": "Hello in a male voice.",
            "output": "voices/male.wav",
            "speaker": "EN-MALE-1-NEUTRAL",
        },
        {"file": "chapter.txt", "temperature": 0.7},
        {"text": "Third, with a bare output name.", "output": "third"},
    ]
    manifest = tmp_path / "list.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    result = outeai("batch", "list.jsonl", "-o", "out", "--format", "ogg")
    assert result.returncode == 0, result.stderr
    assert audio_files(tmp_path / "out") == ["chapter.ogg", "third.ogg", "voices/male.wav"]
    assert sf.info(tmp_path / "out" / "voices" / "male.wav").format == "WAV"
    speakers = {r["text"]: r["speaker"] for r in server.tts_requests()}
    assert speakers["Hello in a male voice."] == {"default": "EN-MALE-1-NEUTRAL"}
    assert speakers["A chapter read from its own file."] == {"default": "EN-FEMALE-1-NEUTRAL"}
    logged = {r["output"]: r for r in results(tmp_path / "out")}
    assert logged["chapter.ogg"]["temperature"] == 0.7
    assert logged["chapter.ogg"]["input"] == "list.jsonl line 2"


def test_csv_manifest_and_stdin_lines(outeai, server, tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(
        'text,output\n"One, with a comma.",one.flac\nTwo.,two.flac\n', encoding="utf-8"
    )
    assert outeai("batch", "list.csv", "-o", "csv").returncode == 0
    assert audio_files(tmp_path / "csv") == ["one.flac", "two.flac"]
    result = outeai("batch", "-", "-o", "lines", input="First line.\n\nThird line.\n")
    assert result.returncode == 0, result.stderr
    assert audio_files(tmp_path / "lines") == ["0001-first-line.flac", "0003-third-line.flac"]


def test_a_plain_text_file_is_one_text_per_line_as_stdin(outeai, server, tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_text("First line.\n\nThird line.\n", encoding="utf-8")
    result = outeai("batch", "lines.txt", "-o", "dir/")
    assert result.returncode == 0, result.stderr
    assert audio_files(tmp_path / "dir") == ["0001-first-line.flac", "0003-third-line.flac"]
    assert sorted(r["text"] for r in server.tts_requests()) == ["First line.", "Third line."]
    results = (tmp_path / "dir" / "outeai-results.jsonl").read_text(encoding="utf-8")
    assert "lines.txt line 3" in results


def test_a_json_file_is_refused_with_the_manifest_formats(outeai, server, tmp_path) -> None:
    (tmp_path / "list.json").write_text('[{"text": "Hi."}]', encoding="utf-8")
    result = outeai("batch", "list.json", "-o", "dir")
    assert result.returncode == 2, result.stderr
    assert "a manifest is .jsonl or .csv" in result.stderr and ".jsonl" in result.stderr
    assert server.tts_requests() == []


def test_derived_names_never_collide_and_explicit_ones_win(outeai, server, tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "scene.txt").write_text(f"Scene from {folder}.", encoding="utf-8")
    rows = [
        {"file": "a/scene.txt"},
        {"file": "b/scene.txt"},
        {"text": "Named.", "output": "scene.flac"},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 0, result.stderr
    logged = {r["input"]: r["output"] for r in results(tmp_path / "out")}
    assert logged == {
        "m.jsonl line 3": "scene.flac",
        "m.jsonl line 1": "scene-2.flac",
        "m.jsonl line 2": "scene-3.flac",
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.jsonl", '{"text": "ok"}\n{"text": "oops",}\n', "m.jsonl line 2: not valid JSON"),
        ("m.jsonl", '{"text": "ok"}\n\n{"txt": "typo"}\n', "m.jsonl line 3: unknown field 'txt'"),
        ("m.jsonl", '{"text": "a", "file": "b.txt"}\n', "line 1: give exactly one of 'text' or 'file'"),
        ("m.jsonl", '{"text": "hot", "temperature": 2}\n', "line 1: 'temperature' must be a number"),
        ("m.jsonl", '{"text": "x", "output": "../escape.flac"}\n', "line 1: 'output' must be a relative path"),
        ("m.jsonl", '{"text": "x", "output": "a.aiff"}\n', "line 1: unsupported output extension"),
        ("m.jsonl", '{"file": "missing.txt"}\n', "line 1: cannot read missing.txt"),
        ("m.jsonl", '{"text": "a", "output": "s.flac"}\n{"text": "b", "output": "S.flac"}\n', "line 2 and m.jsonl line 1 both write"),
        ("m.csv", "text,output\nfine,a.flac\nbad,b.flac,extra\n", "m.csv line 3: more cells than the header"),
        ("m.csv", "text\n\"   \"\n", "m.csv line 2: 'text' is empty"),
    ],
)  # fmt: skip
def test_a_bad_manifest_row_is_named_by_line_and_nothing_is_sent(
    outeai, server, tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = outeai("batch", name, "-o", "out")
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert server.tts_requests() == []
    assert not (tmp_path / "out").exists() or audio_files(tmp_path / "out") == []


# -- resuming --------------------------------------------------------------------------------------


def test_two_hundred_items_with_faults_interrupted_and_resumed(
    outeai, cli_env, make_server, server, tmp_path: Path
) -> None:
    lines = [f"Batch item number {i} reads one short line." for i in range(200)]
    stdin = "".join(line + "\n" for line in lines).encode()
    faults = ["http-503:10%", "http-502:3%", "html-502:2%"]  # transient: retried with backoff
    srv = make_server(latency=0.1, faults=faults)
    args = ["batch", "-", "-o", "out", "-j", "8", "--retries", "6"]
    env = {**cli_env, "OUTEAI_BASE_URL": srv.base_url}
    (tmp_path / "lines.txt").write_bytes(stdin)
    with open(tmp_path / "lines.txt", "rb") as lines_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "outeai_cli", *args],
            env=env,
            cwd=tmp_path,
            stdin=lines_file,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    log = tmp_path / "out" / "outeai-results.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 50:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    assert "items are complete and kept" in err.decode()
    out = tmp_path / "out"
    assert hidden(out) == []  # no temp files, no spool directories
    finished = {r["output"] for r in results(out) if r["status"] == "ok"}
    assert 50 <= len(finished) < 200
    assert set(audio_files(out)) == finished  # every file on disk is a logged, finished item
    done_texts = {lines[int(name[:4]) - 1] for name in finished}

    srv.reset()
    srv.set_faults(*faults)
    result = outeai(*args, input=stdin, env={"OUTEAI_BASE_URL": srv.base_url})
    assert result.returncode == 0, result.stderr
    requested = [r["text"] for r in srv.tts_requests()]
    assert not done_texts & set(requested), "finished items were requested again"
    assert f"{len(finished)} already complete" in result.stderr

    names = audio_files(out)
    assert len(names) == 200
    for name in names:
        text = lines[int(name[:4]) - 1]
        assert (out / name).read_bytes() == reference_audio(server.base_url, text, TOKEN), name
    final = {}
    for record in results(out):
        final[record["output"]] = record
    assert sorted(final) == names
    assert all(r["status"] == "ok" and r["sha256"] and r["bytes"] for r in final.values())
    assert sum(r["status"] == "ok" for r in results(out)) == 200  # one ok line per item


def test_an_existing_output_is_checked_not_assumed(outeai, server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    rows = [{"text": f"Line {n}.", "output": f"{n}.flac"} for n in ("one", "two", "three")]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    good = reference_audio(server.base_url, "Line one.", TOKEN)
    server.reset()
    (out / "one.flac").write_bytes(good)  # complete, but made outside this batch
    (out / "two.flac").write_bytes(good[: len(good) // 3])  # cut short, and not ours
    result = outeai("batch", "m.jsonl", "-o", "out")
    # The cut-short file is nobody's run of this batch: left alone, the item failed.
    assert result.returncode == 1, result.stderr
    assert "two.flac exists, but no run of this batch made it; it was left alone" in result.stderr
    assert "force to replace it" in result.stderr  # the advice, in the row's words
    assert sorted(r["text"] for r in server.tts_requests()) == ["Line three."]
    assert (out / "two.flac").read_bytes() == good[: len(good) // 3]
    logged = {r["output"]: r["status"] for r in results(out)}
    assert logged == {"one.flac": "skipped", "two.flac": "failed", "three.flac": "ok"}
    # With --force it is made again (and everything else with it).
    server.reset()
    result = outeai("batch", "m.jsonl", "-o", "out", "--force")
    assert result.returncode == 0, result.stderr
    assert (out / "two.flac").read_bytes() == reference_audio(server.base_url, "Line two.", TOKEN)


def test_a_truncated_wav_is_made_again_not_vouched_for(outeai, server, tmp_path: Path) -> None:
    """A WAV whose header declares more audio than the file holds reads "completely" in a
    decoder (the count is trimmed), so the header is compared with the file's size."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"text": "A wave.", "output": "wave.wav"}), encoding="utf-8"
    )
    good = reference_audio(server.base_url, "A wave.", TOKEN)
    server.reset()
    import io

    samples, rate = sf.read(io.BytesIO(good), dtype="int16")
    sf.write(out / "wave.wav", samples, rate, subtype="PCM_16")
    whole = (out / "wave.wav").read_bytes()
    (out / "wave.wav").write_bytes(whole[: len(whole) - 2000])
    assert sf.info(out / "wave.wav").frames > 0  # what a decoder-only check accepted
    # Not vouched for; and no run of this batch made it, so it is left alone...
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 1, result.stderr
    assert "wave.wav exists, but no run of this batch made it" in result.stderr
    assert server.tts_requests() == []
    assert {r["output"]: r["status"] for r in results(out)} == {"wave.wav": "failed"}
    assert (out / "wave.wav").stat().st_size == len(whole) - 2000
    # ...until --force says to replace it.
    result = outeai("batch", "m.jsonl", "-o", "out", "--force")
    assert result.returncode == 0, result.stderr
    assert [r["text"] for r in server.tts_requests()] == ["A wave."]
    assert (out / "wave.wav").stat().st_size == len(whole)


def test_a_file_no_run_made_is_never_replaced_without_force(outeai, server, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "note.flac").write_text("my notes, not audio", encoding="utf-8")
    rows = [{"text": "A note.", "output": "note.flac"}, {"text": "More.", "output": "more.flac"}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 1, result.stderr
    assert "note.flac exists, but no run of this batch made it" in result.stderr
    assert (out / "note.flac").read_text(encoding="utf-8") == "my notes, not audio"
    assert [r["text"] for r in server.tts_requests()] == ["More."]  # the rest went on
    assert (out / "more.flac").read_bytes()[:4] == b"fLaC"
    # The re-run that finishes a batch still leaves it alone: its line says "failed", not made.
    server.reset()
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 1, result.stderr
    assert (out / "note.flac").read_text(encoding="utf-8") == "my notes, not audio"
    assert server.tts_requests() == []


def test_an_output_cannot_escape_through_a_symlink_in_the_directory(
    outeai, server, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere)
    rows = [{"text": "Fine.", "output": "fine.flac"}, {"text": "Out.", "output": "sub/x.flac"}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 2, result.stderr
    assert "m.jsonl line 2" in result.stderr and "symbolic link" in result.stderr
    assert server.tts_requests() == []
    assert list(elsewhere.iterdir()) == []


def test_a_name_too_long_for_a_file_is_a_row_error(outeai, server, tmp_path: Path) -> None:
    rows = [{"text": "Fine.", "output": "fine.flac"}, {"text": "Long.", "output": "x" * 300}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 2, result.stderr
    assert "line 2" in result.stderr and "305 bytes" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert server.tts_requests() == []


def test_an_output_changed_since_its_run_is_made_again(outeai, server, tmp_path: Path) -> None:
    """The results line vouches for the bytes it hashed: an output replaced since (here by
    another item's audio, whole and decoding) is made again; the untouched one is kept."""
    rows = [
        {"text": "Line one.", "output": "one.flac"},
        {"text": "Line two.", "output": "two.flac"},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert outeai("batch", "m.jsonl", "-o", "out").returncode == 0
    out = tmp_path / "out"
    made = (out / "one.flac").read_bytes()
    (out / "one.flac").write_bytes((out / "two.flac").read_bytes())
    server.reset()
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 0, result.stderr
    assert "2 items: 1 already complete, 1 to make" in result.stderr, result.stderr
    assert (out / "one.flac").read_bytes() == made
    last = results(out)[-1]
    assert (last["output"], last["status"], last["from_cache"]) == ("one.flac", "ok", 1)
    assert server.tts_requests() == []  # the audio paid for was still in the piece cache


def test_a_changed_input_remakes_its_output(outeai, server, tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"text": "First wording.", "output": "a.flac"}), encoding="utf-8"
    )
    assert outeai("batch", "m.jsonl", "-o", "out").returncode == 0
    manifest.write_text(
        json.dumps({"text": "Second wording.", "output": "a.flac"}), encoding="utf-8"
    )
    assert outeai("batch", "m.jsonl", "-o", "out").returncode == 0
    assert [r["text"] for r in server.tts_requests()] == ["First wording.", "Second wording."]
    expected = reference_audio(server.base_url, "Second wording.", TOKEN)
    assert (tmp_path / "out" / "a.flac").read_bytes() == expected


def test_another_model_makes_the_outputs_again(outeai, server, tmp_path: Path) -> None:
    """A results line vouches for an output only under the model that made it. (The local
    server knows one model, so the remake with another is refused and says so; the output
    made before is kept.)"""
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "one.txt").write_text("One.", encoding="utf-8")
    args = ("batch", "texts", "-o", "out", "--api", "tts-stream")
    assert outeai(*args).returncode == 0
    made = (tmp_path / "out" / "one.flac").read_bytes()
    same = outeai(*args, "--model", "outetts_1_pro")  # the default model, named
    assert "1 items: 1 already complete, 0 to make" in same.stderr, same.stderr
    other = outeai(*args, "--model", "another_model")
    assert "1 items: 0 already complete, 1 to make" in other.stderr, other.stderr
    assert other.returncode == 1
    assert "unknown model_name 'another_model'" in other.stderr
    synthesis = [r["status"] for r in server.requests() if r["path"] == "tts_stream"]
    assert synthesis == [200, 400]
    assert (tmp_path / "out" / "one.flac").read_bytes() == made


def test_batch_says_which_api_it_found_and_what_that_api_ignores(
    outeai, server, tmp_path: Path
) -> None:
    result = outeai("batch", "-", "-o", "out", "--api", "auto", "-t", "0.9", input="One.\n")
    assert result.returncode == 0, result.stderr
    assert f"outeai: using the tts-stream API for {server.base_url} (auto-detected" in (
        result.stderr
    )
    assert "outeai: warning: the tts-stream API has no temperature; -t 0.9 is ignored" in (
        result.stderr
    )
    quiet = outeai("batch", "-", "-o", "out2", "--api", "auto", "-t", "0.9", "-q", input="One.\n")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_failed_items_are_named_the_others_kept_and_a_rerun_retries_only_them(
    outeai, server, tmp_path: Path
) -> None:
    rows = [
        {"text": "Fine one.", "output": "a.flac"},
        {"text": "Unknown voice.", "output": "b.flac", "speaker": "custom:nobody"},
        {"text": "Fine two.", "output": "c.flac"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = outeai("batch", "m.jsonl", "-o", "out")
    assert result.returncode == 1
    assert "1 of 3 items failed: b.flac" in result.stderr
    assert audio_files(tmp_path / "out") == ["a.flac", "c.flac"]
    failed = [r for r in results(tmp_path / "out") if r["status"] == "failed"]
    assert [(r["output"], r["bytes"]) for r in failed] == [("b.flac", None)]
    assert "HTTP 404" in failed[0]["error"]

    rows[1]["speaker"] = "custom:my-clone"  # a custom voice the server knows: fixed
    manifest.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    server.reset()
    rerun = outeai("batch", "m.jsonl", "-o", "out")
    assert rerun.returncode == 0, rerun.stderr
    assert [r["text"] for r in server.tts_requests()] == ["Unknown voice."]


@pytest.mark.parametrize("cache", [(), ("--no-cache",)], ids=["cache", "no-cache"])
@pytest.mark.parametrize("fmt", ["flac", "ogg"], ids=["copied-as-delivered", "converted"])
def test_an_item_whose_audio_does_not_decode_fails_and_leaves_nothing(
    outeai, server, tmp_path: Path, fmt: str, cache: tuple[str, ...]
) -> None:
    """Caught by the cache before storing, by the check before converting, or (copied as
    delivered) by the output's own check before its commit."""
    server.set_faults("half-audio")
    result = outeai("batch", "-", "-o", "out", "--format", fmt, *cache, input="One.\nTwo.\n")
    assert result.returncode == 1, result.stderr
    assert "2 of 2 items failed" in result.stderr and "Traceback" not in result.stderr
    assert audio_files(tmp_path / "out") == [] and hidden(tmp_path / "out") == []
    failed = results(tmp_path / "out")
    assert [r["status"] for r in failed] == ["failed", "failed"]
    assert all("the audio of piece 1 is damaged: " in r["error"] for r in failed)


def test_a_rejected_token_stops_the_whole_batch(outeai, make_server, tmp_path: Path) -> None:
    strict = make_server(tokens=frozenset({"another-token"}))
    lines = "".join(f"Line {i}.\n" for i in range(40))
    result = outeai(
        "batch", "-", "-o", "out", input=lines, env={"OUTEAI_BASE_URL": strict.base_url}
    )
    assert result.returncode == 3
    assert "rejected" in result.stderr
    assert len(strict.tts_requests()) <= 8  # those already in flight, not all forty


def test_json_summary_and_plain_progress_lines(outeai, server, tmp_path: Path) -> None:
    result = outeai("batch", "-", "-o", "out", "--json", input="One.\nTwo.\n")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.out)
    counts = (summary["total"], summary["made"], summary["skipped"], summary["failed"])
    assert counts == (2, 2, 0, 0) and summary["failures"] == []
    assert summary["results"].endswith("outeai-results.jsonl")
    assert "outeai: 2 items: 0 already complete, 2 to make" in result.stderr
    assert "] ok 0001-one.flac (" in result.stderr


def test_json_counts_are_disjoint_on_a_rerun_and_with_failures(outeai, server) -> None:
    first = outeai("batch", "-", "-o", "out", "--json", input="One.\nTwo.\n")
    assert first.returncode == 0, first.stderr
    again = json.loads(
        outeai("batch", "-", "-o", "out", "--json", input="One.\nTwo.\nThree.\n").out
    )
    assert (again["total"], again["made"], again["skipped"], again["failed"]) == (3, 1, 2, 0)
    assert "ok" not in again  # it counted skipped items too: ambiguous beside "made"
    server.set_faults("http-400")
    failing = outeai("batch", "-", "-o", "out", "--json", input="One.\nFour.\n")
    assert failing.returncode == 1
    summary = json.loads(failing.out)
    assert (summary["total"], summary["made"], summary["skipped"], summary["failed"]) == (
        2,
        0,
        1,
        1,
    )
    assert [f["output"] for f in summary["failures"]] == ["0002-four.flac"]

"""Long text in `outeai say`: split within the cap, requested concurrently, stitched losslessly,
subtitled, cached so an interrupted run never pays twice. Real subprocesses against the server."""

from __future__ import annotations

import io
import json
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
import srt
import webvtt

from outeai_cli.audio.stitching import Stitcher
from outeai_cli.errors import ProtocolError
from outeai_cli.http.client import TTSClient
from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.runner import LocalServer
from outeai_cli.synthesis.audio_key import audio_key
from outeai_cli.synthesis.cache import PieceCache
from tests.conftest import TOKEN
from tests.helpers import assert_subtitle_conventions, run_in_pty, wait_until

SPEAKER = "default:EN-FEMALE-1-NEUTRAL"
RATE = 44100

WORDS = [
    "river",
    "stone",
    "lantern",
    "orchard",
    "harbour",
    "meadow",
    "violin",
    "thunder",
    "copper",
    "willow",
    "garden",
    "marble",
    "window",
    "silver",
    "canyon",
    "falcon",
    "ribbon",
    "pepper",
    "meadowlark",
    "saddle",
    "kettle",
    "glacier",
    "compass",
    "feather",
    "timber",
    "quarry",
    "beacon",
    "walnut",
    "lagoon",
    "parsley",
    "hammock",
    "tundra",
    "velvet",
    "anchor",
    "cobalt",
    "spindle",
    "juniper",
    "mosaic",
    "thimble",
    "granite",
    "pelican",
    "saffron",
    "lilac",
    "fjord",
    "bramble",
    "tangerine",
    "clockwork",
    "whistle",
    "pebble",
    "nutmeg",
    "bracken",
]
NAMES = ["Smith", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Alvarez"]


def make_book(size: int = 20_000, seed: int = 9) -> str:
    """Paragraphs of varied sentences: quotes, decimals, "Dr.", and one 600-character sentence
    without any punctuation."""
    rng = random.Random(seed)

    def words(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))

    def sentence() -> str:
        kind = rng.randrange(5)
        if kind == 0:
            return f'{rng.choice(NAMES)} said, "The {words(2, 8)} is ready."'
        if kind == 1:
            return f"Dr. {rng.choice(NAMES)} measured {rng.randint(1, 9)}.{rng.randint(1, 9)} units of {words(2, 9)}."
        if kind == 2:
            return f"Was the {words(3, 12)} worth {rng.randint(2, 99)}.{rng.randint(10, 99)} coins?"
        return words(5, 28).capitalize() + rng.choice([".", ".", "!", ";"])[0]

    long_sentence = ""
    while len(long_sentence) < 600:
        long_sentence += rng.choice(WORDS) + " "
    paragraphs: list[str] = []
    total = 0
    while total < size:
        if len(paragraphs) == 12:
            paragraph = long_sentence.strip()  # its own paragraph, with no punctuation at all
        else:
            paragraph = " ".join(sentence() for _ in range(rng.randint(3, 7)))
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:size].rstrip() + "."


BOOK = make_book()


def order_in(text: str, pieces: list[str]) -> list[str]:
    """Place the request texts along `text`: each must start where the previous one ended plus
    whitespace (so no cut falls inside a word), and together they must cover it all."""
    remaining = Counter(pieces)
    order: list[str] = []
    pos = 0
    while True:
        start = pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        assert not order or pos > start, f"no whitespace before {text[pos : pos + 30]!r}"
        found = [t for t, n in remaining.items() if n and text.startswith(t, pos)]
        assert len(found) == 1, f"at {pos} ({text[pos : pos + 40]!r}): candidates {found}"
        order.append(found[0])
        remaining[found[0]] -= 1
        pos += len(found[0])
    assert +remaining == Counter(), "requests that are not part of the text"
    return order


@pytest.fixture(scope="module")
def reference() -> Iterator[Callable[[str], np.ndarray]]:
    """The samples the server gives for one piece of text, fetched with the library."""
    with (
        LocalServer(ServerSettings(engine=ToneEngine())) as server,
        TTSClient(TOKEN, base_url=server.base_url, retries=0) as client,
    ):
        memo: dict[str, np.ndarray] = {}

        def samples(text: str) -> np.ndarray:
            if text not in memo:
                audio = client.generate(text).audio_bytes
                memo[text] = sf.read(io.BytesIO(audio), dtype="int16")[0]
            return memo[text]

        yield samples


def cache_keys(tmp_path: Path) -> set[str]:
    return {p.stem for p in (tmp_path / "cache" / "outeai" / "pieces").glob("*/*.json")}


def leftovers(directory: Path, name: str) -> list[str]:
    """Anything a run left beside its output: temp files, spool directories, the output."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith((".", name)))


# -- the book --------------------------------------------------------------------------------------


def test_book_is_split_within_the_cap_and_stitched_losslessly_with_subtitles(
    outeai, make_server, tmp_path: Path, reference
) -> None:
    assert len(BOOK) >= 20_000 and '"' in BOOK and "3." in BOOK and "Dr. " in BOOK
    srv = make_server(max_chars=200)
    (tmp_path / "book.txt").write_text(BOOK, encoding="utf-8")
    result = outeai(
        "say", "-f", "book.txt", "-o", "book.flac", "--subtitles", "book.srt", "-j", "4",
        env={"OUTEAI_BASE_URL": srv.base_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    logged = srv.tts_requests()
    assert {r["status"] for r in logged} == {200}
    texts = [r["text"] for r in logged]
    assert len(texts) == len(set(texts)) > 100
    assert max(len(t) for t in texts) <= 200
    order = order_in(BOOK, texts)  # every character once, in order, never cut inside a word
    assert not any(t.endswith(("Dr.", "said,")) for t in order[:-1])
    assert not any(re.match(r"\d", t) for t in order)  # decimals like 3.5 stay whole

    pieces = [reference(t) for t in order]
    stitched, rate = sf.read(tmp_path / "book.flac", dtype="int16")
    assert rate == RATE
    assert np.array_equal(stitched, np.concatenate(pieces))

    cues = list(srt.parse((tmp_path / "book.srt").read_text(encoding="utf-8")))
    timed = [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in cues]
    assert_subtitle_conventions(timed, BOOK.split("\n\n"))
    # Each piece's audio starts and ends on a cue boundary, to the sample's millisecond.
    bounds = np.cumsum([0] + [len(p) for p in pieces]) / RATE
    starts = [c.start.total_seconds() for c in cues]
    assert all(min(abs(s - b) for s in starts) <= 0.0005 for b in bounds[:-1])
    assert abs(cues[-1].end.total_seconds() - bounds[-1]) <= 0.0005
    assert f"{len(order)} pieces of up to 200 characters" in result.stderr


def test_interrupted_book_leaves_nothing_and_the_rerun_requests_only_missing_pieces(
    outeai, cli_env, make_server, tmp_path: Path, reference
) -> None:
    srv = make_server(max_chars=200, latency=0.15)
    (tmp_path / "book.txt").write_text(BOOK, encoding="utf-8")
    args = [sys.executable, "-m", "outeai_cli", "say", "-f", "book.txt", "-o", "book.flac"]
    env = {**cli_env, "OUTEAI_BASE_URL": srv.base_url}
    proc = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while len(srv.tts_requests()) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "they are cached" in stderr
    assert leftovers(tmp_path, "book.flac") == []
    first = [r["text"] for r in srv.tts_requests()]
    cached = cache_keys(tmp_path)
    cache = PieceCache(tmp_path / "cache" / "outeai" / "pieces")
    assert all(cache.fetch(key, io.BytesIO()) is not None for key in cached)  # none partial
    assert 30 <= len(cached) < len(first) + 4

    srv.reset()
    rerun = outeai(
        "say", "-f", "book.txt", "-o", "book.flac", env={"OUTEAI_BASE_URL": srv.base_url}
    )
    assert rerun.returncode == 0, rerun.stderr
    second = [r["text"] for r in srv.tts_requests()]
    keys = {
        audio_key(api="tts", base_url=srv.base_url, speaker=SPEAKER, temperature=0.4, text=t)
        for t in second
    }
    assert not keys & cached, "a cached piece was requested again"
    counts = re.search(r"(\d+) pieces of up to 200 characters: (\d+) from the cache", rerun.stderr)
    assert counts, rerun.stderr
    total, from_cache = int(counts[1]), int(counts[2])
    assert from_cache == len(cached) and len(second) == total - from_cache

    order = order_in(BOOK, sorted(set(first) | set(second)))
    stitched = sf.read(tmp_path / "book.flac", dtype="int16")[0]
    assert np.array_equal(stitched, np.concatenate([reference(t) for t in order]))


def test_kill_9_leaves_the_target_untouched_and_the_next_run_sweeps_its_spool(
    outeai, cli_env, make_server, tmp_path: Path
) -> None:
    srv = make_server(max_chars=200, latency=0.15)
    (tmp_path / "book.txt").write_text(BOOK[:3000], encoding="utf-8")
    (tmp_path / "book.flac").write_bytes(b"the previous version")
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", "-f", "book.txt", "-o", "book.flac", "--force"],
        env={**cli_env, "OUTEAI_BASE_URL": srv.base_url},
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while len(srv.tts_requests()) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=10)
    assert (tmp_path / "book.flac").read_bytes() == b"the previous version"
    assert [p.name for p in tmp_path.glob(".book.flac.*.pieces")] != []  # only a kill leaves it
    result = outeai(
        "say", "-f", "book.txt", "-o", "book.flac", "--force", env={"OUTEAI_BASE_URL": srv.base_url}
    )
    assert result.returncode == 0, result.stderr
    assert leftovers(tmp_path, "book.flac") == ["book.flac"]
    assert sf.info(tmp_path / "book.flac").frames > 0


# -- smaller texts ---------------------------------------------------------------------------------

TEXT = " ".join(
    f"Sentence number {i} tells of the {WORDS[i % len(WORDS)]} and the {WORDS[-i]}."
    for i in range(1, 30)
)


def test_short_text_keeps_the_single_request_path_untouched(outeai, server, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("Hello there.\n", encoding="utf-8")
    result = outeai("say", "-f", "in.txt", "-o", "out.flac")
    assert result.returncode == 0, result.stderr
    assert [r["text"] for r in server.tts_requests()] == [
        "Hello there.\n"
    ]  # as written, one request
    assert "pieces" not in result.stderr
    assert not (tmp_path / "cache").exists()


def test_server_413_splits_that_piece_further_and_says_so(
    outeai, make_server, tmp_path: Path, reference
) -> None:
    srv = make_server(max_chars=90)
    result = outeai(
        "say", TEXT, "-o", "out.wav", "--max-chars", "200", "--subtitles", "out.vtt",
        env={"OUTEAI_BASE_URL": srv.base_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "HTTP 413" in result.stderr and "splitting it further" in result.stderr
    logged = srv.tts_requests()
    assert any(r["status"] == 413 for r in logged)
    accepted = [r["text"] for r in logged if r["status"] == 200]
    assert max(len(t) for t in accepted) <= 90
    order = order_in(TEXT, accepted)
    stitched = sf.read(tmp_path / "out.wav", dtype="int16")[0]
    assert np.array_equal(stitched, np.concatenate([reference(t) for t in order]))
    cue_words = " ".join(c.text for c in webvtt.read(tmp_path / "out.vtt")).split()
    assert cue_words == " ".join(order).split()


def test_a_single_piece_the_server_splits_is_stitched_from_its_parts(
    outeai, make_server, tmp_path: Path, reference
) -> None:
    """A batch item is one piece (no splitting of its own); a 413 makes it several requests,
    whose audio is stitched into the one output (checked while written)."""
    srv = make_server(max_chars=90)
    text = (
        "The first part of this line is one whole sentence, and a long one at that. "
        "Then a second one comes along here. The end."
    )
    result = outeai(
        "batch", "-", "-o", "out", input=text + "\n",
        env={"OUTEAI_BASE_URL": srv.base_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    accepted = [r["text"] for r in srv.tts_requests() if r["status"] == 200]
    assert len(accepted) >= 2
    (output,) = (tmp_path / "out").glob("*.flac")
    stitched = sf.read(output, dtype="int16")[0]
    assert np.array_equal(
        stitched, np.concatenate([reference(t) for t in order_in(text, accepted)])
    )


def test_jobs_and_retries_cope_with_the_servers_concurrency_limit(
    outeai, make_server, tmp_path: Path, reference
) -> None:
    srv = make_server(max_chars=200, max_concurrency=2, latency=0.3)
    result = outeai("say", TEXT, "-o", "out.flac", "-j", "4", env={"OUTEAI_BASE_URL": srv.base_url})
    assert result.returncode == 0, result.stderr
    logged = srv.tts_requests()
    assert any(r["status"] == 429 for r in logged)
    assert "requests at once" in result.stderr  # the run slowed down instead of failing
    order = order_in(TEXT, [r["text"] for r in logged if r["status"] == 200])
    stitched = sf.read(tmp_path / "out.flac", dtype="int16")[0]
    assert np.array_equal(stitched, np.concatenate([reference(t) for t in order]))


def test_server_frees_a_concurrency_slot_when_a_client_goes_away(
    cli_env, make_server, tmp_path: Path
) -> None:
    # The request would hold its slot 30 s: freed well before, it was freed by the client's going.
    srv = make_server(max_concurrency=1, latency=30)

    def slot_is_free() -> bool:
        body = {"token": TOKEN, "text": "Next.", "speaker": {"default": "EN-FEMALE-1-NEUTRAL"}}
        with httpx.stream("POST", f"{srv.base_url}/tts", json=body, timeout=10) as answer:
            assert answer.status_code in (200, 429), answer.status_code
            return answer.status_code == 200  # let in (its audio would take 30 s: not read)

    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "say", "Wait for me.", "-o", "x.flac"],
        env={**cli_env, "OUTEAI_BASE_URL": srv.base_url},
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    wait_until(srv.tts_requests, "the request arrived", proc=proc)
    assert not slot_is_free()  # the one slot is the CLI's
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    wait_until(slot_is_free, "the server noticed the client had gone", timeout=10)


def test_pause_puts_exact_silence_between_pieces_and_shifts_the_cues(
    outeai, server, tmp_path: Path, reference
) -> None:
    text = "First piece here. Second piece here. Third piece here."
    result = outeai(
        "say",
        text,
        "-o",
        "out.wav",
        "--max-chars",
        "20",
        "--pause",
        "0.5",
        "--subtitles",
        "out.srt",
    )
    assert result.returncode == 0, result.stderr
    pieces = [
        reference(t) for t in ("First piece here.", "Second piece here.", "Third piece here.")
    ]
    gap = np.zeros(RATE // 2, dtype=np.int16)
    expected = np.concatenate([pieces[0], gap, pieces[1], gap, pieces[2]])
    assert np.array_equal(sf.read(tmp_path / "out.wav", dtype="int16")[0], expected)
    cues = list(srt.parse((tmp_path / "out.srt").read_text()))
    second_start = (len(pieces[0]) + len(gap)) / RATE
    assert abs(cues[1].start.total_seconds() - second_start) <= 0.0005


def test_long_text_to_stdout_writes_the_stitched_audio(outeai, server, reference) -> None:
    result = outeai("say", TEXT, "-o", "-", "--format", "wav", "--max-chars", "150")
    assert result.returncode == 0, result.stderr
    samples = sf.read(io.BytesIO(result.stdout), dtype="int16")[0]
    order = order_in(TEXT, [r["text"] for r in server.tts_requests()])
    assert np.array_equal(samples, np.concatenate([reference(t) for t in order]))


@pytest.mark.parametrize("fmt", ["flac", "wav", "ogg", "mp3"])
def test_a_stitched_output_in_every_format_is_whole(
    outeai, server, tmp_path: Path, reference, fmt: str
) -> None:
    """Lossless outputs hold exactly the pieces' samples (the FLAC checked while written);
    lossy ones at least as many frames (an MP3 encoder pads)."""
    result = outeai("say", TEXT, "-o", f"out.{fmt}", "--max-chars", "150", "--no-cache")
    assert result.returncode == 0, result.stderr
    order = order_in(TEXT, [r["text"] for r in server.tts_requests()])
    expected = np.concatenate([reference(t) for t in order])
    samples = sf.read(tmp_path / f"out.{fmt}", dtype="int16")[0]
    if fmt in ("flac", "wav"):
        assert np.array_equal(samples, expected)
    else:
        assert len(samples) >= len(expected)


def test_json_adds_the_piece_count(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", TEXT, "-o", "out.flac", "--json", "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.out)
    assert report["pieces"] == len(server.tts_requests()) > 1
    assert report["from_cache"] == 0 and report["path"] == "out.flac"
    assert result.stderr == ""  # -q: nothing but errors


def test_no_cache_neither_reuses_nor_keeps_pieces(outeai, server, tmp_path: Path) -> None:
    assert outeai("say", TEXT, "-o", "a.flac").returncode == 0
    pieces = len(server.tts_requests())
    assert len(cache_keys(tmp_path)) == pieces
    result = outeai("say", TEXT, "-o", "b.flac", "--no-cache")
    assert result.returncode == 0, result.stderr
    assert len(server.tts_requests()) == 2 * pieces
    assert (tmp_path / "a.flac").read_bytes() == (tmp_path / "b.flac").read_bytes()


def test_a_damaged_cache_entry_is_never_reused(outeai, server, tmp_path: Path) -> None:
    assert outeai("say", TEXT, "-o", "a.flac").returncode == 0
    first = len(server.tts_requests())
    victim = next((tmp_path / "cache" / "outeai" / "pieces").glob("*/*.audio"))
    victim.write_bytes(victim.read_bytes()[:-100])  # as if a write had been cut short
    result = outeai("say", TEXT, "-o", "b.flac")
    assert result.returncode == 0, result.stderr
    assert len(server.tts_requests()) == first + 1  # just the damaged piece, once more
    assert (tmp_path / "a.flac").read_bytes() == (tmp_path / "b.flac").read_bytes()


def test_identical_pieces_are_requested_once(outeai, server, tmp_path: Path) -> None:
    chorus = "And the river sang along the stones all night."
    text = " ".join([chorus, "A verse about the meadow.", chorus, "Another verse.", chorus])
    result = outeai("say", text, "-o", "song.flac", "--max-chars", "50")
    assert result.returncode == 0, result.stderr
    texts = [r["text"] for r in server.tts_requests()]
    assert texts.count(chorus) == 1 and len(texts) == 3
    assert sf.info(tmp_path / "song.flac").frames > 0


def test_bad_subtitles_name_is_refused_before_any_request(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", TEXT, "-o", "out.flac", "--subtitles", "out.txt")
    assert result.returncode == 2
    assert "subtitle format" in result.stderr and ".srt or .vtt" in result.stderr
    assert server.tts_requests() == []
    assert leftovers(tmp_path, "out.") == []


def test_a_failed_piece_fails_the_run_and_leaves_no_output(outeai, server, tmp_path: Path) -> None:
    server.set_faults("http-400:1")
    result = outeai("say", TEXT, "-o", "out.flac", "--subtitles", "out.srt")
    assert result.returncode == 4
    assert "HTTP 400" in result.stderr and "Traceback" not in result.stderr
    assert leftovers(tmp_path, "out.") == []


def test_sample_rate_change_between_pieces_is_a_protocol_error(tmp_path: Path) -> None:
    for name, rate in (("a.flac", 44100), ("b.flac", 24000)):
        sf.write(tmp_path / name, np.zeros(1000, dtype=np.int16), rate)
    stitcher = Stitcher(io.BytesIO(), "flac")
    stitcher.append(tmp_path / "a.flac")
    with pytest.raises(ProtocolError, match=r"24000 Hz.*44100 Hz"):
        stitcher.append(tmp_path / "b.flac")


# -- progress ----------------------------------------------------------------------------------------


def test_live_progress_shows_one_bar_and_the_pieces_in_flight(
    cli_env, make_server, tmp_path: Path
) -> None:
    srv = make_server(latency=0.8)
    code, screen, _ = run_in_pty(
        ["say", TEXT, "-o", "out.flac", "--max-chars", "300", "-j", "2"],
        {**cli_env, "OUTEAI_BASE_URL": srv.base_url},
        tmp_path,
    )
    assert code == 0, screen
    assert re.search(r"\d+/\d+ pieces", screen), screen
    assert re.search(r"#\d+ (sending|Generating audio|Warming up)", screen), screen
    assert "ETA" in screen and "s audio" in screen


def test_piped_stderr_gets_plain_progress_lines(outeai, server) -> None:
    result = outeai("say", TEXT, "-o", "out.flac", "--max-chars", "300")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert re.fullmatch(
        r"outeai: \d+ pieces of up to 300 characters: 0 from the cache, \d+ to request, 4 at a time",
        lines[0],
    )
    # A quick run has no progress lines (tests/test_progress_display.py has a slow one).
    assert len(lines) == 2 and lines[-1].startswith("Saved out.flac"), lines
    assert "\x1b[" not in result.stderr

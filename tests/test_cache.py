"""The piece cache: keyed by all that shapes the audio, validated on read, shown and cleared."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
import soundfile as sf

from outeai_cli.audio.verify import DamagedAudio, check_audio
from outeai_cli.synthesis.audio_key import audio_key
from outeai_cli.synthesis.cache import PieceCache, default_cache_dir
from tests.helpers import HEAVY, run_with_import_log, small_flac, tone

BASE = {
    "api": "tts",
    "base_url": "http://127.0.0.1:8765/api/v1",
    "speaker": "default:EN-FEMALE-1-NEUTRAL",
    "temperature": 0.4,
    "text": "Hello there.",
}


def stored(cache: PieceCache, key: str, audio: bytes, tmp_path: Path) -> None:
    source = tmp_path / "piece.flac"
    source.write_bytes(audio)
    cache.store(key, source, format="flac", duration=1.5)


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("api", "tts-stream"),
        ("base_url", "https://outeai.com/api/v1"),
        ("speaker", "custom:EN-FEMALE-1-NEUTRAL"),
        ("temperature", 0.5),
        ("text", "Hello there!"),
    ],
)
def test_every_field_of_the_request_changes_the_key(field: str, other: object) -> None:
    assert audio_key(**BASE) != audio_key(**{**BASE, field: other})


def test_key_ignores_a_trailing_slash_but_not_the_model() -> None:
    assert audio_key(**BASE) == audio_key(**{**BASE, "base_url": BASE["base_url"] + "/"})
    assert audio_key(**BASE, model="a") != audio_key(**BASE, model="b")


def test_a_stored_entry_comes_back_byte_for_byte(tmp_path: Path) -> None:
    cache = PieceCache(tmp_path / "c")
    key = audio_key(**BASE)
    audio = small_flac()
    stored(cache, key, audio, tmp_path)
    out = io.BytesIO()
    entry = cache.fetch(key, out)
    assert entry is not None
    assert (entry.format, entry.duration, entry.bytes) == ("flac", 1.5, len(audio))
    assert out.getvalue() == audio
    assert cache.fetch(audio_key(**{**BASE, "text": "other"}), io.BytesIO()) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda audio, meta: audio.write_bytes(audio.read_bytes()[:-3]),  # cut short
        lambda audio, meta: audio.write_bytes(b"x" + audio.read_bytes()[1:]),  # same size, changed
        lambda audio, meta: meta.write_text("{not json"),  # sidecar torn
        lambda audio, meta: meta.unlink(),  # killed between the two renames
        lambda audio, meta: audio.unlink(),  # audio gone
    ],
    ids=["truncated", "altered", "torn-sidecar", "no-sidecar", "no-audio"],
)
def test_a_partial_or_damaged_entry_is_never_reused(tmp_path: Path, damage) -> None:
    cache = PieceCache(tmp_path / "c")
    key = audio_key(**BASE)
    stored(cache, key, small_flac(), tmp_path)
    audio, meta = (tmp_path / "c" / key[:2] / f"{key}.{ext}" for ext in ("audio", "json"))
    damage(audio, meta)
    assert cache.fetch(key, io.BytesIO()) is None
    assert cache.stats().entries == 0


def test_a_changed_sample_that_still_decodes_is_never_reused(tmp_path: Path) -> None:
    """One sample of a WAV entry changed: same size, still whole audio, so only the hash in
    the sidecar tells it is not what was paid for."""
    cache = PieceCache(tmp_path / "c")
    key = audio_key(**BASE)
    source = tmp_path / "piece.wav"
    sf.write(source, tone(0.5), 8000, subtype="PCM_16")
    cache.store(key, source, format="wav", duration=0.5)
    audio = tmp_path / "c" / key[:2] / f"{key}.audio"
    changed = bytearray(audio.read_bytes())
    changed[1000] ^= 0x01  # a sample's low bit, well inside the data chunk
    audio.write_bytes(bytes(changed))
    assert check_audio(audio, expected="wav").frames == 4000  # it decodes completely
    assert cache.fetch(key, io.BytesIO()) is None
    assert cache.stats().entries == 0 and not audio.exists()


def wav_entry(cache: PieceCache, tmp_path: Path, seconds: float = 0.5, **key: str) -> str:
    """A WAV stored under the key of BASE (with `key`'s changes); returns the key."""
    entry_key = audio_key(**{**BASE, **key})
    source = tmp_path / "piece.wav"
    sf.write(source, tone(seconds), 8000, subtype="PCM_16")
    cache.store(entry_key, source, format="wav", duration=None)
    return entry_key


def entry_files(cache: PieceCache, key: str) -> tuple[Path, Path]:
    return (cache.directory / key[:2] / f"{key}.audio", cache.directory / key[:2] / f"{key}.json")


def test_an_entry_over_a_mebibyte_comes_back_whole(tmp_path: Path) -> None:
    """Read and hashed a block at a time: every block counts (70 s of 8 kHz: 1.1 MB)."""
    cache = PieceCache(tmp_path / "c")
    key = wav_entry(cache, tmp_path, seconds=70)
    out = io.BytesIO()
    entry = cache.fetch(key, out)
    assert entry is not None and entry.bytes == out.tell() > 1 << 20
    assert (entry.format, entry.duration) == ("wav", None)  # an unknown duration stays unknown
    assert out.getvalue() == (tmp_path / "piece.wav").read_bytes()


def test_storing_a_key_again_replaces_its_entry(tmp_path: Path) -> None:
    cache = PieceCache(tmp_path / "c")
    key = audio_key(**BASE)
    stored(cache, key, small_flac(pitch=220), tmp_path)
    stored(cache, key, small_flac(pitch=330), tmp_path)
    out = io.BytesIO()
    assert cache.fetch(key, out) is not None and out.getvalue() == small_flac(pitch=330)
    assert cache.stats().entries == 1


def test_audio_stored_as_another_format_is_refused_and_an_entry_claiming_one_is_dropped(
    tmp_path: Path,
) -> None:
    cache = PieceCache(tmp_path / "c")
    source = tmp_path / "piece.wav"
    sf.write(source, tone(0.5), 8000, subtype="PCM_16")
    with pytest.raises(DamagedAudio, match="piece 3 is damaged: it is WAV, not the FLAC"):
        cache.store(audio_key(**BASE), source, format="flac", duration=0.5, what="piece 3")
    key = wav_entry(cache, tmp_path)
    _, meta = entry_files(cache, key)
    record = json.loads(meta.read_text())
    meta.write_text(json.dumps({**record, "format": "flac"}))  # hash and size still match
    assert cache.fetch(key, io.BytesIO()) is None
    assert cache.stats().entries == 0


@pytest.mark.parametrize("which", ["audio", "json"])
def test_an_entry_file_that_is_a_link_is_never_followed(tmp_path: Path, which: str) -> None:
    """Another local user could link an entry's name to a file of their choosing."""
    cache = PieceCache(tmp_path / "c")
    key = wav_entry(cache, tmp_path)
    audio, meta = entry_files(cache, key)
    name = audio if which == "audio" else meta
    elsewhere = tmp_path / f"elsewhere.{which}"
    name.rename(elsewhere)  # the very same bytes, now behind a link
    name.symlink_to(elsewhere)
    assert cache.fetch(key, io.BytesIO()) is None
    assert elsewhere.exists()  # the link goes, never what it points at


def test_clear_removes_stray_files_and_links_but_never_follows_a_link(tmp_path: Path) -> None:
    cache = PieceCache(tmp_path / "c")
    wav_entry(cache, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (cache.directory / "zz").symlink_to(outside)
    (cache.directory / "stray.tmp").write_bytes(b"left by a killed run")
    (cache.directory / "ab").mkdir()
    (cache.directory / "ab" / ".half.json").write_bytes(b"{")  # a temp name: not an entry
    assert cache.stats().entries == 1
    cache.clear()
    assert list(cache.directory.iterdir()) == []
    assert (outside / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        (small_flac()[: len(small_flac()) // 2], "does not decode"),
        (b"fLaC" + bytes(range(256)) * 8, r"cut short \(a metadata block"),
        (b"<html>502</html>", "not audio"),
    ],
    ids=["half-a-flac", "flac-magic-and-garbage", "not-audio"],
)
def test_audio_that_does_not_decode_is_never_cached(
    tmp_path: Path, audio: bytes, words: str
) -> None:
    cache = PieceCache(tmp_path / "c")
    key = audio_key(**BASE)
    with pytest.raises(DamagedAudio, match=words):
        stored(cache, key, audio, tmp_path)
    assert cache.stats().entries == 0 and cache.stats().bytes == 0


def test_an_entry_that_does_not_decode_on_reuse_is_dropped(tmp_path: Path) -> None:
    """An entry an older version stored from a bad response: its hash matches, its audio is
    damaged. It is a miss (so the piece is requested again) and it is gone."""
    cache = PieceCache(tmp_path / "c")
    key = audio_key(**BASE)
    stored(cache, key, small_flac(), tmp_path)
    audio, meta = (tmp_path / "c" / key[:2] / f"{key}.{ext}" for ext in ("audio", "json"))
    half = small_flac()[: len(small_flac()) // 2]
    audio.write_bytes(half)
    record = json.loads(meta.read_text())
    record.update(bytes=len(half), sha256=hashlib.sha256(half).hexdigest())
    meta.write_text(json.dumps(record))
    assert cache.fetch(key, io.BytesIO()) is None
    assert not audio.exists() and not meta.exists()


def test_stats_count_complete_entries_and_clear_removes_everything(tmp_path: Path) -> None:
    cache = PieceCache(tmp_path / "c")
    for text in ("a", "b", "c"):
        stored(
            cache, audio_key(**{**BASE, "text": text}), small_flac(pitch=100 + ord(text)), tmp_path
        )
    (tmp_path / "c" / "ab").mkdir()
    (tmp_path / "c" / "ab" / ".leftover.part").write_bytes(b"q" * 500)  # a killed write
    stats = cache.stats()
    assert stats.entries == 3 and stats.bytes > 3 * len(small_flac()) // 2 + 500
    removed = cache.clear()
    assert removed == stats
    assert cache.stats().entries == 0 and cache.stats().bytes == 0
    assert list((tmp_path / "c").iterdir()) == []


def test_the_cache_lives_under_xdg_cache_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "outeai" / "pieces"


# -- `outeai cache` --------------------------------------------------------------------------------

TEXT = " ".join(f"Cached sentence number {i} is right here." for i in range(12))


def test_cache_command_shows_the_pieces_a_long_say_kept_and_clears_them(
    outeai, server, tmp_path: Path
) -> None:
    assert outeai("say", TEXT, "-o", "a.flac", "--max-chars", "100").returncode == 0
    pieces = len(server.tts_requests())
    shown = outeai("cache")
    assert shown.returncode == 0, shown.stderr
    where = tmp_path / "cache" / "outeai" / "pieces"
    assert shown.out.startswith(f"{where}: {pieces} pieces, ")
    report = json.loads(outeai("cache", "--json").out)
    assert report["entries"] == pieces and report["bytes"] > 0 and report["path"] == str(where)

    cleared = outeai("cache", "clear")
    assert cleared.returncode == 0
    assert cleared.out.startswith(f"Removed {pieces} pieces, ")
    assert json.loads(outeai("cache", "--json").out)["entries"] == 0
    server.reset()
    assert outeai("say", TEXT, "-o", "b.flac", "--max-chars", "100").returncode == 0
    assert len(server.tts_requests()) == pieces  # nothing left to reuse


@pytest.mark.parametrize(
    "args", [("cache",), ("cache", "clear"), ("batch", "--help")], ids=" ".join
)
def test_cache_and_batch_help_stay_light(args: tuple[str, ...], tmp_path: Path) -> None:
    code, modules = run_with_import_log(*args, tmp_path=tmp_path)
    assert code == 0
    assert "outeai_cli.cli.app" in modules
    assert not {m.split(".")[0] for m in modules} & set(HEAVY)

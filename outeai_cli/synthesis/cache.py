"""The piece cache: audio already paid for, kept so that a re-run never requests it again.

Used by the long-text path of `outeai say` and by `outeai batch` (a short `say` that fits in
one request does not use it). An entry is the audio of one request, keyed by everything that
shapes it (`audio_key`, the key the batch's results file uses too): the API dialect (and
model, when the dialect has one), the base URL, the speaker, the temperature and the exact text
sent.

Layout under platformdirs' user cache dir (XDG_CACHE_HOME honoured), `pieces/ab/<key>`:
`<key>.audio` holds the bytes as delivered and `<key>.json` their length and SHA-256. Both are
written to a temp file, fsynced and renamed into place; the sidecar goes last, so an entry without a
valid sidecar is incomplete. Only audio that decodes completely is stored, and reads check the
length, the hash and the decoding again, dropping an entry that fails: a partly written,
damaged or bad entry is never reused, so a re-run requests that piece again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import IO, Any, NamedTuple

from outeai_cli.audio.verify import DamagedAudio, check_audio
from outeai_cli.output.commit import atomic_output
from outeai_cli.untrusted import parse_json_object, read_bounded

APP_NAME = "outeai"
_VERSION = 1
_COPY_BLOCK = 1 << 20
_META_LIMIT = 64 * 1024  # an entry's metadata is a few fields; anything bigger was tampered with


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False)) / "pieces"


class CachedAudio(NamedTuple):
    format: str
    duration: float | None
    bytes: int


class CacheStats(NamedTuple):
    path: Path
    entries: int
    bytes: int


class PieceCache:
    """A directory of validated audio entries; safe to share between threads and processes."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_cache_dir()

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.directory / key[:2]
        return folder / f"{key}.audio", folder / f"{key}.json"

    def fetch(self, key: str, dest: IO[bytes]) -> CachedAudio | None:
        """Copy a valid entry's audio into `dest` and describe it; None on a miss.

        An entry that fails validation (length, hash, or a complete decode) is removed and
        counts as a miss. `dest` may then hold part of it: the caller truncates or discards it.
        """
        audio_path, meta_path = self._paths(key)
        try:
            # Only regular files, never through a link, never waiting: another local user
            # could have planted a FIFO or a link to /dev/zero under an entry's name.
            raw = read_bounded(meta_path, _META_LIMIT, follow=False)
            meta = parse_json_object(raw, max_bytes=_META_LIMIT)
            expected_size, expected_hash = int(meta["bytes"]), str(meta["sha256"])
            entry = CachedAudio(
                str(meta["format"]), _optional_float(meta.get("duration")), expected_size
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):  # (UnreadableFile is a ValueError)
            self._discard(key)
            return None
        digest = hashlib.sha256()
        size = 0
        try:
            fd = os.open(audio_path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            self._discard(key)
            return None
        with os.fdopen(fd, "rb") as source:
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError("not a regular file")
                while block := source.read(_COPY_BLOCK):
                    digest.update(block)
                    size += len(block)
                    dest.write(block)
            except OSError:
                self._discard(key)
                return None
            if (
                size != expected_size
                or digest.hexdigest() != expected_hash
                or not _decodes(source, entry.format)
            ):
                self._discard(key)
                return None
        return entry

    def store(
        self,
        key: str,
        source: Path,
        *,
        format: str,
        duration: float | None,
        what: str = "the audio",
    ) -> None:
        """Add an entry from a finished audio file. Raises OSError if the disk refuses, and
        DamagedAudio ("`what` is damaged: ...", storing nothing) if the audio does not
        decode completely."""
        check_audio(source, expected=format, what=what)
        audio_path, meta_path = self._paths(key)
        make_private_dirs(audio_path.parent)
        digest = hashlib.sha256()
        size = 0
        # atomic_output: an anonymous temp file, fsynced, then renamed; an interrupted write
        # leaves nothing under the entry's name.
        with atomic_output(audio_path, force=True) as out, open(source, "rb") as handle:
            while block := handle.read(_COPY_BLOCK):
                digest.update(block)
                size += len(block)
                out.write(block)
        meta = {
            "version": _VERSION,
            "bytes": size,
            "sha256": digest.hexdigest(),
            "format": format,
            "duration": duration,
            "created": round(time.time(), 3),
        }
        with atomic_output(meta_path, force=True) as out:
            out.write(json.dumps(meta).encode("utf-8"))

    def _discard(self, key: str) -> None:
        for path in self._paths(key):
            with contextlib.suppress(OSError):
                path.unlink()

    def stats(self) -> CacheStats:
        """Complete entries and the bytes everything in the cache takes on disk."""
        entries = 0
        size = 0
        for path in self._files():
            with contextlib.suppress(OSError):
                size += path.stat().st_size
            if path.suffix == ".json" and not path.name.startswith("."):
                entries += 1
        return CacheStats(self.directory, entries, size)

    def clear(self) -> CacheStats:
        """Remove every entry (and any temp file a killed run left). Returns what was there."""
        before = self.stats()
        if self.directory.is_dir():
            for child in self.directory.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        child.unlink()
        return before

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return [p for p in self.directory.glob("*/*") if p.is_file()]


def make_private_dirs(path: Path) -> None:
    """`path` and each missing parent made 0700 whatever the umask: `mkdir(parents=True)`
    gives the parents 0777 & ~umask, and under `umask 000` another local user could plant
    entries (a FIFO) in a cache anyone can write."""
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode passes through the umask


def _decodes(source: IO[bytes], fmt: str) -> bool:
    try:
        check_audio(source, expected=fmt)
    except DamagedAudio:
        return False
    return True


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)

"""The batch's results file, which makes re-runs resumable.

A JSONL line is appended as each item ends. An output that exists is skipped only when it
checks out: its SHA-256 matches the results line written for the same input (same key), or,
with no such line, it decodes to the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from outeai_cli.errors import Advice, Fix, InputError
from outeai_cli.untrusted import UnreadableFile, parse_json, read_bounded
from outeai_cli.voices.speakers import Speaker

if TYPE_CHECKING:
    from outeai_cli.batch.inputs import BatchItem
    from outeai_cli.synthesis.synthesize import SynthesisResult

RESULTS_NAME = "outeai-results.jsonl"
MAX_RESULTS_BYTES = 256 << 20  # ~800,000 items' lines, read whole at the start


class ResultsLog:
    """The JSONL results file: read on start (a torn last line is ignored), appended per item."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.latest: dict[str, dict[str, Any]] = {}
        self._file: IO[str] | None = None

    def __enter__(self) -> ResultsLog:
        """Lock the results file (one batch at a time writes into a directory), then read it."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Never through a link: a results file pointing out of the output directory
            # would have lines appended to whatever it points at.
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
            fd = os.open(self.path, flags | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            if self.path.is_symlink():
                raise self._unusable("it is a symbolic link") from None
            raise InputError(f"cannot open the results file {self.path}: {exc.strerror}") from None
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            # A second batch into the same directory would pay for its requests, then find
            # the first one's files and count them failed.
            raise InputError(
                f"another outeai batch is writing into {self.path.parent}",
                hint="wait for it to finish, or give this batch another output directory",
            ) from None
        try:
            raw = read_bounded(self.path, MAX_RESULTS_BYTES, follow=False)
        except UnreadableFile as exc:
            self._file.close()
            raise self._unusable(str(exc)) from None
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                record = parse_json(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("output"), str):
                self.latest[record["output"]] = record
        if raw and not raw.endswith(b"\n"):
            # A line torn by a killed run: end it, or this run's first line would join it.
            self._file.write("\n")
            self._file.flush()
        return self

    def _unusable(self, reason: str) -> InputError:
        return InputError(
            f"cannot use the results file {self.path}: {reason}",
            hint="remove it, or name another results file",
        )

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    def append(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")  # one write: one line
        self._file.flush()
        self.latest[record["output"]] = record


@dataclass
class Entry:
    """One item of the run, resolved: its voice, temperature, key and output path.

    `key` is `audio_key.audio_key` of the item (its model and format included): a results
    line vouches for an output only under the same key."""

    index: int
    item: BatchItem
    speaker: Speaker
    temperature: float
    key: str
    target: Path
    overwrite: bool = False

    @property
    def name(self) -> str:
        return self.item.output.as_posix()


def file_sha256(path: Path) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def decodes_completely(path: Path) -> bool:
    """Whether an audio file holds all the audio its header declares, every frame decoding
    (`verify.check_audio`: a WAV cut short is caught even though decoders read it happily)."""
    from outeai_cli.audio.verify import DamagedAudio, check_audio

    try:
        check_audio(path)
    except DamagedAudio:
        return False
    return True


def vouching_record(
    entry: Entry, record: dict[str, Any] | None, force: bool
) -> dict[str, Any] | None:
    """A record vouching for the existing output, or None if the item must be made.

    An existing file that no run of this batch recorded and that is not complete audio is
    somebody else's: InputError, and only `force` replaces it.
    """
    if entry.target.is_symlink() or (entry.target.exists() and not entry.target.is_file()):
        # A directory, a FIFO (opening it would wait for ever), a device: never ours to
        # replace, even with force.
        kind = "a directory" if entry.target.is_dir() else "not a regular file"
        if entry.target.is_symlink():
            kind = "a symbolic link"
        raise InputError(
            f"{entry.name} is {kind}; it was left alone",
            hint="remove it, or give this item another output name",
        )
    if force or not entry.target.exists():
        entry.overwrite = entry.target.exists()
        return None
    entry.overwrite = True
    if record is not None and record.get("status") in ("ok", "skipped"):
        if record.get("key") == entry.key and record.get("sha256") == file_sha256(entry.target):
            return record
        return None  # made from another input, or changed since: make it again
    # No run of this batch recorded it as made (no line, or only failures).
    if decodes_completely(entry.target):
        return make_record(
            entry, "skipped", note="no results line for it, but it decodes completely"
        )
    # Not complete audio either: someone else's file.
    raise InputError(
        f"{entry.name} exists, but no run of this batch made it; it was left alone",
        advice=(Advice(Fix.ENABLE, "force", purpose="to replace it"),),
    )


def make_record(
    entry: Entry,
    status: str,
    *,
    result: SynthesisResult | None = None,
    error: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    exists = status != "failed" and entry.target.exists()
    duration = result.duration if result is not None else None
    if duration is None and exists:
        duration = _duration(entry.target)
    record = {
        "input": entry.item.where,
        "output": entry.name,
        "status": status,
        "duration": duration,
        "bytes": entry.target.stat().st_size if exists else None,
        "sha256": file_sha256(entry.target) if exists else None,
        "error": error,
        "key": entry.key,
        "speaker": str(entry.speaker),
        "temperature": entry.temperature,
        "pieces": result.pieces if result is not None else None,
        "from_cache": result.from_cache if result is not None else None,
        "silent": result.silent if result is not None else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if note:
        record["note"] = note
    return record


def _duration(path: Path) -> float | None:
    from outeai_cli.audio.verify import DamagedAudio, check_audio

    try:
        return round(check_audio(path).seconds, 3)
    except DamagedAudio:
        return None

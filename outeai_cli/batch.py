"""Many texts to many files: inputs, output names, a results log, and a resumable run.

Inputs (`load_items`): a directory of `.txt` files, a `.jsonl` or `.csv` manifest (columns
`text` or `file`, optional `output`, `speaker`, `temperature`), or `-` for one text per line on
stdin. Every row is checked before any request; a bad one is an InputError naming its line.

Output names are stable and collision-free: the manifest's `output`, else the input file's
stem, else `LINE-first-words`; derived names that clash get `-2`, `-3`... in input order.

The run (`run_batch`) sends each item through the long-text path (split, cache, stitch, atomic
commit) with at most `jobs` requests in flight across all items. A results file (JSONL) gets a
line as each item ends. An output that exists is skipped only when it checks out: its SHA-256
matches the results line written for the same input, or, with no such line, it decodes to the
end. Interrupted, the run keeps what is complete and commits nothing partial; the same command
finishes the rest without requesting finished items again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from outeai_cli.audio import format_for_path
from outeai_cli.errors import (
    APIError,
    AuthenticationError,
    ExitCode,
    InputError,
    InterruptedByUser,
    OuteAIError,
)
from outeai_cli.speakers import Speaker, parse_speaker
from outeai_cli.textinput import decode_text

if TYPE_CHECKING:
    from outeai_cli.cache import PieceCache
    from outeai_cli.client import TTSClient
    from outeai_cli.longtext import LongTextOptions, LongTextResult, RequestLimiter, RunProgress

MANIFEST_FIELDS = ("text", "file", "output", "speaker", "temperature")
RESULTS_NAME = "outeai-results.jsonl"
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class BatchItem:
    where: str  # how messages name the input: "a.txt", "list.csv line 7", "stdin line 3"
    text: str
    output: Path  # relative to the output directory
    format: str
    speaker: str | None = None
    temperature: float | None = None


# -- inputs --------------------------------------------------------------------------------------


def load_items(source: str, *, fmt: str, stdin: BinaryIO | None = None) -> list[BatchItem]:
    """Read and check every item of `source` (see the module docstring); nothing is sent."""
    if source == "-":
        if stdin is None:
            raise InputError("no standard input to read")
        return _dedupe(_stdin_items(stdin.read(), fmt))
    path = Path(source)
    if path.is_dir():
        return _dedupe(_directory_items(path, fmt))
    if not path.exists():
        raise InputError(f"no such file or directory: {source}", hint="check the INPUT path")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise InputError(
            f"cannot read {source} as a batch input",
            hint="give a directory of .txt files, a .jsonl or .csv manifest, or - for stdin",
        )
    raw = _read(path)
    rows = _jsonl_rows(raw, path) if suffix == ".jsonl" else _csv_rows(raw, path)
    return _dedupe(_manifest_items(rows, path, fmt))


def _read(path: Path) -> str:
    try:
        return decode_text(path.read_bytes(), os.fspath(path))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _stdin_items(raw: bytes, fmt: str) -> Iterable[tuple[BatchItem, bool]]:
    text = decode_text(raw, "standard input")
    lines = text.splitlines()
    width = max(4, len(str(len(lines))))
    for number, line in enumerate(lines, start=1):
        if line.strip():
            name = f"{number:0{width}d}-{_slug(line)}.{fmt}"
            yield BatchItem(f"stdin line {number}", line, Path(name), fmt), False


def _directory_items(directory: Path, fmt: str) -> Iterable[tuple[BatchItem, bool]]:
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".txt" and p.is_file())
    if not files:
        raise InputError(f"no .txt files in {directory}", hint="put one text per .txt file there")
    for path in files:
        yield BatchItem(os.fspath(path), _read(path), Path(f"{path.stem}.{fmt}"), fmt), False


def _jsonl_rows(raw: str, path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise _row_error(path, number, f"not valid JSON ({exc})") from None
        if not isinstance(row, dict):
            raise _row_error(path, number, "each line must be a JSON object")
        yield number, row


def _csv_rows(raw: str, path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(raw, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        if not header:
            raise _row_error(path, 1, "the header row is missing", hint="e.g. text,output")
        for row in reader:
            if None in row:
                raise _row_error(path, reader.line_num, "more cells than the header has columns")
            yield reader.line_num, {k: v for k, v in row.items() if v not in (None, "")}
    except csv.Error as exc:
        raise _row_error(path, reader.line_num, f"not valid CSV ({exc})") from None


def _manifest_items(
    rows: Iterable[tuple[int, dict[str, Any]]], path: Path, fmt: str
) -> Iterable[tuple[BatchItem, bool]]:
    count = 0
    for number, row in rows:
        count += 1
        where = f"{path.name} line {number}"
        unknown = sorted(set(row) - set(MANIFEST_FIELDS))
        if unknown:
            raise _row_error(
                path,
                number,
                f"unknown field {unknown[0]!r}",
                hint=f"use {', '.join(MANIFEST_FIELDS)}",
            )
        if ("text" in row) == ("file" in row):
            raise _row_error(path, number, "give exactly one of 'text' or 'file'")
        for name in ("text", "file", "output", "speaker"):
            if name in row and not isinstance(row[name], str):
                raise _row_error(path, number, f"'{name}' must be a string")
        if "text" in row:
            text = row["text"]
            if not text.strip():
                raise _row_error(path, number, "'text' is empty")
            stem = f"{number:04d}-{_slug(text)}"
        else:
            file = path.parent / row["file"]
            try:
                text = decode_text(file.read_bytes(), os.fspath(file))
            except OSError as exc:
                raise _row_error(
                    path, number, f"cannot read {row['file']}: {exc.strerror}"
                ) from None
            except InputError as exc:
                raise _row_error(path, number, exc.message, hint=exc.hint) from None
            stem = Path(row["file"]).stem
        output, item_fmt, explicit = _output_name(row.get("output"), stem, fmt, path, number)
        temperature = _temperature(row.get("temperature"), path, number)
        speaker = row.get("speaker")
        if speaker is not None and not speaker.strip():
            raise _row_error(path, number, "'speaker' is empty")
        yield BatchItem(where, text, output, item_fmt, speaker, temperature), explicit
    if not count:
        raise InputError(f"{path} has no rows", hint="add one item per line")


def _output_name(
    value: str | None, stem: str, fmt: str, path: Path, number: int
) -> tuple[Path, str, bool]:
    if value is None:
        return Path(f"{stem}.{fmt}"), fmt, False
    output = Path(value)
    if not value.strip() or output.is_absolute() or ".." in output.parts:
        raise _row_error(
            path,
            number,
            f"'output' must be a relative path inside the output directory, got {value!r}",
        )
    if not output.suffix:
        return output.with_name(f"{output.name}.{fmt}"), fmt, True
    try:
        return output, format_for_path(output), True
    except InputError as exc:
        raise _row_error(path, number, exc.message, hint=exc.hint) from None


def _temperature(value: Any, path: Path, number: int) -> float | None:
    if value is None:
        return None
    try:
        number_value = float(value)
    except (TypeError, ValueError):
        number_value = -1.0
    if isinstance(value, bool) or not 0.1 <= number_value <= 1.0:
        raise _row_error(
            path, number, f"'temperature' must be a number from 0.1 to 1.0, got {value!r}"
        )
    return number_value


def _row_error(path: Path, number: int, problem: str, *, hint: str = "") -> InputError:
    return InputError(f"{path} line {number}: {problem}", hint=hint or "fix that row and run again")


def _slug(text: str) -> str:
    words = re.findall(r"[^\W_]+", text.lower())[:6]
    return "-".join(words)[:48].strip("-") or "speech"


def _dedupe(items: Iterable[tuple[BatchItem, bool]]) -> list[BatchItem]:
    """Derived names that clash get -2, -3...; explicit names that clash are an error.

    Names compare case-insensitively, as they would on macOS or Windows.
    """
    result: list[BatchItem] = []
    taken: dict[str, BatchItem] = {}
    pending = list(items)
    for item, explicit in pending:
        if explicit:
            key = item.output.as_posix().lower()
            if key in taken:
                raise InputError(
                    f"{item.where} and {taken[key].where} both write {item.output}",
                    hint="give them different 'output' names",
                )
            taken[key] = item
    for item, explicit in pending:
        if not explicit:
            output = item.output
            counter = 2
            while output.as_posix().lower() in taken:
                output = item.output.with_name(f"{item.output.stem}-{counter}{item.output.suffix}")
                counter += 1
            item = replace(item, output=output)
            taken[output.as_posix().lower()] = item
        result.append(item)
    return result


# -- results log ---------------------------------------------------------------------------------


class ResultsLog:
    """The JSONL results file: read on start (a torn last line is ignored), appended per item."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.latest: dict[str, dict[str, Any]] = {}
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            lines = []
        except OSError as exc:
            raise InputError(f"cannot read the results file {path}: {exc.strerror}") from None
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("output"), str):
                self.latest[record["output"]] = record
        self._handle: IO[str] | None = None

    def __enter__(self) -> ResultsLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    def append(self, record: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")  # one write: one line
        self._handle.flush()
        self.latest[record["output"]] = record


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchSummary:
    total: int
    ok: int
    skipped: int
    failed: tuple[tuple[str, str], ...]  # (output, error message)
    audio_seconds: float
    elapsed: float
    results: str
    requests: int

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = [{"output": o, "error": e} for o, e in self.failed]
        return data


class BatchFailedError(OuteAIError):
    """Some items failed; the others were kept."""

    exit_code = ExitCode.FAILURE


@dataclass
class _Job:
    index: int
    item: BatchItem
    speaker: Speaker
    temperature: float
    key: str
    target: Path
    overwrite: bool = False
    status: str = "waiting"


@dataclass
class _State:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    audio: float = 0.0
    requests: int = 0
    in_flight: dict[int, str] = field(default_factory=dict)


def item_key(
    api: str, base_url: str, speaker: Speaker, temperature: float, text: str, fmt: str
) -> str:
    """What makes an output what it is: a results line only vouches for the same key."""
    blob = json.dumps(
        [api, base_url.rstrip("/"), str(speaker), round(temperature, 6), fmt, text],
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def decodes_completely(path: Path) -> bool:
    """Whether an audio file reads to its end without error (and holds any audio at all)."""
    import soundfile as sf

    frames = 0
    try:
        with sf.SoundFile(path) as reader:
            for block in reader.blocks(65536, dtype="int16"):
                frames += len(block)
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False
    return frames > 0


def run_batch(
    client: TTSClient,
    items: list[BatchItem],
    out_dir: Path,
    *,
    speaker: str,
    temperature: float,
    custom_voices: frozenset[str] = frozenset(),
    options: LongTextOptions | None = None,
    cache: PieceCache | None = None,
    force: bool = False,
    results_path: Path | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
) -> BatchSummary:
    """Synthesize every item into `out_dir` (see the module docstring). Never raises for one
    item's failure (the summary lists them); raises for a rejected token or out of credits,
    which would fail every item, and on Ctrl-C (after the finished items are logged)."""
    from outeai_cli.client import validate_temperature
    from outeai_cli.longtext import (
        LongTextOptions,
        RequestLimiter,
        RunProgress,
        prepare_for_threads,
    )

    started = time.monotonic()
    options = options or LongTextOptions()
    results_path = results_path or out_dir / RESULTS_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs: list[_Job] = []
    for index, item in enumerate(items):
        who = parse_speaker(item.speaker or speaker, custom_voices)
        temp = validate_temperature(
            item.temperature if item.temperature is not None else temperature
        )
        key = item_key(client.dialect.name, client.base_url, who, temp, item.text, item.format)
        jobs.append(_Job(index, item, who, temp, key, out_dir / item.output))

    state = _State()
    events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    cancel = threading.Event()
    limiter = RequestLimiter(options.jobs)

    def emit(note: str | None = None) -> None:
        if on_progress is not None:
            on_progress(
                RunProgress(
                    done=state.done,
                    total=len(jobs),
                    reused=state.skipped,
                    failed=len(state.failed),
                    audio_seconds=state.audio,
                    in_flight=tuple(s for _, s in sorted(state.in_flight.items())),
                    note=note,
                )
            )

    with ResultsLog(results_path) as log:
        todo: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        for job in jobs:
            verdict = _existing(job, log.latest.get(job.item.output.as_posix()), force)
            if verdict is None:
                todo.put(job)
                continue
            state.done += 1
            state.skipped += 1
            state.audio += float(verdict.get("duration") or 0.0)
            if verdict is not log.latest.get(job.item.output.as_posix()):
                log.append(verdict)
        waiting = len(jobs) - state.done
        emit(
            f"{len(jobs)} items: {state.skipped} already complete, {waiting} to make"
            + (f", {options.jobs} requests at a time" if waiting else "")
        )

        def worker() -> None:
            while not cancel.is_set():
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = _make(client, job, options, cache, limiter, cancel, events)
                except BaseException as exc:  # handed to the main thread, which decides
                    events.put(("failed", job, exc))
                else:
                    events.put(("done", job, outcome))

        threads = [
            threading.Thread(target=worker, daemon=True)
            for _ in range(min(2 * options.jobs, waiting))
        ]
        prepare_for_threads(client)
        for thread in threads:
            thread.start()
        try:
            while waiting:
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                waiting -= _handle(event, jobs, state, log, emit)
        except BaseException as exc:
            cancel.set()  # items stop within a poll interval; their temp files go with them
            deadline = time.monotonic() + 5
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            while True:  # log what finished while stopping; the rest left nothing behind
                try:
                    event = events.get_nowait()
                except queue.Empty:
                    break
                if event[0] == "done":
                    _handle(event, jobs, state, log, None)
            if not isinstance(exc, OuteAIError):  # Ctrl-C or SIGTERM, not a refused token
                emit(
                    f"stopped: {state.done} of {len(jobs)} items are complete and kept; the ones "
                    "in progress left nothing behind; run the same command again to finish"
                )
            raise
    return BatchSummary(
        total=len(jobs),
        ok=state.done,
        skipped=state.skipped,
        failed=tuple(state.failed),
        audio_seconds=round(state.audio, 3),
        elapsed=round(time.monotonic() - started, 3),
        results=os.fspath(results_path),
        requests=state.requests,
    )


def _existing(job: _Job, record: dict[str, Any] | None, force: bool) -> dict[str, Any] | None:
    """A record vouching for the existing output, or None if the item must be made."""
    if force or not job.target.exists():
        job.overwrite = job.target.exists()
        return None
    job.overwrite = True
    if record is not None and record.get("status") in ("ok", "skipped"):
        if record.get("key") == job.key and record.get("sha256") == file_sha256(job.target):
            return record
        return None  # made from another input, or changed since: make it again
    if record is None and decodes_completely(job.target):
        return _record(job, "skipped", note="no results line for it, but it decodes completely")
    return None


def _make(
    client: TTSClient,
    job: _Job,
    options: LongTextOptions,
    cache: PieceCache | None,
    limiter: RequestLimiter,
    cancel: threading.Event,
    events: queue.SimpleQueue[tuple[Any, ...]],
) -> LongTextResult:
    from outeai_cli.longtext import language_of, synthesize_long_to_path
    from outeai_cli.synthesis import SynthesisRequest

    job.target.parent.mkdir(parents=True, exist_ok=True)
    return synthesize_long_to_path(
        client,
        SynthesisRequest(job.item.text, job.speaker, job.temperature),
        job.target,
        job.item.format,
        options=replace(options, language=language_of(job.speaker)),
        force=job.overwrite,
        cache=cache,
        limiter=limiter,
        cancel=cancel,
        on_progress=lambda progress: events.put(("progress", job, progress)),
    )


def _handle(
    event: tuple[Any, ...],
    jobs: list[_Job],
    state: _State,
    log: ResultsLog,
    emit: Callable[[str | None], None] | None,
) -> int:
    """Apply one worker event; returns 1 when it ended an item."""
    kind, job = event[0], event[1]
    name = job.item.output.as_posix()
    if kind == "progress":
        progress = event[2]
        if not progress.in_flight:  # waiting for a request slot: not worth a line
            state.in_flight.pop(job.index, None)
        else:
            status = progress.in_flight[0].split(" ", 1)[-1]
            if progress.total > 1:
                status = f"{progress.done}/{progress.total} pieces, {status}"
            state.in_flight[job.index] = f"{name}: {status}"
        if emit is not None:
            emit(None)
        return 0
    state.in_flight.pop(job.index, None)
    finished = state.done + len(state.failed) + 1
    total = len(jobs)
    if kind == "done":
        result = event[2]
        record = _record(job, "ok", result=result)
        log.append(record)
        state.done += 1
        state.audio += result.duration
        state.requests += result.requests
        if emit is not None:
            emit(f"[{finished}/{total}] ok {name} ({result.duration:.1f} s of audio)")
        return 1
    exc = event[2]
    if isinstance(exc, InterruptedByUser):
        return 1
    if not isinstance(exc, OuteAIError):
        raise exc  # a bug or an interrupt, not an item's failure
    message = exc.message + (f"; {exc.hint}" if exc.hint else "")
    log.append(_record(job, "failed", error=message))
    state.failed.append((name, message))
    if emit is not None:
        emit(f"[{finished}/{total}] failed {name}: {message}")
    if isinstance(exc, AuthenticationError) or (isinstance(exc, APIError) and exc.status == 402):
        raise exc  # every other item would fail the same way
    return 1


def _record(
    job: _Job,
    status: str,
    *,
    result: LongTextResult | None = None,
    error: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    exists = status != "failed" and job.target.exists()
    duration = result.duration if result is not None else None
    if duration is None and exists:
        duration = _duration(job.target)
    record = {
        "input": job.item.where,
        "output": job.item.output.as_posix(),
        "status": status,
        "duration": duration,
        "bytes": job.target.stat().st_size if exists else None,
        "sha256": file_sha256(job.target) if exists else None,
        "error": error,
        "key": job.key,
        "speaker": str(job.speaker),
        "temperature": job.temperature,
        "pieces": result.pieces if result is not None else None,
        "from_cache": result.from_cache if result is not None else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if note:
        record["note"] = note
    return record


def _duration(path: Path) -> float | None:
    import soundfile as sf

    try:
        info = sf.info(os.fspath(path))
    except (sf.LibsndfileError, RuntimeError):
        return None
    return round(info.frames / info.samplerate, 3)

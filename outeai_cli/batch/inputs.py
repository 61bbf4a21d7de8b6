"""Batch inputs: what to speak, and the name of each output.

Inputs (`load_items`): a directory of `.txt` files, a `.jsonl` or `.csv` manifest (columns
`text` or `file`, optional `output`, `speaker`, `temperature`), or one text per line: in any
other text file, or on stdin (`-`). Every row is checked before any request; a bad one is an InputError naming its line.

Output names are stable and collision-free: the manifest's `output`, else the input file's
stem, else `LINE-first-words`; derived names that clash get `-2`, `-3`... in input order.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from outeai_cli.audio.formats import format_for_path
from outeai_cli.errors import Advice, InputError
from outeai_cli.synthesis.textinput import decode_text
from outeai_cli.untrusted import UnreadableFile, parse_json, read_bounded

MANIFEST_FIELDS = ("text", "file", "output", "speaker", "temperature")
# What is read whole before the first request: a manifest, a text, standard input. A link to
# /dev/zero or `yes |` is an error naming the limit, never a read until memory runs out.
MAX_MANIFEST_BYTES = 64 << 20
MAX_TEXT_BYTES = 16 << 20


class BatchItem(NamedTuple):
    where: str  # how messages name the input: "a.txt", "list.csv line 7", "stdin line 3"
    text: str
    output: Path  # relative to the output directory
    format: str
    speaker: str | None = None
    temperature: float | None = None


def load_items(source: str, *, fmt: str, stdin: BinaryIO | None = None) -> list[BatchItem]:
    """Read and check every item of `source` (see the module docstring); nothing is sent."""
    if source == "-":
        if stdin is None:
            raise InputError("no standard input to read")
        data = stdin.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise InputError(
                f"standard input is over {MAX_MANIFEST_BYTES >> 20} MiB",
                hint="give the texts as a directory of .txt files or a manifest instead",
            )
        return _dedupe(_line_items(decode_text(data, "standard input"), "stdin", fmt))
    path = Path(source)
    if path.is_dir():
        return _dedupe(_directory_items(path, fmt))
    if not path.exists():
        raise InputError(f"no such file or directory: {source}", hint="check the INPUT path")
    suffix = path.suffix.lower()
    if suffix == ".json":  # a list of objects: not read line by line, never spoken as text
        raise InputError(
            f"cannot read {source} as a batch input: a manifest is .jsonl or .csv",
            hint="write one JSON object a line in a .jsonl file",
        )
    raw = _read(path, MAX_MANIFEST_BYTES)
    if suffix not in (".jsonl", ".csv"):  # a plain text file: one text per line, as stdin
        return _dedupe(_line_items(raw, source, fmt))
    rows = _jsonl_rows(raw, path) if suffix == ".jsonl" else _csv_rows(raw, path)
    return _dedupe(_manifest_items(rows, path, fmt))


def _read(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    try:
        return decode_text(read_bounded(path, limit), os.fspath(path))
    except UnreadableFile as exc:
        raise InputError(f"cannot read {path}: {exc}", hint="give a text file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _line_items(text: str, source: str, fmt: str) -> Iterable[tuple[BatchItem, bool]]:
    """One item per non-blank line, named `LINE-first-words` (blank lines are skipped)."""
    lines = text.splitlines()
    width = max(4, len(str(len(lines))))
    for number, line in enumerate(lines, start=1):
        if line.strip():
            name = f"{number:0{width}d}-{_slug(line)}.{fmt}"
            yield BatchItem(f"{source} line {number}", line, Path(name), fmt), False


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
            row = parse_json(line)
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
                text = decode_text(read_bounded(file, MAX_TEXT_BYTES), os.fspath(file))
            except UnreadableFile as exc:
                raise _row_error(path, number, f"cannot read {row['file']}: {exc}") from None
            except OSError as exc:
                raise _row_error(
                    path, number, f"cannot read {row['file']}: {exc.strerror}"
                ) from None
            except InputError as exc:
                raise _row_error(
                    path, number, exc.message, hint=exc.hint, advice=exc.advice
                ) from None
            stem = Path(row["file"]).stem
        output, item_fmt, explicit = _output_name(row.get("output"), stem, fmt, path, number)
        temperature = _temperature(row.get("temperature"), path, number)
        speaker = row.get("speaker")
        if speaker is not None and not speaker.strip():
            raise _row_error(path, number, "'speaker' is empty")
        yield BatchItem(where, text, output, item_fmt, speaker, temperature), explicit
    if not count:
        raise InputError(f"{path} has no rows", hint="add one item per line")


_NAME_MAX = 255  # bytes in one file or directory name (ext4, APFS, NTFS...)


def _output_name(
    value: str | None, stem: str, fmt: str, path: Path, number: int
) -> tuple[Path, str, bool]:
    if value is None:
        return Path(f"{stem}.{fmt}"), fmt, False
    output = Path(value)
    if not value.strip() or output.is_absolute() or ".." in output.parts or not output.name:
        raise _row_error(
            path,
            number,
            f"'output' must be a relative path inside the output directory, got {value!r}",
        )
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise _row_error(path, number, f"'output' holds a control character: {value!r}")
    named = output if output.suffix else output.with_name(f"{output.name}.{fmt}")
    longest = max(len(os.fsencode(part)) for part in named.parts)
    if longest > _NAME_MAX:
        raise _row_error(
            path,
            number,
            f"'output' has a name of {longest} bytes; a file name holds at most {_NAME_MAX}",
        )
    if not output.suffix:
        return named, fmt, True
    try:
        return output, format_for_path(output), True
    except InputError as exc:
        raise _row_error(path, number, exc.message, hint=exc.hint, advice=exc.advice) from None


def _temperature(value: Any, path: Path, number: int) -> float | None:
    from outeai_cli.settings.table import check_temperature

    if value is None:
        return None
    try:
        return check_temperature(value)  # the settings' own range check
    except ValueError as exc:
        raise _row_error(path, number, f"'temperature' {exc}, got {value!r}") from None


def _row_error(
    path: Path, number: int, problem: str, *, hint: str = "", advice: tuple[Advice, ...] = ()
) -> InputError:
    return InputError(
        f"{path} line {number}: {problem}",
        hint=hint or ("" if advice else "fix that row and run again"),
        advice=advice,
    )


def _slug(text: str) -> str:
    first_words = re.findall(r"[^\W_]+", text.lower())[:6]
    return "-".join(first_words)[:48].strip("-") or "speech"


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
            item = item._replace(output=output)
            taken[output.as_posix().lower()] = item
        result.append(item)
    # `a.flac` and `a.flac/b.flac`: one output would have to be a file and a folder at once.
    for item in result:
        for parent in item.output.parents:
            clash = taken.get(parent.as_posix().lower())
            if clash is not None:
                raise InputError(
                    f"{clash.where} writes {clash.output}, which {item.where} needs as a folder "
                    f"for {item.output}",
                    hint="give them 'output' names that do not nest",
                )
    return result

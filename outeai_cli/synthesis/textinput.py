"""Where the text to speak comes from: an argument, a file, or stdin — decoded strictly."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

from outeai_cli.errors import Advice, Fix, InputError


def decode_text(raw: bytes, source: str) -> str:
    """Decode UTF-8 strictly (a BOM is dropped); name the first bad byte's offset."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} is not valid UTF-8 (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="convert it to UTF-8 first (e.g. with iconv)",
        ) from None
    if not text.strip():
        raise InputError(f"{source} is empty", hint="give some text to speak")
    return text


def read_text(
    argument: str | None,
    file: str | None,
    stdin: BinaryIO,
    stdin_is_tty: bool,
) -> str:
    """The text from exactly one source; an error (nothing sent) when none or two are given."""
    if argument is not None and file is not None:
        raise InputError(
            "give the text either as an argument or in a file, not both", hint="drop one of them"
        )
    if argument is not None:
        # Arguments arrive decoded with surrogateescape: re-encode to find undecodable bytes.
        return decode_text(os.fsencode(argument), "the text argument")
    if file == "-" or (file is None and not stdin_is_tty):
        return decode_text(stdin.read(), "standard input")
    if file is not None:
        path = Path(file)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"no such file: {file}", hint="check the file's path") from None
        except IsADirectoryError:
            raise InputError(
                f"{file} is a directory", hint="give a text file, not a directory"
            ) from None
        except PermissionError:
            raise InputError(f"cannot read {file}: permission denied") from None
        return decode_text(raw, file)
    raise InputError(
        "no text to speak",
        hint='give it as an argument (outeai say "Hello") or pipe it on stdin',
        advice=(Advice(Fix.GIVE, "file", purpose="to read it from a file"),),
    )


def name_from_text(text: str, extension: str, directory: Path) -> Path:
    """A fresh file name from the text's first words, never one that exists already."""
    words = re.findall(r"[^\W_]+", text.lower())[:6]
    stem = "-".join(words)[:48].strip("-") or "speech"
    candidate = directory / f"{stem}.{extension}"
    counter = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{counter}.{extension}"
        counter += 1
    return candidate

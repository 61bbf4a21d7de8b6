"""Where the text to speak comes from: an argument, a file, or stdin — decoded strictly."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from outeai_cli.errors import Advice, Fix, InputError
from outeai_cli.synthesis.splitting import without_controls

if TYPE_CHECKING:
    from outeai_cli.synthesis.live_text import LiveText
    from outeai_cli.synthesis.markdown_speech import MarkdownSpeech


class Following(NamedTuple):
    """How a text that may still be arriving is read (see `open_text`)."""

    max_chars: int  # the piece cap
    language: str  # for the sentence splitter
    pause: float  # seconds of quiet after which the text held is spoken
    markdown: bool  # the text is Markdown: read its markup as a person would


def decode_text(raw: bytes, source: str) -> str:
    """Decode UTF-8 strictly (a BOM is dropped); name the first bad byte's offset."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} is not valid UTF-8 (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="convert it to UTF-8 first (e.g. with iconv)",
        ) from None
    text = without_controls(text)
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


def open_text(
    argument: str | None,
    file: str | None,
    stdin: BinaryIO,
    stdin_is_tty: bool,
    following: Following,
) -> str | LiveText:
    """The text from exactly one source, as `read_text`; but a file or stdin is read a block at
    a time: one that is all there at once comes back as its text, one still arriving (a pipe
    from a program still writing) as a started `LiveText` whose pieces come as they are ready."""
    fd = None
    if argument is None and (file == "-" or (file is None and not stdin_is_tty)):
        try:
            fd, source = stdin.fileno(), "standard input"
        except (AttributeError, OSError, ValueError):  # not backed by a descriptor
            fd = None
    elif argument is None and file is not None:
        fd, source = _open_file(file), file
    if fd is None:
        text = read_text(argument, file, stdin, stdin_is_tty)
        return speakable(text, markdown=following.markdown)
    from outeai_cli.synthesis.live_text import LiveText

    live = LiveText(
        fd,
        source,
        max_chars=following.max_chars,
        language=following.language,
        pause=following.pause,
        text_filter=_markdown() if following.markdown else None,
        closefd=file not in (None, "-"),
    )
    whole = live.start()
    return live if whole is None else whole


def speakable(text: str, *, markdown: bool) -> str:
    """The text to speak: Markdown read as text when it is Markdown."""
    if not markdown:
        return text
    reader = _markdown()
    return reader.feed(text) + reader.close()


def _markdown() -> MarkdownSpeech:
    from outeai_cli.synthesis.markdown_speech import MarkdownSpeech

    return MarkdownSpeech()


def _open_file(file: str) -> int:
    import stat

    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOCTTY)
    except FileNotFoundError:
        raise InputError(f"no such file: {file}", hint="check the file's path") from None
    except PermissionError:
        raise InputError(f"cannot read {file}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {file} ({exc.strerror})") from None
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{file} is a directory", hint="give a text file, not a directory")
    return fd


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

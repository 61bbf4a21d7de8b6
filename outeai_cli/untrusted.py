"""Everything a server (or a file anyone could have edited) says passes through here.

- `parse_json`: the one place untrusted JSON is parsed. Size- and depth-bounded, so a body
  nested 60,000 deep is a ValueError like any other bad JSON, never a RecursionError; NaN
  and Infinity are refused.
- `clean_text`: what a server says, made safe to show: control characters (C0, C1, DEL and
  the bidirectional overrides) removed so it cannot move the cursor, retitle the window or
  hide text, and every registered secret masked (see `security.redact_secrets`).
- `response_chunks`: a response body undone from its Content-Encoding in bounded pieces, so a
  compression bomb (a few KiB that inflate to gigabytes) is read, never held whole.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from outeai_cli.errors import ProtocolError

if TYPE_CHECKING:
    import httpx

MAX_DEPTH = 64
MAX_JSON_BYTES = 8 << 20
MAX_TEXT_CHARS = 2000
MAX_INFLATED_CHUNK = 1 << 20

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
# Line breaks and tabs become a space (a message stays one line); other controls go.
_SPACE_LIKE = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Whole terminal escape sequences go, not just their ESC: no "[31m" litter is left behind.
# CSI (ESC [ or C1 0x9b) ... final byte; OSC/DCS/PM/APC strings up to BEL or ST; ESC + one.
_ESCAPES = re.compile(
    "(?:\x1b\\[|\x9b)[0-?]*[ -/]*[@-~]"
    "|(?:\x1b[\\]P^_]|[\x90\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
    "|\x1b[@-Z\\\\-_]"
)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _unknown_constant(name: str) -> None:
    return None


def parse_json(
    data: bytes | str,
    *,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
    nonfinite_as_none: bool = False,
) -> Any:
    """Parse untrusted JSON; any problem (syntax, size, depth, encoding) is a ValueError.

    NaN and Infinity are refused, or read as None (unknown) with `nonfinite_as_none`: for
    metadata that only feeds a display, where a bad number must not cost the whole line."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise ValueError(f"over {max_bytes} bytes of JSON")
    if raw.count(b"[") + raw.count(b"{") > max_depth:  # else it cannot nest too deep
        depth = deepest = 0
        for match in _BRACKETS.finditer(_STRING.sub(b'""', raw)):
            depth += 1 if match.group() in b"[{" else -1
            deepest = max(deepest, depth)
            if deepest > max_depth:
                raise ValueError(f"JSON nested over {max_depth} levels deep")
    try:
        constant = _unknown_constant if nonfinite_as_none else _refuse_constant
        return json.loads(raw, parse_constant=constant)
    except RecursionError:  # not reachable after the depth check; kept as a backstop
        raise ValueError("JSON nested too deep") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason})") from None


class UnreadableFile(ValueError):
    """A file that is not read: not a regular file, or larger than its limit."""


def read_bounded(path: str | os.PathLike[str], limit: int, *, follow: bool = True) -> bytes:
    """A regular file's bytes, at most `limit` of them: a FIFO, a device (/dev/zero), a
    directory or a huge file is an UnreadableFile saying which, never read for ever or held
    whole. Opening never waits for a FIFO's writer; `follow=False` refuses a symbolic link.
    OSError (missing, no permission) passes through for the caller to word."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError:
        if not follow and os.path.islink(path):
            raise UnreadableFile("it is a symbolic link") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableFile("it is a directory")
        if not stat.S_ISREG(mode):
            raise UnreadableFile("it is not a regular file (a pipe, a device or a socket)")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limit:
        raise UnreadableFile(f"it is over {_size(limit)}")
    return raw


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"


def parse_json_object(
    data: bytes | str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """`parse_json`, insisting on an object."""
    value = parse_json(data, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def clean_text(value: object, *, limit: int = MAX_TEXT_CHARS) -> str:
    """A server-supplied value as one safe line: no control characters, secrets masked."""
    from outeai_cli.security import redact_secrets

    text = value if isinstance(value, str) else str(value)
    # Controls go first: a token split by them ("ab\x07cd") must still be found and masked.
    text = redact_secrets(_CONTROLS.sub("", _SPACE_LIKE.sub(" ", _ESCAPES.sub("", text))))
    if len(text) > limit:
        text = text[:limit] + "…"
    return text


def response_chunks(response: httpx.Response) -> Iterator[bytes]:
    """An httpx response's body as it arrives, inflated in bounded pieces: read bodies
    through this, never `iter_bytes`."""
    return body_chunks(response.iter_raw(), response.headers.get("content-encoding", ""))


def body_chunks(raw: Iterable[bytes], content_encoding: str) -> Iterator[bytes]:
    """The bytes of a body sent with `content_encoding`, in pieces of at most 1 MiB.

    httpx inflates each network read whole (64 KiB of gzip can be 64 MiB), so the raw bytes
    are inflated here instead. gzip and deflate are read (a proxy may compress though
    `identity` was asked for); any other coding is a ProtocolError, as is a corrupt stream.
    """
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        yield from raw
        return
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolError(
            f"the server compressed its answer as {clean_text(coding, limit=40)!r}, "
            "which outeai does not read (it asks for no compression)"
        )
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # a gzip or zlib header, either
    try:
        for chunk in raw:
            data = chunk
            while True:
                piece = inflater.decompress(data, MAX_INFLATED_CHUNK)
                if piece:
                    yield piece
                data = inflater.unconsumed_tail
                if not data and len(piece) < MAX_INFLATED_CHUNK:
                    break
        if tail := inflater.flush():
            yield tail
        if not inflater.eof:
            raise ProtocolError(f"the {coding} compressed answer ends early")
    except zlib.error as exc:
        raise ProtocolError(f"the {coding} compressed answer is corrupt ({exc})") from None

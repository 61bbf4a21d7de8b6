"""Synthesize to a file or a stream: atomic, bounded in memory, converted when asked."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from outeai_cli.audio import atomic_output, convert, spool_file
from outeai_cli.client import TTSClient
from outeai_cli.errors import InputError, ProtocolError
from outeai_cli.events import AudioEvent, Event
from outeai_cli.speakers import Speaker

_COPY_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class SynthesisRequest:
    text: str
    speaker: Speaker
    temperature: float


@dataclass(frozen=True, slots=True)
class SaveResult:
    path: str  # "-" for stdout
    format: str
    bytes: int
    duration: float | None
    speaker: str
    temperature: float
    elapsed: float
    delivered_format: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_target(target: Path, *, force: bool) -> None:
    """Fail before any request if the output could not be written."""
    if target.is_dir():
        raise InputError(f"{os.fspath(target)} is a directory", hint="give a file name with -o")
    if not force and target.exists():
        raise InputError(f"{os.fspath(target)} already exists", hint="pass --force to overwrite it")
    parent = target.parent
    if not parent.is_dir():
        raise InputError(
            f"the directory {os.fspath(parent)} does not exist", hint="create it first"
        )
    try:  # a real probe: permissions, read-only mounts and pseudo filesystems all show here
        with spool_file(parent):
            pass
    except OSError as exc:
        raise InputError(
            f"cannot write to the directory {os.fspath(parent)} ({exc.strerror})",
            hint="choose another -o path",
        ) from None


def synthesize_to_path(
    client: TTSClient,
    request: SynthesisRequest,
    target: Path,
    fmt: str,
    *,
    force: bool = False,
    on_event: Callable[[Event], None] | None = None,
) -> SaveResult:
    """Stream the audio straight into a temp file beside `target`, then commit it atomically."""
    started = time.monotonic()
    with atomic_output(target, force=force) as handle:
        final = _receive(client, request, handle, on_event)
        if final.format != fmt:
            _convert_in_place(handle, fmt, target.parent)
        size = handle.seek(0, os.SEEK_END)
    return _result(str(target), fmt, size, final, request, started)


def synthesize_to_stream(
    client: TTSClient,
    request: SynthesisRequest,
    out: IO[bytes],
    fmt: str,
    *,
    on_event: Callable[[Event], None] | None = None,
    spool_dir: Path | None = None,
) -> SaveResult:
    """Receive into an unnamed spool file, validate, then copy to `out` (e.g. stdout).

    Nothing reaches `out` unless the whole response was valid. Except: when the API's body
    is the audio itself in the asked format (the 2026 `tts-stream`), it goes to `out` as it
    arrives, so a player starts before generation ends; a failure midway then leaves what
    was written (the error says so) and is not retried.
    """
    started = time.monotonic()
    dialect = client.dialect
    if dialect.body_is_audio and dialect.audio_format == fmt:
        writer = _DescriptorWriter(out)
        final = _receive(client, request, writer, on_event)  # type: ignore[arg-type]
        return _result("-", fmt, writer.written, final, request, started)
    with spool_file(spool_dir) as spool:
        final = _receive(client, request, spool, on_event)
        if final.format != fmt:
            _convert_in_place(spool, fmt, spool_dir)
        size = spool.seek(0, os.SEEK_END)
        spool.seek(0)
        copy_out(spool, out)
    return _result("-", fmt, size, final, request, started)


def copy_out(source: IO[bytes], out: IO[bytes]) -> None:
    """Copy to `out`, raising BrokenPipeError when its reader has gone.

    Writes go straight to the file descriptor: a buffered file object can report a partial
    write to a closed pipe as success.
    """
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not backed by a descriptor (e.g. BytesIO)
        shutil.copyfileobj(source, out, _COPY_BLOCK)
        return
    out.flush()
    while block := source.read(_COPY_BLOCK):
        view = memoryview(block)
        while view:
            view = view[os.write(fd, view) :]


class _DescriptorWriter:
    """Writes straight to `out`'s file descriptor as bytes arrive (see `copy_out`)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        try:
            self._fd: int | None = out.fileno()
            out.flush()
        except (AttributeError, OSError, ValueError):  # not backed by a descriptor
            self._fd = None
        self.written = 0

    def write(self, data: bytes) -> int:
        if self._fd is None:
            self._out.write(data)
        else:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        self.written += len(data)
        return len(data)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        if self._fd is None:
            self._out.flush()


def _receive(
    client: TTSClient,
    request: SynthesisRequest,
    sink: IO[bytes],
    on_event: Callable[[Event], None] | None,
) -> AudioEvent:
    final: AudioEvent | None = None
    for event in client.stream(request.text, request.speaker, request.temperature, sink=sink):
        if isinstance(event, AudioEvent):
            final = event
        if on_event is not None:
            on_event(event)
    if final is None:  # stream() guarantees it; keep the check explicit for readers
        raise ProtocolError("the stream ended without the final audio event")
    return final


def _convert_in_place(handle: IO[bytes], fmt: str, directory: Path | None) -> None:
    with spool_file(directory) as converted:
        convert(handle, converted, fmt)
        handle.seek(0)
        handle.truncate()
        converted.seek(0)
        shutil.copyfileobj(converted, handle, _COPY_BLOCK)


def _result(
    path: str, fmt: str, size: int, final: AudioEvent, request: SynthesisRequest, started: float
) -> SaveResult:
    return SaveResult(
        path=path,
        format=fmt,
        bytes=size,
        duration=final.duration,
        speaker=str(request.speaker),
        temperature=request.temperature,
        elapsed=round(time.monotonic() - started, 3),
        delivered_format=final.format,
    )

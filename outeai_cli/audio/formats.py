"""Audio facts: format detection from magic bytes, output formats, conversion."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import IO, Any

from outeai_cli.errors import Advice, Fix, InputError, ProtocolError

_BLOCK_FRAMES = 65536

# Formats the CLI can write, by extension; each maps to soundfile's (format, subtype).
OUTPUT_FORMATS: dict[str, tuple[str, str | None]] = {
    "flac": ("FLAC", None),
    "wav": ("WAV", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}


def detect_format(head: bytes) -> str:
    """Name the container from the first bytes: flac, wav, ogg, mp3, or 'unknown'."""
    if head.startswith(b"fLaC"):
        return "flac"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return "unknown"


def format_for_path(path: str | os.PathLike[str], override: str | None = None) -> str:
    """The output format a path asks for, validated before any request is made."""
    text = os.fspath(path)
    bare = text.rstrip("/" + os.sep)
    if Path(text).is_dir():
        raise InputError(
            f"{text!r} is a directory, not a file name",
            hint=f"give a file name in it, e.g. {os.path.join(text, 'out.flac')}",
        )
    if bare != text:  # `name.flac/`: Path would drop the slash and write name.flac
        raise InputError(
            f"{text!r} ends with a slash, so it names a directory, not a file",
            hint=f"give a file name, e.g. {bare or 'out.flac'}",
        )
    if override:
        fmt = override.lower().lstrip(".")
        if fmt not in OUTPUT_FORMATS:
            raise InputError(
                f"unsupported format {override!r}",
                hint=f"use one of: {', '.join(OUTPUT_FORMATS)}",
            )
        return fmt
    suffix = Path(path).suffix.lower().lstrip(".")
    if not suffix:
        raise InputError(
            f"cannot tell the audio format of {os.fspath(path)!r}: it has no extension",
            hint=f"add one of .{', .'.join(OUTPUT_FORMATS)}",
            advice=(Advice(Fix.GIVE, "format"),),
        )
    if suffix not in OUTPUT_FORMATS:
        raise InputError(
            f"unsupported output extension '.{suffix}' in {os.fspath(path)!r}",
            hint=f"use one of .{', .'.join(OUTPUT_FORMATS)}",
            advice=(Advice(Fix.GIVE, "format"),),
        )
    return suffix


def format_for_output(path: str | os.PathLike[str], requested: str | None = None) -> str:
    """The format to write `path` in: `requested` if given (it may name a file whose extension
    is not an audio format), else the extension's. An extension naming another audio format
    than the one requested is refused: `h.flac` holding MP3 bytes would mislead every player."""
    if not requested:
        return format_for_path(path)
    fmt = format_for_path(path, requested)
    named = Path(path).suffix.lower().lstrip(".")
    if named in OUTPUT_FORMATS and named != fmt:
        name = Path(path).name
        raise InputError(
            f"{name} is named .{named} but the format asked for is {fmt}",
            hint=f"name the file {Path(name).stem}.{fmt}",
            advice=(Advice(Fix.SET, "format", value=named),),
        )
    return fmt


def convert(source: IO[bytes] | str | os.PathLike[str], destination: IO[bytes], fmt: str) -> None:
    """Re-encode the audio in `source` (any format soundfile reads) as `fmt` into `destination`.

    Works in blocks so a long recording never sits in memory whole, and through file
    descriptors where the objects have them (see `descriptor_of`), so a signal stops it.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(readable(source), closefd=False) as reader:
            writer, dtype = open_encoder(
                destination, fmt, reader.samplerate, reader.channels, reader.subtype
            )
            with writer:
                for block in reader.blocks(_BLOCK_FRAMES, dtype=dtype, always_2d=True):
                    writer.write(block)
    except (sf.LibsndfileError, RuntimeError) as exc:
        # Undecodable received audio is the response's fault, not the caller's.
        raise ProtocolError(f"the received audio could not be converted to {fmt}: {exc}") from None


def open_encoder(
    out: IO[bytes], fmt: str, samplerate: int, channels: int, source_subtype: str
) -> tuple[Any, str]:
    """A soundfile writer of `fmt` into `out`, and the sample dtype to feed it.

    Integers in, integers out: PCM samples pass through bit for bit.
    """
    import soundfile as sf

    container, subtype = OUTPUT_FORMATS[fmt]
    subtype = subtype or (source_subtype if source_subtype in ("PCM_16", "PCM_24") else "PCM_16")
    dtype = {"PCM_16": "int16", "PCM_24": "int32"}.get(subtype, "float32")
    writer = sf.SoundFile(
        descriptor_of(out),
        mode="w",
        samplerate=samplerate,
        channels=channels,
        format=container,
        subtype=subtype,
        closefd=False,
    )
    return writer, dtype


def readable(source: IO[bytes] | str | os.PathLike[str]) -> int | IO[bytes] | str:
    """What to hand libsndfile to read `source` from its start (see `descriptor_of`)."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    target = descriptor_of(source)
    if isinstance(target, int):
        # libsndfile takes a descriptor's current offset as the start of the file.
        os.lseek(target, 0, os.SEEK_SET)
    else:
        source.seek(0)
    return target


def write_failure(writer: Any, out: IO[bytes], exc: Exception) -> OSError | None:
    """The OSError behind an encoder's failed write into `out` (a full disk, a quota...), so
    that it is reported as the output's problem; None if it was not the system's.

    libsndfile says only "System error" and keeps the system's words in its handle (gone
    once closed): they name the errno; failing that, a full file system shows itself.
    """
    import errno

    import soundfile as sf

    if getattr(exc, "code", None) != 2:  # libsndfile's SFE_SYSTEM
        return None
    words = ""
    with contextlib.suppress(AttributeError, TypeError):
        handle = writer._file  # soundfile's own handle: the one place those words are kept
        if handle is not None:
            words = sf._ffi.string(sf._snd.sf_strerror(handle)).decode(errors="replace")
    for code in sorted(errno.errorcode):
        if os.strerror(code) in words:
            return OSError(code, os.strerror(code))
    with contextlib.suppress(AttributeError, OSError, ValueError):
        if os.fstatvfs(out.fileno()).f_bavail == 0:
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return OSError(errno.EIO, os.strerror(errno.EIO))


def descriptor_of(handle: IO[bytes]) -> int | IO[bytes]:
    """The file descriptor behind `handle` when it has one (flushed), else `handle` itself.

    Given a descriptor, libsndfile does its I/O in C. Given a Python file object it calls
    back into Python for every read and write, and cffi prints and swallows an exception
    raised in such a callback: a Ctrl-C or SIGTERM landing there would not stop the run but
    silently cut the audio short.
    """
    try:
        fd = handle.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return handle
    handle.flush()
    return fd

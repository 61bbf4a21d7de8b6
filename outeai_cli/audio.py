"""Audio facts: format detection from magic bytes, output formats, atomic writes, conversion."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from outeai_cli.errors import Advice, Fix, InputError, ProtocolError

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


@contextlib.contextmanager
def atomic_output(target: Path, *, force: bool = False) -> Iterator[IO[bytes]]:
    """Yield a temp file beside `target`; on success fsync it and rename it into place.

    On any exception (KeyboardInterrupt included) the temp file is removed and the target is
    left exactly as it was. Where the OS allows it the temp file is anonymous (O_TMPFILE)
    until the commit, so even a kill -9 leaves nothing behind.
    """
    target = Path(target)
    directory = target.parent
    if not force and target.exists():
        raise InputError(
            f"{os.fspath(target)} already exists",
            advice=(Advice(Fix.ENABLE, "force", purpose="to overwrite it"),),
        )
    if not directory.is_dir():
        raise InputError(
            f"the directory {os.fspath(directory)} does not exist", hint="create it first"
        )
    handle, tmp = _open_temp(directory, target.name)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            if not force and target.exists():
                raise InputError(
                    f"{os.fspath(target)} appeared while writing",
                    advice=(Advice(Fix.ENABLE, "force", purpose="to overwrite it"),),
                )
            if tmp is None:  # anonymous: give it a name only now, then rename over the target
                tmp = directory / f".{target.name}.{os.getpid()}.part"
                _link_anonymous(handle.fileno(), tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
            tmp = None
        _fsync_dir(directory)
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _open_temp(directory: Path, name: str) -> tuple[IO[bytes], Path | None]:
    """An anonymous O_TMPFILE in `directory` where supported, else a named hidden temp file."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.open(directory, flag | os.O_RDWR, 0o600)
            return os.fdopen(fd, "w+b"), None
        except OSError:
            pass  # filesystem without O_TMPFILE support
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    return os.fdopen(fd, "w+b"), Path(tmp_name)


def _link_anonymous(fd: int, path: Path) -> None:
    # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names an O_TMPFILE file; os.link only
    # takes the linkat path (rather than link(2), which fails with EXDEV) given a dir fd.
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(f"/proc/self/fd/{fd}", path.name, dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


def spool_file(directory: Path | None = None) -> IO[bytes]:
    """An unnamed temporary file (removed by the OS when closed or when the process dies)."""
    return tempfile.TemporaryFile(dir=directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def convert(source: IO[bytes], destination: IO[bytes], fmt: str) -> None:
    """Re-encode the audio in `source` (any format soundfile reads) as `fmt` into `destination`.

    Works in blocks so a long recording never sits in memory whole.
    """
    import soundfile as sf

    container, subtype = OUTPUT_FORMATS[fmt]
    source.seek(0)
    try:
        with sf.SoundFile(source) as reader:
            subtype = subtype or _lossless_subtype(reader.subtype)
            with sf.SoundFile(
                destination,
                mode="w",
                samplerate=reader.samplerate,
                channels=reader.channels,
                format=container,
                subtype=subtype,
            ) as writer:
                for block in reader.blocks(
                    blocksize=65536, dtype="int16" if subtype == "PCM_16" else "float32"
                ):
                    writer.write(block)
    except (sf.LibsndfileError, RuntimeError) as exc:
        # Undecodable received audio is the response's fault, not the caller's.
        raise ProtocolError(f"the received audio could not be converted to {fmt}: {exc}") from None


def _lossless_subtype(subtype: str) -> str:
    return subtype if subtype in ("PCM_16", "PCM_24", "PCM_S8") else "PCM_16"


def audio_duration(path_or_file: str | os.PathLike[str] | IO[bytes]) -> float:
    """Seconds of audio, from the decoded frame count."""
    import soundfile as sf

    info = sf.info(path_or_file)  # type: ignore[arg-type]
    return info.frames / info.samplerate

"""Does an audio file decode completely? The check every output passes before it is committed.

Two steps, both streaming in bounded memory (a 1 MiB read window, 64k-frame decode blocks):

1. The container is walked by hand (`audio_containers.py`, which says why the decoder alone
   is not enough): its structure must be whole, its rate and channels sane.
2. Every frame is decoded, and the count compared with what the container declares (a FLAC's
   total samples and the MD5 of its samples, a WAV's data size, an Ogg Vorbis stream's last
   granule position). Not MP3: mpg123 conceals what it cannot decode (it even pads half a file
   to the promised length) and prints its complaints straight to fd 2, even about valid files,
   so an MP3's proof is the walk: every frame whole, back to back, as many as its Xing tag says.

The decoder reads through a file descriptor, never Python callbacks, so a signal interrupts
the check between blocks (see `audio.descriptor_of`). `check_audio` can hand the samples it
decodes on (the stitcher encodes a piece from its own check). `FollowingCheck` makes the same
proof of a FLAC file while it is written, on a thread of its own (its reads are Python
callbacks, but signals only ever reach the main thread).
"""

from __future__ import annotations

__all__ = [
    "AudioCheck",
    "DamagedAudio",
    "SampleSink",
    "check_audio",
    "load_decoder",
]

import contextlib
import hashlib
import os
import queue
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

from outeai_cli.audio.containers import DamagedAudio, Declared, Window, damaged, walk_container
from outeai_cli.audio.formats import detect_format
from outeai_cli.audio.loudness import Loudness

DECODE_FRAMES = 65536


class AudioCheck(NamedTuple):
    """What a file that passed holds."""

    format: str
    frames: int
    samplerate: int
    channels: int
    # No sample above -60 dBFS (`loudness`); None where the samples were not decoded (an
    # MP3's proof is its walk).
    silent: bool | None = None

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate


Source = str | os.PathLike[str] | IO[bytes]


class SampleSink(Protocol):
    """Takes the samples a check decodes (the stitcher encodes them into its output)."""

    def begin(self, samplerate: int, channels: int, subtype: str) -> None:
        """Before the first samples; `subtype` is libsndfile's name (PCM_16, PCM_24, ...)."""

    def write(self, samples: Any, dtype: str) -> None:
        """One block of interleaved samples: a buffer of `dtype` (int16 or int32), reused for
        the next block once this returns."""


def check_audio(
    source: Source,
    *,
    expected: str | None = None,
    what: str = "the audio",
    into: SampleSink | None = None,
) -> AudioCheck:
    """Walk and decode all of `source` (a path, or a file object with a descriptor).

    Raises DamagedAudio ("`what` is damaged: ...") naming what is wrong; `expected` is the
    format the file must be. A file object's position is left where it was. `into` gets
    every decoded sample (an MP3's too: decoded after its walk): one decode serves both the
    proof and a stitch. It may have taken samples of a file that then fails.
    """
    try:
        return _check(source, expected, into)
    except DamagedAudio as exc:
        raise DamagedAudio(f"{what} is damaged: {exc.message}") from None


def _check(source: Source, expected: str | None, into: SampleSink | None) -> AudioCheck:
    with _descriptor(source) as fd:
        size = os.fstat(fd).st_size
        reader = Window(fd, size)
        fmt = detect_format(reader.read(0, 16))
        if fmt == "unknown":
            raise damaged(f"it is not audio (it starts with {_preview(reader.read(0, 8))})")
        if expected is not None and fmt != expected:
            raise damaged(f"it is {fmt.upper()}, not the {expected.upper()} it should be")
        declared = walk_container(fmt, reader)
        if fmt == "mp3":
            assert declared.frames is not None
            silent = None
            if into is not None:  # the walk is the proof (see above); these are only samples
                silent = _decode(fd, fmt, declared, into).silent
            return AudioCheck(fmt, declared.frames, declared.samplerate, declared.channels, silent)
        return _decode(fd, fmt, declared, into)


def load_decoder() -> None:
    """Load libsndfile now, for good: call it before starting threads that check audio.

    Worker threads are daemons, so one can still be inside libsndfile when the main thread
    exits. Two ways that crashed the interpreter (SIGSEGV instead of the exit code): the
    library still being loaded by a worker, and the exit freeing the cffi handle, which
    dlclose()s libsndfile under the worker's feet. So: load it here, and pin it
    (RTLD_NODELETE) so that it stays mapped until the process is gone.
    """
    libsndfile()


_library: tuple[Any, Any] | None = None
_library_lock = threading.Lock()


def libsndfile() -> tuple[Any, Any]:
    """(ffi, lib): libsndfile through the cffi declarations soundfile ships (`_soundfile`),
    without importing soundfile itself, which imports numpy: 180 ms of a one-sentence `say`,
    against a few here."""
    global _library
    with _library_lock:
        if _library is None:
            from _soundfile import ffi  # type: ignore[import-not-found]

            # RTLD_NODELETE: dlclose() at exit leaves it mapped (see load_decoder).
            lib = ffi.dlopen(_libsndfile_path(), ffi.RTLD_NOW | getattr(ffi, "RTLD_NODELETE", 0))
            _library = (ffi, lib)
        return _library


def _libsndfile_path() -> str:
    """The libsndfile soundfile would load: its packaged copy, else the system's."""
    import platform

    with contextlib.suppress(ImportError, TypeError):
        import _soundfile_data  # type: ignore[import-not-found]

        machine = platform.machine()
        arm = machine.lower().startswith(("aarch64", "armv8", "arm64"))
        names = {
            "linux": f"libsndfile_{'arm64' if arm else machine}.so",
            "darwin": f"libsndfile_{machine}.dylib",
            "win32": f"libsndfile_{'arm64' if arm else 'x64'}.dll",
        }
        packaged = Path(_soundfile_data.__file__).parent / names.get(sys.platform, "-")
        if packaged.is_file():
            return os.fspath(packaged)
    import ctypes.util  # searching the system's libraries costs more than all the rest here

    system = ctypes.util.find_library("sndfile")
    if system is None:
        raise damaged("it cannot be checked: libsndfile is not installed")
    return system


# -- step 2: every frame decoded -------------------------------------------------------------------


SFM_READ = 0x10


_SUBTYPES = {0x0002: "PCM_16", 0x0003: "PCM_24"}  # libsndfile's SF_FORMAT_PCM_16, _24


def _decode(fd: int, fmt: str, declared: Declared, into: SampleSink | None) -> AudioCheck:
    ffi, lib = libsndfile()
    wide = declared.bits > 16
    width = 4 if wide else 2
    dtype = "int32" if wide else "int16"
    # FLAC's MD5 covers samples in whole bytes; odd widths (12, 20 bits) are not compared.
    digest: _MD5 | None = None
    if declared.md5 is not None and declared.bits % 8 == 0:
        digest = _BackgroundMD5() if os.fstat(fd).st_size >= _BACKGROUND_MD5 else _MD5()
    block = max(1, DECODE_FRAMES // declared.channels)
    buffer = ffi.new("int[]" if wide else "short[]", block * declared.channels)
    read = lib.sf_readf_int if wide else lib.sf_readf_short
    info = ffi.new("SF_INFO*")
    os.lseek(fd, 0, os.SEEK_SET)  # libsndfile treats a descriptor's offset as where the file starts
    decoder = lib.sf_open_fd(fd, SFM_READ, info, 0)  # 0: the descriptor stays ours
    if decoder == ffi.NULL:
        raise damaged(f"it does not decode ({_message(ffi, lib.sf_strerror(ffi.NULL))})")
    frames = 0
    loudness = Loudness()
    try:
        if (info.samplerate, info.channels) != (declared.samplerate, declared.channels):
            raise damaged("the decoder disagrees with the header about rate or channels")
        if into is not None:
            into.begin(info.samplerate, info.channels, _SUBTYPES.get(info.format & 0xFFFF, "?"))
        while True:
            count = read(decoder, buffer, block)
            error = lib.sf_error(decoder)
            if error:
                raise damaged(f"it does not decode ({_message(ffi, lib.sf_error_number(error))})")
            if count <= 0:
                break
            frames += count
            samples = ffi.buffer(buffer, count * declared.channels * width)
            if digest is not None:
                digest.update(flac_md5_bytes(samples, width, declared.bits))
            loudness.feed(samples, dtype)
            if into is not None:
                into.write(samples, dtype)
    finally:
        lib.sf_close(decoder)
        if digest is not None:
            digest.close()
    shape = (declared.samplerate, declared.channels)
    if fmt == "mp3":  # mpg123 conceals damage: its frame count proves nothing (the walk did)
        return AudioCheck(fmt, frames, *shape, silent=loudness.silent)
    if frames == 0:
        raise damaged("it holds no audio")
    if declared.frames is not None and declared.frames != -1 and frames != declared.frames:
        raise damaged(f"{frames} frames decode, but its header declares {declared.frames}")
    if digest is not None and declared.md5 is not None and digest.digest() != declared.md5:
        raise damaged("its samples do not match the MD5 signature in its header")
    return AudioCheck(fmt, frames, *shape, silent=loudness.silent)


_WAKE_EVERY = 0.1  # seconds: how long a lost wake-up can delay the hashing thread
_BACKGROUND_MD5 = 4 << 20  # bytes of file from which hashing gets a thread of its own


class _MD5:
    """The MD5 of the decoded samples, as FLAC's header signs them."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)

    def update(self, block: Any) -> None:
        self._md5.update(block)

    def close(self) -> None:
        pass

    def digest(self) -> bytes:
        self.close()
        return self._md5.digest()


class _BackgroundMD5(_MD5):
    """Hashes in a thread of its own while the next block decodes (both release the GIL): a
    large FLAC's check then takes the longer of the two, not their sum."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="outeai-md5", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            # A timeout, not a plain wait: a Ctrl-C raised in the decoding thread inside `put`
            # can swallow this thread's wake-up (Condition.notify is not safe against it).
            try:
                block = self._blocks.get(timeout=_WAKE_EVERY)
            except queue.Empty:
                continue
            if block is None:
                return
            self._md5.update(block)

    def update(self, block: Any) -> None:
        self._blocks.put(bytes(block))  # a copy: the decoder's buffer is reused for the next block

    def close(self) -> None:
        if self._thread.is_alive():
            self._blocks.put(None)
            self._thread.join()


def flac_md5_bytes(raw: Any, width: int, bits: int) -> Any:
    """Samples as FLAC's MD5 sees them: interleaved, little-endian, in whole bytes of `bits`.

    libsndfile left-aligns narrower samples in the 16- or 32-bit words it returns, so each
    sample is the top byte(s) of its little-endian word.
    """
    size = (bits + 7) // 8
    if size == width:
        return raw  # the decoder's buffer itself (hashed in place unless in the background)
    raw = bytes(raw)
    out = bytearray(len(raw) // width * size)
    for index in range(size):
        out[index::size] = raw[width - size + index :: width]
    return bytes(out)


def _message(ffi: Any, text: Any) -> str:
    message = ffi.string(text).decode("utf-8", "replace").strip()
    return message.removeprefix("Error : ").rstrip(".") or "unknown decoder error"


@contextlib.contextmanager
def _descriptor(source: Source) -> Iterator[int]:
    """A readable descriptor for `source`; a file object's position is restored afterwards."""
    if isinstance(source, (str, os.PathLike)):
        try:
            # O_NONBLOCK: a FIFO in a file's place must not wait for a writer that never comes.
            fd = os.open(Path(source), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise damaged(f"it cannot be read ({exc.strerror})") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise damaged("it is not a regular file")
            yield fd
        finally:
            os.close(fd)
        return
    source.flush()
    fd = source.fileno()
    position = os.lseek(fd, 0, os.SEEK_CUR)
    try:
        yield fd
    finally:
        os.lseek(fd, position, os.SEEK_SET)


def _preview(data: bytes) -> str:
    return repr(data[:8])

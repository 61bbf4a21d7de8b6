"""Does an audio file decode completely? The check every output passes before it is committed.

Two steps, both streaming in bounded memory (a 1 MiB read window, 64k-frame decode blocks):

1. The container is walked by hand, because the decoder alone forgives too much: libsndfile
   reads a WAV whose header declares more data than the file holds (it trims the count),
   returns no frames and no error for half an Ogg file, and mpg123 pads half an MP3 with
   silence up to the length its Xing tag promises. So: a WAV's data chunk must be whole; a
   FLAC's STREAMINFO must be sane; an Ogg stream's pages must be whole and end with the
   end-of-stream page; an MP3's frames must run back to back to the end of the file. Channel
   counts and sample rates are checked here too, before a decoder allocates anything for them.
2. Every frame is decoded, and the count compared with what the container declares (a FLAC's
   total samples and the MD5 of its samples, a WAV's data size, an Ogg Vorbis stream's last
   granule position). Not MP3: mpg123 conceals what it cannot decode (it even pads half a file
   to the promised length) and prints its complaints straight to fd 2, even about valid files,
   so an MP3's proof is the walk: every frame whole, back to back, as many as its Xing tag says.

The decoder reads through a file descriptor, never Python callbacks, so a signal interrupts
the check between blocks (see `audio.descriptor_of`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from outeai_cli.audio import detect_format
from outeai_cli.errors import ProtocolError

MAX_CHANNELS = 8  # 7.1; a speech service sends 1 or 2
MIN_RATE, MAX_RATE = 1_000, 384_000
_WINDOW = 1 << 20
_DECODE_FRAMES = 65536
_MAX_WAV_CHUNKS = 1000  # chunks before the audio; more is not a WAV anyone wrote
_WAV_PLACEHOLDERS = (0, 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class AudioCheck:
    """What a file that passed holds."""

    format: str
    frames: int
    samplerate: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate


class DamagedAudio(ProtocolError):
    """Audio that does not decode completely: cut short, corrupt, or not the format asked."""


Source = str | os.PathLike[str] | IO[bytes]


def check_audio(
    source: Source, *, expected: str | None = None, what: str = "the audio"
) -> AudioCheck:
    """Walk and decode all of `source` (a path, or a file object with a descriptor).

    Raises DamagedAudio ("`what` is damaged: ...") naming what is wrong; `expected` is the
    format the file must be. A file object's position is left where it was.
    """
    try:
        return _check(source, expected)
    except DamagedAudio as exc:
        raise DamagedAudio(f"{what} is damaged: {exc.message}") from None


def _check(source: Source, expected: str | None) -> AudioCheck:
    with _descriptor(source) as fd:
        size = os.fstat(fd).st_size
        reader = _Window(fd, size)
        fmt = detect_format(reader.read(0, 16))
        if fmt == "unknown":
            raise _damaged(f"it is not audio (it starts with {_preview(reader.read(0, 8))})")
        if expected is not None and fmt != expected:
            raise _damaged(f"it is {fmt.upper()}, not the {expected.upper()} it should be")
        declared = _STRUCTURE[fmt](reader)
        if fmt == "mp3":
            assert declared.frames is not None
            return AudioCheck(fmt, declared.frames, declared.samplerate, declared.channels)
        return _decode(fd, fmt, declared)


def load_decoder() -> None:
    """Load libsndfile now, for good: call it before starting threads that check audio.

    Worker threads are daemons, so one can still be inside libsndfile when the main thread
    exits. Two ways that crashed the interpreter (SIGSEGV instead of the exit code): the
    library still being loaded by a worker, and the exit freeing the cffi handle, which
    dlclose()s libsndfile under the worker's feet. So: load it here, and pin it
    (RTLD_NODELETE) so that it stays mapped until the process is gone.
    """
    _decoder()


_library: tuple[Any, Any] | None = None
_library_lock = threading.Lock()


def _decoder() -> tuple[Any, Any]:
    """(ffi, lib): libsndfile through the cffi declarations soundfile ships (`_soundfile`),
    without importing soundfile itself, which imports numpy: 180 ms of a one-sentence `say`,
    against a few here."""
    global _library
    with _library_lock:
        if _library is None:
            from _soundfile import ffi  # type: ignore[import-not-found]

            path = _libsndfile_path()
            lib = ffi.dlopen(path)
            with contextlib.suppress(OSError, AttributeError):
                import ctypes

                pinned = os.RTLD_NOW | os.RTLD_NOLOAD | os.RTLD_NODELETE  # no new load
                ctypes.CDLL(path, mode=pinned)
            _library = (ffi, lib)
        return _library


def _libsndfile_path() -> str:
    """The libsndfile soundfile would load: its packaged copy, else the system's."""
    import ctypes.util
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
    system = ctypes.util.find_library("sndfile")
    if system is None:
        raise _damaged("it cannot be checked: libsndfile is not installed")
    return system


@dataclass(frozen=True, slots=True)
class _Declared:
    """What the container promises; None where it does not say."""

    samplerate: int
    channels: int
    frames: int | None = None
    md5: bytes | None = None  # FLAC: of the samples, as the encoder saw them
    bits: int = 16


# -- step 1: the container, walked by hand ---------------------------------------------------------


class _Window:
    """Random reads over a descriptor through one 1 MiB buffer (pread: the offset stays put)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self._start = 0
        self._data = b""

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes at `offset` (fewer only at the end of the file)."""
        end = offset + length
        if not (self._start <= offset and end <= self._start + len(self._data)):
            self._start = offset
            self._data = os.pread(self.fd, max(length, _WINDOW), offset)
        return self._data[offset - self._start : end - self._start]

    def exact(self, offset: int, length: int, what: str) -> bytes:
        data = self.read(offset, length)
        if len(data) != length:
            raise _damaged(f"it is cut short ({what} ends at byte {self.size})")
        return data


def _wav(reader: _Window) -> _Declared:
    riff = reader.exact(0, 12, "the RIFF header")
    if riff[8:12] != b"WAVE":
        raise _damaged("it is not a WAVE file")
    offset = 12
    fmt: tuple[int, ...] | None = None
    for _ in range(_MAX_WAV_CHUNKS):
        chunk_id, chunk_size = struct.unpack("<4sI", reader.exact(offset, 8, "a chunk header"))
        body = offset + 8
        if chunk_id == b"fmt ":
            if chunk_size < 16:
                raise _damaged(f"its fmt chunk is {chunk_size} bytes, too short")
            fmt = struct.unpack("<HHIIHH", reader.exact(body, 16, "the fmt chunk"))
        elif chunk_id == b"data":
            if fmt is None:
                raise _damaged("its audio data comes before the fmt chunk")
            return _wav_data(fmt, body, chunk_size, reader.size)
        offset = body + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    raise _damaged("no audio data chunk was found")


def _wav_data(fmt: tuple[int, ...], start: int, size: int, file_size: int) -> _Declared:
    _tag, channels, rate, _byte_rate, block_align, bits = fmt
    _sane(rate, channels)
    if bits == 0 or block_align != channels * ((bits + 7) // 8):
        raise _damaged(f"its header is inconsistent ({bits} bits, {block_align}-byte frames)")
    if size in _WAV_PLACEHOLDERS:
        raise _damaged("its header never got the length of the audio (an unfinished stream)")
    present = file_size - start
    if size > present:
        raise _damaged(
            f"it is cut short: the header declares {size} bytes of audio, {present} are present"
        )
    if size % block_align:
        raise _damaged(
            f"it ends in the middle of a frame ({size} bytes of {block_align}-byte frames)"
        )
    return _Declared(rate, channels, frames=size // block_align, bits=bits)


def _flac(reader: _Window) -> _Declared:
    offset = 4
    info: _Declared | None = None
    while True:
        header = reader.exact(offset, 4, "a metadata block header")
        kind, length = header[0] & 0x7F, int.from_bytes(header[1:4], "big")
        body = reader.exact(offset + 4, length, "a metadata block")
        if info is None:
            if kind != 0 or length != 34:
                raise _damaged("its first metadata block is not STREAMINFO")
            info = _streaminfo(body)
        offset += 4 + length
        if header[0] & 0x80:  # the last metadata block
            break
    sync = reader.exact(offset, 2, "the first audio frame")
    if sync[0] != 0xFF or sync[1] & 0xFE != 0xF8:
        raise _damaged(f"no audio frame follows the metadata (byte {offset})")
    return info


def _streaminfo(body: bytes) -> _Declared:
    packed = int.from_bytes(body[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & ((1 << 36) - 1)
    _sane(rate, channels)
    md5 = body[18:34]
    return _Declared(
        rate,
        channels,
        frames=total or None,  # 0: the encoder did not know
        md5=md5 if any(md5) else None,
        bits=bits,
    )


def _ogg(reader: _Window) -> _Declared:
    offset = 0
    pages = 0
    serial = granule = None
    first_body = b""
    while offset < reader.size:
        header = reader.exact(offset, 27, f"Ogg page {pages + 1}")
        if header[:4] != b"OggS" or header[4] != 0:
            raise _damaged(f"Ogg page {pages + 1} is not where the previous one ends")
        flags = header[5]
        granule, page_serial, sequence = struct.unpack("<qII", header[6:22])
        if serial is None:
            serial = page_serial
        if page_serial != serial or sequence != pages:
            raise _damaged(f"Ogg page {pages + 1} is out of sequence (pages are missing)")
        segments = reader.exact(offset + 27, header[26], f"Ogg page {pages + 1}")
        body_length = sum(segments)
        body_start = offset + 27 + len(segments)
        body = reader.exact(body_start, body_length, f"Ogg page {pages + 1}")
        if pages == 0:
            first_body = body
        pages += 1
        offset = body_start + body_length
        if flags & 0x04:  # end of stream
            break
    else:
        raise _damaged("it is cut short (the Ogg stream has no end-of-stream page)")
    if offset != reader.size:
        raise _damaged(f"{reader.size - offset} bytes follow the end of the Ogg stream")
    if first_body[:7] == b"\x01vorbis" and len(first_body) >= 16:
        channels = first_body[11]
        rate = struct.unpack("<I", first_body[12:16])[0]
        _sane(rate, channels)
        return _Declared(rate, channels, frames=granule)
    if first_body[:8] == b"OpusHead" and len(first_body) >= 10:
        _sane(48000, first_body[9])
        return _Declared(48000, first_body[9])  # granules count with pre-skip: not compared
    raise _damaged("its Ogg stream is neither Vorbis nor Opus")


# MPEG audio: bitrates (kbit/s) by (version is 1, layer) and sample rates by version.
_MP3_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True, slots=True)
class _MPEGFrame:
    length: int
    samples: int
    rate: int
    channels: int
    side_info: int  # bytes of side information after the header (where a Xing tag starts)


def _mpeg_frame(header: bytes) -> _MPEGFrame | None:
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 0x3
    layer = 4 - ((header[1] >> 1) & 0x3)
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 0x3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # reserved values, or free format (no frame length to walk by)
    v1 = version == 3
    bitrate = _MP3_BITRATES[(v1, layer)][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    padding = (header[2] >> 1) & 0x1
    mono = header[3] >> 6 == 3
    if layer == 1:
        return _MPEGFrame((12 * bitrate // rate + padding) * 4, 384, rate, 1 if mono else 2, 0)
    per_frame = 1152 if v1 or layer == 2 else 576
    length = per_frame // 8 * bitrate // rate + padding
    side = (17 if mono else 32) if v1 else (9 if mono else 17)
    return _MPEGFrame(length, per_frame, rate, 1 if mono else 2, side)


def _mp3(reader: _Window) -> _Declared:
    offset = 0
    head = reader.exact(0, 10, "the header")
    if head[:3] == b"ID3":
        size = 0
        for byte in head[6:10]:
            size = size << 7 | (byte & 0x7F)
        offset = 10 + size + (10 if head[5] & 0x10 else 0)
    first = _mpeg_frame(reader.read(offset, 4))
    if first is None:
        raise _damaged(f"no MPEG audio frame where the audio should start (byte {offset})")
    _sane(first.rate, first.channels)
    promised = _xing_frames(reader.read(offset, first.length), first)
    if promised is not None:
        offset += first.length  # the tag's frame holds no audio
    frames = samples = 0
    while offset < reader.size:
        header = reader.read(offset, 4)
        frame = _mpeg_frame(header)
        if frame is None:
            if _is_trailing_tag(reader, offset):
                break
            raise _damaged(f"MPEG frame {frames + 1} is not where the previous one ends")
        if (frame.rate, frame.channels) != (first.rate, first.channels):
            raise _damaged(f"MPEG frame {frames + 1} changes the sample rate or channels")
        if offset + frame.length > reader.size:
            raise _damaged(f"it is cut short (MPEG frame {frames + 1} is incomplete)")
        offset += frame.length
        frames += 1
        samples += frame.samples
    if frames == 0:
        raise _damaged("it holds no MPEG audio frames")
    if promised is not None and promised >= 0 and promised != frames:
        raise _damaged(
            f"it is cut short: its header promises {promised} frames, {frames} are present"
        )
    return _Declared(first.rate, first.channels, frames=samples)  # encoder delay included


def _xing_frames(frame: bytes, info: _MPEGFrame) -> int | None:
    """The frame count of a Xing/Info tag in the first frame; None when there is no tag."""
    tag = 4 + info.side_info
    if frame[tag : tag + 4] not in (b"Xing", b"Info"):
        return None
    flags = int.from_bytes(frame[tag + 4 : tag + 8], "big")
    if not flags & 0x1:
        return -1  # a tag without a count: the frame is still not audio
    return int.from_bytes(frame[tag + 8 : tag + 12], "big")


def _is_trailing_tag(reader: _Window, offset: int) -> bool:
    """An ID3v1 tag (the last 128 bytes) or an APE tag where the audio ends."""
    rest = reader.size - offset
    start = reader.read(offset, 8)
    return (rest == 128 and start[:3] == b"TAG") or start == b"APETAGEX"


_STRUCTURE = {"wav": _wav, "flac": _flac, "ogg": _ogg, "mp3": _mp3}


def _sane(rate: int, channels: int) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise _damaged(f"its header claims {channels} channels (at most {MAX_CHANNELS} are sane)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise _damaged(f"its header claims a sample rate of {rate} Hz")


# -- step 2: every frame decoded -------------------------------------------------------------------


_SFM_READ = 0x10


def _decode(fd: int, fmt: str, declared: _Declared) -> AudioCheck:
    ffi, lib = _decoder()
    wide = declared.bits > 16
    width = 4 if wide else 2
    # FLAC's MD5 covers samples in whole bytes; odd widths (12, 20 bits) are not compared.
    digest = (
        hashlib.md5(usedforsecurity=False)
        if declared.md5 is not None and declared.bits % 8 == 0
        else None
    )
    block = max(1, _DECODE_FRAMES // declared.channels)
    buffer = ffi.new("int[]" if wide else "short[]", block * declared.channels)
    read = lib.sf_readf_int if wide else lib.sf_readf_short
    info = ffi.new("SF_INFO*")
    os.lseek(fd, 0, os.SEEK_SET)  # libsndfile treats a descriptor's offset as where the file starts
    decoder = lib.sf_open_fd(fd, _SFM_READ, info, 0)  # 0: the descriptor stays ours
    if decoder == ffi.NULL:
        raise _damaged(f"it does not decode ({_message(ffi, lib.sf_strerror(ffi.NULL))})")
    frames = 0
    try:
        if (info.samplerate, info.channels) != (declared.samplerate, declared.channels):
            raise _damaged("the decoder disagrees with the header about rate or channels")
        while True:
            count = read(decoder, buffer, block)
            error = lib.sf_error(decoder)
            if error:
                raise _damaged(f"it does not decode ({_message(ffi, lib.sf_error_number(error))})")
            if count <= 0:
                break
            frames += count
            if digest is not None:
                samples = bytes(ffi.buffer(buffer, count * declared.channels * width))
                digest.update(_flac_md5_bytes(samples, width, declared.bits))
    finally:
        lib.sf_close(decoder)
    if frames == 0:
        raise _damaged("it holds no audio")
    if declared.frames is not None and declared.frames != -1 and frames != declared.frames:
        raise _damaged(f"{frames} frames decode, but its header declares {declared.frames}")
    if digest is not None and declared.md5 is not None and digest.digest() != declared.md5:
        raise _damaged("its samples do not match the MD5 signature in its header")
    return AudioCheck(fmt, frames, declared.samplerate, declared.channels)


def _flac_md5_bytes(raw: bytes, width: int, bits: int) -> bytes:
    """Samples as FLAC's MD5 sees them: interleaved, little-endian, in whole bytes of `bits`.

    libsndfile left-aligns narrower samples in the 16- or 32-bit words it returns, so each
    sample is the top byte(s) of its little-endian word.
    """
    size = (bits + 7) // 8
    if size == width:
        return raw
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
            fd = os.open(Path(source), os.O_RDONLY)
        except OSError as exc:
            raise _damaged(f"it cannot be read ({exc.strerror})") from None
        try:
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


def _damaged(problem: str) -> DamagedAudio:
    return DamagedAudio(problem)  # check_audio says whose audio


def _preview(data: bytes) -> str:
    return repr(data[:8])

"""The walk of an audio container by hand: what a WAV, FLAC, Ogg or MP3 file declares, and
whether its structure is whole (the first step of `verify.check_audio`).

The decoder alone forgives too much: libsndfile reads a WAV whose header declares more data
than the file holds (it trims the count), returns no frames and no error for half an Ogg file,
and mpg123 pads half an MP3 with silence up to the length its Xing tag promises. So: a WAV's
data chunk must be whole; a FLAC's STREAMINFO must be sane; an Ogg stream's pages must be whole
and end with the end-of-stream page; an MP3's frames must run back to back to the end of the
file. Channel counts and sample rates are checked here too, before a decoder allocates anything
for them. Reads go through one 1 MiB window (bounded memory).
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

from outeai_cli.errors import ProtocolError

MAX_CHANNELS = 8  # 7.1; a speech service sends 1 or 2
MIN_RATE, MAX_RATE = 1_000, 384_000
_WINDOW = 1 << 20
_MAX_WAV_CHUNKS = 1000  # chunks before the audio; more is not a WAV anyone wrote
_WAV_PLACEHOLDERS = (0, 0xFFFFFFFF)


class DamagedAudio(ProtocolError):
    """Audio that does not decode completely: cut short, corrupt, or not the format asked."""


def damaged(problem: str) -> DamagedAudio:
    return DamagedAudio(problem)  # check_audio says whose audio


class Declared(NamedTuple):
    """What the container promises; None where it does not say."""

    samplerate: int
    channels: int
    frames: int | None = None
    md5: bytes | None = None  # FLAC: of the samples, as the encoder saw them
    bits: int = 16
    audio_start: int | None = None  # FLAC: the offset of its first frame


class Window:
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
            raise damaged(f"it is cut short ({what} ends at byte {self.size})")
        return data


def _wav(reader: Window) -> Declared:
    riff = reader.exact(0, 12, "the RIFF header")
    if riff[8:12] != b"WAVE":
        raise damaged("it is not a WAVE file")
    offset = 12
    fmt: tuple[int, ...] | None = None
    for _ in range(_MAX_WAV_CHUNKS):
        chunk_id, chunk_size = struct.unpack("<4sI", reader.exact(offset, 8, "a chunk header"))
        body = offset + 8
        if chunk_id == b"fmt ":
            if chunk_size < 16:
                raise damaged(f"its fmt chunk is {chunk_size} bytes, too short")
            fmt = struct.unpack("<HHIIHH", reader.exact(body, 16, "the fmt chunk"))
        elif chunk_id == b"data":
            if fmt is None:
                raise damaged("its audio data comes before the fmt chunk")
            return _wav_data(fmt, body, chunk_size, reader.size)
        offset = body + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    raise damaged("no audio data chunk was found")


def _wav_data(fmt: tuple[int, ...], start: int, size: int, file_size: int) -> Declared:
    _tag, channels, rate, _byte_rate, block_align, bits = fmt
    _sane(rate, channels)
    if bits == 0 or block_align != channels * ((bits + 7) // 8):
        raise damaged(f"its header is inconsistent ({bits} bits, {block_align}-byte frames)")
    if size in _WAV_PLACEHOLDERS:
        raise damaged("its header never got the length of the audio (an unfinished stream)")
    present = file_size - start
    if size > present:
        raise damaged(
            f"it is cut short: the header declares {size} bytes of audio, {present} are present"
        )
    if size % block_align:
        raise damaged(
            f"it ends in the middle of a frame ({size} bytes of {block_align}-byte frames)"
        )
    return Declared(rate, channels, frames=size // block_align, bits=bits)


def _flac(reader: Window) -> Declared:
    offset = 4
    info: Declared | None = None
    while True:
        header = reader.exact(offset, 4, "a metadata block header")
        kind, length = header[0] & 0x7F, int.from_bytes(header[1:4], "big")
        body = reader.exact(offset + 4, length, "a metadata block")
        if info is None:
            if kind != 0 or length != 34:
                raise damaged("its first metadata block is not STREAMINFO")
            info = _streaminfo(body)
        offset += 4 + length
        if header[0] & 0x80:  # the last metadata block
            break
    sync = reader.exact(offset, 2, "the first audio frame")
    if sync[0] != 0xFF or sync[1] & 0xFE != 0xF8:
        raise damaged(f"no audio frame follows the metadata (byte {offset})")
    return info._replace(audio_start=offset)


def _streaminfo(body: bytes) -> Declared:
    packed = int.from_bytes(body[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & ((1 << 36) - 1)
    _sane(rate, channels)
    md5 = body[18:34]
    return Declared(
        rate,
        channels,
        frames=total or None,  # 0: the encoder did not know
        md5=md5 if any(md5) else None,
        bits=bits,
    )


def _ogg(reader: Window) -> Declared:
    offset = 0
    pages = 0
    serial = granule = None
    first_body = b""
    while offset < reader.size:
        header = reader.exact(offset, 27, f"Ogg page {pages + 1}")
        if header[:4] != b"OggS" or header[4] != 0:
            raise damaged(f"Ogg page {pages + 1} is not where the previous one ends")
        flags = header[5]
        granule, page_serial, sequence = struct.unpack("<qII", header[6:22])
        if serial is None:
            serial = page_serial
        if page_serial != serial or sequence != pages:
            raise damaged(f"Ogg page {pages + 1} is out of sequence (pages are missing)")
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
        raise damaged("it is cut short (the Ogg stream has no end-of-stream page)")
    if offset != reader.size:
        raise damaged(f"{reader.size - offset} bytes follow the end of the Ogg stream")
    if first_body[:7] == b"\x01vorbis" and len(first_body) >= 16:
        channels = first_body[11]
        rate = struct.unpack("<I", first_body[12:16])[0]
        _sane(rate, channels)
        return Declared(rate, channels, frames=granule)
    if first_body[:8] == b"OpusHead" and len(first_body) >= 10:
        _sane(48000, first_body[9])
        return Declared(48000, first_body[9])  # granules count with pre-skip: not compared
    raise damaged("its Ogg stream is neither Vorbis nor Opus")


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


class _MPEGFrame(NamedTuple):
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


def _mp3(reader: Window) -> Declared:
    offset = 0
    head = reader.exact(0, 10, "the header")
    if head[:3] == b"ID3":
        size = 0
        for byte in head[6:10]:
            size = size << 7 | (byte & 0x7F)
        offset = 10 + size + (10 if head[5] & 0x10 else 0)
    first = _mpeg_frame(reader.read(offset, 4))
    if first is None:
        raise damaged(f"no MPEG audio frame where the audio should start (byte {offset})")
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
            raise damaged(f"MPEG frame {frames + 1} is not where the previous one ends")
        if (frame.rate, frame.channels) != (first.rate, first.channels):
            raise damaged(f"MPEG frame {frames + 1} changes the sample rate or channels")
        if offset + frame.length > reader.size:
            raise damaged(f"it is cut short (MPEG frame {frames + 1} is incomplete)")
        offset += frame.length
        frames += 1
        samples += frame.samples
    if frames == 0:
        raise damaged("it holds no MPEG audio frames")
    if promised is not None and promised >= 0 and promised != frames:
        raise damaged(
            f"it is cut short: its header promises {promised} frames, {frames} are present"
        )
    return Declared(first.rate, first.channels, frames=samples)  # encoder delay included


def _xing_frames(frame: bytes, info: _MPEGFrame) -> int | None:
    """The frame count of a Xing/Info tag in the first frame; None when there is no tag."""
    tag = 4 + info.side_info
    if frame[tag : tag + 4] not in (b"Xing", b"Info"):
        return None
    flags = int.from_bytes(frame[tag + 4 : tag + 8], "big")
    if not flags & 0x1:
        return -1  # a tag without a count: the frame is still not audio
    return int.from_bytes(frame[tag + 8 : tag + 12], "big")


def _is_trailing_tag(reader: Window, offset: int) -> bool:
    """An ID3v1 tag (the last 128 bytes) or an APE tag where the audio ends."""
    rest = reader.size - offset
    start = reader.read(offset, 8)
    return (rest == 128 and start[:3] == b"TAG") or start == b"APETAGEX"


_STRUCTURE = {"wav": _wav, "flac": _flac, "ogg": _ogg, "mp3": _mp3}


def _sane(rate: int, channels: int) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise damaged(f"its header claims {channels} channels (at most {MAX_CHANNELS} are sane)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise damaged(f"its header claims a sample rate of {rate} Hz")


def walk_container(fmt: str, reader: Window) -> Declared:
    """What the container of format `fmt` declares, once its structure is proved whole."""
    return _STRUCTURE[fmt](reader)

"""The 2026 dialect: `Authorization: Bearer`, `POST {base}/tts_stream`, the body is WAV.

The WAV arrives as it is generated, so the parser writes it through to the sink at once
(only the header is held back until it is known to be WAV). A live stream's header cannot
know its sizes (0xFFFFFFFF or 0); when the sink is seekable (a file) they are filled in at
the end, so the saved file is a plain WAV. Progress is the audio received, in seconds.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import IO, NamedTuple

from outeai_cli.errors import ProtocolError
from outeai_cli.http.dialects.base import RequestSpec, bearer_voices_request
from outeai_cli.http.events import AudioEvent, Event, StatusEvent
from outeai_cli.voices.speakers import Speaker

DEFAULT_MODEL = "outetts_1_pro"
_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)
# Chunks before the audio (fmt, LIST...) are small; a "header" longer than this is not WAV.
_MAX_HEADER = 64 * 1024
_PCM, _EXTENSIBLE, _FLOAT = 1, 0xFFFE, 3
# Report progress each time this much more audio (seconds) has arrived.
_PROGRESS_STEP = 0.1


class TTSStreamDialect:
    name = "tts-stream"
    audio_format = "wav"
    body_is_audio = True
    token_in_url = False
    uses_temperature = False
    default_model: str | None = DEFAULT_MODEL
    response_kind = "WAV audio"

    def __init__(self, model: str | None = None) -> None:
        self.model = model or DEFAULT_MODEL

    def synthesis_request(
        self, token: str, text: str, speaker: Speaker, temperature: float
    ) -> RequestSpec:
        body = {
            "text": text,
            "voice_id": speaker.name,
            "model_name": self.model,
            "response_format": "wav",
        }
        headers = {"Authorization": f"Bearer {token}", "Accept": "audio/wav"}
        return RequestSpec("POST", "tts_stream", json=body, headers=headers)

    def parser(self, sink: IO[bytes], emit: Callable[[Event], None]) -> WAVStreamParser:
        return WAVStreamParser(sink, emit)

    def voices_request(self, token: str) -> RequestSpec:
        return bearer_voices_request(token)


class WAVHeader(NamedTuple):
    rate: int
    channels: int
    bits: int
    block_align: int
    data_offset: int  # where the samples start, from the first byte of the body
    declared: int | None  # the data chunk's size, None when the stream left it unknown

    @property
    def byte_rate(self) -> int:
        return self.rate * self.block_align


def parse_wav_header(head: bytes) -> WAVHeader | None:
    """The header once `head` holds it whole; None while more bytes are needed.

    Raises ProtocolError as soon as the bytes cannot be a PCM WAV header.
    """
    if len(head) >= 4 and head[:4] != b"RIFF":
        raise ProtocolError(f"the response is not WAV audio (it starts with {_preview(head)})")
    if len(head) < 12:
        return None
    if head[8:12] != b"WAVE":
        raise ProtocolError("the response is a RIFF file but not WAV audio")
    offset = 12
    fmt: tuple[int, int, int, int] | None = None
    while len(head) >= offset + 8:
        chunk_id, size = struct.unpack_from("<4sI", head, offset)
        body = offset + 8
        if chunk_id == b"data":
            if fmt is None:
                raise ProtocolError("invalid WAV header: the audio comes before its format")
            channels, rate, block_align, bits = fmt
            return WAVHeader(
                rate,
                channels,
                bits,
                block_align,
                body,
                None if size in _PLACEHOLDER_SIZES else size,
            )
        if len(head) < body + size:
            return None
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(head[body : body + size])
        offset = body + size + (size & 1)  # chunks are padded to an even size
    return None


def _parse_fmt(data: bytes) -> tuple[int, int, int, int]:
    if len(data) < 16:
        raise ProtocolError("invalid WAV header: the format chunk is too short")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", data)
    if tag not in (_PCM, _EXTENSIBLE, _FLOAT):
        raise ProtocolError(f"invalid WAV header: unsupported encoding {tag:#x}")
    if (
        not channels
        or not rate
        or bits not in (8, 16, 24, 32)
        or block_align != channels * bits // 8
    ):
        raise ProtocolError(
            f"invalid WAV header: {channels} channels, {rate} Hz, {bits} bits, "
            f"block size {block_align}"
        )
    return channels, rate, block_align, bits


class WAVStreamParser:
    def __init__(self, sink: IO[bytes], emit: Callable[[Event], None]) -> None:
        self._sink = sink
        self._emit = emit
        self._head = bytearray()
        self._header: WAVHeader | None = None
        self._received = 0  # audio bytes after the header
        self._written = 0  # bytes written to the sink
        self._origin = sink.tell() if sink.seekable() else None
        self._reported = -_PROGRESS_STEP

    @property
    def audio_started(self) -> bool:
        return self._received > 0

    @property
    def progress(self) -> int:
        return self._received + len(self._head)

    @property
    def seconds(self) -> float:
        return self._received / self._header.byte_rate if self._header else 0.0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._header is None:
            self._head += chunk
            header = parse_wav_header(bytes(self._head))
            if header is None:
                if len(self._head) > _MAX_HEADER:
                    raise ProtocolError(f"no audio within the first {_MAX_HEADER} bytes")
                return
            self._header = header
            chunk = bytes(self._head)
            self._head.clear()
            self._received = len(chunk) - header.data_offset
        else:
            self._received += len(chunk)
        self._sink.write(chunk)
        self._written += len(chunk)
        if self.seconds - self._reported >= _PROGRESS_STEP:
            self._reported = self.seconds
            self._emit(StatusEvent("Receiving audio", generated_seconds=round(self.seconds, 3)))

    def close(self) -> None:
        header = self._header
        if header is None:
            if not self._head:
                raise ProtocolError("the response body is empty: no WAV audio")
            raise ProtocolError("the stream ended inside the WAV header (truncated)")
        if self._received == 0:
            raise ProtocolError("the stream ended without any audio (a WAV header and no samples)")
        if header.declared is not None and self._received < header.declared:
            raise ProtocolError(
                f"the audio stream was truncated: {self._received} of {header.declared} bytes"
            )
        if header.declared is None and self._received % header.block_align:
            raise ProtocolError("the audio stream was truncated in the middle of a sample")
        if header.declared is None and self._origin is not None:
            self._fill_in_sizes(header)
        self._emit(AudioEvent(size=self._written, duration=round(self.seconds, 6), format="wav"))

    def _fill_in_sizes(self, header: WAVHeader) -> None:
        """Write the real RIFF and data sizes over the stream's placeholders."""
        assert self._origin is not None
        end = self._sink.tell()
        self._sink.seek(self._origin + 4)
        self._sink.write(struct.pack("<I", min(self._written - 8, 0xFFFFFFFF)))
        self._sink.seek(self._origin + header.data_offset - 4)
        self._sink.write(struct.pack("<I", min(self._received, 0xFFFFFFFF)))
        self._sink.seek(end)


def _preview(head: bytes, limit: int = 24) -> str:
    from outeai_cli.untrusted import clean_text

    text = clean_text(head[:limit].decode("utf-8", "replace"))
    return repr(text + ("…" if len(head) > limit else ""))

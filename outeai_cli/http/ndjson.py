"""Read an NDJSON event stream whose final event carries the audio as one huge base64 string.

Status lines are small and parsed whole. The line that holds the audio key is never held
whole: once `"audio_bytes": "` is seen, the string's contents are decoded straight into the
sink, and only the object's small remainder is kept to validate it when the line ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import IO, Any

from outeai_cli.errors import ProtocolError
from outeai_cli.http.base64stream import Base64JSONStringDecoder
from outeai_cli.untrusted import clean_text, parse_json

# Status lines are tiny; anything this long that is not the audio line is not our protocol.
MAX_LINE_BYTES = 1 << 20
_KEY_LOOKBACK = 64
# JSON whitespace and the colon: any amount may sit between the audio key and its string.
_BLANKS = frozenset(b" \t\r:")

LineHandler = Callable[[dict[str, Any]], None]
FinalHandler = Callable[[dict[str, Any], Base64JSONStringDecoder], None]


class NDJSONAudioReader:
    """Feed response bytes in any split; calls `on_line` per JSON object, `on_final` once.

    `on_final` receives the audio line's object with the audio string emptied, and the
    decoder (which knows the decoded size and first bytes).
    """

    def __init__(
        self,
        sink: IO[bytes],
        on_line: LineHandler,
        on_final: FinalHandler,
        audio_key: str = "audio_bytes",
    ) -> None:
        self._sink = sink
        self._on_line = on_line
        self._on_final = on_final
        self._key = re.compile(rb'(?<!\\)"' + re.escape(audio_key.encode()) + rb'"\s*:\s*"')
        self._pending = bytearray()
        self._key_from = 0  # where in _pending the next search for the audio key starts
        self._state = "line"  # line -> audio -> suffix -> line
        self._prefix = b""
        self._decoder: Base64JSONStringDecoder | None = None
        self.line_number = 0
        self.final_seen = False

    @property
    def in_audio(self) -> bool:
        return self._state in ("audio", "suffix")

    @property
    def audio_bytes(self) -> int:
        """Audio bytes decoded so far."""
        return self._decoder.size if self._decoder is not None else 0

    def feed(self, chunk: bytes) -> None:
        """Consume the next bytes of the response, split anywhere."""
        pos = 0
        while pos < len(chunk):
            if self._state == "line":
                pos = self._feed_line(chunk, pos)
            elif self._state == "audio":
                pos = self._feed_audio(chunk, pos)
            else:
                pos = self._feed_suffix(chunk, pos)

    def close(self) -> None:
        """The stream ended: flush what is pending and insist the final event was seen."""
        if self._state == "audio":
            raise ProtocolError("the stream ended inside the audio data (truncated final event)")
        if self._state == "suffix":
            self._end_final()
        elif self._pending.strip():
            self._end_line(bytes(self._pending))
        self._pending.clear()
        if not self.final_seen:
            raise ProtocolError("the stream ended without the final audio event")

    def _feed_line(self, chunk: bytes, pos: int) -> int:
        newline = chunk.find(b"\n", pos)
        stop = len(chunk) if newline < 0 else newline
        start = len(self._pending)
        self._pending += chunk[pos:stop]
        match = self._key.search(self._pending, self._key_from)
        if match:
            self._begin_audio(match.end())
            return stop
        self._advance_key_search(start)
        if newline < 0:
            if len(self._pending) > MAX_LINE_BYTES:
                raise ProtocolError(
                    f"line {self.line_number + 1} of the response is over "
                    f"{MAX_LINE_BYTES} bytes and is not an audio event"
                )
            return stop
        line = bytes(self._pending)
        self._pending.clear()
        self._key_from = 0
        self._end_line(line)
        return newline + 1

    def _advance_key_search(self, start: int) -> None:
        """Move the key search past bytes that can no longer begin a match.

        A match still to come ends in later bytes, so it starts at most a key's length before
        the last byte that is not blank; blanks (any number) may follow the key.
        """
        last = len(self._pending)
        while last > start and self._pending[last - 1] in _BLANKS:
            last -= 1
        if last > start:  # else the new bytes were all blank: the old start still holds
            self._key_from = max(0, last - _KEY_LOOKBACK)

    def _begin_audio(self, key_end: int) -> None:
        if self.final_seen:
            raise ProtocolError("the stream carries a second audio event")
        self._prefix = bytes(self._pending[:key_end])
        rest = bytes(self._pending[key_end:])
        self._pending.clear()
        self._key_from = 0
        self._state = "audio"
        self._decoder = Base64JSONStringDecoder(self._sink)
        pos = 0
        while pos < len(rest):  # the rest of this segment has no newline
            pos = (
                self._feed_audio(rest, pos)
                if self._state == "audio"
                else self._feed_suffix(rest, pos)
            )

    def _feed_audio(self, chunk: bytes, pos: int) -> int:
        assert self._decoder is not None
        quote = chunk.find(b'"', pos)
        newline = chunk.find(b"\n", pos, len(chunk) if quote < 0 else quote)
        if newline >= 0:
            raise ProtocolError("the audio line ended before its base64 string closed (truncated)")
        if quote < 0:
            self._decoder.feed(chunk[pos:] if pos else chunk)
            return len(chunk)
        self._decoder.feed(chunk[pos:quote])
        self._decoder.finish()
        self._state = "suffix"
        return quote + 1

    def _feed_suffix(self, chunk: bytes, pos: int) -> int:
        newline = chunk.find(b"\n", pos)
        stop = len(chunk) if newline < 0 else newline
        self._pending += chunk[pos:stop]
        if len(self._pending) > MAX_LINE_BYTES:
            raise ProtocolError("the final event's fields after the audio are too long")
        if newline < 0:
            return stop
        self._end_final()
        return newline + 1

    def _end_final(self) -> None:
        assert self._decoder is not None
        self.line_number += 1
        text = self._prefix + b'"' + bytes(self._pending)
        self._pending.clear()
        self._state = "line"
        obj = self._parse_object(text, "is not valid JSON around the audio data")
        self.final_seen = True
        self._on_final(obj, self._decoder)

    def _end_line(self, line: bytes) -> None:
        self.line_number += 1
        stripped = line.strip()
        if not stripped:
            return
        self._on_line(self._parse_object(stripped, f"is not JSON: {_preview(stripped)}"))

    def _parse_object(self, text: bytes, not_json: str) -> dict[str, Any]:
        """The line as a JSON object, or a ProtocolError naming the line and what is wrong."""
        try:
            # A NaN beside the audio is an unknown number (the fields are checked one by one
            # where they are read), not a reason to throw the answer away.
            obj = parse_json(text, nonfinite_as_none=True)
        except ValueError:
            raise ProtocolError(f"line {self.line_number} of the response {not_json}") from None
        if not isinstance(obj, dict):
            raise ProtocolError(f"line {self.line_number} of the response is not a JSON object")
        return obj


def _preview(line: bytes, limit: int = 60) -> str:
    text = clean_text(line[:limit].decode("utf-8", "replace"))
    return repr(text + ("…" if len(line) > limit else ""))

"""What the NDJSON dialects (`tts`, `audio`) share: reading events and checking the final one.

Each dialect names its final event's key and says how a status line reads; the reader, the
"has generation started" flag and the final event's validation live here once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import IO, Any

from outeai_cli.audio.formats import detect_format
from outeai_cli.errors import ProtocolError
from outeai_cli.http.base64stream import Base64JSONStringDecoder
from outeai_cli.http.events import AudioEvent, Event, StatusEvent
from outeai_cli.http.ndjson import NDJSONAudioReader
from outeai_cli.untrusted import clean_text


class NDJSONEventParser:
    """Feed response bytes; emits StatusEvents, then one AudioEvent (audio written to the sink)."""

    final_key = "data"  # the final event is {final_key: {"audio_bytes": ..., ...}}

    def __init__(self, sink: IO[bytes], emit: Callable[[Event], None]) -> None:
        self._emit = emit
        self._reader = NDJSONAudioReader(sink, self._on_line, self._on_final)
        self._status_seen = False
        self._last_status: StatusEvent | None = None
        self._new_statuses = 0

    @property
    def audio_started(self) -> bool:
        """True once the service has begun generating (a status event or audio arrived)."""
        return self._status_seen or self._reader.in_audio or self._reader.final_seen

    @property
    def progress(self) -> int:
        """New statuses plus decoded audio bytes: a status repeated word for word is not news."""
        return self._new_statuses + self._reader.audio_bytes

    def feed(self, chunk: bytes) -> None:
        self._reader.feed(chunk)

    def close(self) -> None:
        self._reader.close()

    # -- what a dialect defines ----------------------------------------------------------------
    def status(self, obj: dict[str, Any]) -> StatusEvent | None:
        """The status event a line stands for, or None when it is not a status line."""
        raise NotImplementedError

    def check_final(self, data: dict[str, Any]) -> None:
        """Extra checks on the final event's fields (after the audio string)."""

    # -- shared ----------------------------------------------------------------------------------
    def _on_line(self, obj: dict[str, Any]) -> None:
        event = self.status(obj)
        if event is not None:
            self._status_seen = True
            if event != self._last_status:
                self._new_statuses += 1
                self._last_status = event
            self._emit(event)
        elif isinstance(obj.get(self.final_key), dict):
            # Every line holding the audio key goes through _on_final; this one has none.
            raise ProtocolError(f'the "{self.final_key}" event has no "audio_bytes" string')
        elif "error" in obj:
            # Its text is the server's: an echo of the request would carry the token.
            error = obj["error"]
            text = error.get("message", error) if isinstance(error, dict) else error
            # The stream is well formed: the server failed while it spoke, which no base URL
            # check explains (the class's default hint suspects a proxy page).
            raise ProtocolError(
                f"the server reported an error mid-stream: {clean_text(text)}",
                hint="retry; if it persists, the server is failing on this text",
            )
        # Anything else is an unknown event: tolerated, as the contract asks.

    def _on_final(self, obj: dict[str, Any], decoder: Base64JSONStringDecoder) -> None:
        data = obj.get(self.final_key)
        if not isinstance(data, dict) or data.get("audio_bytes") != "":
            raise ProtocolError(
                f'the audio event is not shaped {{"{self.final_key}": {{"audio_bytes": ...}}}}'
            )
        self.check_final(data)
        if decoder.size == 0:
            raise ProtocolError("the audio event carries no audio")
        fmt = detect_format(decoder.head)
        if fmt == "unknown":
            raise ProtocolError("the audio data is not a known audio format (FLAC/WAV/OGG/MP3)")
        self._emit(
            AudioEvent(size=decoder.size, duration=float_or_none(data.get("duration")), format=fmt)
        )


# Metadata a server sends only feeds the display and the summary: a value of the wrong type,
# negative, non-finite or absurd is unknown (None), never a reason to drop the audio.
MAX_COUNT = 1_000_000
MAX_SECONDS = 1e7  # ~116 days of audio


def int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def float_or_none(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and 0 <= number <= MAX_SECONDS:
            return number
    return None

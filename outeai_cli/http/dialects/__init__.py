"""One module per API dialect; the client talks to every dialect through `Dialect`.

- `tts` (the original, primary): `POST {base}/tts`, token in the body, NDJSON, base64 FLAC.
- `audio` (2025): `POST {base}/audio?token=...`, NDJSON counting audio tokens, base64 MP3.
- `tts-stream` (2026): `Authorization: Bearer`, `POST {base}/tts_stream`, the body is WAV.
- `auto`: asks `GET {base}/health` once (only the 2026 API answers it); see `auto.py`.
"""

from __future__ import annotations

from outeai_cli.http.dialects.base import (
    API_CHOICES,
    DIALECTS,
    Dialect,
    RequestSpec,
    StreamParser,
)

__all__ = ["API_CHOICES", "DIALECTS", "Dialect", "RequestSpec", "StreamParser", "get_dialect"]


def get_dialect(name: str, *, model: str | None = None) -> Dialect:
    """The dialect called `name` (one of DIALECTS); `model` overrides its default model.

    Only the module of the dialect asked for is imported: a call speaks one of them.
    """
    if name == "tts":
        from outeai_cli.http.dialects.tts import TTSDialect

        return TTSDialect()
    if name == "audio":
        from outeai_cli.http.dialects.audio import AudioDialect

        return AudioDialect(model)
    if name == "tts-stream":
        from outeai_cli.http.dialects.tts_stream import TTSStreamDialect

        return TTSStreamDialect(model)
    from outeai_cli.errors import InputError

    raise InputError(f"unknown API dialect {name!r}", hint=f"use one of: {', '.join(API_CHOICES)}")

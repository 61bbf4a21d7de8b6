"""The one key for "this audio": what the piece cache and the batch's results file both use.

SHA-256 over everything that shapes the audio: the API dialect and its model (when it has
one), the base URL, the speaker, the temperature, the exact text, and, for an output, its
format. A piece is kept as delivered, in the API's own format, so a piece's key leaves the
format out.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient
    from outeai_cli.voices.speakers import Speaker


def audio_key(
    *,
    api: str,
    base_url: str,
    speaker: str,
    temperature: float,
    text: str,
    model: str | None = None,
    format: str | None = None,
) -> str:
    fields: dict[str, Any] = {
        "api": api,
        "base_url": base_url.rstrip("/"),
        "speaker": speaker,
        "temperature": round(float(temperature), 6),
        "text": text,
    }
    if model:
        fields["model"] = model
    if format:
        fields["format"] = format
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def audio_key_for(
    client: TTSClient, speaker: Speaker, temperature: float, text: str, format: str | None = None
) -> str:
    """The key of `text` spoken by `client` (its API, model and base URL). A model given to
    an API without a model choice shapes nothing (it is not sent)."""
    dialect = client.dialect
    model = (client.model or dialect.default_model) if dialect.default_model else None
    return audio_key(
        api=dialect.name,
        model=model,
        base_url=client.base_url,
        speaker=str(speaker),
        temperature=temperature,
        text=text,
        format=format,
    )

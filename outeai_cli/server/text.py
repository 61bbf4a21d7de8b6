"""How the local server splits a request's text into the chunks it reports progress over."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentence-sized chunks of `text`; never empty."""
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts or [text]

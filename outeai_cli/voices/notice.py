"""The voice-substitution notice: a server saying that what spoke is not what the name promises.

`outeai serve` sends it as a response header on every synthesis (a female name spoken by a male
model, a language spoken by espeak-ng, a test tone standing in). The hosted API never sends
it, and the official SDK ignores headers it does not know. Like everything a server says it is
untrusted: `read_notice` takes it as one clean, bounded line.
"""

from __future__ import annotations

from collections.abc import Mapping

VOICE_NOTICE_HEADER = "X-Outeai-Voice-Notice"
NOTICE_LIMIT = 300


def read_notice(headers: Mapping[str, str]) -> str | None:
    """The notice in a response's headers, control characters removed and secrets masked,
    cut to NOTICE_LIMIT characters; None when there is none (or nothing is left of it)."""
    from outeai_cli.untrusted import clean_text

    raw = headers.get(VOICE_NOTICE_HEADER)
    if not raw:
        return None
    return clean_text(raw, limit=NOTICE_LIMIT).strip() or None

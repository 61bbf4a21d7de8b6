"""Token hygiene: checking, masking for display and logs, and the plain-http refusals."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from outeai_cli.errors import Advice, Fix, InputError, InsecureTransportError

# Real tokens are a few dozen characters; anything this long is a pasted file, not a token.
MAX_TOKEN_CHARS = 4096


def check_token(token: str) -> str:
    """The token if it can travel in a header, a JSON body and a URL; else an InputError.

    The message never shows the token: only what is wrong with it and where.
    """
    if len(token) > MAX_TOKEN_CHARS:
        problem = f"is {len(token)} characters long (at most {MAX_TOKEN_CHARS})"
    else:
        bad = next((i for i, c in enumerate(token) if not " " <= c <= "~"), None)
        if bad is None:
            return token
        kind = "a non-ASCII character" if ord(token[bad]) > 0x7F else "a control character"
        problem = f"contains {kind} (at position {bad + 1})"
    raise InputError(
        f"the API token {problem}; nothing was sent",
        hint="copy the token again, without line breaks",
        advice=(Advice(Fix.REPLACE, "token"),),
    )


def mask_token(token: str | None) -> str:
    """Show at most the first and last 4 characters; short tokens are hidden entirely."""
    if not token:
        return "(none)"
    if len(token) < 12:
        return "*" * len(token)
    return f"{token[:4]}…{token[-4:]}"


def _forms(token: str) -> set[str]:
    """The ways a token shows up in text: plain, URL-encoded, JSON- and repr-escaped."""
    import json
    from urllib.parse import quote, quote_plus

    return {
        token,
        quote_plus(token, safe=""),
        quote(token, safe=""),
        json.dumps(token)[1:-1],
        json.dumps(token, ensure_ascii=False)[1:-1],
        json.dumps(token)[1:-1].replace("/", "\\/"),
        repr(token)[1:-1],
    }


def redact(text: str, token: str | None) -> str:
    """Replace every occurrence of the token in text (e.g. an exception message) by its mask.

    Encoded forms are masked too: the 2025 API carries the token in the query string, and a
    server that echoes the request puts it in JSON.
    """
    if token and len(token) >= 4:
        masked = mask_token(token)
        for form in sorted(_forms(token), key=len, reverse=True):
            text = text.replace(form, masked)
    return text


_secrets: set[str] = set()


def register_secret(token: str | None) -> None:
    """Mask `token` in all server text and error lines of this process (`redact_secrets`)."""
    if token:
        _secrets.add(token)


def redact_secrets(text: str) -> str:
    """`redact` for every registered secret."""
    for token in _secrets:
        text = redact(text, token)
    return text


class _RedactingFilter:
    """A logging filter masking the registered tokens (httpx logs each request's URL).

    Any object with `filter(record)` is a filter: no `logging` import until one is installed.
    """

    def __init__(self) -> None:
        self.tokens: set[str] = set()

    def filter(self, record: Any) -> bool:
        message = record.getMessage()
        masked = message
        for token in self.tokens:
            masked = redact(masked, token)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_log_filter = _RedactingFilter()


def redact_in_logs(token: str | None) -> None:
    """Mask `token` in what httpx logs (its INFO line names the URL, query string included)."""
    if not token:
        return
    import logging

    logger = logging.getLogger("httpx")
    if _log_filter not in logger.filters:
        logger.addFilter(_log_filter)
    _log_filter.tokens.add(token)


def check_url_token_transport(base_url: str, api: str) -> None:
    """Refuse an API that puts the token in the URL over plain http, loopback aside.

    Stricter than `check_transport`: `allow_insecure_http` does not lift it, since a URL
    lands in proxy and server access logs.
    """
    parts = urlsplit(base_url)
    if parts.scheme != "https" and not is_loopback_host(parts.hostname or ""):
        raise InsecureTransportError(
            f"refusing to send the token over plain http to {parts.hostname}: the {api} API "
            "puts it in the URL, where proxies and servers log it",
            hint="use an https base URL",
        )


def is_loopback_host(host: str) -> bool:
    """Only the literal name `localhost`, 127.0.0.0/8 and ::1.

    Other names (`evil.localhost` too) are trusted by nothing here: /etc/hosts or a resolver
    can point them anywhere.
    """
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(base_url: str, *, allow_insecure_http: bool = False) -> None:
    """Refuse sending a token over plain http to anything but a loopback host.

    Called before any connection is made, so the refusal never sends a packet.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise InsecureTransportError(
            f"the base URL {base_url!r} is not an http(s) URL",
            hint="give the API root as an http:// or https:// URL ending in /api/v1",
        )
    if not parts.hostname:
        raise InsecureTransportError(f"the base URL {base_url!r} has no host")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise InsecureTransportError(
            f"refusing to send the token over plain http to {parts.hostname}",
            hint="use https",
            advice=(
                Advice(Fix.ENABLE, "allow_insecure_http", purpose="if you trust this network"),
            ),
        )

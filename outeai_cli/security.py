"""Token hygiene: masking for display and logs, and the plain-http refusals."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from outeai_cli.errors import InsecureTransportError


def mask_token(token: str | None) -> str:
    """Show at most the first and last 4 characters; short tokens are hidden entirely."""
    if not token:
        return "(none)"
    if len(token) < 12:
        return "*" * len(token)
    return f"{token[:4]}…{token[-4:]}"


def redact(text: str, token: str | None) -> str:
    """Replace every occurrence of the token in text (e.g. an exception message) by its mask.

    The URL-encoded forms are masked too: the 2025 API carries the token in the query string.
    """
    if token and len(token) >= 4:
        from urllib.parse import quote, quote_plus

        for form in {token, quote_plus(token, safe=""), quote(token, safe="")}:
            text = text.replace(form, mask_token(token))
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

    Stricter than `check_transport`: --allow-insecure-http does not lift it, since a URL
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
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
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
            hint="use e.g. https://outeai.com/api/v1 or http://127.0.0.1:8000/api/v1",
        )
    if not parts.hostname:
        raise InsecureTransportError(f"the base URL {base_url!r} has no host")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise InsecureTransportError(
            f"refusing to send the token over plain http to {parts.hostname}",
            hint="use https, or pass --allow-insecure-http if you trust this network",
        )

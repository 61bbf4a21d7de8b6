"""Token hygiene: masking for display and the plain-http refusal."""

from __future__ import annotations

import ipaddress
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
    """Replace every occurrence of the token in text (e.g. an exception message) by its mask."""
    if token and len(token) >= 4:
        return text.replace(token, mask_token(token))
    return text


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

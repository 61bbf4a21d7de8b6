"""Typed errors for what went wrong over HTTP: a non-2xx answer, a failed connection, a limit.

Everything here reads text a server chose (error bodies, redirect targets, exception texts
that quote it): it is parsed by `untrusted.parse_json`, cleaned by `untrusted.clean_text`, and
the token is masked before any of it reaches a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from outeai_cli.errors import (
    Advice,
    APIError,
    AuthenticationError,
    Fix,
    TransportError,
)
from outeai_cli.http.dialects import DIALECTS
from outeai_cli.http.retry import parse_retry_after
from outeai_cli.security import mask_token, redact
from outeai_cli.untrusted import clean_text, parse_json


class Answer(NamedTuple):
    """An answer read whole, its body up to a limit; `path` is the route asked for."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    path: str = ""
    truncated: bool = False  # the body was longer than the limit (the rest was not read)


def api_error(
    answer: Answer, *, token: str | None, base_url: str, api: str
) -> APIError | AuthenticationError:
    """The typed error for a non-2xx answer (`api`: the dialect spoken, for the 404 advice)."""
    status, headers, body, path = answer.status, answer.headers, answer.body, answer.path
    if 300 <= status < 400:
        return _redirect_error(status, headers.get("location"), base_url)
    obj = json_object(body)
    message, code = _error_message(obj, body, headers.get("content-type", ""))
    message = clean_text(redact(message, token))
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 401:
        return AuthenticationError(
            f"the token {mask_token(token)} was rejected (HTTP 401: {message})",
            status=status,
            code=code,
            advice=(Advice(Fix.REPLACE, "token"),),
        )
    if status == 404 and path and not (obj is not None and "message" in obj):
        # Not the API's own 404 (which carries a "message"): the route itself is missing.
        if not base_url.endswith("/api/v1"):
            root = _api_root_example(base_url)
            hint = f"the base URL is the API root ending in /api/v1, e.g. {root}"
            advice: tuple[Advice, ...] = ()
        else:
            hint = f"it may not speak the {api} API:"
            advice = (
                Advice(Fix.SET, "api", "auto"),
                Advice(Fix.CHOOSE, "api", "|".join(DIALECTS)),
            )
        return APIError(
            f"HTTP 404: the server has no /{path} endpoint ({message})",
            status=status,
            code=code,
            hint=hint,
            advice=advice,
        )
    hint, advice = _status_advice(status)
    return APIError(
        f"HTTP {status}: {message}",
        status=status,
        code=code,
        retry_after=retry_after,
        hint=hint,
        advice=advice,
    )


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None (not JSON, too deep, too big, not an object)."""
    try:
        obj = parse_json(body)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _error_message(
    obj: dict[str, Any] | None, body: bytes, content_type: str
) -> tuple[str, str | None]:
    text = body.decode("utf-8", "replace").strip()
    if obj is not None:
        message = obj.get("message") or obj.get("detail") or obj.get("error")
        code = obj.get("code")
        if message:
            return clean_text(message), clean_text(code, limit=80) if code is not None else None
    if "html" in content_type.lower() or text.lower().startswith(("<!doctype", "<html")):
        return "the server (or a proxy) answered with an HTML page instead of JSON", None
    if not text:
        return "no error message", None
    first_line = text.splitlines()[0][:120]
    return f"non-JSON error body: {first_line!r}", None


def _status_advice(status: int) -> tuple[str, tuple[Advice, ...]]:
    """What to do about a refusal or failure, by status (404s get theirs from the caller)."""
    if status in (402, 403):
        return "check your plan and credits on your OuteAI account", ()
    if status == 413:
        split = Advice(Fix.LOWER, "max_chars", purpose="so long texts are split smaller")
        return "shorten the text", (split,)
    if status == 429:
        return "wait a moment", (
            Advice(Fix.LOWER, "jobs"),
            Advice(Fix.RAISE, "retries", purpose="to wait and retry"),
        )
    if status >= 500:
        return "the service failed; try again later", (
            Advice(Fix.RAISE, "retries", purpose="to retry it automatically"),
        )
    return "", ()


def _redirect_error(status: int, location: str | None, base_url: str) -> APIError:
    """A 3xx: the token would follow a redirect to wherever it points, so none is followed."""
    from urllib.parse import urljoin, urlsplit, urlunsplit

    if location:
        target = urljoin(f"{base_url}/", clean_text(location, limit=300))
        parts = urlsplit(target)
        # The query and any user info may carry secrets; the address itself is what matters.
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        query = "?…" if parts.query else ""
        where = f"to {urlunsplit((parts.scheme, host + port, parts.path, '', ''))}{query}"
    else:
        where = "without saying where (no Location header)"
    return APIError(
        f"HTTP {status}: the server redirects {where}; redirects are not followed on "
        "purpose, so the token never goes where the base URL does not point",
        status=status,
        hint="if that address is the API, use it as the base URL",
    )


def _api_root_example(base_url: str) -> str:
    """The base URL as it probably should be: its origin followed by /api/v1."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/api/v1"


def transport_error(exc: Exception, after_audio_started: bool, base_url: str) -> TransportError:
    import httpx

    if isinstance(exc, httpx.ConnectError):
        return TransportError(
            f"cannot connect to {_shown_url(base_url)}: {_connect_cause(exc, base_url)}",
            hint="check the base URL and that the server is running",
        )
    detail = clean_text(str(exc) or type(exc).__name__)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return TransportError(
            f"the connection broke mid-response ({detail})", after_audio_started=after_audio_started
        )
    return TransportError(f"network error: {detail}", after_audio_started=after_audio_started)


def _shown_url(url: str) -> str:
    """A URL fit for a message: no user info, no query (either may hold a secret)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return clean_text(urlunsplit((parts.scheme, netloc, parts.path, "", "")))


def _connect_cause(exc: Exception, base_url: str) -> str:
    """Why a connection failed, in words, from the OS or TLS error underneath httpx's."""
    import errno
    import socket
    import ssl
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = clean_text(cause.verify_message or "verification failed")
            return f"TLS certificate not trusted ({reason})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({clean_text(cause.reason or cause)})"
        if isinstance(cause, socket.gaierror):
            return f"name not found: {host}"
        if isinstance(cause, OSError) and cause.errno is not None:
            words = {
                errno.ECONNREFUSED: f"nothing is listening on {address}",
                errno.ENETUNREACH: f"the network to {host} is unreachable",
                errno.EHOSTUNREACH: f"no route to the host {host}",
                errno.ECONNRESET: f"{address} reset the connection",
                errno.ETIMEDOUT: f"{address} did not answer",
            }
            return words.get(cause.errno, f"{clean_text(cause.strerror or cause)} ({address})")
        cause = cause.__cause__ or cause.__context__
        seen += 1
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"name not found: {host}"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate not trusted"
    if "Connection refused" in text:
        return f"nothing is listening on {address}"
    return clean_text(text or type(exc).__name__)

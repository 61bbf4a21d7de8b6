"""One request over HTTP: the connection pool, one attempt at a request with its time limits
(`watchdog.StreamWatchdog`), the bounded error body and its typed error (`http_errors`).

`TTSClient` decides what to send and whether to try again; this module sends it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, NamedTuple

from outeai_cli.errors import APIError, AuthenticationError, ProtocolError
from outeai_cli.http.errors import Answer, api_error, transport_error
from outeai_cli.http.events import AudioEvent, Event
from outeai_cli.security import is_loopback_host
from outeai_cli.settings.table import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_TIME,
    DEFAULT_TIMEOUT,
)
from outeai_cli.untrusted import response_chunks
from outeai_cli.voices.notice import read_notice

if TYPE_CHECKING:
    import httpx

    from outeai_cli.http.dialects.base import Dialect, RequestSpec

_ERROR_BODY_LIMIT = 64 * 1024


class Timeouts(NamedTuple):
    connect: float = DEFAULT_CONNECT_TIMEOUT
    first_event: float = DEFAULT_TIMEOUT
    idle: float = DEFAULT_IDLE_TIMEOUT  # without progress (new audio or a new status)
    max_time: float = DEFAULT_MAX_TIME  # one request in all, however it progresses


class Endpoint(NamedTuple):
    """Where a request goes, as its errors need it: the server, the limits, the token to mask
    and the dialect spoken."""

    base_url: str
    timeouts: Timeouts
    token: str | None
    api: str

    def api_error(self, answer: Answer) -> APIError | AuthenticationError:
        """The typed error for a non-2xx answer, from its (bounded) body."""
        return api_error(answer, token=self.token, base_url=self.base_url, api=self.api)


def open_http_client(
    base_url: str, timeouts: Timeouts, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """`transport`: how requests travel, when not over TCP (the offline engine's socket)."""
    import httpx

    t = timeouts
    # A loopback server (e.g. `outeai serve`) is reached directly over plain http: no
    # proxy applies, and with no TLS there is no CA bundle to load (~20 ms of start-up).
    direct = transport is not None or _is_loopback_http(base_url)
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=t.connect,
            read=min(max(t.first_event, t.idle), t.max_time),
            write=t.connect,
            pool=t.connect,
        ),
        # No idle connections kept: the watchdog sees a socket only when it connects.
        limits=httpx.Limits(max_keepalive_connections=0),
        trust_env=not direct,
        verify=not direct,
        follow_redirects=False,
        transport=transport,
        # identity: an answer is streamed as it comes; compression only opens the door to a
        # bomb (and `response_chunks` reads one anyway, in bounded pieces).
        headers={"User-Agent": f"outeai-cli/{_version()}", "Accept-Encoding": "identity"},
    )


def send(
    http: httpx.Client, dialect: Dialect, spec: RequestSpec, sink: IO[bytes], where: Endpoint
) -> Iterator[Event]:
    """One attempt at `spec`: its events as they arrive (the audio decoded into `sink`), or a
    typed error for a non-2xx answer, an HTML page, a limit or a failed connection."""
    import httpx

    from outeai_cli.http.watchdog import StreamWatchdog

    pending: list[Event] = []
    parser = dialect.parser(sink, pending.append)
    url = f"{where.base_url}/{spec.path}"
    t = where.timeouts
    watchdog = StreamWatchdog(t.first_event, t.idle, t.max_time)
    try:
        with (
            watchdog,
            http.stream(
                spec.method,
                url,
                json=spec.json,
                headers=spec.headers,
                params=spec.params,
                extensions={"trace": watchdog.trace},
            ) as response,
        ):
            # Watched from the headers on: an error body that drips is held to the limits.
            watchdog.attach(response)
            if not 200 <= response.status_code < 300:
                body = bytearray()
                for chunk in response_chunks(response):
                    body += chunk
                    if len(body) > _ERROR_BODY_LIMIT:
                        break
                if watchdog.expired:
                    raise httpx.ReadTimeout(f"{watchdog.expired} expired")
                answer = Answer(response.status_code, response.headers, bytes(body), spec.path)
                raise where.api_error(answer)
            if "html" in response.headers.get("content-type", "").lower():
                raise ProtocolError(
                    "the server (or a proxy) answered with an HTML page, "
                    f"not {dialect.response_kind}",
                    hint="check the base URL",
                )
            notice = read_notice(response.headers)
            for chunk in response_chunks(response):
                parser.feed(chunk)
                watchdog.touch(parser.progress)
                if pending:
                    yield from _with_notice(pending, notice)
                    pending.clear()
            if watchdog.expired:
                raise httpx.ReadTimeout(f"{watchdog.expired} expired")
            parser.close()
            yield from _with_notice(pending, notice)
    except httpx.TimeoutException as exc:
        raise watchdog.timeout_error(exc, connect=t.connect) from None
    except httpx.TransportError as exc:
        if watchdog.expired:
            raise watchdog.timeout_error(exc, connect=t.connect) from None
        if (local := _out_of_descriptors(exc)) is not None:
            raise local from None  # this machine's limit, not the network: no retry helps
        raise transport_error(exc, parser.audio_started, where.base_url) from None
    except ProtocolError:
        if watchdog.expired:  # the shut-down socket cut the stream short
            raise watchdog.timeout_error(None, connect=t.connect) from None
        raise


def _with_notice(events: list[Event], notice: str | None) -> Iterator[Event]:
    """The events, the final one carrying what the response's headers said about its voice."""
    for event in events:
        if notice is not None and isinstance(event, AudioEvent):
            event = event._replace(voice_notice=notice)
        yield event


class PipeSink:
    """A sink that cannot start over (e.g. stdout): counts what was written to it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.written = 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.written += len(data)
        return len(data)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self.raw.flush()


def _is_loopback_http(base_url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return parts.scheme == "http" and is_loopback_host(parts.hostname or "")


def _version() -> str:
    from outeai_cli.version import __version__

    return __version__


def _out_of_descriptors(exc: BaseException) -> OSError | None:
    """The EMFILE/ENFILE behind a failed connection, if that is what it was."""
    import errno

    seen: BaseException | None = exc
    for _ in range(8):  # the chain is short; a loop in it must not hang us
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno in (errno.EMFILE, errno.ENFILE):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None

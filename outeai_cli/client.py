"""The typed client: `TTSClient(token=...).generate(text=..., speaker=..., temperature=...)`."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from outeai_cli.dialects import Dialect, RequestSpec, get_dialect
from outeai_cli.errors import (
    APIError,
    AuthenticationError,
    InputError,
    OuteAIError,
    ProtocolError,
    TransportError,
)
from outeai_cli.events import AudioEvent, Event, RetryEvent
from outeai_cli.retry import RetryPolicy, parse_retry_after
from outeai_cli.security import (
    check_transport,
    check_url_token_transport,
    is_loopback_host,
    mask_token,
    redact,
    redact_in_logs,
)
from outeai_cli.speakers import DEFAULT_SPEAKER, Speaker, parse_speaker

if TYPE_CHECKING:
    import httpx

    from outeai_cli.config import Settings
    from outeai_cli.dialects.auto import APIChoice
    from outeai_cli.watchdog import StreamWatchdog

DEFAULT_BASE_URL = "https://outeai.com/api/v1"
DEFAULT_TEMPERATURE = 0.4
TOKEN_ENV_VARS = ("OUTEAI_TOKEN", "OUTEAI_API_TOKEN")
_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    first_event: float = 90.0  # a cold GPU may take 10-40 s before the first event
    idle: float = 60.0


@dataclass(frozen=True, slots=True)
class TTSOutput:
    """The audio of one request, held in memory."""

    audio_bytes: bytes
    duration: float | None
    format: str
    sample_rate: int | None = None

    def save(
        self, path: str | os.PathLike[str], *, format: str | None = None, force: bool = True
    ) -> Path:
        """Write the audio atomically; the extension (or `format`) picks the output format."""
        from outeai_cli.audio import atomic_output, convert, format_for_path

        target = Path(path)
        fmt = format_for_path(target, format)
        with atomic_output(target, force=force) as handle:
            if fmt == self.format:
                handle.write(self.audio_bytes)
            else:
                convert(io.BytesIO(self.audio_bytes), handle, fmt)
        return target


def validate_temperature(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 <= value <= 1.0:
        raise InputError(
            f"temperature must be a number from 0.1 to 1.0, got {value!r}",
            hint="e.g. -t 0.4 (the default)",
        )
    return float(value)


def validate_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InputError(
            "the text is empty",
            hint="give the text to speak as an argument, with --file, or on stdin",
        )
    return text


class TTSClient:
    """A client for the OuteTTS API; usable as a context manager."""

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | Timeouts | None = None,
        retries: int = 3,
        retry_policy: RetryPolicy | None = None,
        api: str = "tts",
        model: str | None = None,
        allow_insecure_http: bool = False,
        http_client: httpx.Client | None = None,
    ) -> None:
        if token is None:
            token = next((os.environ[v] for v in TOKEN_ENV_VARS if os.environ.get(v)), None)
        self.token = token
        self.base_url = base_url.rstrip("/")
        check_transport(self.base_url, allow_insecure_http=allow_insecure_http)
        if isinstance(timeout, int | float):
            timeout = Timeouts(
                connect=min(10.0, float(timeout)), first_event=float(timeout), idle=float(timeout)
            )
        self.timeouts = timeout or Timeouts()
        self.retry_policy = retry_policy or RetryPolicy(retries=retries)
        self.api = api
        self.model = model
        self._api_choice: APIChoice | None = None
        self._dialect: Dialect | None = None
        if api != "auto":  # "auto" asks the server on first use (see resolve_api)
            self._use_dialect(get_dialect(api, model=model))
        self._http = http_client
        self._owns_http = http_client is None

    # -- dialect ---------------------------------------------------------------------------
    @property
    def dialect(self) -> Dialect:
        """The API dialect spoken; with api="auto" the first use asks the server."""
        if self._dialect is None:
            self.resolve_api()
        assert self._dialect is not None
        return self._dialect

    def resolve_api(self) -> APIChoice:
        """Which dialect this client speaks and how it was picked (probes once for "auto")."""
        from outeai_cli.dialects.auto import PROBE_TIMEOUT, APIChoice, detect

        if self._api_choice is None:
            if self._dialect is not None:
                self._api_choice = APIChoice(self._dialect.name, "chosen")
            else:
                timeout = min(PROBE_TIMEOUT, self.timeouts.first_event)
                choice = detect(self.base_url, self.http, timeout=timeout)
                self._use_dialect(get_dialect(choice.name, model=self.model))
                self._api_choice = choice
        return self._api_choice

    def _use_dialect(self, dialect: Dialect) -> None:
        if dialect.token_in_url:
            # The one API that puts the token in the URL: https only (loopback aside), and
            # keep it out of httpx's request log lines.
            check_url_token_transport(self.base_url, dialect.name)
            redact_in_logs(self.token)
        self._dialect = dialect

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        connect_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        retries: int = 3,
        model: str | None = None,
        allow_insecure_http: bool = False,
    ) -> TTSClient:
        """A client for the effective settings (token, base URL, API, first-event timeout)."""
        return cls(
            settings.get("token"),
            base_url=settings.get("base_url"),
            timeout=Timeouts(
                connect=connect_timeout, first_event=settings.get("timeout"), idle=idle_timeout
            ),
            retries=retries,
            allow_insecure_http=allow_insecure_http,
            api=settings.get("api"),
            model=model,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> TTSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None and self._owns_http:
            self._http.close()
            self._http = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            import httpx

            t = self.timeouts
            # A loopback server (e.g. `outeai serve`) is reached directly over plain http: no
            # proxy applies, and with no TLS there is no CA bundle to load (~20 ms of start-up).
            direct = _is_loopback_http(self.base_url)
            self._http = httpx.Client(
                timeout=httpx.Timeout(
                    connect=t.connect,
                    read=max(t.first_event, t.idle),
                    write=t.connect,
                    pool=t.connect,
                ),
                trust_env=not direct,
                verify=not direct,
                follow_redirects=False,
                headers={"User-Agent": f"outeai-cli/{_version()}"},
            )
        return self._http

    # -- synthesis -------------------------------------------------------------------------
    def generate(
        self,
        text: str,
        speaker: str | dict[str, str] | Speaker = DEFAULT_SPEAKER,
        temperature: float = DEFAULT_TEMPERATURE,
        *,
        on_event: Callable[[Event], None] | None = None,
    ) -> TTSOutput:
        """Synthesize `text` and return the audio in memory."""
        sink = io.BytesIO()
        final: AudioEvent | None = None
        for event in self.stream(text, speaker, temperature, sink=sink):
            if on_event is not None:
                on_event(event)
            if isinstance(event, AudioEvent):
                final = event
        assert final is not None  # stream() raises unless the final event arrived
        audio = sink.getvalue()
        return TTSOutput(
            audio_bytes=audio,
            duration=final.duration,
            format=final.format,
            sample_rate=_sample_rate(audio),
        )

    def stream(
        self,
        text: str,
        speaker: str | dict[str, str] | Speaker = DEFAULT_SPEAKER,
        temperature: float = DEFAULT_TEMPERATURE,
        *,
        sink: IO[bytes] | None = None,
    ) -> Iterator[Event]:
        """Yield status events as they arrive, then one AudioEvent.

        The audio is decoded into `sink` as it arrives (a seekable binary file, so a retry can
        start it over); without a sink it is collected in memory and set on the AudioEvent.
        A sink that cannot seek (a pipe) gets the audio as it comes, and a failure after any
        of it was written is not retried. Raises a typed OuteAIError on any failure; never
        ends without the AudioEvent.
        """
        validate_text(text)
        temperature = validate_temperature(temperature)
        voice = parse_speaker(speaker)
        token = self.require_token()
        spec = self.dialect.synthesis_request(token, text, voice, temperature)
        in_memory = sink is None
        target: IO[bytes] = io.BytesIO() if sink is None else sink
        pipe = None if target.seekable() else _PipeSink(target)
        if pipe is not None:
            target = pipe  # type: ignore[assignment]
        started_at = time.monotonic()
        attempt = 0
        retries_after_generation = 0
        while True:
            attempt += 1
            try:
                for event in self._attempt(spec, target):
                    if in_memory and isinstance(event, AudioEvent):
                        assert isinstance(target, io.BytesIO)
                        event = AudioEvent(
                            event.size, event.duration, event.format, target.getvalue()
                        )
                    yield event
                return
            except (APIError, TransportError) as exc:
                delay = self._retry_delay(exc, attempt, started_at, retries_after_generation)
                if delay is not None and pipe is not None and pipe.written:
                    exc.hint = (
                        f"{pipe.written} bytes of audio were already written and cannot be "
                        "taken back, so it was not retried"
                    )
                    delay = None
                if delay is None:
                    raise
                if isinstance(exc, TransportError) and exc.after_audio_started:
                    retries_after_generation += 1
                    reason = f"{exc.message}; retrying once (this generation may be billed twice)"
                else:
                    reason = exc.message
                status = exc.status if isinstance(exc, APIError) else None
                yield RetryEvent(attempt=attempt + 1, delay=delay, reason=reason, status=status)
                time.sleep(delay)
                if pipe is None:  # a pipe got nothing yet (else no retry): nothing to undo
                    target.seek(0)
                    target.truncate()

    def _retry_delay(
        self, exc: OuteAIError, attempt: int, started_at: float, after_generation: int
    ) -> float | None:
        policy = self.retry_policy
        if attempt > policy.retries:
            return None
        if isinstance(exc, APIError):
            if not exc.retryable:
                return None
            delay = policy.delay(attempt, exc.retry_after)
        elif isinstance(exc, TransportError):
            if exc.after_audio_started and after_generation >= policy.retries_after_generation:
                return None
            if getattr(exc, "timeout", False):
                return None
            delay = policy.delay(attempt)
        else:
            return None
        if time.monotonic() - started_at + delay > policy.total_time:
            return None
        return delay

    def _attempt(self, spec: RequestSpec, sink: IO[bytes]) -> Iterator[Event]:
        import httpx

        from outeai_cli.watchdog import StreamWatchdog

        pending: list[Event] = []
        parser = self.dialect.parser(sink, pending.append)
        url = f"{self.base_url}/{spec.path}"
        watchdog = StreamWatchdog(self.timeouts.first_event, self.timeouts.idle)
        try:
            with (
                watchdog,
                self.http.stream(
                    spec.method, url, json=spec.json, headers=spec.headers, params=spec.params
                ) as response,
            ):
                if not 200 <= response.status_code < 300:
                    raise self._api_error(response, spec.path)
                if "html" in response.headers.get("content-type", "").lower():
                    raise ProtocolError(
                        "the server (or a proxy) answered with an HTML page, "
                        f"not {self.dialect.response_kind}",
                        hint="check the base URL",
                    )
                watchdog.attach(response)
                for chunk in response.iter_bytes():
                    watchdog.touch()
                    parser.feed(chunk)
                    if pending:
                        yield from pending
                        pending.clear()
                if watchdog.expired:
                    raise httpx.ReadTimeout(f"{watchdog.expired} timeout")
                parser.close()
                yield from pending
        except httpx.TimeoutException as exc:
            raise _timeout_error(exc, self.timeouts, watchdog) from None
        except httpx.TransportError as exc:
            if watchdog.expired:
                raise _timeout_error(exc, self.timeouts, watchdog) from None
            raise _transport_error(exc, parser.audio_started, self.token) from None
        except ProtocolError:
            if watchdog.expired:  # the shut-down socket cut the stream short
                raise _timeout_error(None, self.timeouts, watchdog) from None
            raise

    def _api_error(
        self, response: httpx.Response, path: str = ""
    ) -> APIError | AuthenticationError:
        """The typed error for a non-2xx answer, from its (bounded) body."""
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > _ERROR_BODY_LIMIT:
                break
        message, code = _error_message(body, response.headers.get("content-type", ""))
        status = response.status_code
        message = redact(message, self.token)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 401:
            return AuthenticationError(
                f"the token {mask_token(self.token)} was rejected (HTTP 401: {message})",
                status=status,
                code=code,
                hint="set a valid one with 'outeai config set token' or OUTEAI_TOKEN",
            )
        if status == 404 and path and not _has_message_field(body):
            # Not the API's own 404 (which carries a "message"): the route itself is missing.
            if not self.base_url.endswith("/api/v1"):
                hint = f"the base URL is the API root ending in /api/v1, e.g. {_api_root_example(self.base_url)}"
            else:
                hint = (
                    f"it may not speak the {self.dialect.name} API: try --api auto, "
                    "or another of --api tts|audio|tts-stream"
                )
            return APIError(
                f"HTTP 404: the server has no /{path} endpoint ({message})",
                status=status,
                code=code,
                hint=hint,
            )
        return APIError(
            f"HTTP {status}: {message}",
            status=status,
            code=code,
            retry_after=retry_after,
            hint=_status_hint(status),
        )

    def require_token(self) -> str:
        """The token, or an AuthenticationError saying how to set one (nothing is sent)."""
        if not self.token:
            raise AuthenticationError(
                "no API token",
                hint="run 'outeai config set token' or export OUTEAI_TOKEN=...",
            )
        return self.token

    # -- voices ----------------------------------------------------------------------------
    def voices(self) -> list[dict[str, Any]]:
        """The server's voice list (`GET {base}/voices`). Raises APIError (e.g. 404) otherwise."""
        import httpx

        try:
            response = self.http.get(
                f"{self.base_url}/voices",
                headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
            )
        except httpx.TimeoutException:
            raise _TimeoutError(
                f"timeout: the server did not answer GET /voices within "
                f"{max(self.timeouts.connect, self.timeouts.first_event):g} s"
            ) from None
        except httpx.TransportError as exc:
            raise _transport_error(exc, False, self.token) from None
        if response.status_code != 200:
            raise self._api_error(response)
        try:
            payload = response.json()
            voices = payload["data"]["voices"]
        except (ValueError, KeyError, TypeError):
            raise ProtocolError(
                'the voice list is not shaped {"data": {"voices": [...]}}'
            ) from None
        if not isinstance(voices, list):
            raise ProtocolError("the voice list is not a list")
        return [v if isinstance(v, dict) else {"voice_id": str(v)} for v in voices]


class _PipeSink:
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


def _error_message(body: bytes, content_type: str) -> tuple[str, str | None]:
    import json

    text = body.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        message = obj.get("message") or obj.get("detail") or obj.get("error")
        code = obj.get("code")
        if message:
            return str(message), str(code) if code is not None else None
    if "html" in content_type.lower() or text.lower().startswith(("<!doctype", "<html")):
        return "the server (or a proxy) answered with an HTML page instead of JSON", None
    if not text:
        return "no error message", None
    first_line = text.splitlines()[0][:120]
    return f"non-JSON error body: {first_line!r}", None


def _has_message_field(body: bytes) -> bool:
    import json

    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and "message" in obj


def _status_hint(status: int) -> str:
    """What to do about a refusal or failure, by status (404s get theirs from the caller)."""
    if status in (402, 403):
        return "check your plan and credits on your OuteAI account"
    if status == 413:
        return "shorten the text, or lower --max-chars so long texts are split smaller"
    if status == 429:
        return "wait a moment, or lower -j; --retries waits and retries for you"
    if status >= 500:
        return "the service failed; try again later (--retries retries it for you)"
    return ""


def _api_root_example(base_url: str) -> str:
    """The base URL as it probably should be: its origin followed by /api/v1."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/api/v1"


def _sample_rate(audio: bytes) -> int | None:
    """The rate soundfile reads from the audio's header, or None if it cannot tell."""
    import soundfile as sf

    try:
        return int(sf.info(io.BytesIO(audio)).samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None


class _TimeoutError(TransportError):
    timeout = True


def _timeout_error(
    exc: Exception | None, timeouts: Timeouts, watchdog: StreamWatchdog
) -> TransportError:
    import httpx

    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return _TimeoutError(
            f"connect timeout: no connection within {timeouts.connect:g} s",
            hint="check the network and the base URL, or raise --connect-timeout",
        )
    if isinstance(exc, httpx.WriteTimeout):
        return _TimeoutError(
            f"write timeout: could not send the request within {timeouts.connect:g} s"
        )
    if watchdog.expired == "idle" or (watchdog.expired is None and watchdog.got_bytes):
        return _TimeoutError(
            f"idle timeout: the server sent nothing for {timeouts.idle:g} s mid-response",
            hint="retry, or raise --idle-timeout",
        )
    return _TimeoutError(
        f"first-event timeout: no response within {timeouts.first_event:g} s "
        "(the service may be cold-starting)",
        hint="retry, or raise --timeout",
    )


def _transport_error(
    exc: Exception, after_audio_started: bool, token: str | None
) -> TransportError:
    import httpx

    detail = redact(str(exc) or type(exc).__name__, token)
    if isinstance(exc, httpx.ConnectError):
        return TransportError(
            f"cannot connect: {detail}", hint="check the base URL and that the server is running"
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return TransportError(
            f"the connection broke mid-response ({detail})", after_audio_started=after_audio_started
        )
    return TransportError(f"network error: {detail}", after_audio_started=after_audio_started)


def _is_loopback_http(base_url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return parts.scheme == "http" and is_loopback_host(parts.hostname or "")


def _version() -> str:
    from outeai_cli import __version__

    return __version__

"""The typed client: `TTSClient(token=...).generate(text=..., speaker=..., temperature=...)`."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from outeai_cli.errors import (
    Advice,
    APIError,
    AuthenticationError,
    Fix,
    InputError,
    ProtocolError,
    TimeoutExpired,
    TransportError,
)
from outeai_cli.http.dialects import DEFAULT_DIALECT, get_dialect
from outeai_cli.http.dialects.base import Dialect
from outeai_cli.http.errors import Answer, json_object, transport_error
from outeai_cli.http.events import AudioEvent, Event, RetryEvent
from outeai_cli.http.retry import RetryPolicy
from outeai_cli.http.transport import Endpoint, PipeSink, Timeouts, open_http_client, send
from outeai_cli.security import (
    check_token,
    check_transport,
    check_url_token_transport,
    redact_in_logs,
    register_secret,
)
from outeai_cli.settings.table import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_SPEAKER,
    DEFAULT_TEMPERATURE,
    TOKEN_ENV_VARS,
    check_temperature,
)
from outeai_cli.voices.speakers import Speaker, parse_speaker

if TYPE_CHECKING:
    import httpx

    from outeai_cli.http.dialects.auto import APIChoice
    from outeai_cli.settings.config import Settings

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TEMPERATURE", "TOKEN_ENV_VARS", "TTSClient", "Timeouts"]

_VOICES_BODY_LIMIT = 4 << 20
# The voice list is a quick metadata call: don't wait as long as for a cold synthesis.
VOICES_TIMEOUT = 15.0


class TTSOutput(NamedTuple):
    """The audio of one request, held in memory."""

    audio_bytes: bytes
    duration: float | None
    format: str
    sample_rate: int | None = None

    def save(
        self, path: str | os.PathLike[str], *, format: str | None = None, force: bool = True
    ) -> Path:
        """Write the audio atomically, once it is checked to decode completely; the extension
        (or `format`) picks the output format. The same path as a synthesis sent whole: the
        audio as received is checked, converted if need be (and checked again), then committed."""
        from outeai_cli.audio.formats import format_for_output
        from outeai_cli.output.destination import open_destination
        from outeai_cli.output.received import finish_received

        target = Path(path)
        fmt = format_for_output(target, format)
        with open_destination(
            target, force=force, with_pieces=False, live=False, spool_dir=None
        ) as destination:
            destination.handle.write(self.audio_bytes)
            finish_received(destination, self.format, fmt)
            destination.commit()
        return target


def validate_temperature(value: float) -> float:
    """The temperature, checked by the settings' one range check (text is not a number here)."""
    try:
        if isinstance(value, str):
            raise ValueError("must be a number")
        return check_temperature(value)
    except ValueError as exc:
        raise InputError(
            f"temperature {exc}, got {value!r}",
            advice=(Advice(Fix.SET, "temperature", f"{DEFAULT_TEMPERATURE:g}", "(the default)"),),
        ) from None


def validate_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InputError(
            "the text is empty",
            hint="give the text to speak as an argument or on stdin",
            advice=(Advice(Fix.GIVE, "file", purpose="to read it from a file"),),
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
        retries: int = DEFAULT_RETRIES,
        retry_policy: RetryPolicy | None = None,
        api: str = DEFAULT_DIALECT,
        model: str | None = None,
        allow_insecure_http: bool = False,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if token is None:
            token = next((os.environ[v] for v in TOKEN_ENV_VARS if os.environ.get(v)), None)
        self.token = token
        self._token_checked = False
        register_secret(token)  # masked in every server text and error line from now on
        self.base_url = base_url.rstrip("/")
        check_transport(self.base_url, allow_insecure_http=allow_insecure_http)
        if isinstance(timeout, int | float):
            timeout = Timeouts(
                connect=min(DEFAULT_CONNECT_TIMEOUT, float(timeout)),
                first_event=float(timeout),
                idle=float(timeout),
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
        self._transport = transport  # how requests travel (default: TCP, TLS where https)

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
        from outeai_cli.http.dialects.auto import PROBE_TIMEOUT, APIChoice, detect

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
        cls, settings: Settings, *, retries: int | None = None, need_token: bool = True
    ) -> TTSClient:
        """A client for the effective settings; with `need_token`, the token is checked now.

        `retries` overrides the setting (the voice list is a quick call, never retried). With
        the `offline` setting, the server is the engine on this machine: no token needed.
        """
        timeouts = Timeouts(
            connect=settings.get("connect_timeout"),
            first_event=settings.get("timeout"),
            idle=settings.get("idle_timeout"),
            max_time=settings.get("max_time"),
        )
        token, base_url, transport = settings.get("token"), settings.get("base_url"), None
        if settings.get("offline"):
            from outeai_cli.offline.transport import offline_engine

            token, base_url, transport = offline_engine(settings, timeouts)
        client = cls(
            token,
            base_url=base_url,
            timeout=timeouts,
            retries=settings.get("retries") if retries is None else retries,
            allow_insecure_http=settings.get("allow_insecure_http"),
            api=settings.get("api"),
            model=settings.get("model"),
            transport=transport,
        )
        if need_token:
            client.require_token()
        return client

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
            self._http = open_http_client(self.base_url, self.timeouts, self._transport)
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
        spec = self.dialect.synthesis_request(self.require_token(), text, voice, temperature)
        in_memory = sink is None
        target: IO[bytes] = io.BytesIO() if sink is None else sink
        pipe = None if target.seekable() else PipeSink(target)
        if pipe is not None:
            target = pipe  # type: ignore[assignment]
        started_at = time.monotonic()
        attempt = 0
        retries_after_generation = 0
        while True:
            attempt += 1
            try:
                for event in send(self.http, self.dialect, spec, target, self._where):
                    if in_memory and isinstance(event, AudioEvent):
                        assert isinstance(target, io.BytesIO)
                        event = event._replace(audio_bytes=target.getvalue())
                    yield event
                return
            except (APIError, TransportError) as exc:
                delay = self.retry_policy.delay_after(
                    exc, attempt, started_at, retries_after_generation
                )
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

    @property
    def _where(self) -> Endpoint:
        """What error messages need to know: the server, the dialect, the token to mask."""
        return Endpoint(self.base_url, self.timeouts, self.token, self.dialect.name)

    def require_token(self) -> str:
        """The token, checked once: a missing one is an AuthenticationError saying how to set
        one, an unusable one (control characters, non-ASCII, absurd length) an InputError.
        Nothing is sent either way."""
        if not self.token:
            raise AuthenticationError(
                "no API token",
                advice=(
                    Advice(Fix.GIVE, "token"),
                    Advice(Fix.ENABLE, "offline", purpose="to speak on this machine without one"),
                ),
            )
        if not self._token_checked:
            check_token(self.token)
            self._token_checked = True
        return self.token

    # -- voices ----------------------------------------------------------------------------
    def voices(self) -> list[dict[str, Any]]:
        """The server's voice list (`GET {base}/voices`, authenticated as the dialect does).

        Raises APIError (e.g. 404) otherwise. The entries are as the server sent them: show
        their text only through `untrusted.clean_text`.
        """
        import httpx

        from outeai_cli.http.watchdog import fetch

        spec = self.dialect.voices_request(self.require_token())
        t = self.timeouts
        wait = min(t.first_event, t.max_time, VOICES_TIMEOUT)
        try:
            answer = fetch(
                self.http,
                spec.method,
                f"{self.base_url}/{spec.path}",
                seconds=wait,
                limit=_VOICES_BODY_LIMIT,
                headers=spec.headers,
                params=spec.params,
            )
        except httpx.TimeoutException:
            raise TimeoutExpired(
                f"timeout: the server did not answer GET /{spec.path} within {wait:g} s",
                limit="timeout",
            ) from None
        except httpx.TransportError as exc:
            raise transport_error(exc, False, self.base_url) from None
        if answer.status != 200:
            raise self._where.api_error(Answer(answer.status, answer.headers, answer.body))
        if answer.truncated:
            raise ProtocolError(f"the voice list is over {_VOICES_BODY_LIMIT} bytes")
        obj = json_object(answer.body)
        data = obj.get("data") if obj is not None else None
        voices = data.get("voices") if isinstance(data, dict) else None
        if not isinstance(voices, list):
            raise ProtocolError('the voice list is not shaped {"data": {"voices": [...]}}')
        return [v if isinstance(v, dict) else {"voice_id": str(v)} for v in voices]


def _sample_rate(audio: bytes) -> int | None:
    """The rate soundfile reads from the audio's header, or None if it cannot tell."""
    import soundfile as sf

    try:
        return int(sf.info(io.BytesIO(audio)).samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None

"""One module per API dialect; the client talks to every dialect through `Dialect`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from outeai_cli.events import Event
from outeai_cli.speakers import Speaker


@dataclass(frozen=True, slots=True)
class RequestSpec:
    method: str
    path: str  # relative to the base URL
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


class StreamParser(Protocol):
    """Turns response bytes into events, writing the audio into the sink as it arrives."""

    @property
    def audio_started(self) -> bool: ...

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


class Dialect(Protocol):
    name: str

    def synthesis_request(
        self, token: str, text: str, speaker: Speaker, temperature: float
    ) -> RequestSpec: ...

    def parser(self, sink: IO[bytes], emit: Callable[[Event], None]) -> StreamParser: ...


def get_dialect(name: str) -> Dialect:
    from outeai_cli.dialects.tts import TTSDialect

    dialects: dict[str, Callable[[], Dialect]] = {"tts": TTSDialect}
    try:
        return dialects[name]()
    except KeyError:
        from outeai_cli.errors import InputError

        raise InputError(
            f"unknown API dialect {name!r}", hint=f"use one of: {', '.join(dialects)}"
        ) from None

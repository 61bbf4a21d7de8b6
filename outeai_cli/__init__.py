"""outeai: a typed client, a command line and a local server for the OuteTTS API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outeai_cli.version import __version__

__all__ = [
    "APIError",
    "Advice",
    "AudioEvent",
    "AuthenticationError",
    "Event",
    "Fix",
    "InputError",
    "OuteAIError",
    "OutputError",
    "ProtocolError",
    "Settings",
    "StatusEvent",
    "SynthesisOptions",
    "SynthesisRequest",
    "SynthesisResult",
    "TTSClient",
    "TTSOutput",
    "TimeoutExpired",
    "TransportError",
    "__version__",
    "parse_speaker",
    "synthesize",
]

# The public names load on first use: every `outeai` command imports this package, and the
# light ones (`--help`, `config`, `voices`) must not pay for the client's imports.
_LAZY = {
    "TTSClient": "outeai_cli.http.client",
    "TTSOutput": "outeai_cli.http.client",
    "APIError": "outeai_cli.errors",
    "Advice": "outeai_cli.errors",
    "Fix": "outeai_cli.errors",
    "OutputError": "outeai_cli.errors",
    "TimeoutExpired": "outeai_cli.errors",
    "Settings": "outeai_cli.settings.config",
    "AuthenticationError": "outeai_cli.errors",
    "InputError": "outeai_cli.errors",
    "OuteAIError": "outeai_cli.errors",
    "ProtocolError": "outeai_cli.errors",
    "TransportError": "outeai_cli.errors",
    "AudioEvent": "outeai_cli.http.events",
    "Event": "outeai_cli.http.events",
    "StatusEvent": "outeai_cli.http.events",
    "SynthesisOptions": "outeai_cli.synthesis.synthesize",
    "SynthesisRequest": "outeai_cli.synthesis.synthesize",
    "SynthesisResult": "outeai_cli.synthesis.synthesize",
    "synthesize": "outeai_cli.synthesis.synthesize",
    "parse_speaker": "outeai_cli.voices.speakers",
}

if TYPE_CHECKING:
    from outeai_cli.errors import (
        Advice,
        APIError,
        AuthenticationError,
        Fix,
        InputError,
        OuteAIError,
        OutputError,
        ProtocolError,
        TimeoutExpired,
        TransportError,
    )
    from outeai_cli.http.client import TTSClient, TTSOutput
    from outeai_cli.http.events import AudioEvent, Event, StatusEvent
    from outeai_cli.settings.config import Settings
    from outeai_cli.synthesis.synthesize import (
        SynthesisOptions,
        SynthesisRequest,
        SynthesisResult,
        synthesize,
    )
    from outeai_cli.voices.speakers import parse_speaker


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'outeai_cli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

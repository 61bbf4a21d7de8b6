"""outeai: a typed client, a command line and a local server for the OuteTTS API."""

from outeai_cli.client import TTSClient, TTSOutput
from outeai_cli.errors import (
    APIError,
    AuthenticationError,
    InputError,
    OuteAIError,
    ProtocolError,
    TransportError,
)
from outeai_cli.events import AudioEvent, Event, StatusEvent

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AudioEvent",
    "AuthenticationError",
    "Event",
    "InputError",
    "OuteAIError",
    "ProtocolError",
    "StatusEvent",
    "TTSClient",
    "TTSOutput",
    "TransportError",
    "__version__",
]

"""Notices a run gives rise to before any audio: values, worded by whoever shows them.

Which API `--api auto` found, and a setting the API in use has no field for (the temperature,
the model). The library never words them for a terminal: it does not know which flag or file
a value came from; the CLI does (`cli/progress.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient
    from outeai_cli.http.dialects.auto import APIChoice


class APIFound(NamedTuple):
    """`--api auto` picked a dialect: probed just now, or remembered from an earlier probe."""

    choice: APIChoice
    base_url: str

    def describe(self) -> str:
        return self.choice.describe(self.base_url)


class SettingIgnored(NamedTuple):
    """The API in use has no such setting: the value given is not sent."""

    api: str
    setting: str  # "temperature" or "model"
    value: float | str


Notice = APIFound | SettingIgnored


def api_found(client: TTSClient) -> tuple[Notice, ...]:
    """Resolve the client's API (one probe for "auto", then remembered) and say how, unless
    it was chosen."""
    choice = client.resolve_api()
    return () if choice.how == "chosen" else (APIFound(choice, client.base_url),)


def ignored_settings(client: TTSClient, temperature: float) -> tuple[Notice, ...]:
    """What of a request the client's API leaves out: a temperature other than the default,
    a model."""
    from outeai_cli.settings.table import DEFAULT_TEMPERATURE

    dialect = client.dialect
    notices: list[Notice] = []
    if not dialect.uses_temperature and temperature != DEFAULT_TEMPERATURE:
        notices.append(SettingIgnored(dialect.name, "temperature", temperature))
    if client.model and dialect.default_model is None:
        notices.append(SettingIgnored(dialect.name, "model", client.model))
    return tuple(notices)

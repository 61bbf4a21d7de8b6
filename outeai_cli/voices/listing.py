"""Voice listings for users: the catalogue, registered custom voices, the server's list.

Also the suggestions `say` prints when the API does not know a name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from outeai_cli.voices.catalogue import BUILTIN_VOICES, all_names, find_voice

if TYPE_CHECKING:
    from outeai_cli.errors import OuteAIError
    from outeai_cli.settings.config import Settings


def close_names(name: str, custom_names: Iterable[str] = ()) -> list[str]:
    """Up to three known voice names (built-in or custom) closest to `name`, best first."""
    known = [k for k in [*all_names(), *custom_names] if k.upper() != name.upper()]
    close = difflib.get_close_matches(name.upper(), [k.upper() for k in known], n=3, cutoff=0.5)
    by_upper = {k.upper(): k for k in known}
    return [by_upper[c] for c in close]


class VoiceEntry(NamedTuple):
    """One row of `outeai voices`."""

    name: str
    kind: str  # "default" (built-in) or "custom"; a server may name other kinds
    language: str | None = None
    gender: str | None = None
    description: str = ""
    alias_of: str | None = None
    source: str = "catalogue"  # "catalogue", "config" (registered here) or "server"
    # Who speaks it on the server asked ("piper en_US-joe-medium (en_US, male)"), when it says.
    spoken_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "language": self.language,
            "gender": self.gender,
            "description": self.description,
            "alias_of": self.alias_of,
            "source": self.source,
            "spoken_by": self.spoken_by,
        }


def catalogue_entries() -> list[VoiceEntry]:
    """The built-in voices, each followed by a row per alias."""
    entries: list[VoiceEntry] = []
    for voice in BUILTIN_VOICES:
        entries.append(
            VoiceEntry(voice.name, "default", voice.language, voice.gender, voice.description)
        )
        entries.extend(
            VoiceEntry(
                alias,
                "default",
                voice.language,
                voice.gender,
                f"alias of {voice.name}",
                alias_of=voice.name,
            )
            for alias in voice.aliases
        )
    return entries


def custom_entries(custom: Mapping[str, str]) -> list[VoiceEntry]:
    """The voices the user registered with `outeai voices add` (the config file is editable
    by hand: its text is made safe to show like a server's)."""
    from outeai_cli.untrusted import clean_text

    return [
        VoiceEntry(clean_text(name), "custom", description=clean_text(text), source="config")
        for name, text in sorted(custom.items())
    ]


def _text(item: Mapping[str, Any], *keys: str) -> str | None:
    """The first of `keys` holding text, made safe to show (it comes from the server)."""
    from outeai_cli.untrusted import clean_text

    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return clean_text(value, limit=200).strip() or None
    return None


def _speaker(item: Mapping[str, Any]) -> str | None:
    """Who speaks a voice on this server, from its `engine`, `model`, `model_language` and
    `model_gender` (as `outeai serve` reports them), or None if the server does not say."""
    speaker = " ".join(x for x in (_text(item, "engine"), _text(item, "model")) if x)
    details = ", ".join(
        x for x in (_text(item, "model_language"), _text(item, "model_gender")) if x
    )
    if speaker and details:
        speaker += f" ({details})"
    return speaker or None


def _spoken_here(description: str, spoken_by: str | None) -> str:
    """The description, saying who speaks the voice here unless it says so already."""
    if spoken_by is None or spoken_by in description:
        return description
    return (
        f"{description}; spoken here by {spoken_by}"
        if description
        else f"spoken here by {spoken_by}"
    )


def server_entries(raw: Sequence[Mapping[str, Any]]) -> list[VoiceEntry]:
    """The server's list as rows; what it leaves out is filled from the catalogue.

    Servers differ in field names (`name`/`voice_id`/`id`, `kind`/`type`/`speaker_type`); a
    voice whose kind the server does not give is listed as "default".
    """
    entries: list[VoiceEntry] = []
    for item in raw:
        name = _text(item, "name", "voice_id", "id")
        if name is None:
            continue
        known = find_voice(name)
        kind = (_text(item, "kind", "type", "speaker_type") or "default").lower()
        language = _text(item, "language", "lang") or (known.language if known else None)
        gender = _text(item, "gender") or (known.gender if known else None)
        description = _text(item, "description") or (known.description if known else "")
        spoken_by = _speaker(item)
        description = _spoken_here(description, spoken_by)
        entries.append(
            VoiceEntry(
                name, kind, language, gender, description, source="server", spoken_by=spoken_by
            )
        )
        aliases = item.get("aliases")
        for alias in aliases if isinstance(aliases, list) else []:
            alias_name = _text({"alias": alias}, "alias")
            if alias_name is not None:
                entries.append(
                    VoiceEntry(
                        alias_name,
                        kind,
                        language,
                        gender,
                        f"alias of {name}",
                        alias_of=name,
                        source="server",
                        spoken_by=spoken_by,
                    )
                )
    return entries


def merge(local: Sequence[VoiceEntry], server: Sequence[VoiceEntry]) -> list[VoiceEntry]:
    """Local rows first, then the server's voices that no local row names (case-insensitive).

    Where the server says who speaks a voice, its word wins: the catalogue describes the hosted
    service's speaker, and a local server may speak the same name with any model.
    """
    speakers = {entry.name.upper(): entry.spoken_by for entry in server if entry.spoken_by}
    merged = [_with_speaker(entry, speakers.get(entry.name.upper())) for entry in local]
    seen = {entry.name.upper() for entry in local}
    for entry in server:
        if entry.name.upper() not in seen:
            seen.add(entry.name.upper())
            merged.append(entry)
    return merged


def _with_speaker(entry: VoiceEntry, spoken_by: str | None) -> VoiceEntry:
    if spoken_by is None:
        return entry
    # An alias row keeps pointing at its voice; the voice's own row says who speaks it.
    description = (
        entry.description if entry.alias_of else _spoken_here(entry.description, spoken_by)
    )
    return entry._replace(description=description, spoken_by=spoken_by)


def filter_entries(
    entries: Iterable[VoiceEntry], *, kind: str | None = None, language: str | None = None
) -> list[VoiceEntry]:
    """Keep one kind and/or one language (`en` also matches `en-gb`)."""
    wanted = language.strip().lower() if language else None
    kept: list[VoiceEntry] = []
    for entry in entries:
        if kind and entry.kind != kind:
            continue
        if wanted:
            have = (entry.language or "").lower()
            if have != wanted and not have.startswith(f"{wanted}-"):
                continue
        kept.append(entry)
    return kept


class ServerList(NamedTuple):
    """The server's voices, or why there are none: a note (expected) or a warning (failure)."""

    entries: list[VoiceEntry] | None = None
    note: str | None = None
    warning: OuteAIError | None = None  # why the list is missing; the caller words it


def fetch_server_list(settings: Settings, *, required: bool) -> ServerList:
    """Ask `GET {base}/voices` for the server's list.

    When `required`, every failure is raised (no token, 404, connection, 401...). Otherwise
    a 404 (a server without the endpoint) gives nothing quietly, a missing token gives a note
    and any other failure a one-line warning: the local lists are still worth showing.
    """
    from outeai_cli.errors import APIError, OuteAIError
    from outeai_cli.http.client import TTSClient

    if not settings.get("token") and not settings.get("offline") and not required:
        return ServerList(note="no token configured, so the server's own list is not shown")
    try:
        with TTSClient.from_settings(settings, retries=0) as client:
            return ServerList(server_entries(client.voices()))
    except OuteAIError as exc:
        if required:
            raise
        if isinstance(exc, APIError) and exc.status == 404:
            return ServerList()
        return ServerList(warning=exc)


def list_voices(
    settings: Settings,
    *,
    mode: str = "auto",
    kind: str | None = None,
    language: str | None = None,
) -> tuple[list[VoiceEntry], ServerList]:
    """The rows of `outeai voices`.

    mode "local": catalogue + registered custom voices, no network (httpx is not imported);
    "remote": only the server's list, any failure raised; "auto": both, merged.
    """
    local = [*catalogue_entries(), *custom_entries(settings.custom_voices())]
    if mode == "local":
        return filter_entries(local, kind=kind, language=language), ServerList()
    server = fetch_server_list(settings, required=mode == "remote")
    rows = server.entries or []
    if mode == "auto":
        rows = merge(local, rows)
    return filter_entries(rows, kind=kind, language=language), server

"""The built-in voice catalogue, shared by `outeai voices` and `outeai serve`."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from outeai_cli.voices.speakers import Speaker


class Voice(NamedTuple):
    name: str
    language: str
    gender: str
    description: str
    aliases: tuple[str, ...] = ()
    espeak_voice: str = "en-us"


BUILTIN_VOICES: tuple[Voice, ...] = (
    Voice(
        "EN-FEMALE-1-NEUTRAL",
        "en",
        "female",
        "Neutral American English female voice (the service's default)",
        aliases=("EN-FEMALE-1-NEURAL",),
        espeak_voice="en-us+f3",
    ),
    Voice(
        "EN-FEMALE-2-NEUTRAL",
        "en",
        "female",
        "Calm British English female voice",
        espeak_voice="en-GB-x-rp+f2",
    ),
    Voice(
        "EN-MALE-1-NEUTRAL",
        "en",
        "male",
        "Neutral American English male voice",
        espeak_voice="en-us+m3",
    ),
    Voice(
        "EN-MALE-2-NEUTRAL",
        "en",
        "male",
        "Warm British English male voice",
        espeak_voice="en-GB-x-rp+m1",
    ),
    Voice(
        "DE-FEMALE-1-NEUTRAL", "de", "female", "Neutral German female voice", espeak_voice="de+f3"
    ),
    Voice("FR-MALE-1-NEUTRAL", "fr", "male", "Neutral French male voice", espeak_voice="fr+m3"),
    Voice(
        "ES-FEMALE-1-NEUTRAL", "es", "female", "Neutral Spanish female voice", espeak_voice="es+f3"
    ),
    Voice(
        "JA-FEMALE-1-NEUTRAL", "ja", "female", "Neutral Japanese female voice", espeak_voice="ja"
    ),
)


def find_voice(name: str) -> Voice | None:
    """The built-in voice with this name or alias (case-insensitive), if any."""
    wanted = name.strip().upper()
    for voice in BUILTIN_VOICES:
        if wanted == voice.name or wanted in voice.aliases:
            return voice
    return None


def all_names() -> list[str]:
    names: list[str] = []
    for voice in BUILTIN_VOICES:
        names.append(voice.name)
        names.extend(voice.aliases)
    return names


def language_of(speaker: Speaker) -> str:
    """The language a built-in voice speaks (for sentence rules); English otherwise."""
    if speaker.kind == "default":
        voice = find_voice(speaker.name)
        if voice is not None:
            return voice.language
    return "en"

"""Speaker references: `{"default": NAME}`, `{"custom": NAME}`, or a string form."""

from __future__ import annotations

from typing import Literal, NamedTuple

from outeai_cli.errors import InputError

SpeakerKind = Literal["default", "custom"]


class Speaker(NamedTuple):
    kind: SpeakerKind
    name: str

    def as_json(self) -> dict[str, str]:
        return {self.kind: self.name}

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def parse_speaker(
    value: str | dict[str, str] | Speaker, custom_names: frozenset[str] = frozenset()
) -> Speaker:
    """Accept a Speaker, a one-key dict, `custom:NAME`, `default:NAME`, or a bare name.

    A bare name is custom when the user registered it (custom_names), else a default voice.
    """
    if isinstance(value, Speaker):
        return value
    if isinstance(value, dict):
        if len(value) != 1:
            raise InputError(
                'a speaker must have exactly one key, "default" or "custom"',
                hint='e.g. {"default": "EN-FEMALE-1-NEUTRAL"}',
            )
        ((kind, name),) = value.items()
        if kind not in ("default", "custom") or not isinstance(name, str) or not name.strip():
            raise InputError(
                f"invalid speaker {value!r}", hint='use {"default": NAME} or {"custom": NAME}'
            )
        return Speaker(kind, name)  # type: ignore[arg-type]
    text = value.strip()
    if not text:
        raise InputError("the speaker name is empty", hint="run 'outeai voices' to see the names")
    prefix, sep, rest = text.partition(":")
    if sep and prefix in ("default", "custom"):
        if not rest.strip():
            raise InputError(f"the speaker {text!r} has no name after '{prefix}:'")
        return Speaker(prefix, rest.strip())  # type: ignore[arg-type]
    return Speaker("custom" if text in custom_names else "default", text)

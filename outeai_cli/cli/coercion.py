"""Convert plain option values (text, numbers, flags, paths, choices) without pydantic.

Typer 0.29 checks every non-boolean parameter through a pydantic TypeAdapter built on first
use; importing pydantic and building the adapters costs about a quarter of a one-sentence
`outeai say`. Our parameters are plain values, converted here with the same checks (range,
choices) and a wording of our own. A parameter of any other kind keeps Typer's coercion, and if
a future Typer drops the hook used below, everything still works, only slower (a test that
watches the imports of a quiet `say` says so).
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import typer

_PLAIN = (str, int, float, bool, Path)
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


class PlainValue:
    """Typer's runtime-coercion role for one parameter whose type is plain."""

    def __init__(self, annotation: type, info: Any, *, many: bool = False) -> None:
        self.annotation = annotation
        self.many = many  # a list of them (an argument taking any number of words)
        self.low = info.min
        self.high = info.max
        self.case_sensitive = bool(getattr(info, "case_sensitive", True))

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if self.many else None
        try:
            if self.many:
                return [self._convert(item) for item in value]
            return self._convert(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), ctx=ctx, param=param) from None

    def _convert(self, value: Any) -> Any:
        kind = self.annotation
        if isinstance(value, kind) and not issubclass(kind, (int, float, Enum)):
            return value
        text = str(value)
        if issubclass(kind, Enum):
            return self._choice(text)
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(f"'{text}' is not a yes/no value (use true or false)")
        if kind is int:
            try:
                number: float = int(text.strip())
            except ValueError:
                raise ValueError(f"'{text}' is not a whole number") from None
        elif kind is float:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"'{text}' is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"'{text}' is not a finite number")
        else:
            return text if kind is str else Path(text)
        self._check_range(number, text)
        return number

    def _choice(self, text: str) -> Enum:
        members: list[Enum] = list(self.annotation)  # type: ignore[call-overload]
        for member in members:
            if member.value == text or (
                not self.case_sensitive and str(member.value).lower() == text.lower()
            ):
                return member
        allowed = ", ".join(f"'{m.value}'" for m in members)
        raise ValueError(f"'{text}' is not one of {allowed}")

    def _check_range(self, number: float, text: str) -> None:
        if self.low is not None and number < self.low:
            raise ValueError(f"{text} is below the minimum, {self.low}")
        if self.high is not None and number > self.high:
            raise ValueError(f"{text} is above the maximum, {self.high}")


def _plain_annotation(param: Any) -> tuple[type, bool] | None:
    """The plain type of the parameter's values, and whether it takes a list of them."""
    descriptor = param.type_descriptor
    annotation = descriptor.annotation
    info = descriptor.parameter_info
    many = get_origin(annotation) is list and len(get_args(annotation)) == 1
    if many:
        annotation = get_args(annotation)[0]
    if not isinstance(annotation, type) or descriptor.file_annotation is not None:
        return None
    if not (issubclass(annotation, _PLAIN) or issubclass(annotation, Enum)):
        return None
    custom = ("parser", "click_type", "clamp", "exists", "resolve_path")
    if any(getattr(info, name, None) for name in custom):
        return None
    if annotation is Path and (
        getattr(info, "file_okay", True) is False
        or getattr(info, "dir_okay", True) is False
        or getattr(info, "writable", False)
    ):
        return None
    return annotation, many


def use_plain_values() -> None:
    """Make Typer convert plain parameters here, before it reaches for pydantic.

    Typer builds a parameter's converter on first use (`get_runtime_param`); this puts ours
    in place at that moment for every plain parameter, the help and completion options too.
    """
    from typer.core import _TyperParameter

    typer_builds = getattr(_TyperParameter, "get_runtime_param", None)
    if typer_builds is None or getattr(typer_builds, "plain_values", False):
        return

    def get_runtime_param(param: Any) -> Any:
        if getattr(param, "_runtime_param", None) is None:
            plain = _plain_annotation(param)
            if plain is not None:
                info = param.type_descriptor.parameter_info
                param._runtime_param = PlainValue(plain[0], info, many=plain[1])
        return typer_builds(param)

    get_runtime_param.plain_values = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign,assignment]

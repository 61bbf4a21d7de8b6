"""Lines that fit the terminal, broken between words only.

A shell command (a help example, the server banner's `try:` line) is broken between its words,
never inside quotes, each line but the last ending with ` \\`: it still pastes as one command.
An example's trailing `# comment` that does not fit beside it goes on the line above. An item
(`  voices A, B: piper en_US-joe-medium`) wraps with its continuation lines indented deeper
than itself, so that they do not read as items of their own.
"""

from __future__ import annotations

import re
import textwrap

_WORD = re.compile(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""")  # a shell word, quotes kept whole
_COMMENT = re.compile(r"\s{2,}#\s")
_CONTINUED = " \\"


def command_lines(command: str, width: int, *, indent: str = "") -> list[str]:
    """`indent` + `command` as lines of at most `width` (a word longer than that stays whole);
    continuation lines are indented two columns past `indent`'s leading blanks."""
    if len(indent) + len(command) <= width:
        return [indent + command]
    more = indent[: len(indent) - len(indent.lstrip())] + "  "
    lines: list[str] = []
    prefix, current = indent, ""
    for word in _option_groups(_WORD.findall(command)):
        if current and len(prefix) + len(current) + 1 + len(word) + len(_CONTINUED) > width:
            lines.append(prefix + current + _CONTINUED)
            prefix, current = more, word
        else:
            current = f"{current} {word}" if current else word
    lines.append(prefix + current)
    return lines


def _option_groups(words: list[str]) -> list[str]:
    """An option and its value kept on one line (`-o chapter.flac`), as a reader takes them."""
    groups: list[str] = []
    for word in words:
        if groups and groups[-1].startswith("-") and " " not in groups[-1] and word[0] != "-":
            groups[-1] += f" {word}"
        else:
            groups.append(word)
    return groups


def example_lines(line: str, width: int) -> list[str]:
    """A help example (`  command   # comment`) fitted to `width`."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    command, *rest = _COMMENT.split(line.strip(), maxsplit=1)
    comment = rest[0] if rest else ""
    if comment and len(f"{indent}{command}  # {comment}") <= width:
        return [f"{indent}{command}  # {comment}"]
    above = textwrap.wrap(
        comment, width, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
    )
    return above + command_lines(command, width, indent=indent)


def hanging_lines(text: str, width: int, *, more: str = "  ") -> list[str]:
    """Prose as lines of at most `width`, broken between words (never at a hyphen: names like
    `en_US-joe-medium` stay whole), continuation lines indented by `more` past the first."""
    indent = text[: len(text) - len(text.lstrip())]
    return textwrap.wrap(
        text.strip(),
        width,
        initial_indent=indent,
        subsequent_indent=indent + more,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [text]

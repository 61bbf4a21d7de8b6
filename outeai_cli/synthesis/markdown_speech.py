"""Markdown read aloud, fragment by fragment: what an LLM streams, spoken as a person reads it.

Emphasis, strikethrough, inline code, link and image markup go and their text is spoken;
heading, list and quote markers go, and a heading, list item or paragraph ends a sentence;
a fenced code block or a table is replaced by one short phrase; HTML tags, link targets and
footnote marks are dropped; escapes and entities become their characters.

It is a small state machine, not a parser of whole documents, so it can be fed any
fragmentation (a streamed answer arrives a few characters at a time): whatever could still
turn out to be markup (a `*` run, a `]` that a `(` may follow, the start of a line) is held
until the next character decides it, and never more than a short bounded run. Stripping each
fragment separately cannot do this: a `**` split across two fragments is read aloud.

Left out on purpose: indented code blocks (LLMs fence their code, and indentation is how
they nest lists) and tables without a leading `|` (they would be spoken before the row that
shows they are tables).
"""

from __future__ import annotations

import html
import re

CODE_PHRASE = "Code block skipped."
TABLE_PHRASE = "Table skipped."
PARAGRAPH = "\n\n"  # what ends a sentence for the splitter without adding words

_INLINE_SPECIAL = re.compile(r"[*_~`\[\]!<&\\\n]")
_TAG = re.compile(r"/?[A-Za-z][A-Za-z0-9:-]*(\s[^<>]*)?/?")
_AUTOLINK = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s<>@]+@[^\s<>@]+")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LONGEST_HELD = 256  # characters of a possible tag, autolink or entity held before giving up
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


class MarkdownSpeech:
    """Feed Markdown in fragments; get back the text to speak (see the module docstring)."""

    def __init__(self) -> None:
        self._out: list[str] = []
        self._line: str | None = ""  # the start of the current line, while its kind is unknown
        self._ends_sentence = False  # the current line is a heading or a list item
        self._after_marker = False  # the line start being classified follows a list marker
        self._fence: str | None = None  # inside a fenced code block opened by this fence
        self._table = False
        self._skip_line = False  # the rest of the line is not spoken (code, a table row)
        self._hold = ""  # inline characters waiting for the next one to decide them
        self._code = 0  # inside an inline code span opened by this many backticks
        self._skip_to = ""  # dropping characters up to this one (a link target, a label)
        self._depth = 0  # parentheses open inside a link target
        self._brackets = 0  # link texts open
        self._prev = "\n"  # the last character of the source before `_hold`

    def feed(self, text: str) -> str:
        index = 0
        while index < len(text):
            index = self._step(text, index)
        out, self._out = "".join(self._out), []
        return out

    def close(self) -> str:
        """The end of the input: whatever is held is spoken as written."""
        if self._line is not None and self._line.strip() and self._fence is None:
            self._classify(self._line, complete=True)
        self._end_inline()
        out, self._out = "".join(self._out), []
        return out

    # -- lines ---------------------------------------------------------------------------------------

    def _step(self, text: str, index: int) -> int:
        """Consume text from `index`; returns where it stopped."""
        char = text[index]
        if self._line is not None:  # the start of a line, held until its kind is known
            if char == "\n":
                self._classify(self._line, complete=True)
                self._end_line()
                return index + 1
            self._line += char
            if self._classify(self._line, complete=False) and len(self._line) > 64:
                self._classify(self._line, complete=True)  # never hold a line start for long
            return index + 1
        if char == "\n":
            self._end_line()
            return index + 1
        if self._skip_line:
            end = text.find("\n", index)
            return len(text) if end < 0 else end
        if not self._hold and not self._code and not self._skip_to:
            match = _INLINE_SPECIAL.search(text, index)
            end = match.start() if match else len(text)
            if end > index:  # plain text up to the next character that may be markup
                self._out.append(text[index:end])
                self._prev = text[end - 1]
                return end
        self._inline(char)
        return index + 1

    def _classify(self, line: str, *, complete: bool) -> bool:
        """Decide what the line starting with `line` is; True while it cannot be told yet."""
        body = line.lstrip(" \t")
        if self._fence is not None:
            return self._in_fence(body, complete=complete)
        if self._table and body.startswith("|"):
            self._start_line(skip=True)
            return False
        self._table = False
        if not body:
            if complete:
                self._line = ""
                self._out.append(PARAGRAPH)
            return not complete
        marker = re.match(r"(?:>[ ]?)+", body)  # a quote: its markers go, the rest is a line
        if marker:
            return self._classify(body[marker.end() :], complete=complete)
        head = body[0]
        if self._after_marker and head == "[":  # a task list's box: not spoken
            if re.fullmatch(r"\[([ xX]\]?)?", body) and not complete:
                return True
            if re.match(r"\[[ xX]\]", body):
                self._start_line()
                return self._rest(body[3:].lstrip(" \t"))
        if head in "`~":
            run = len(body) - len(body.lstrip(head))
            if run == len(body) and not complete:
                return True
            if run >= 3:
                self._fence = head * run
                self._say(CODE_PHRASE)
                self._start_line(skip=True)
                return False
        elif head == "|":
            self._table = True
            self._say(TABLE_PHRASE)
            self._start_line(skip=True)
            return False
        elif head == "#":
            run = len(body) - len(body.lstrip("#"))
            if run == len(body) and not complete:
                return True
            if run <= 6 and (run == len(body) or body[run] in " \t"):
                self._start_line(ends_sentence=True)
                return self._rest(body[run:].lstrip(" \t"))
        elif head in "-*_=+":
            if re.fullmatch(rf"(\{head}[ \t]*)+", body):  # a rule, an underline, or not yet known
                if not complete:
                    return True
                if len(body.replace(" ", "").replace("\t", "")) >= 3 or head == "=":
                    self._line = ""
                    self._out.append(PARAGRAPH)
                    return False
            elif head in "-*+" and body[1:2] in (" ", "\t"):
                return self._item(body[2:].lstrip(" \t"), complete=complete)
        elif head.isdigit():
            number = re.match(r"[0-9]{1,9}([.)]([ \t]|$))?", body)
            assert number is not None
            if number.end() == len(body) and not complete:
                return True
            if number.group(1):
                return self._item(body[number.end() :].lstrip(" \t"), complete=complete)
        self._start_line()
        return self._rest(body)

    def _rest(self, text: str) -> bool:
        """The rest of a classified line start is ordinary inline text."""
        index = 0
        while index < len(text):
            index = self._step(text, index)
        return False

    def _item(self, text: str, *, complete: bool) -> bool:
        """After a list marker the line starts again (a task box, a nested marker may come)."""
        self._line = ""
        self._ends_sentence = self._after_marker = True
        if not text:
            return False
        self._line = text
        return self._classify(text, complete=complete)

    def _in_fence(self, body: str, *, complete: bool) -> bool:
        fence = self._fence
        assert fence is not None
        stripped = body.rstrip(" \t")
        only_fence = not stripped.strip(fence[0])
        if complete:
            if only_fence and len(stripped) >= len(fence):
                self._fence = None
                self._line = ""
                return False
            self._start_line(skip=True)
            return False
        if only_fence:
            return True  # may be the closing fence: wait for its end of line
        self._start_line(skip=True)
        return False

    def _start_line(self, *, ends_sentence: bool = False, skip: bool = False) -> None:
        self._line = None
        self._ends_sentence = self._ends_sentence or ends_sentence
        self._after_marker = False
        self._skip_line = skip

    def _end_line(self) -> None:
        self._end_inline()
        if self._line is None and not self._skip_line:
            self._out.append(PARAGRAPH if self._ends_sentence else "\n")
        elif self._line is not None and self._ends_sentence:  # a bare list marker
            self._out.append(PARAGRAPH)
        self._line = ""
        self._skip_line = False
        self._ends_sentence = self._after_marker = False
        self._prev = "\n"

    def _say(self, phrase: str) -> None:
        self._out.append(f"{PARAGRAPH}{phrase}{PARAGRAPH}")

    # -- inline markup -------------------------------------------------------------------------------

    def _inline(self, char: str) -> None:
        if self._skip_to:
            self._skip(char)
            return
        if self._code:
            self._in_code(char)
            return
        if self._hold:
            held = self._hold
            if self._decide(held, char):
                return
        self._start(char)

    def _start(self, char: str) -> None:
        if char in "*_~`[]!<&\\":
            self._hold = char
            return
        self._out.append(char)
        self._prev = char

    def _decide(self, held: str, char: str) -> bool:
        """`char` follows the held characters: settle them. True if `char` was consumed."""
        head = held[0]
        if head in "*_~`" and char == head:
            self._hold += char
            return True
        self._hold = ""
        if head in "*_":
            if not _is_emphasis(held, self._prev, char):
                self._out.append(held)
            self._prev = held[-1]
            return False
        if head == "~":
            if len(held) == 1:
                self._out.append(held)
                self._prev = "~"
            return False
        if head == "`":
            self._code = len(held)
            self._in_code(char)
            return True
        if head == "\\":
            self._out.append(char if char in _PUNCTUATION else held + char)
            self._prev = char
            return True
        if head == "!":
            if char != "[":
                self._out.append("!")
                self._prev = "!"
            return False
        if head == "[":
            if char == "^":  # a footnote mark: not spoken
                self._skip_to = "]"
                return True
            self._brackets += 1
            return False
        if head == "]":
            if char == "(" and self._brackets:
                self._brackets -= 1
                self._skip_to, self._depth = ")", 0
                return True
            if char == "[" and self._brackets:
                self._brackets -= 1
                self._skip_to = "]"
                return True
            if self._brackets:
                self._brackets -= 1
            else:
                self._out.append("]")
            return False
        return self._decide_run(held, char)

    def _decide_run(self, held: str, char: str) -> bool:
        """`<...>` or `&...;`, held until they close or prove to be text."""
        closer = ">" if held[0] == "<" else ";"
        if char == closer:
            whole = held + char
            if closer == ">":
                inner = held[1:]
                if _AUTOLINK.fullmatch(inner):
                    self._out.append(inner)
                elif not _TAG.fullmatch(inner):
                    self._out.append(whole)
            else:
                self._out.append(html.unescape(whole) if _ENTITY.fullmatch(whole) else whole)
            self._prev = char
            return True
        if closer == ">":  # a tag or an autolink starts with a letter (or "/")
            plausible = (char.isalpha() or char == "/") if len(held) == 1 else char not in "<\n"
            plausible = plausible and len(held) < _LONGEST_HELD
        else:
            plausible = (char.isalnum() or char == "#") and len(held) < 34
        if plausible:
            self._hold = held + char
            return True
        self._out.append(held)
        self._prev = held[-1]
        return False

    def _in_code(self, char: str) -> None:
        if char == "`":
            self._hold += char
            return
        if self._hold:
            ticks, self._hold = self._hold, ""
            if len(ticks) == self._code:
                self._code = 0
                self._prev = "`"
                self._start(char)
                return
            self._out.append(ticks)
        self._out.append(char)

    def _skip(self, char: str) -> None:
        if self._skip_to == ")":
            if char == "(":
                self._depth += 1
                return
            if char == ")" and self._depth:
                self._depth -= 1
                return
        if char == self._skip_to:
            self._skip_to = ""
            self._prev = char

    def _end_inline(self) -> None:
        """A line ended: what is held is text after all; open spans end with it."""
        held, self._hold = self._hold, ""
        if not held:
            pass
        elif self._code or held[0] in "<&!\\" or held == "~":
            self._out.append(held)
        elif held[0] in "*_":
            if not _is_emphasis(held, self._prev, "\n"):
                self._out.append(held)
        elif held == "]" and not self._brackets:
            self._out.append(held)
        self._code = 0
        self._skip_to = ""
        self._brackets = 0


def _is_emphasis(run: str, before: str, after: str) -> bool:
    """Whether a run of `*` or `_` between `before` and `after` opens or closes emphasis
    (CommonMark's flanking rules; an `_` inside a word, as in snake_case, is a letter)."""
    left = not after.isspace() and (
        after not in _PUNCTUATION or before.isspace() or before in _PUNCTUATION
    )
    right = not before.isspace() and (
        before not in _PUNCTUATION or after.isspace() or after in _PUNCTUATION
    )
    if run[0] == "_" and left and right:
        return before in _PUNCTUATION or after in _PUNCTUATION
    return left or right

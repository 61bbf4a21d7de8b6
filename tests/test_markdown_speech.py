"""Markdown read aloud as it streams: the same words whatever the fragments."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outeai_cli.synthesis.markdown_speech import CODE_PHRASE, TABLE_PHRASE, MarkdownSpeech


def spoken(markdown: str) -> str:
    """What is spoken, whitespace collapsed (line and paragraph ends shown as | )."""
    speech = MarkdownSpeech()
    text = speech.feed(markdown) + speech.close()
    text = re.sub(r"\s*\n\s*\n\s*", " | ", text)
    return re.sub(r"[ \t\n]+", " ", text).strip(" |")


def in_fragments(markdown: str, seed: int, longest: int = 6) -> str:
    chooser = random.Random(seed)
    speech = MarkdownSpeech()
    out, index = [], 0
    while index < len(markdown):
        size = chooser.randint(1, longest)
        out.append(speech.feed(markdown[index : index + size]))
        index += size
    return "".join(out) + speech.close()


@pytest.mark.parametrize(
    ("markdown", "words"),
    [
        (
            "Some **bold**, *italic*, __strong__ and _em_ text.",
            "Some bold, italic, strong and em text.",
        ),
        ("A ~~struck~~ word, about ~5 minutes.", "A struck word, about ~5 minutes."),
        ("Run `ls -l *.txt` now.", "Run ls -l *.txt now."),
        ("Use ``a ` tick`` here.", "Use a ` tick here."),
        ("See [the docs](https://x.org/a_(b)) today.", "See the docs today."),
        ("A ![diagram](img.png) and [ref][1] link.", "A diagram and ref link."),
        ("Cited.[^1] Next.", "Cited. Next."),
        # An `_` inside a word is a letter; a `*` between spaces is text; one touching a word
        # may open emphasis, and is not worth reading aloud either way.
        ("snake_case_name and 2 * 3 and a*b.", "snake_case_name and 2 * 3 and ab."),
        ("Escaped \\*stars\\* and \\_under\\_.", "Escaped *stars* and _under_."),
        ("AT&T &amp; co &copy; <br/> <https://x.org> <b>b</b>", "AT&T & co © https://x.org b"),
        ("x < y and a <= b", "x < y and a <= b"),
        ("Wow! Really?", "Wow! Really?"),
    ],
)
def test_inline_markup_is_spoken_as_text(markdown: str, words: str) -> None:
    assert spoken(markdown) == words


@pytest.mark.parametrize(
    ("markdown", "words"),
    [
        ("# Title\nBody text.", "Title | Body text."),
        ("## A *fine* heading ##", "A fine heading ##"),
        ("#hashtag stays", "#hashtag stays"),
        ("- one\n- two\n* three\n+ four", "one | two | three | four"),
        (
            "1. first\n2) second\n2024 was a year.\n3.5 is a number.",
            "first | second | 2024 was a year. 3.5 is a number.",
        ),
        ("- [ ] open\n- [x] done", "open | done"),
        ("> quoted *text*\n> > nested", "quoted text nested"),
        ("para one\nwraps\n\npara two", "para one wraps | para two"),
        ("above\n\n---\n\nbelow", "above | below"),
        ("Title\n=====\ntext", "Title | text"),
        ("-- not a list", "-- not a list"),
    ],
)
def test_block_markers_go_and_each_block_ends_a_sentence(markdown: str, words: str) -> None:
    assert spoken(markdown) == words


def test_a_code_block_is_one_phrase_and_its_code_is_not_spoken() -> None:
    markdown = "Before.\n```python\nx = 1  # *not* [spoken](y)\n```\nAfter."
    assert spoken(markdown) == f"Before. | {CODE_PHRASE} | After."


def test_a_longer_fence_is_closed_only_by_a_fence_as_long() -> None:
    markdown = "````\n```\ninner\n```\n````\nAfter."
    assert spoken(markdown) == f"{CODE_PHRASE} | After."


def test_a_table_is_one_phrase() -> None:
    markdown = "Intro.\n| a | b |\n|---|---|\n| 1 | 2 |\nOutro."
    assert spoken(markdown) == f"Intro. | {TABLE_PHRASE} | Outro."


def test_an_unclosed_code_block_swallows_only_code() -> None:
    assert spoken("Text.\n```\nprint(1)\n") == f"Text. | {CODE_PHRASE}"


DOCUMENT = """# The **answer**

Here is *some* text with `inline code` and a [link](https://example.com/a_(b)).
Also snake_case and 2 * 3, AT&T &amp; friends <br> and ![alt](x.png).

- first item
- [x] done task
1. numbered

> quoted *words*

```python
def f(x):
    return x * 2
```

| a | b |
|---|---|

After the table.[^1] Escaped \\*stars\\* and ~~struck~~ text.
"""


@pytest.mark.parametrize("seed", range(40))
def test_any_fragmentation_speaks_what_the_whole_document_speaks(seed: int) -> None:
    speech = MarkdownSpeech()
    whole = speech.feed(DOCUMENT) + speech.close()
    assert in_fragments(DOCUMENT, seed, longest=1 + seed % 9) == whole


def test_stripping_each_fragment_alone_would_read_markup_aloud() -> None:
    """The failure this module exists for: `**` split across two fragments."""
    fragments = ["The *", "*key*", "* point"]
    naive = "".join(re.sub(r"\*\*(.+?)\*\*|\*(.+?)\*", r"\1\2", f) for f in fragments)
    assert "*" in naive
    speech = MarkdownSpeech()
    assert "".join(speech.feed(f) for f in fragments) + speech.close() == "The key point"


TOKENS = [
    *"ab #>-*_~`[]()!<>&\\|\n",
    "**",
    "```",
    "\n\n",
    "1. ",
    "- ",
    "[x](y)",
    "&amp;",
    "<br>",
    "word",
]


@settings(max_examples=200, deadline=None)
@given(
    markdown=st.lists(st.sampled_from(TOKENS), max_size=60).map("".join),
    seed=st.integers(0, 1000),
)
def test_fragments_never_change_what_is_spoken(markdown: str, seed: int) -> None:
    speech = MarkdownSpeech()
    whole = speech.feed(markdown) + speech.close()
    assert in_fragments(markdown, seed) == whole


def test_what_is_held_stays_short_on_a_long_line() -> None:
    speech = MarkdownSpeech()
    given_out = 0
    for _ in range(1000):
        given_out += len(speech.feed("<a" + "x " * 100))
    assert 1000 * 202 - given_out < 300  # never more than one bounded run held

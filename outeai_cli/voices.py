"""Voice lookups for users: suggestions when the API does not know a name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from outeai_cli.catalogue import all_names


def suggest(name: str, custom_names: Iterable[str] = ()) -> str:
    """A hint naming the closest known voices, and where to see them all."""
    known = [*all_names(), *custom_names]
    close = difflib.get_close_matches(name.upper(), [k.upper() for k in known], n=3, cutoff=0.5)
    by_upper = {k.upper(): k for k in known}
    if close:
        names = ", ".join(by_upper[c] for c in close)
        return f"did you mean {names}? Run 'outeai voices' to see every voice"
    return "run 'outeai voices' to see every voice"

"""Shell-completion callbacks for option values (voice names, file paths).

They run on every TAB press, so they stay local and quick: the built-in catalogue plus the
custom voices in the config file, never the network.
"""

import contextlib
import io

from outeai_cli.errors import OuteAIError


def voice_candidates() -> list[tuple[str, str, str]]:
    """(kind, name, description): the built-in voices, then the user's custom voices."""
    from outeai_cli.settings.config import Settings
    from outeai_cli.voices.catalogue import BUILTIN_VOICES

    found = [("default", voice.name, voice.description) for voice in BUILTIN_VOICES]
    # A config warning (e.g. file permissions) printed now would land in the middle of the
    # command line being edited, and a broken config must not break completion.
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            custom = Settings(environ={}).custom_voices()
        except (OuteAIError, OSError):
            custom = {}
    found.extend(("custom", name, text or "custom voice") for name, text in custom.items())
    return found


def complete_speaker(incomplete: str) -> list[tuple[str, str]]:
    """Voice names starting with what was typed; `default:`/`custom:` narrow to that kind."""
    kind, sep, typed = incomplete.partition(":")
    if not sep or kind not in ("default", "custom"):
        kind, typed = "", incomplete
    prefix = f"{kind}:" if kind else ""
    seen: set[str] = set()
    matches = []
    for voice_kind, name, description in voice_candidates():
        if kind in ("", voice_kind) and name.startswith(typed) and name not in seen:
            seen.add(name)
            matches.append((prefix + name, description))
    return matches


def complete_path(incomplete: str) -> list[str]:
    """No candidates on purpose: each completion script then falls back to the shell's own
    file-name completion (bash `complete -o default`, zsh `_files`, fish's file list)."""
    return []

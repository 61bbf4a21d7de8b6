"""Each list is written once and read by whoever needs it: the dialects, the options, the commands.

These check that the readers agree with the one list, so a row added there reaches them all.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from outeai_cli.http.dialects import (
    API_CHOICES,
    AUTO,
    DEFAULT_DIALECT,
    DIALECTS,
    REGISTRY,
    DialectEntry,
)

# -- the dialect registry ----------------------------------------------------------------------


@pytest.mark.parametrize("entry", REGISTRY, ids=lambda entry: entry.name)
def test_each_registered_dialect_is_built_and_imports_only_its_own_module(
    entry: DialectEntry,
) -> None:
    """A process that speaks one dialect imports that dialect's module and no other."""
    code = (
        "import sys\n"
        "from outeai_cli.http.dialects import get_dialect\n"
        f"dialect = get_dialect({entry.name!r}, model='m')\n"
        "print(dialect.name)\n"
        "print(' '.join(sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
        "    if m.startswith('outeai_cli.http.dialects.'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    name, modules = proc.stdout.splitlines()
    assert name == entry.name
    others = {e.module for e in REGISTRY} - {entry.module}
    assert entry.module in modules.split()
    assert not others & set(modules.split()), modules


def test_the_api_choices_are_the_registry_and_auto() -> None:
    from outeai_cli.cli.options import Api
    from outeai_cli.settings.table import SETTINGS, parse_setting

    assert DIALECTS == ("tts", "audio", "tts-stream")
    assert [member.value for member in Api] == [*DIALECTS, AUTO] == list(API_CHOICES)
    assert SETTINGS["api"].default == DEFAULT_DIALECT
    assert all(parse_setting("api", name) == name for name in API_CHOICES)
    assert all(name in SETTINGS["api"].help for name in API_CHOICES)

"""docs/architecture.md is a map a newcomer follows: every module and name it points at exists.

A backticked path (`synthesis/run.py`, `tests/helpers.py`) must be a file of the tree; a
backticked `module.name` whose module is one of ours must name something that module defines.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "outeai_cli"
DOC = ROOT / "docs" / "architecture.md"
_CODE = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^[\w./-]+\.(py|md|toml)$|^[\w-]+/$")
_DOTTED = re.compile(r"^([a-z_][\w]*(?:[./][a-z_]\w*)*)\.([A-Za-z_]\w*)(?:\(\))?$")
# "`synthesis/run.py` `Run`" and "`cli/options.py`'s `FLAGS`": a file, then a name it defines.
_FILE_THEN_NAME = re.compile(r"`([\w/]+)\.py`(?:'s)? `([A-Za-z_]\w*)`")


def _modules() -> dict[str, list[str]]:
    """Short names a page may use for a module (`verify`, `audio/verify`, `audio.verify`)."""
    names: dict[str, list[str]] = {}
    for file in PACKAGE.rglob("*.py"):
        dotted = ".".join(file.relative_to(ROOT).with_suffix("").parts)
        if dotted.endswith(".__init__"):
            dotted = dotted[: -len(".__init__")]
        parts = dotted.split(".")
        for start in range(1, len(parts)):
            names.setdefault(".".join(parts[start:]), []).append(dotted)
    return names


def references() -> list[str]:
    return _CODE.findall(DOC.read_text(encoding="utf-8"))


def test_every_path_the_map_names_exists() -> None:
    missing = []
    for ref in references():
        if not _PATH.match(ref):
            continue
        candidates = [ROOT / ref, PACKAGE / ref]
        if not any(c.exists() for c in candidates):
            missing.append(ref)
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_module_name_the_map_names_exists() -> None:
    modules = _modules()
    missing = []
    checked = 0
    for ref in references():
        match = _DOTTED.match(ref)
        if not match or _PATH.match(ref):
            continue
        module, name = match.groups()
        module = module.replace("/", ".")
        if module in modules:  # `verify.check_audio`
            owners = modules[module]
        elif ref.removesuffix("()") in modules:  # `synthesis.run` (a module itself)
            continue
        else:
            continue  # not one of ours (`httpx.Client`, `os.replace`)
        checked += 1
        if not any(hasattr(importlib.import_module(owner), name) for owner in owners):
            missing.append(ref)
    assert checked >= 5, "the map should point at the code it describes"
    assert missing == [], f"docs/architecture.md names what the code does not define: {missing}"


def test_every_name_given_beside_its_file_is_defined_there() -> None:
    pairs = _FILE_THEN_NAME.findall(DOC.read_text(encoding="utf-8"))
    assert len(pairs) >= 10
    missing = []
    for path, name in pairs:
        package = "" if path.startswith(("tests/", "scripts/")) else "outeai_cli."
        module = importlib.import_module(package + path.replace("/", "."))
        if not hasattr(module, name):
            missing.append(f"{path}.py {name}")
    assert missing == [], f"docs/architecture.md names what the code does not define: {missing}"

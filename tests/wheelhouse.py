"""Wheels of what `pip install '.[voice]'` needs, repacked from this test environment's own
installed distributions, so an install can run as a user would run it with no network.

A wheel is a zip of a distribution's installed files and its `.dist-info`; pip rebuilds the
console scripts from `entry_points.txt`, so the files outside site-packages (bin/, share/) and
the compiled `.pyc` are left out, and RECORD is written anew for what is in the zip.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions `requirements` need, transitively (markers evaluated)."""
    installed = {_normal(d.metadata["Name"]): d for d in metadata.distributions()}
    found: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        environment = {**default_environment(), "extra": extra}
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = _normal(requirement.name)
        dist = installed.get(name)
        if dist is None:
            raise LookupError(f"{requirement} is not installed here: cannot repack it")
        wanted_extras = set(requirement.extras)
        key = name + "[" + ",".join(sorted(wanted_extras)) + "]"
        if key in found:
            continue
        found[key] = dist
        for line in dist.requires or ():
            for wanted in wanted_extras or {""}:
                todo.append((Requirement(line), wanted))
    return {_normal(d.metadata["Name"]): d for d in found.values()}


def repack(dist: metadata.Distribution, directory: Path) -> Path:
    """One installed distribution as a wheel in `directory`."""
    root = Path(str(dist.locate_file("")))
    files = [
        f
        for f in dist.files or ()
        if not str(f).startswith("..") and "__pycache__" not in f.parts and f.suffix != ".pyc"
    ]
    infos = [str(f.parts[0]) for f in files if f.parts[0].endswith(".dist-info")]
    if not infos:  # installed the old way (an older pip with no `wheel`): an .egg-info
        return _repack_egg_info(dist, root, files, directory)
    info = infos[0]
    tags = [
        line.split(":", 1)[1].strip()
        for line in (root / info / "WHEEL").read_text(encoding="utf-8").splitlines()
        if line.startswith("Tag:")
    ]
    # The file name holds every tag, compressed: py2-none-any and py3-none-any: py2.py3-none-any.
    parts = [dict.fromkeys(tag.split("-")[i] for tag in tags) for i in range(3)]
    compressed = "-".join(".".join(part) for part in parts)
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    target = directory / f"{name}-{dist.version}-{compressed}.whl"
    contents = {
        str(entry): (root / entry).read_bytes()
        for entry in files
        if str(entry) != f"{info}/RECORD" and (root / entry).is_file()
    }
    return _write_wheel(target, info, contents)


def _repack_egg_info(dist: metadata.Distribution, root: Path, files: list, directory: Path) -> Path:
    """A pure-Python distribution installed with an .egg-info, as a py3-none-any wheel: its
    PKG-INFO is the METADATA (requires.txt lines become Requires-Dist)."""
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    info = f"{name}-{dist.version}.dist-info"
    egg = next(str(f.parts[0]) for f in files if f.parts[0].endswith(".egg-info"))
    contents = {
        str(entry): (root / entry).read_bytes()
        for entry in files
        if entry.parts[0] != egg and (root / entry).is_file()
    }
    meta = (root / egg / "PKG-INFO").read_text(encoding="utf-8")
    requires = [f"Requires-Dist: {line}" for line in dist.requires or ()]
    head, _, body = meta.partition("\n\n")
    contents[f"{info}/METADATA"] = "\n".join([head, *requires, "", body]).encode()
    contents[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: outeai-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if (root / egg / "entry_points.txt").is_file():
        contents[f"{info}/entry_points.txt"] = (root / egg / "entry_points.txt").read_bytes()
    return _write_wheel(directory / f"{name}-{dist.version}-py3-none-any.whl", info, contents)


def _write_wheel(target: Path, info: str, contents: dict[str, bytes]) -> Path:
    record = io.StringIO()
    rows = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as wheel:
        for entry, data in contents.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.writerow([entry, f"sha256={digest.decode()}", len(data)])
            wheel.writestr(entry, data)
        rows.writerow([f"{info}/RECORD", "", ""])
        wheel.writestr(f"{info}/RECORD", record.getvalue())
    return target


def build_wheelhouse(directory: Path, requirements: list[str], leave_out: str = "") -> Path:
    """Every distribution `requirements` need (but `leave_out`, e.g. the project itself, which
    pip builds from its source) as a wheel in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, dist in closure(requirements).items():
        if name != _normal(leave_out):
            repack(dist, directory)
    return directory

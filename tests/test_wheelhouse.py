"""The README test's wheelhouse repacks what is installed here, including a distribution an
older pip installed the old way (an .egg-info, as Debian's pip without `wheel` does)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from tests.wheelhouse import repack


def test_an_egg_info_install_is_repacked_as_a_wheel_pip_installs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    egg = site / "demo_pkg-1.0.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n\nA demo.\n"
    )
    (egg / "SOURCES.txt").write_text("demo_pkg.py\ndemo_pkg-1.0.egg-info/PKG-INFO\n")
    (site / "demo_pkg.py").write_text("x = 41 + 1\n")
    (dist,) = metadata.distributions(path=[str(site)])
    wheel = repack(dist, tmp_path)
    assert "demo_pkg-1.0.dist-info/WHEEL" in zipfile.ZipFile(wheel).namelist()
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
         "--target", str(target), str(wheel)],
        check=True,
    )  # fmt: skip
    assert (target / "demo_pkg.py").read_text() == "x = 41 + 1\n"

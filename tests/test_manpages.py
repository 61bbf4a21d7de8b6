"""Man pages: generated from the app, committed, lint-clean, rendering, installed by the wheel."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import gen_docs as docs

REPO = Path(__file__).resolve().parent.parent
MAN = REPO / "man"
REQUIRED_SECTIONS = (
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "EXIT STATUS",
    "ENVIRONMENT",
    "FILES",
    "EXAMPLES",
)
needs_groff = pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")


def committed_pages() -> list[Path]:
    return sorted(MAN.glob("*.1"))


def render(page: Path) -> str:
    """The page as a terminal shows it, without bold/underline overstrikes."""
    proc = subprocess.run(
        ["groff", "-man", "-Tutf8", "-P-cbou", str(page)],
        capture_output=True,
        text=True,
        env={**os.environ, "MANWIDTH": "100"},
        check=True,
    )
    return proc.stdout


def test_committed_man_pages_match_the_app(tmp_path: Path) -> None:
    fresh = docs.man_pages()
    for rel, text in fresh.items():
        (tmp_path / Path(rel).name).write_text(text, encoding="utf-8")
    generated = {p.name for p in tmp_path.iterdir()}
    committed = {p.name for p in committed_pages()}
    assert committed == generated, "man/ does not match the app's commands: run `make docs`"
    for name in sorted(generated):
        assert (MAN / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"man/{name} is out of date with the app: run `make docs` and commit the result"
        )


def test_there_is_a_page_for_the_root_and_every_command() -> None:
    names = {p.name for p in committed_pages()}
    assert {
        "outeai.1",
        "outeai-say.1",
        "outeai-voices.1",
        "outeai-config.1",
        "outeai-serve.1",
    } <= names
    root = docs.root_node()
    assert {f"outeai-{child.path.split()[-1]}.1" for child in root.children()} <= names


@pytest.mark.parametrize("page", committed_pages(), ids=lambda p: p.name)
def test_man_page_has_every_required_section(page: Path) -> None:
    headings = re.findall(r'^\.SH "?([^"\n]+)"?$', page.read_text(), flags=re.M)
    missing = [s for s in REQUIRED_SECTIONS if s not in headings]
    assert not missing, f"{page.name} lacks {missing}"


@needs_groff
@pytest.mark.parametrize("page", committed_pages(), ids=lambda p: p.name)
def test_man_page_lints_clean_with_groff(page: Path) -> None:
    proc = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr == "", proc.stderr


@needs_groff
def test_say_page_renders_with_its_options_and_examples() -> None:
    text = render(MAN / "outeai-say.1")
    for option in ("--speaker", "--output", "--file", "--play", "--format", "--json", "-h"):
        assert option in text
    assert "EN-FEMALE-1-NEUTRAL" in text
    assert re.search(r"^EXAMPLES$", text, flags=re.M)
    assert "outeai say -f chapter.txt -o chapter.mp3" in text  # copy-pasteable ASCII hyphens


@needs_groff
@pytest.mark.parametrize("page", committed_pages(), ids=lambda p: p.name)
def test_every_option_of_a_command_appears_in_its_page(page: Path) -> None:
    root = docs.root_node()
    nodes = {docs.page_name(n): n for n in [root, *root.children()]}
    node = nodes[page.stem]
    text = render(page)
    commands = [node] if node is root else [node, *node.children()]
    for command in commands:
        for _, term, _ in command.params():
            for name in re.findall(r"(?<![\w-])--?[\w][\w-]*", term):
                assert name in text, f"{name} of '{command.path}' is missing from {page.name}"


def test_every_command_that_reads_the_settings_lists_their_environment() -> None:
    """A command with the connection options reads the token, the base URL, the profile and the
    config file from the environment: its page's ENVIRONMENT section names those variables."""
    pages = docs.man_pages()
    root = docs.root_node()
    checked = []
    for node in root.children():
        if not any("--base-url" in param.opts for param in node.command.get_params(node.ctx)):
            continue
        page = pages[f"man/{docs.page_name(node)}.1"]
        section = re.search(r"^\.SH ENVIRONMENT\n(.*?)^\.SH ", page, flags=re.S | re.M)
        environment = section.group(1) if section else ""
        for variable in ("OUTEAI_TOKEN", "OUTEAI_BASE_URL", "OUTEAI_PROFILE", "OUTEAI_CONFIG"):
            assert f"\\fB{variable}\\fR" in environment, (node.path, variable)
        checked.append(node.path)
    assert {"outeai say", "outeai batch", "outeai voices"} <= set(checked)


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_displays_the_say_page_from_the_file() -> None:
    proc = subprocess.run(
        ["man", "-l", str(MAN / "outeai-say.1")],
        capture_output=True,
        text=True,
        env={**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "--speaker" in proc.stdout
    assert "OUTEAI-SAY(1)" in proc.stdout


def test_wheel_installs_the_man_pages_and_completions(tmp_path: Path) -> None:
    # Offline and quick: the venv's hatchling builds it (no isolated build environment).
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    proc = subprocess.run(
        [*pip, "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("outeai_cli-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        data = {
            name.split(".data/data/", 1)[1]: archive.read(name)
            for name in archive.namelist()
            if ".data/data/" in name
        }
    for page in committed_pages():
        assert data[f"share/man/man1/{page.name}"] == page.read_bytes()
    assert (
        data["share/bash-completion/completions/outeai"]
        == (REPO / "completions/outeai.bash").read_bytes()
    )
    assert "share/zsh/site-functions/_outeai" in data
    assert "share/fish/vendor_completions.d/outeai.fish" in data

"""--version, -h on every command with an Examples epilog, and plain output for NO_COLOR and
TERM=dumb (checked on a pseudo-terminal, where Rich would otherwise style the output)."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from outeai_cli import __version__
from outeai_cli.cli.app import app
from scripts import gen_docs as docs
from tests.helpers import run_in_pty

ANY_ESCAPE = re.compile(r"\x1b[\[\]()#;?0-9A-Za-z]")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour / bold / dim


def command_paths() -> list[list[str]]:
    root = docs.root_node()
    paths: list[list[str]] = [[]]
    for child in root.children():
        paths.append(child.path.split()[1:])
        paths += [grandchild.path.split()[1:] for grandchild in child.children()]
    return paths


def test_version_prints_the_installed_version(outeai) -> None:
    result = outeai("--version")
    assert result.returncode == 0
    assert result.out == f"outeai {__version__}\n"
    assert __version__ == version("outeai-cli")


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(["outeai", *p]))
def test_short_help_works_on_every_command_and_ends_with_examples(path: list[str]) -> None:
    runner = CliRunner()
    short = runner.invoke(app, [*path, "-h"], prog_name="outeai")
    long = runner.invoke(app, [*path, "--help"], prog_name="outeai")
    assert short.exit_code == 0, short.output
    assert short.output == long.output
    assert short.output.startswith(f"Usage: {' '.join(['outeai', *path])} ")
    examples = short.output.split("Examples:", 1)
    assert len(examples) == 2, "no Examples epilog"
    assert re.search(r"^\s+outeai \S", examples[1], flags=re.M), "the Examples list is empty"


PLAIN_ENVS = [{"NO_COLOR": "1", "TERM": "xterm-256color"}, {"TERM": "dumb"}]


@pytest.mark.parametrize("plain", PLAIN_ENVS, ids=["NO_COLOR", "TERM=dumb"])
@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["say", "--help"],
        ["say", "--no-such-option"],  # a usage error
        ["say", "-s", ""],  # an input error
        ["voices", "--local"],  # a table
    ],
    ids=["help", "say-help", "usage-error", "input-error", "voices-table"],
)
def test_output_on_a_terminal_has_no_escape_sequences_when_plain_is_asked(
    cli_env: dict[str, str], tmp_path: Path, plain: dict[str, str], args: list[str]
) -> None:
    code, screen, _ = run_in_pty(args, {**cli_env, **plain}, tmp_path)
    assert screen.strip(), "nothing was shown"
    assert not ANY_ESCAPE.search(screen), repr(screen[:300])
    if args[-1] in ("--no-such-option", ""):
        assert code == 2
        assert "Traceback" not in screen


@pytest.mark.parametrize("plain", PLAIN_ENVS, ids=["NO_COLOR", "TERM=dumb"])
def test_say_progress_on_a_terminal_has_no_colour_when_plain_is_asked(
    cli_env: dict[str, str], tmp_path: Path, plain: dict[str, str]
) -> None:
    code, screen, _ = run_in_pty(
        ["say", "hello there", "-o", "x.flac"], {**cli_env, **plain}, tmp_path
    )
    assert code == 0, screen
    assert "Saved x.flac" in screen
    assert not SGR.search(screen), repr(screen[:300])


def test_the_terminal_check_sees_colour_when_nothing_asks_for_plain(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The control: the same pty setup does show Rich's styling by default."""
    env = {k: v for k, v in cli_env.items() if k != "NO_COLOR"}
    _, screen, _ = run_in_pty(["voices", "--local"], {**env, "TERM": "xterm-256color"}, tmp_path)
    assert SGR.search(screen)


# -- layout: bare commands, panels, names kept whole -------------------------------------


@pytest.mark.parametrize("path", [[], ["config"]], ids=["outeai", "outeai config"])
def test_a_bare_group_prints_its_help_plainly_and_succeeds(outeai, path: list[str]) -> None:
    result = outeai(*path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.out.startswith(f"Usage: {' '.join(['outeai', *path])} ")
    assert "error" not in result.out.lower().split("exit status", 1)[0]
    assert "for help" not in result.out  # no usage-error tail glued to the last example


def help_text(path: list[str], columns: int) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_say_help_groups_its_options_in_panels_in_reading_order() -> None:
    text = help_text(["say"], 100)
    headings = [line[:-1] for line in text.splitlines() if re.fullmatch(r"[A-Z][\w ]*:", line)]
    assert headings == [
        "Arguments",
        "Input options",
        "Voice options",
        "Output options",
        "Long text options",
        "Connection options",
        "Options",
    ]
    sections = dict(re.findall(r"^([A-Z][\w ]*):\n(.*?)(?=^\S|\Z)", text, flags=re.M | re.S))
    assert "--file" in sections["Input options"]
    assert "--speaker" in sections["Voice options"] and "--temperature" in sections["Voice options"]
    for name in ("--output", "--format", "--force", "--play", "--json", "--quiet"):
        assert name in sections["Output options"], name
    for name in ("--jobs", "--max-chars", "--pause", "--subtitles", "--no-cache"):
        assert name in sections["Long text options"], name
    for name in ("--base-url", "--token", "--timeout", "--retries", "--api", "--profile"):
        assert name in sections["Connection options"], name


@pytest.mark.parametrize("columns", [60, 80, 120])
@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(["outeai", *p]))
def test_help_never_breaks_a_name_across_lines(path: list[str], columns: int) -> None:
    text = help_text(path, columns)
    broken = [line for line in text.splitlines() if re.search(r"[A-Za-z0-9]-$", line)]
    assert not broken, broken
    assert "<str>" not in text and "<int>" not in text and "<float>" not in text


def test_the_default_voice_is_shown_whole_at_any_width() -> None:
    for columns in (60, 80, 100):
        assert "default EN-FEMALE-1-NEUTRAL" in help_text(["say"], columns)


def test_an_argument_shows_as_its_name_alone() -> None:
    text = help_text(["say"], 80)
    assert re.search(r"^  TEXT\.\.\.  Text to speak", text, flags=re.M), text


def test_voice_is_an_alias_of_speaker_listed_on_the_same_line() -> None:
    text = help_text(["say"], 80)
    lines = [line for line in text.splitlines() if "--voice" in line]
    assert len(lines) == 1 and "-s, --speaker, --voice NAME" in lines[0]


def test_voice_chooses_the_speaker_as_speaker_does(outeai) -> None:
    by_voice = outeai("say", "hi", "-o", "a.wav", "--voice", "EN-MALE-1-NEUTRAL", "--json")
    by_speaker = outeai("say", "hi", "-o", "b.wav", "-s", "EN-MALE-1-NEUTRAL", "--json")
    assert by_voice.returncode == 0, by_voice.stderr
    assert json.loads(by_voice.out)["speaker"] == json.loads(by_speaker.out)["speaker"]
    assert "FEMALE" not in json.loads(by_voice.out)["speaker"]


def test_help_snapshots_in_docs_help_are_current() -> None:
    """docs/help/*.txt is every command's --help at 80 columns; `make docs` rewrites it."""
    root = Path(__file__).resolve().parent.parent
    pages = docs.help_pages()
    assert len(pages) == len(command_paths())
    stale = [p for p in docs.stale_files(root, pages) if p.startswith("docs/help/")]
    assert not stale, f"stale help snapshots (run `make docs`): {stale}"
    say = pages["docs/help/outeai-say.txt"]
    assert "Voice options:" in say and "default EN-FEMALE-1-NEUTRAL" in say

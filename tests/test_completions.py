"""Shell completions: generated from the app, committed, and completing for real in the shells."""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outeai_cli.voices.catalogue import BUILTIN_VOICES
from scripts import gen_docs as docs

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: the scripts call the `outeai` there
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """PATH with this venv's `outeai` first, and a config file holding one custom voice."""
    config = tmp_path / "config.toml"
    config.write_text('[voices.my-studio-voice]\ndescription = "Recorded in the studio"\n')
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTEAI_", "_OUTEAI"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        OUTEAI_CONFIG=str(config),
        HOME=str(home),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
    )
    return env


def bash_complete(line: str, env: dict[str, str], cwd: Path | None = None) -> list[str]:
    """COMPREPLY after bash's completion function for `line` (cursor at the end), called the
    way bash calls it, with the committed completions/outeai.bash sourced."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    cword = len(words) - 1
    setup = f". {shlex.quote(str(BASH_COMPLETION))}\n" if BASH_COMPLETION.exists() else ""
    script = f"""
{setup}. {shlex.quote(str(REPO / "completions/outeai.bash"))}
spec=$(complete -p outeai) || exit 90
fn=$(sed -E 's/.* -F ([^ ]+) .*/\\1/' <<< "$spec")
COMP_WORDS=({" ".join(shlex.quote(w) for w in words)})
COMP_CWORD={cword}
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
"$fn" outeai "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.splitlines() if w]


def test_committed_completion_scripts_match_the_app(tmp_path: Path) -> None:
    for shell, rel in docs.COMPLETION_FILES.items():
        fresh = docs.completion_script(shell)
        (tmp_path / Path(rel).name).write_text(fresh)
        committed = (REPO / rel).read_bytes()
        assert committed == (tmp_path / Path(rel).name).read_bytes(), (
            f"{rel} is out of date with the app: run `make docs` and commit the result"
        )


def test_bash_completes_the_commands_at_the_top_level(shell_env: dict[str, str]) -> None:
    offered = bash_complete("outeai ", shell_env)
    assert {"say", "voices", "config", "serve"} <= set(offered)


def test_bash_completes_a_partial_command(shell_env: dict[str, str]) -> None:
    assert bash_complete("outeai vo", shell_env) == ["voices"]


def test_bash_completes_say_options(shell_env: dict[str, str]) -> None:
    offered = bash_complete("outeai say --sp", shell_env)
    assert offered == ["--speaker"]
    assert {"--output", "--play", "--file"} <= set(bash_complete("outeai say --", shell_env))


def test_bash_completes_catalogue_and_custom_voice_names_after_speaker(
    shell_env: dict[str, str],
) -> None:
    offered = bash_complete("outeai say -s ", shell_env)
    assert "EN-FEMALE-1-NEUTRAL" in offered
    assert {v.name for v in BUILTIN_VOICES} <= set(offered)
    assert "my-studio-voice" in offered
    assert bash_complete("outeai say --speaker EN-MALE-", shell_env) == [
        "EN-MALE-1-NEUTRAL",
        "EN-MALE-2-NEUTRAL",
    ]


def test_speaker_completion_narrows_to_custom_voices_after_custom_prefix(
    shell_env: dict[str, str],
) -> None:
    # zsh and fish pass `custom:my` as one word (bash splits at ':', see COMP_WORDBREAKS).
    env = {
        **shell_env,
        "_OUTEAI_COMPLETE": "complete_zsh",
        "_TYPER_COMPLETE_ARGS": "outeai say -s custom:",
    }
    out = subprocess.run(["outeai"], env=env, capture_output=True, text=True, timeout=30).stdout
    assert "custom\\\\:my-studio-voice" in out
    assert "EN-FEMALE-1-NEUTRAL" not in out


def test_speaker_completion_survives_a_broken_config_file(
    shell_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "config.toml").write_text("this is [not toml")
    offered = bash_complete("outeai say -s EN-F", shell_env)
    assert offered == ["EN-FEMALE-1-NEUTRAL", "EN-FEMALE-2-NEUTRAL"]


def test_completion_never_contacts_the_server(shell_env: dict[str, str], server) -> None:
    env = {**shell_env, "OUTEAI_BASE_URL": server.base_url, "OUTEAI_TOKEN": "t"}
    assert bash_complete("outeai say -s ", env)
    assert bash_complete("outeai voices ", env) is not None
    assert server.requests() == []


def test_bash_leaves_output_and_file_paths_to_its_file_name_completion(
    shell_env: dict[str, str],
) -> None:
    # No candidates from outeai for -o/-f: `complete -o default` then lets readline list files.
    assert bash_complete("outeai say -o ou", shell_env) == []
    assert bash_complete("outeai say -f ", shell_env) == []
    spec = subprocess.run(
        ["bash", "--norc", "-c", f". {REPO / 'completions/outeai.bash'}; complete -p outeai"],
        capture_output=True,
        text=True,
        env=shell_env,
    ).stdout
    assert "-o default" in spec


class InteractiveShell:
    """A shell on a pseudo-terminal, to press TAB like a person and read the screen."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.screen = ""

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_for(self, needle: str, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.screen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break
        return needle in self.screen

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)


@pytest.mark.parametrize(
    ("argv", "prompt", "setup", "typed", "expected"),
    [
        pytest.param(
            ["bash", "--norc", "--noprofile", "-i"],
            "$ ",
            f"source {REPO / 'completions/outeai.bash'}",
            "outeai say -f chap",
            "chapter-one.txt",
            id="bash-file-names-after-an-option",
        ),
        pytest.param(
            ["zsh", "-f", "-i"],
            "%% ",
            f"fpath=({REPO / 'completions'} $fpath); autoload -Uz compinit; compinit -u -D",
            "outeai say -s EN-MALE-1",
            "EN-MALE-1-NEUTRAL",
            id="zsh-voice-names-on-the-first-tab-autoloaded-from-fpath",
            marks=pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed"),
        ),
    ],
)
def test_an_interactive_shell_completes_on_tab(
    shell_env: dict[str, str],
    tmp_path: Path,
    argv: list[str],
    prompt: str,
    setup: str,
    typed: str,
    expected: str,
) -> None:
    """In an interactive shell that ran `setup`, typing `typed` and TAB shows `expected`."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "chapter-one.txt").write_text("Once upon a time.")
    shell = InteractiveShell(argv, {**shell_env, "PS1": prompt}, work)
    try:
        shell.send(f"{setup}; echo READY\n")
        assert shell.wait_for("READY\r\n"), shell.screen
        shell.send(f"{typed}\t")
        assert shell.wait_for(expected), shell.screen
    finally:
        shell.close()


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_voices_and_file_names(
    shell_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "notes-for-reading.txt").write_text("hi")
    script = (
        f"source {REPO / 'completions/outeai.fish'}; "
        "complete -C 'outeai vo'; complete -C 'outeai say -s my-'; complete -C 'outeai say -f notes-'"
    )
    proc = subprocess.run(
        ["fish", "--no-config", "-c", script],
        capture_output=True,
        text=True,
        env=shell_env,
        cwd=tmp_path,
        timeout=30,
    )
    lines = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert "voices" in lines
    assert "my-studio-voice" in lines
    assert "notes-for-reading.txt" in lines


def test_install_completion_writes_the_same_bash_script_as_the_committed_one(
    shell_env: dict[str, str],
) -> None:
    # Shell detection off so the shell can be named (detection looks at the parent process).
    env = {**shell_env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = subprocess.run(
        ["outeai", "--install-completion", "bash"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    home = Path(shell_env["HOME"])
    installed = (home / ".bash_completions/outeai.sh").read_text()
    committed = (REPO / "completions/outeai.bash").read_text()
    body = "\n".join(line for line in committed.splitlines() if not line.startswith("#"))
    assert installed.strip() == body.strip()
    assert ".bash_completions/outeai.sh" in (home / ".bashrc").read_text()

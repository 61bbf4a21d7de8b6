"""Generate the shell completions, man pages and help snapshots from the app, so they never drift.

    python scripts/gen_docs.py [ROOT]          # write completions/, man/, docs/help/ under ROOT
    python scripts/gen_docs.py --check [ROOT]  # exit 1 listing the files that are stale

A build tool, not part of the installed package; `make docs` runs the first form. Completions
are the scripts Typer serves for `_OUTEAI_COMPLETE=source_SHELL outeai` (the same protocol
`outeai --install-completion` sets up); man pages are rendered from Click's introspection of the commands, their help texts and
the "Examples" epilogs built by options.examples(); docs/help/ holds each command's `--help`
at 80 columns, so a change to what users read shows in review.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROG = "outeai"
COMPLETE_VAR = "_OUTEAI_COMPLETE"

COMPLETION_FILES = {
    "bash": "completions/outeai.bash",
    "zsh": "completions/_outeai",
    "fish": "completions/outeai.fish",
}
COMPLETION_INSTALL = {
    "bash": "copy to ~/.local/share/bash-completion/completions/outeai, or source it from ~/.bashrc",
    "zsh": "copy to a directory in $fpath as _outeai (e.g. ~/.zfunc, with fpath+=(~/.zfunc) "
    "before compinit in ~/.zshrc)",
    "fish": "copy to ~/.config/fish/completions/outeai.fish",
}

# Typer's zsh script only calls compdef, so when zsh autoloads it from $fpath the first TAB
# merely defines the function. Calling it then as well makes the first TAB complete.
ZSH_COMPDEF = "compdef _outeai_completion outeai"
ZSH_AUTOLOAD = """\
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  # autoloaded from $fpath: complete now
  _outeai_completion "$@"
else
  compdef _outeai_completion outeai
fi"""


# ---------------------------------------------------------------------------- completions


def completion_script(shell: str) -> str:
    """The completion script for `shell`, as the app itself serves it, plus a header."""
    env = {**os.environ, COMPLETE_VAR: f"source_{shell}"}
    code = "from outeai_cli.cli.app import app; app(prog_name='outeai')"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    script = proc.stdout.strip()
    if proc.returncode != 0 or PROG not in script:
        raise RuntimeError(f"the app served no {shell} completion script: {proc.stderr.strip()}")
    header = (
        f"# Shell completion for {PROG} ({shell}). Generated from the app by `make docs`; "
        "do not edit.\n"
        f"# Install: {COMPLETION_INSTALL[shell]}.\n"
        f"# It runs `{PROG}` to get the candidates, so keep {PROG} on PATH."
    )
    if shell == "zsh":
        first, _, rest = script.partition("\n")  # `#compdef outeai` must stay the first line
        if ZSH_COMPDEF not in rest:
            raise RuntimeError("Typer's zsh script changed: update ZSH_AUTOLOAD in docs.py")
        return f"{first}\n{header}\n{rest.replace(ZSH_COMPDEF, ZSH_AUTOLOAD)}\n"
    return f"{header}\n{script}\n"


# ---------------------------------------------------------------------------- man pages


def roff(text: str) -> str:
    """Escape text for a roff text line: backslashes, hyphens (so options copy-paste as
    ASCII), non-ASCII characters, and a leading control character."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 127:
            out.append(f"\\[u{ord(ch):04X}]")
        else:
            out.append(ch)
    escaped = "".join(out)
    return "\\&" + escaped if escaped[:1] in (".", "'") else escaped


def bold(text: str) -> str:
    return f"\\fB{roff(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{roff(text)}\\fR"


def one_line(text: str) -> str:
    return " ".join(text.split())


def paragraphs(text: str) -> Iterator[str]:
    """roff for Click help text: paragraphs filled, `\\b` paragraphs kept as typed."""
    text = text.split("\f", 1)[0]  # Click: text after \f is not part of the help
    for block in re.split(r"\n\s*\n", text.strip()):
        if not block.strip():
            continue
        if block.lstrip().startswith("\b"):
            yield ".PP\n.nf"
            for line in block.lstrip()[1:].strip("\n").splitlines():
                yield roff(line.rstrip())
            yield ".fi"
        else:
            yield f".PP\n{roff(one_line(block))}"


@dataclass
class Epilog:
    examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # other paragraphs, Click help syntax


def parse_epilog(epilog: str | None) -> Epilog:
    """Split an epilog into the examples() block and the rest; the exit-status paragraph is
    dropped (EXIT STATUS renders it as a table)."""
    from outeai_cli.cli.errors import EXIT_CODES_HELP

    parsed = Epilog()
    in_examples = False
    for block in re.split(r"\n\s*\n", (epilog or "").strip()):
        stripped = block.strip()
        if not stripped or one_line(stripped) == one_line(EXIT_CODES_HELP):
            continue
        if stripped == "Examples:":
            in_examples = True
            continue
        if in_examples and stripped.startswith("\b"):
            parsed.examples.extend(line.strip() for line in stripped[1:].splitlines() if line)
        else:
            parsed.notes.append(block)
        in_examples = False
    return parsed


def exit_statuses() -> list[tuple[str, str]]:
    """(code, meaning) from the help text every command shows, plus 1 if it is missing."""
    from outeai_cli.cli.errors import EXIT_CODES_HELP

    body = one_line(EXIT_CODES_HELP).removeprefix("Exit status:").strip().rstrip(".")
    codes = [
        (m.group(1), m.group(2).strip())
        for part in body.split(";")
        if (m := re.match(r"\s*(\d+)\s+(.+)", part))
    ]
    if all(code != "1" for code, _ in codes):
        codes.insert(
            1,
            (
                "1",
                "another failure: a file could not be written, or the audio "
                "player failed (say --play)",
            ),
        )
    return codes


def environment(command: str) -> list[tuple[str, str]]:
    """(variable, meaning) for the page of `command` ('outeai' for the root page)."""
    from outeai_cli.cli.commands import COMMANDS
    from outeai_cli.settings.table import SETTINGS

    # The pages of the commands that read the settings (the config file, the environment).
    client = ("outeai", *(entry.name for entry in COMMANDS if entry.reads_settings))

    entries: list[tuple[str, str, tuple[str, ...]]] = []
    for spec in SETTINGS.values():
        for i, var in enumerate(spec.env):
            meaning = (
                f"{spec.help}: the {spec.name} setting, over the config file."
                if i == 0
                else f"Read when {spec.env[0]} is unset."
            )
            entries.append((var, meaning, client))
    entries += [
        ("OUTEAI_PROFILE", "Profile to use, as --profile.", client),
        ("OUTEAI_CONFIG", "Path of the config file, instead of the default below.", client),
        (
            "XDG_CONFIG_HOME",
            "Directory of the default config file (default ~/.config).",
            client,
        ),
        (
            "OUTEAI_SERVE_TOKENS",
            "Comma-separated tokens the local server accepts, added to --token.",
            ("outeai", "serve"),
        ),
        ("NO_COLOR", "When set, no colour in the output.", client),
        ("TERM", "When dumb: no colour and no live progress, plain lines instead.", client),
        (
            "PATH",
            "Searched for the player of --play (ffplay, mpv, paplay, aplay, afplay, play).",
            ("outeai", "say"),
        ),
    ]
    return [(var, meaning) for var, meaning, pages in entries if command in pages]


FILES = [
    (
        "~/.config/outeai/config.toml",
        "The config file: settings, [profiles.NAME] tables and [voices.NAME] custom voices, "
        "written with mode 0600. The directory follows XDG_CONFIG_HOME on Linux; it is "
        "~/Library/Application Support/outeai on macOS. OUTEAI_CONFIG overrides the path; "
        "'outeai config path' prints it.",
    ),
]


@dataclass
class Node:
    """A command with its Click context, for introspection."""

    command: Any
    ctx: Any

    @property
    def path(self) -> str:
        return str(self.ctx.command_path)

    def children(self) -> list[Node]:
        if not hasattr(self.command, "list_commands"):
            return []
        found = []
        for name in self.command.list_commands(self.ctx):
            sub = self.command.get_command(self.ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            found.append(
                Node(sub, sub.make_context(name, [], parent=self.ctx, resilient_parsing=True))
            )
        return found

    def usage(self) -> str:
        return " ".join(self.command.collect_usage_pieces(self.ctx))

    def help(self) -> str:
        return self.command.help or ""

    def short_help(self) -> str:
        return str(self.command.get_short_help_str(limit=300))

    def params(self) -> list[tuple[str, str, str]]:
        """(group, term, help) for each visible parameter; group is the help panel."""
        from outeai_cli.cli.helptext import help_record

        rows = []
        for param in self.command.get_params(self.ctx):
            record = help_record(param, self.ctx)
            if record is None or getattr(param, "hidden", False):
                continue
            term, text = record
            if param.param_type_name == "argument":
                group = "Arguments"
            else:
                group = getattr(param, "rich_help_panel", None) or "Options"
            rows.append((group, term, one_line(text or "")))
        return rows


def root_node() -> Node:
    import typer

    from outeai_cli.cli.app import app

    command = typer.main.get_command(app)
    return Node(command, command.make_context(PROG, [], resilient_parsing=True))


def term_roff(term: str, argument: bool) -> str:
    """An option's term ("-s, --speaker <str>"): names bold, the metavar italic."""
    if argument:
        return italic(term)
    words = term.split(" ")
    pieces = []
    for i, word in enumerate(words):
        name = word.rstrip(",")
        if word == "/":
            pieces.append("/")
        elif name.startswith("-") and len(name) > 1:
            pieces.append(bold(name) + word[len(name) :])
        else:  # the rest is the metavar, spaces included ("<float range>")
            pieces.append(italic(" ".join(words[i:])))
            break
    return " ".join(pieces)


def param_list(rows: list[tuple[str, str, str]], *, headings: bool) -> Iterator[str]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for group, term, text in rows:
        groups.setdefault(group, []).append((term, text))
    order = sorted(groups, key=lambda g: (g != "Arguments", g != "Options"))
    for group in order:
        if headings and len(groups) > 1:
            yield f".SS {roff(group)}"
        for term, text in groups[group]:
            yield ".TP"
            yield term_roff(term, group == "Arguments")
            yield roff(text) if text else "\\&"


def synopsis(node: Node, *, with_subcommands: bool) -> Iterator[str]:
    pieces = node.command.collect_usage_pieces(node.ctx)
    if not with_subcommands:  # the subcommands get lines of their own
        pieces = [p for p in pieces if not p.startswith("COMMAND")]
    yield ".B " + roff(node.path)
    yield roff(" ".join(pieces))


def page_name(node: Node) -> str:
    return node.path.replace(" ", "-")


def man_page(node: Node, siblings: list[str], version: str) -> str:
    is_root = node.ctx.parent is None
    name = page_name(node)
    command = "outeai" if is_root else node.path.split()[-1]
    subcommands = node.children()
    epilog = parse_epilog(node.command.epilog)
    for child in [] if is_root else subcommands:
        more = parse_epilog(child.command.epilog)
        epilog.examples += [e for e in more.examples if e not in epilog.examples]

    lines = [
        f'.\\" Generated by `make docs` (scripts/gen_docs.py) from {PROG} {version}; do not edit.',
        f'.TH "{name.upper()}" 1 "" "{PROG} {version}" "User Commands"',
        ".nh",  # no hyphenation: option and command names must read as typed
        ".ad l",
        ".SH NAME",
        f"{roff(name)} \\- {roff(node.short_help().rstrip('.'))}",
        ".SH SYNOPSIS",
    ]
    # One line per form; a group that does something by itself has its own line too.
    forms = [] if is_root else subcommands
    if not subcommands or is_root or getattr(node.command, "invoke_without_command", False):
        forms = [node, *forms]
    for i, form in enumerate(forms):
        lines += [".br"] if i else []
        lines += synopsis(form, with_subcommands=is_root)

    lines.append(".SH DESCRIPTION")
    lines += paragraphs(node.help())
    for note in epilog.notes:
        lines += paragraphs(note)

    lines.append(".SH OPTIONS")
    lines += param_list(node.params(), headings=True)

    if subcommands:
        lines.append(".SH COMMANDS")
        for child in subcommands:
            if is_root:
                lines += [
                    ".TP",
                    bold(child.path.split()[-1]),
                    f"{roff(child.short_help())} See \\fB{roff(page_name(child))}\\fR(1).",
                ]
            else:
                lines.append(f'.SS "{roff(child.path)} {roff(child.usage())}"')
                lines += paragraphs(child.help())
                lines.append(".PP")
                lines += param_list(child.params(), headings=False)

    lines.append(".SH EXIT STATUS")
    for code, meaning in exit_statuses():
        lines += [".TP", bold(code), roff(meaning[:1].upper() + meaning[1:]) + "."]

    lines.append(".SH ENVIRONMENT")
    for var, meaning in environment(command):
        lines += [".TP", bold(var), roff(meaning)]

    lines.append(".SH FILES")
    for path, meaning in FILES:
        lines += [".TP", italic(path), roff(meaning)]

    if epilog.examples:
        lines += [".SH EXAMPLES", ".PP", ".RS 4", ".nf"]
        lines += [roff(example) for example in epilog.examples]
        lines += [".fi", ".RE"]

    lines.append(".SH SEE ALSO")
    others = [s for s in siblings if s != name]
    lines.append(",\n".join(f".BR {roff(s)} (1)" for s in others))
    return "\n".join(tidy(lines)) + "\n"


def tidy(lines: list[str]) -> list[str]:
    """Drop paragraph macros that do nothing (right after a heading, or before a .TP/.SS/
    heading), and wrap long text lines so the source reads well."""
    flat = "\n".join(lines).split("\n")
    out: list[str] = []
    for i, line in enumerate(flat):
        following = flat[i + 1] if i + 1 < len(flat) else ".SH"
        if line == ".PP" and (
            (out and out[-1].startswith((".SH", ".SS")))
            or following.startswith((".TP", ".SS", ".SH", ".PP"))
        ):
            continue
        if line.startswith(".") or len(line) <= 80 or "\\f" in line:
            out.append(line)
            continue
        for wrapped in textwrap.wrap(line, 78, break_long_words=False, break_on_hyphens=False):
            # A wrapped line starting with '.' or "'" would be read as a request.
            out.append("\\&" + wrapped if wrapped[:1] in (".", "'") else wrapped)
    return out


def man_pages() -> dict[str, str]:
    """man/NAME.1 -> text, for the root command and each top-level command."""
    from outeai_cli import __version__

    root = root_node()
    nodes = [root, *root.children()]
    names = [page_name(n) for n in nodes]
    return {f"man/{page_name(n)}.1": man_page(n, names, __version__) for n in nodes}


# ---------------------------------------------------------------------------- files


HELP_COLUMNS = 80


def help_pages() -> dict[str, str]:
    """docs/help/NAME.txt -> `--help` of every command at 80 columns: a reviewable snapshot."""
    from typer.testing import CliRunner

    from outeai_cli.cli.app import app

    root = root_node()
    nodes = [root]
    for child in root.children():
        nodes += [child, *child.children()]
    pages = {}
    runner = CliRunner()
    for node in nodes:
        args = [*node.path.split()[1:], "--help"]
        result = runner.invoke(app, args, prog_name=PROG, env={"COLUMNS": str(HELP_COLUMNS)})
        if result.exit_code != 0:
            raise RuntimeError(f"{node.path} --help failed: {result.output}")
        pages[f"docs/help/{node.path.replace(' ', '-')}.txt"] = result.output
    return pages


def generate() -> dict[str, str]:
    """Every generated file: path relative to the repository root -> content."""
    files = {path: completion_script(shell) for shell, path in COMPLETION_FILES.items()}
    files.update(man_pages())
    files.update(help_pages())
    return files


def stale_files(root: Path, files: dict[str, str]) -> list[str]:
    """Generated files that differ from (or are missing in) root, plus man pages and help
    snapshots no command produces any more."""
    stale = [p for p, text in files.items() if _read(root / p) != text]
    for pattern in ("man/*.1", "docs/help/*.txt"):
        stale += [
            p.relative_to(root).as_posix()
            for p in sorted(root.glob(pattern))
            if p.relative_to(root).as_posix() not in files
        ]
    return stale


def write(root: Path, files: dict[str, str]) -> list[str]:
    """Write the files that changed and delete orphaned pages; the paths touched."""
    touched = stale_files(root, files)
    for rel in touched:
        target = root / rel
        if rel in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[rel], encoding="utf-8")
        else:
            target.unlink()
    return touched


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def main(argv: Iterable[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    rest = [a for a in args if a != "--check"]
    root = Path(rest[0] if rest else ".")
    files = generate()
    if check:
        stale = stale_files(root, files)
        for rel in stale:
            print(f"stale: {rel}", file=sys.stderr)
        if stale:
            print("run `make docs` to regenerate them", file=sys.stderr)
        return 1 if stale else 0
    for rel in write(root, files):
        print(f"wrote {rel}" if rel in files else f"removed {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

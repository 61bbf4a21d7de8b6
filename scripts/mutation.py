"""Mutation testing of the modules that keep the promises (`make mutation`; not in `make test`).

Each module below is mutated by mutmut (3.x, the `mutation` extra: one small change at a time,
such as `!=` to `==`, `> n` to `> n + 1`, a call's argument dropped) and each mutant is run
against the tests that exercise that module; a mutant no test fails for "survived", and says
that a check could be broken unnoticed. Every module runs in a scratch copy of the tree (mutmut
writes its mutated copy beside the sources), so nothing here changes.

A mutant whose only change is to a string with a space in it (the wording of a message) is
counted apart and not run: tests name each message with `match=`, which "XXwordsXX" still
matches, so these mutants would only measure wording, not checks. Strings without a space
(a key, a format name, a code) are run like any other mutant.

    .venv/bin/pip install -e '.[dev,mutation]'
    .venv/bin/python scripts/mutation.py                  # every module (20-30 min on 2 cores)
    .venv/bin/python scripts/mutation.py untrusted retry  # some of them (names below)
    .venv/bin/python scripts/mutation.py --report mutation.md --jobs 2

Prints each module's kill rate (killed or timed out, over the mutants run) and each surviving
mutant's diff; the exit status is 0 however many survive (the survivors are to be read).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Tests that the mutants' child Python processes would import from the mutated tree (mutmut's
# hooks there need its config, which is in the scratch copy only): left out of every run.
NOT_IN_PROCESS = "not in_a_network_namespace and not an_unexpected_exception_is_one_line"


@dataclass(frozen=True)
class Group:
    """A module and the tests that exercise it (`-k` narrows them to the quick ones)."""

    module: str
    tests: tuple[str, ...]
    select: str = ""


GROUPS = {
    "commit": Group(
        "outeai_cli/output/commit.py",
        ("tests/test_commit.py",),
        # Never with a mutant in force: a link to /dev/null written with --force, where a
        # mutant that renames over the link's target replaces the machine's /dev/null.
        "not force_writes_into_a_character_device",
    ),
    "verify": Group(
        "outeai_cli/audio/verify.py",
        ("tests/test_verify.py",),
        "not a_signal_stops_the_check_promptly",  # a 600 s FLAC and a child process: 6 s
    ),
    "security": Group(
        "outeai_cli/security.py",
        ("tests/test_token_safety.py", "tests/test_untrusted.py", "tests/test_dialects.py"),
        # the one API that puts the token in the URL: its transport and its log lines
        "test_token_safety or test_untrusted or (test_dialects and (url_token or plain_http))",
    ),
    "untrusted": Group(
        "outeai_cli/untrusted.py",
        ("tests/test_untrusted.py", "tests/test_bounded_inputs.py", "tests/test_raw_wire.py"),
        # its own tests, read_bounded's, and the compressed answers (not the 2-12 s time limits)
        "test_untrusted or read_bounded or gzip or compress or inflated",
    ),
    "retry": Group(
        "outeai_cli/http/retry.py",
        ("tests/test_retry_policy.py", "tests/test_client.py", "tests/test_faults.py"),
        "retr or 429 or 503 or stall or broken or backoff or wait or total_time",
    ),
    "cache": Group(
        "outeai_cli/synthesis/cache.py", ("tests/test_cache.py", "tests/test_planted_files.py")
    ),
    "ledger": Group(
        "outeai_cli/batch/ledger.py",
        ("tests/test_ledger.py", "tests/test_batch.py"),
        "not two_hundred_items",  # 11 s; its resume is what the other tests check one by one
    ),
    "base64": Group("outeai_cli/http/base64stream.py", ("tests/test_stream_reader.py",)),
    "settings": Group(
        "outeai_cli/settings/*",
        ("tests/test_config.py", "tests/test_settings_edge.py", "tests/test_voices.py"),
        "test_config or test_settings_edge or (test_voices and (add or remove))",  # its voices
    ),
}


@dataclass
class Outcome:
    name: str
    module: str
    wording: int = 0
    status: dict[str, str] = field(default_factory=dict)  # mutant -> mutmut's status
    diffs: dict[str, str] = field(default_factory=dict)  # surviving mutant -> its diff
    seconds: float = 0.0

    def count(self, *statuses: str) -> int:
        return sum(1 for s in self.status.values() if s in statuses)

    @property
    def rate(self) -> float:
        run = len(self.status)
        return self.count("killed", "timeout") / run if run else 1.0


def mutmut_config(group: Group) -> str:
    """The [tool.mutmut] table for one group (TOML written by hand: no writer needed)."""

    def strings(values: list[str]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    selection = NOT_IN_PROCESS + (f" and ({group.select})" if group.select else "")
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["outeai_cli"]\n'
        f"only_mutate = {strings([group.module])}\n"
        # One process: the mutant is chosen inside it (xdist's workers would not see it).
        f"pytest_add_cli_args = {strings(['-n', '0', '-p', 'no:cacheprovider', '-q', '-k', selection])}\n"
        f"pytest_add_cli_args_test_selection = {strings(list(group.tests))}\n"
    )


def scratch_copy(work: Path, group: Group) -> Path:
    """A copy of the package, the tests and pyproject.toml (with the group's mutmut config)."""
    if work.exists():
        shutil.rmtree(work)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "outeai_cli", work / "outeai_cli", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (work / "pyproject.toml").write_text(pyproject + mutmut_config(group), encoding="utf-8")
    return work


def mutmut(work: Path, *args: str, log: Path) -> subprocess.CompletedProcess[str]:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ mutmut {' '.join(args[:4])}{' ...' if len(args) > 4 else ''}\n")
        out.flush()
        return subprocess.run(
            [sys.executable, "-m", "mutmut", *args],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


@dataclass(frozen=True)
class Mutant:
    rewords: bool  # only a string with a space in it changed (a message's wording)
    diff: str  # the mutated lines, as a unified diff of the function


def mutants_of(work: Path, module: str) -> dict[str, Mutant]:
    """Every mutant of the module's files, read from mutmut's mutated copy."""
    found: dict[str, Mutant] = {}
    for path in sorted((work / "mutants").glob(module)):
        if path.suffix != ".py":
            continue
        prefix = module_name(str(path.relative_to(work / "mutants")))
        source = path.read_text(encoding="utf-8")
        originals: dict[str, ast.AST] = {}
        variants: list[tuple[str, str, ast.AST]] = []
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            base, sep, suffix = node.name.rpartition("__mutmut_")
            if not sep:
                continue
            if suffix == "orig":
                originals[base] = node
            elif suffix.isdigit():
                variants.append((base, node.name, node))
        for base, name, node in variants:
            original = originals[base]
            diff = difflib.unified_diff(
                _body(source, original), _body(source, node), lineterm="", n=1
            )
            found[f"{prefix}.{name}"] = Mutant(
                _only_rewords(original, node), "\n".join(list(diff)[2:])
            )
    return found


def _body(source: str, node: ast.AST) -> list[str]:
    """The function's lines without its `def` line (which names the mutant)."""
    segment = ast.get_source_segment(source, node) or ""
    return segment.splitlines()[1:]


def _only_rewords(original: ast.AST, mutant: ast.AST) -> bool:
    """Whether the two functions differ only in strings that hold a space (prose)."""
    a, b = list(ast.walk(original)), list(ast.walk(mutant))
    if len(a) != len(b):
        return False
    changed = False
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return False
        if isinstance(x, ast.Constant) and isinstance(y, ast.Constant):
            if x.value == y.value:
                continue
            if not (isinstance(x.value, str) and " " in x.value):
                return False
            changed = True
        elif isinstance(x, ast.FunctionDef):
            continue  # the names differ by their __mutmut_ suffix
        elif ast.dump(_shallow(x)) != ast.dump(_shallow(y)):
            return False
    return changed


def _shallow(node: ast.AST) -> ast.AST:
    """`node` without its children (compared one by one by the walk)."""
    fields = {
        name: value
        for name, value in ast.iter_fields(node)
        if not isinstance(value, ast.AST | list)
    }
    return type(node)(**fields)


def statuses(work: Path) -> dict[str, str]:
    """mutmut's verdict on each mutant it knows (killed, survived, no tests, timeout, ...)."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    return found


def run_group(key: str, group: Group, work_root: Path, jobs: int, log: Path) -> Outcome:
    started = time.monotonic()
    work = scratch_copy(work_root / key, group)
    module = module_name(group.module)
    # First run: make the mutants and map tests to functions, trying only each function's
    # first mutant; the mutants are then known, and the rest run by name.
    first = mutmut(work, "run", "--max-children", str(jobs), f"{module}.*__mutmut_1", log=log)
    if first.returncode != 0 and not (work / "mutants").exists():
        raise SystemExit(f"mutmut failed for {group.module}; see {log}")
    every = mutants_of(work, group.module)
    tried = statuses(work)
    behaviour = [
        name
        for name, mutant in every.items()
        if not mutant.rewords and tried.get(name) in (None, "not checked")
    ]
    if behaviour:
        mutmut(work, "run", "--max-children", str(jobs), *behaviour, log=log)
    found = statuses(work)
    outcome = Outcome(key, group.module)
    for name, mutant in every.items():
        if mutant.rewords:
            outcome.wording += 1
            continue
        outcome.status[name] = found.get(name, "not checked")
        if outcome.status[name] not in ("killed", "timeout"):
            outcome.diffs[name] = mutant.diff
    outcome.seconds = time.monotonic() - started
    return outcome


def report(outcomes: list[Outcome]) -> str:
    lines = [
        "| module | mutants run | killed | timed out | survived | no test ran | kill rate |"
        " wording (not run) | minutes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.module} | {len(o.status)} | {o.count('killed')} | {o.count('timeout')} | "
            f"{o.count('survived', 'suspicious', 'segfault', 'skipped', 'not checked')} | "
            f"{o.count('no tests')} | {o.rate:.0%} | {o.wording} | {o.seconds / 60:.1f} |"
        )
    total_run = sum(len(o.status) for o in outcomes)
    total_killed = sum(o.count("killed", "timeout") for o in outcomes)
    if total_run:
        lines.append(
            f"\nAll: {total_killed} of {total_run} killed ({total_killed / total_run:.0%})."
        )
    for o in outcomes:
        for name, diff in o.diffs.items():
            lines += ["", f"### {name} ({o.status[name]})", "```diff", diff, "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "groups", nargs="*", choices=[[], *GROUPS], metavar="MODULE", help=", ".join(GROUPS)
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--report", type=Path, help="also write the report (Markdown) here")
    args = parser.parse_args()
    try:
        import mutmut  # noqa: F401
    except ImportError:
        print("mutmut is not installed: pip install -e '.[dev,mutation]'", file=sys.stderr)
        return 2
    keys = args.groups or list(GROUPS)
    work_root = args.work or Path(tempfile.mkdtemp(prefix="outeai-mutation-"))
    work_root.mkdir(parents=True, exist_ok=True)
    log = work_root / "mutmut.log"
    print(f"scratch: {work_root} (mutmut's output: {log})", flush=True)
    outcomes = []
    for key in keys:
        outcome = run_group(key, GROUPS[key], work_root, args.jobs, log)
        print(
            f"{outcome.module}: {outcome.rate:.0%} of {len(outcome.status)} killed "
            f"({outcome.wording} wording mutants not run, {outcome.seconds / 60:.1f} min)",
            flush=True,
        )
        outcomes.append(outcome)
    text = report(outcomes)
    print("\n" + text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

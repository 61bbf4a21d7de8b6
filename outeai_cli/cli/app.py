"""The `outeai` root command: registers the command groups and maps errors to exit codes."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help`.

import atexit
import contextlib
import errno
import functools
import gc
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError

from outeai_cli.cli.coercion import use_plain_values
from outeai_cli.cli.commands import COMMAND_NAMES, COMMANDS
from outeai_cli.cli.errors import EXIT_CODES_HELP, Terminated
from outeai_cli.cli.helptext import use_panels
from outeai_cli.cli.machine import json_requested, print_error_object
from outeai_cli.cli.options import examples
from outeai_cli.errors import InterruptedByUser

if TYPE_CHECKING:
    from outeai_cli.cli.terminal import Terminal

root_app = typer.Typer(
    name="outeai",
    help="Text to speech from the command line, with the OuteTTS API or a local server.",
    epilog=examples(
        'outeai say "Hello there" -o hello.flac',
        'outeai say --offline "Hello there" -o hello.flac',
        'outeai say "Hello there" --play',
        "outeai voices",
        "outeai config set token",
        "outeai serve --engine tone",
    )
    + "\n\n"
    + EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    # Plain Click help: rendering it with Rich imports ~45 ms of modules, which alone would
    # put `outeai --help` far over its start-up budget.
    rich_markup_mode=None,
)


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        from outeai_cli import __version__
        from outeai_cli.cli.terminal import Terminal

        Terminal.of(ctx).print_out(f"outeai {__version__}")
        raise typer.Exit()


@root_app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Text to speech from the command line, with the OuteTTS API or a local server."""


class StdoutClosed(BaseException):
    """The reader of our stdout went away (e.g. `| head`)."""


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn Ctrl-C and a closed stdout into exceptions Typer passes through to `main()`.

    Typer would otherwise swallow KeyboardInterrupt (exit 130 with no message) and EPIPE.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt as exc:
            stop = InterruptedByUser("interrupted")
            for note in notes_of(exc):  # what the run kept, for the line reporting the stop
                stop.add_note(note)
            raise stop from None
        except BrokenPipeError:
            raise StdoutClosed() from None

    return wrapper


_registered: set[str] = set()


def _register(names: tuple[str, ...] = COMMAND_NAMES) -> typer.Typer:
    """Add these commands to the root (each once) and return it.

    A run registers only the command it was asked for: building every command's parameters
    and importing their modules would cost a short call more than the call itself.
    """
    import importlib

    for entry in COMMANDS:
        if entry.name not in names or entry.name in _registered:
            continue
        _registered.add(entry.name)
        module = importlib.import_module(f"outeai_cli.cli.{entry.module}")
        if entry.group:
            group: typer.Typer = module.app
            commands = [*group.registered_commands, group.registered_callback]
            for command in commands:
                if command is not None and command.callback is not None:
                    command.callback = guarded(command.callback)
            root_app.add_typer(
                group, name=entry.name, epilog=module.EPILOG, short_help=entry.short_help
            )
        else:
            root_app.command(entry.name, epilog=module.EPILOG, short_help=entry.short_help)(
                guarded(getattr(module, entry.name))
            )
    # Typer lists commands in registration order: keep the documented order whatever ran.
    root_app.registered_commands.sort(key=lambda info: COMMAND_NAMES.index(info.name or ""))
    root_app.registered_groups.sort(key=lambda info: COMMAND_NAMES.index(info.name or ""))
    use_panels(root_app)
    return root_app


use_plain_values()


def __getattr__(name: str) -> typer.Typer:
    """`app`: the root with every command, for tests and the docs generator."""
    if name == "app":
        return _register()
    raise AttributeError(name)


def _commands_for(args: list[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """The commands a command line needs: the one it names, else all (help, completion, typos)."""
    if args and args[0] in COMMAND_NAMES and "_OUTEAI_COMPLETE" not in environ:
        return (args[0],)
    return COMMAND_NAMES


def _on_stop_signal(signum: int, frame: object) -> None:
    from outeai_cli.synthesis.scheduler import note_stop

    stop = Terminated(signum)
    note_stop(stop)  # in case this raise lands in a finalizer, which would swallow it
    raise stop


def _occupy_closed_standard_streams() -> None:
    """Put /dev/null on a standard descriptor the shell closed (`2>&-`, `>&-`, `<&-`).

    Otherwise the next file opened takes that number: with stderr closed, the audio spool could
    become "fd 2" and receive messages, and Python's `sys.stderr` is None, and print(file=None)
    writes to stdout, which is the audio. So stderr gets a stream that discards; a closed
    stdin or stdout keeps `sys.stdin`/`sys.stdout` None, so commands still see them closed.
    """
    import os

    for fd, mode in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, mode)  # the lowest free number: usually `fd` itself
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")  # noqa: SIM115
    sys.stderr = MessageStream(sys.stderr)


class MessageStream:
    """Standard error whose reader may go away (`2>&1 >/dev/null | head -c 5`).

    Messages that can no longer be shown must not cost the audio, nor turn a finished run's
    exit into 141 (that code is for stdout): the first broken write points fd 2 at /dev/null,
    so what is still buffered, and every later line, goes nowhere and the run goes on.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        import os

        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding... as the stream's
        return getattr(self._stream, name)


def main() -> NoReturn:
    """The `outeai` program: `run` on the process's own streams, signals and exit status."""
    _occupy_closed_standard_streams()  # first: before anything else opens a file
    # A closed terminal (SIGHUP) stops a run like SIGTERM: cleanup runs, nothing is left.
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGHUP, _on_stop_signal)
    # httpx imports its own command-line tool (click, rich, pygments: ~30 ms) whenever those
    # are installed; we never call it. None in sys.modules makes that import fail at once and
    # httpx falls back to a stub.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    # numpy's OpenBLAS reserves buffers for a thread per core at import, and under a memory
    # limit (ulimit -v) it kills the process with one line of its own. Audio work here is
    # copies, not linear algebra: one thread is all it needs. (The user's choice wins.)
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Interpreter shutdown ends with full garbage collections over every object the imports
    # made (Typer, pydantic, httpx): ~30 ms of a short command. Nothing of ours waits on
    # them (files are closed by `with`), so move them out of the collector's sight at exit.
    atexit.register(gc.freeze)
    from outeai_cli.cli.terminal import Terminal

    sys.exit(run(sys.argv[1:], Terminal()))


def run(args: list[str], terminal: "Terminal") -> int:
    """Run one command line and return its exit status. Everything it writes goes through
    `terminal` (the process's streams in `main`), so a test can run it in-process."""
    from outeai_cli.cli.errors import error_parts, format_error, interrupted, unexpected
    from outeai_cli.errors import ExitCode, OuteAIError

    as_json = json_requested(args)

    def fail(exit_code: int, line: str, message: str, hint: str | None = None) -> int:
        """Say `line` on stderr; with --json, the error object on stdout."""
        terminal.print_err(line)
        if as_json:
            print_error_object(terminal, message, exit_code, hint)
        return exit_code

    def stopped(exit_code: ExitCode, message: str) -> int:
        return fail(int(exit_code), f"outeai: {message}", message)

    try:
        command = _register(_commands_for(args, terminal.environ))
        with _click_prints_to(terminal):
            code = command(args, standalone_mode=False, prog_name="outeai", obj=terminal)
    except InterruptedByUser as exc:
        return stopped(ExitCode.INTERRUPTED, interrupted(notes=notes_of(exc)))
    except OuteAIError as exc:
        return fail(int(exc.exit_code), format_error(exc), *error_parts(exc))
    except NoArgsIsHelpError as exc:  # bare `outeai`, `outeai config`: help, as gh and git do
        terminal.print_out(exc.ctx.get_help())
        return 0
    except typer.TyperException as exc:  # Typer's (vendored) Click usage errors
        message, hint = usage_error(exc)
        line = f"outeai: error: {message}{'' if message.endswith('?') else ';'} {hint}"
        return fail(exc.exit_code, line, message, hint)
    except (KeyboardInterrupt, typer.Abort) as exc:
        return stopped(ExitCode.INTERRUPTED, interrupted(notes=notes_of(exc)))
    except Terminated as exc:
        hung_up = exc.signum == signal.SIGHUP
        return stopped(
            ExitCode.HUNG_UP if hung_up else ExitCode.TERMINATED,
            interrupted("hung up" if hung_up else "terminated", notes_of(exc)),
        )
    except (BrokenPipeError, StdoutClosed):
        # The reader went away (e.g. `| head`): stop quietly, as a process killed by SIGPIPE.
        terminal.stdout_gone()
        return 141
    except OSError as exc:
        message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            hint = "raise the open-file limit (ulimit -n) or lower --jobs"
            return fail(int(ExitCode.FAILURE), f"outeai: error: {message}; {hint}", message, hint)
        return fail(int(ExitCode.FAILURE), f"outeai: error: {message}", message)
    except MemoryError:  # this machine's limit (ulimit -v, a container), not a bug of ours
        message = "out of memory"
        hint = "raise the memory limit, or lower --jobs"
        return fail(int(ExitCode.FAILURE), f"outeai: error: {message}; {hint}", message, hint)
    except Exception as exc:  # a bug: one line (the traceback only with OUTEAI_DEBUG=1)
        if terminal.environ.get("OUTEAI_DEBUG") == "1":
            import traceback

            traceback.print_exception(exc, file=terminal.stderr)
        message, hint = unexpected(exc)
        return fail(int(ExitCode.FAILURE), f"outeai: error: {message}; {hint}", message)
    return code if isinstance(code, int) else 0


@contextlib.contextmanager
def _click_prints_to(terminal: "Terminal") -> Iterator[None]:
    """Click prints --help and completion scripts to `sys.stdout` itself: make that the
    terminal's stdout while a command line runs (in a process it already is)."""
    if terminal.stdout is sys.stdout:
        yield
        return
    with contextlib.redirect_stdout(terminal.stdout):
        yield


def usage_error(exc: typer.TyperException) -> tuple[str, str]:
    """Click's three-line usage error as our message, and where to read more."""
    # Typer validates some values through pydantic, whose wording leaks into the message.
    message = exc.format_message().replace("Value error, ", "").rstrip(".")
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "outeai"
    return message, f"run '{command} -h' for help"


def notes_of(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", ()))

"""The `outeai` root command: registers the command groups and maps errors to exit codes."""

# No `from __future__ import annotations` here: Typer would re-evaluate every string
# annotation at start-up, a measurable share of `outeai --help` (issue 5).

import atexit
import functools
import gc
import signal
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError

from outeai_cli.cli.errors import EXIT_CODES_HELP, Terminated
from outeai_cli.cli.helptext import use_panels
from outeai_cli.cli.options import examples
from outeai_cli.errors import InterruptedByUser

app = typer.Typer(
    name="outeai",
    help="Text to speech from the command line, with the OuteTTS API or a local server.",
    epilog=examples(
        'outeai say "Hello there" -o hello.flac',
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
    # put `outeai --help` far over its start-up budget (issue 5: <= 1.25x `import typer`).
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from outeai_cli import __version__

        typer.echo(f"outeai {__version__}")
        raise typer.Exit()


@app.callback()
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
        except KeyboardInterrupt:
            raise InterruptedByUser("interrupted") from None
        except BrokenPipeError:
            raise StdoutClosed() from None

    return wrapper


def _register() -> None:
    from outeai_cli.cli import batch, cache_cmd, config_cmd, say, serve, voices_cmd

    app.command("say", epilog=say.EPILOG)(guarded(say.say))
    app.command("batch", epilog=batch.EPILOG)(guarded(batch.batch))
    app.command(
        "serve", epilog=serve.EPILOG, short_help="Run a local server that speaks the same API."
    )(guarded(serve.serve))
    groups = (
        (config_cmd, "config", "Read and change settings (token, base URL, voice, format...)."),
        (voices_cmd, "voices", "List voices; register your custom ones."),
        (cache_cmd, "cache", "Show or clear the audio pieces kept for re-runs."),
    )
    for module, name, short_help in groups:
        group: typer.Typer = module.app
        commands = [*group.registered_commands, group.registered_callback]
        for command in commands:
            if command is not None and command.callback is not None:
                command.callback = guarded(command.callback)
        app.add_typer(group, name=name, epilog=module.EPILOG, short_help=short_help)
    use_panels(app)


_register()


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main() -> None:
    from outeai_cli.cli.errors import interrupted, report
    from outeai_cli.errors import ExitCode, OuteAIError

    signal.signal(signal.SIGTERM, _on_sigterm)
    # httpx imports its own command-line tool (click, rich, pygments: ~30 ms) whenever those
    # are installed; we never call it. None in sys.modules makes that import fail at once and
    # httpx falls back to a stub (issue 5: one-sentence `say` overhead).
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    # Interpreter shutdown ends with full garbage collections over every object the imports
    # made (Typer, pydantic, httpx): ~30 ms of a short command. Nothing of ours waits on
    # them (files are closed by `with`), so move them out of the collector's sight at exit.
    atexit.register(gc.freeze)
    try:
        code = app(standalone_mode=False, prog_name="outeai")
    except InterruptedByUser:
        sys.exit(interrupted())
    except OuteAIError as exc:
        sys.exit(report(exc))
    except NoArgsIsHelpError as exc:  # bare `outeai`, `outeai config`: help, as gh and git do
        print(exc.ctx.get_help())
        sys.exit(0)
    except typer.TyperException as exc:  # Typer's (vendored) Click usage errors
        print(usage_error_line(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(interrupted())
    except Terminated:
        interrupted("terminated")
        sys.exit(int(ExitCode.TERMINATED))
    except (BrokenPipeError, StdoutClosed):
        _quiet_broken_pipe()
    except OSError as exc:
        print(
            f"outeai: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        sys.exit(int(ExitCode.FAILURE))
    sys.exit(code if isinstance(code, int) else 0)


def usage_error_line(exc: typer.TyperException) -> str:
    """Click's three-line usage error as our one line, with where to read more."""
    # Typer validates some values through pydantic, whose wording leaks into the message.
    message = exc.format_message().replace("Value error, ", "").rstrip(".")
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "outeai"
    separator = " " if message.endswith("?") else "; "
    return f"outeai: error: {message}{separator}run '{command} -h' for help"


def _quiet_broken_pipe() -> None:
    import os

    # The reader went away (e.g. `| head`): stop quietly; point stdout at /dev/null so the
    # interpreter's final flush does not complain.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)

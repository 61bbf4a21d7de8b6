"""Terminal facts in one object: which streams are TTYs, colour, and where output may go.

Commands write through it (audio, JSON, messages), never to `sys.stdout`/`sys.stderr`
directly, so a test can run a command in-process with its own streams: `app.run(args,
terminal)` gives the Terminal to the command as its context object.
"""

from __future__ import annotations

import io
import os
import re
import sys
from typing import IO, Any, BinaryIO, cast


class _ClosedStdin(io.RawIOBase):
    """Standard input when the shell closed it (`<&-`): reading is a clear error."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        from outeai_cli.errors import InputError

        raise InputError(
            "standard input is closed", hint="give the input as an argument or in a file instead"
        )


class Terminal:
    """The process's standard streams and environment, or the ones a test gives."""

    def __init__(
        self,
        stdin: IO[Any] | None = None,
        stdout: IO[Any] | None = None,
        stderr: IO[Any] | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        # (a closed stream is None in sys: `stdout_closed` tells)
        self.stdin: IO[Any] = sys.stdin if stdin is None else stdin
        self.stdout: IO[Any] = sys.stdout if stdout is None else stdout
        self.stderr: IO[Any] = sys.stderr if stderr is None else stderr
        self.environ = dict(os.environ) if environ is None else environ

    @classmethod
    def of(cls, context: Any) -> Terminal:
        """The Terminal a command was given as its context object, else the real one."""
        given = context.find_object(cls) if context is not None else None
        return given if given is not None else cls()

    @classmethod
    def current(cls) -> Terminal:
        """The Terminal of the command being run (for code that is not given its context)."""
        from typer._click.globals import get_current_context

        return cls.of(get_current_context(silent=True))

    @property
    def stdout_bytes(self) -> BinaryIO:
        """Standard output as bytes, for audio."""
        return cast(BinaryIO, getattr(self.stdout, "buffer", self.stdout))

    @property
    def stdout_closed(self) -> bool:
        """The shell closed standard output (`>&-`): Python has no stream for it."""
        return self.stdout is None

    def print_out(self, line: str) -> None:
        """A line of machine-readable output (e.g. --json)."""
        print(line, file=self.stdout, flush=True)

    def prompt_hidden(self, label: str) -> str:
        """Ask for a secret on the terminal, typed without echo (asked again while empty)."""
        import typer

        return str(typer.prompt(label, hide_input=True, err=True))

    def stdout_gone(self) -> None:
        """The reader of stdout went away: send what is still buffered for it to /dev/null,
        so the final flush does not fail a second time."""
        try:
            fd = self.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # no descriptor: nothing to redirect
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def print_err(self, line: str) -> None:
        """A line for the user: messages and summaries go to stderr, never into the audio.

        On a terminal it is wrapped between words, so a path is never cut in two. Control
        characters (in a path, say) are shown escaped: they reach no terminal as such.
        """
        if self.stderr is None:  # print(file=None) would write to stdout: the audio
            return
        line = visible(line)
        if self.stderr_is_tty:
            import textwrap

            line = textwrap.fill(
                line,
                self.stderr_columns(),
                subsequent_indent="  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        print(line, file=self.stderr, flush=True)

    def say_reading_the_terminal(self, what: str) -> None:
        """Before reading stdin that is a terminal: what is read and how to end it, instead of
        a silent wait (a pipe or a file needs no word)."""
        if self.stdin_is_tty:
            end = "Ctrl-Z then Enter" if os.name == "nt" else "Ctrl-D on a new line"
            self.print_err(f"outeai: reading {what} from the terminal; end with {end}")

    def stderr_columns(self) -> int:
        """The terminal's width: COLUMNS when set (as Rich and Click read it), else the tty's."""
        columns = self.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        try:
            return os.get_terminal_size(self.stderr.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            return 80

    @property
    def stdin_bytes(self) -> BinaryIO:
        """Standard input as bytes (text is decoded strictly later, naming bad offsets)."""
        if self.stdin is None:
            return cast(BinaryIO, io.BufferedReader(_ClosedStdin()))
        return cast(BinaryIO, getattr(self.stdin, "buffer", self.stdin))

    @staticmethod
    def _isatty(stream: IO[Any]) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def stdin_is_tty(self) -> bool:
        return self._isatty(self.stdin)

    @property
    def stdout_is_tty(self) -> bool:
        return self._isatty(self.stdout)

    @property
    def stderr_is_tty(self) -> bool:
        return self._isatty(self.stderr)

    @property
    def color(self) -> bool:
        if "NO_COLOR" in self.environ or self.environ.get("TERM") == "dumb":
            return False
        return self.stderr_is_tty

    @property
    def live(self) -> bool:
        """Live redrawing progress only on a real, capable terminal."""
        return self.stderr_is_tty and self.environ.get("TERM") != "dumb"

    def stderr_console(self) -> Any:
        from rich.console import Console

        return Console(
            file=self.stderr,
            force_terminal=self.live or None,
            no_color=not self.color,  # also makes Rich's bar drop its grey "remaining" part
            # and no colour system at all: under no_color alone Rich still emits bold/dim.
            color_system="auto" if self.color else None,
            highlight=False,
            soft_wrap=True,
        )


# C0 (the newline too: one message is one line), DEL, C1 and the bidirectional controls.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with its control characters written as escapes (`\\x1b`, `\\u202e`).

    Server text was already cleaned of them; what is left is the user's own (a file named
    with an escape sequence), shown as it is without letting it act on the terminal.
    """
    return _CONTROLS.sub(lambda match: ascii(match.group())[1:-1], text)


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as a person would type it: relative when it is under the current directory."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    outside = relative == os.pardir or relative.startswith(os.pardir + os.sep)
    return str(path) if outside else relative


class CountedOutput:
    """Binary output onto a stream's file descriptor that counts the bytes that reached it,
    so a stopped `-o -` can say how much audio went out.

    It has no fileno() on purpose: writers then go through write(), which writes to the
    descriptor directly (a buffered file object can report a partial write to a closed pipe
    as success) and raises BrokenPipeError when the reader has gone.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.written = 0
        # Bytes of a write a stop cut short: some of them may have gone (a signal lands as the
        # call returns, so its count is lost).
        self.maybe_written = 0
        try:
            self._fd: int | None = stream.fileno()
            stream.flush()
        except (AttributeError, OSError, ValueError):  # not backed by a descriptor
            self._fd = None

    def write(self, data: bytes) -> int:
        if self._fd is None:
            self._stream.write(data)
            self.written += len(data)
            return len(data)
        from outeai_cli.output.destination import write_some

        view = memoryview(data)
        while view:
            self.maybe_written = len(view)
            sent = write_some(self._fd, view)
            self.maybe_written = 0
            self.written += sent
            view = view[sent:]
        return len(data)

    def flush(self) -> None:
        if self._fd is None:
            self._stream.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

"""The live display of a run that plays or streams its audio as it is made (`say --play`, a text
still arriving): what is heard, the pieces played, queued and in flight, the text received,
and the lag between the newest text and the sound. Drawn by Rich from `Speech.status()` at
each refresh; notes and notices are printed above it as by the other displays.

    ▶ Playing 0:12 heard of 0:20 ready · lag 1.8 s
      pieces 3 heard · 1 playing · 2 queued · 1 in flight
      text 1,234 characters, more coming

Every line fits in 60 columns; a narrower terminal cuts them with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from outeai_cli.cli.progress_line import clock

if TYPE_CHECKING:
    from outeai_cli.cli.terminal import Terminal
    from outeai_cli.synthesis.notices import Notice
    from outeai_cli.synthesis.progress import RunProgress
    from outeai_cli.synthesis.speech import SpeechStatus

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class PlainSpeechDisplay:
    """For logs and pipes: the notes and notices as lines, nothing else (a text still arriving
    may keep a run waiting for it as long as it likes)."""

    def __init__(self, terminal: Terminal, notice_text: Callable[[Notice], str]) -> None:
        self._out = terminal.stderr
        self._notice_text = notice_text

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, progress: RunProgress) -> None:
        for notice in progress.notices:
            print(f"outeai: {self._notice_text(notice)}", file=self._out, flush=True)
        if progress.note:
            print(f"outeai: {progress.note}", file=self._out, flush=True)


class SpeechDisplay:
    """Rich Live on the terminal's stderr for the length of the context."""

    def __init__(
        self,
        terminal: Terminal,
        notice_text: Callable[[Notice], str],
        status: Callable[[], SpeechStatus],
        *,
        doing: str,
    ) -> None:
        self.console = terminal.stderr_console()
        self._notice_text = notice_text
        self._status = status
        self._doing = doing  # "Playing", "Streaming", "Saving"
        self._in_flight = 0
        self._frame = 0
        self._live: Any = None

    def __enter__(self) -> Self:
        from rich.live import Live

        self._live = Live(
            self,
            console=self.console,
            transient=True,
            refresh_per_second=8,
            redirect_stdout=False,  # stdout may be carrying the audio
        )
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def message(self, text: str) -> None:
        self.console.print(f"outeai: {text}", markup=False, highlight=False, soft_wrap=False)

    def update(self, progress: RunProgress) -> None:
        for notice in progress.notices:
            self.message(self._notice_text(notice))
        if progress.note:
            self.message(progress.note)
        self._in_flight = len(progress.in_flight)

    def lines(self, status: SpeechStatus) -> list[str]:
        """What the display shows for `status` (also what tests and the README render)."""
        self._frame += 1
        playing = self._doing == "Playing"
        if playing:
            mark = "▶" if status.heard > 0 else _SPINNER[self._frame % len(_SPINNER)]
            head = (
                f"{mark} Playing {clock(status.heard, short=True)} heard of "
                f"{clock(status.ready_seconds, short=True)} ready"
            )
        else:
            mark = _SPINNER[self._frame % len(_SPINNER)]
            head = f"{mark} {self._doing} {clock(status.ready_seconds, short=True)} of audio"
        if status.lag is not None:
            head += f" · lag {status.lag:.1f} s"
        counts = (
            [f"{status.played} heard", f"{int(status.playing)} playing", f"{status.queued} queued"]
            if playing
            else [f"{status.ready} ready"]
        )
        counts.append(f"{self._in_flight} in flight")
        pieces = "  pieces " + " · ".join(counts)
        more = "more coming" if status.text_open else "all received"
        text = f"  text {status.received_chars:,} characters, {more}"
        return [head, pieces, text]

    def __rich__(self) -> Any:
        from rich.text import Text

        text = Text("\n".join(self.lines(self._status())), no_wrap=True, overflow="ellipsis")
        return text

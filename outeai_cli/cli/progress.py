"""Show a run's progress: a live display on a terminal, sparse plain lines otherwise, or
nothing (`make_display`). Every run reports one type, `RunProgress`, whose `unit` says what it
counts: one request (its stage, chunks and seconds of audio), a long text's pieces, or a
batch's items (one overall line with an ETA and the requests in flight below it).

Plain output (logs, pipes) says only what carries information: the notes and notices as lines,
a line for one request only when it is late, a progress line for many at most every few
seconds, and the cold-start hint when the service has said nothing for a while. The live
display is `progress_live`, its line `progress_line`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, Self

from outeai_cli.cli.progress_line import (
    COLD_START,
    LATE,
    PaceEstimate,
    answered,
    clock,
    request_line,
)
from outeai_cli.cli.terminal import Terminal

if TYPE_CHECKING:
    from outeai_cli.settings.config import Settings
    from outeai_cli.synthesis.notices import Notice
    from outeai_cli.synthesis.progress import RunProgress


class Display(Protocol):
    def __enter__(self) -> Display: ...
    def __exit__(self, *exc: object) -> None: ...
    def update(self, progress: RunProgress) -> None: ...


def make_display(terminal: Terminal, settings: Settings, *, quiet: bool) -> Display | None:
    """The display for this terminal; None when quiet."""
    if quiet:
        return None
    notice_text = _NoticeWording(settings)
    if terminal.live:
        from outeai_cli.cli.progress_live import LiveDisplay

        return LiveDisplay(terminal, notice_text)
    return PlainDisplay(terminal, notice_text)


def notice_wording(settings: Settings) -> Callable[[Notice], str]:
    """How notices are worded as lines (for a display of its own, e.g. a run that plays)."""
    return _NoticeWording(settings)


class _NoticeWording:
    """A notice as a line: which flag or file a value came from is the CLI's to say."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(self, notice: Notice) -> str:
        from outeai_cli.synthesis.notices import APIFound

        if isinstance(notice, APIFound):
            return notice.describe()
        api, setting, value = notice
        given = self._settings.resolve(setting)
        shown = f"{value:g}" if isinstance(value, float) else value
        if setting == "model":
            what = "--model" if given.source == "flag" else f"model from {given.source}: {shown}"
            return f"warning: the {api} API has no model choice; {what} is ignored"
        if given.value != value:  # an item's own value (a batch manifest's)
            origin = "temperature"
        else:
            origin = "-t" if given.source == "flag" else f"temperature from {given.source}:"
        return f"warning: the {api} API has no temperature; {origin} {shown} is ignored"


# -- plain lines ----------------------------------------------------------------------------------


class PlainDisplay:
    """For logs and pipes: a quick run prints nothing but its notes; a slow one a line now and
    then; and the cold-start hint once if the service says nothing within LATE seconds."""

    def __init__(self, terminal: Terminal, notice_text: Callable[[Notice], str]) -> None:
        self._out = terminal.stderr
        self._notice_text = notice_text
        self._said_at = time.monotonic()  # the start counts as news
        self._late = threading.Timer(LATE, self.message, args=(COLD_START,))
        self._late.daemon = True
        self._last = ""  # the last request line said
        self._finished = 0
        self._pace = PaceEstimate()

    def __enter__(self) -> Self:
        self._late.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._late.cancel()

    def message(self, text: str) -> None:
        print(f"outeai: {text}", file=self._out, flush=True)

    def update(self, progress: RunProgress) -> None:
        for notice in progress.notices:
            self.message(self._notice_text(notice))
        if answered(progress):
            self._late.cancel()
        now = time.monotonic()
        if progress.note:  # (a note that comes with a finished unit speaks for it)
            self.message(progress.note)
        if progress.unit == "request":
            self._request(progress, now)
        else:
            self._overall(progress, now)

    def _request(self, progress: RunProgress, now: float) -> None:
        if progress.note:  # a retry: said; its stage is news enough for a while
            self._said_at = now
            return
        flying = [entry for entry in progress.in_flight if entry.stage != "sending"]
        if not flying:
            return
        line = request_line(flying[0])
        if line != self._last and now - self._said_at >= LATE:
            self._last, self._said_at = line, now
            self.message(line)

    def _overall(self, progress: RunProgress, now: float) -> None:
        eta = self._pace.update(progress, now)
        finished = progress.done + progress.failed
        if not progress.note and finished != self._finished and now - self._said_at >= LATE:
            failed = f", {progress.failed} failed" if progress.failed else ""
            left = f", ETA {clock(eta)}" if eta is not None and eta >= 1 else ""
            self.message(
                f"{finished}/{progress.total} {progress.unit} done{failed}, "
                f"{progress.audio_seconds:.1f} s of audio{left}"
            )
            self._said_at = now
        self._finished = finished

"""Text that is still arriving (a pipe, a log, an LLM's answer) cut into pieces as it comes.

`SentenceBuffer` is the splitter of `splitting` applied to a growing buffer: a sentence
becomes a piece as soon as it is complete, complete sentences that are there together are
packed up to the cap as `split_text` packs them, and a sentence that outgrows the cap is cut
at the cap (after a clause, else between words, else inside one) without waiting for its end.
A sentence counts as complete when the segmenter puts a boundary after it and more text (or
whitespace) follows; a pause in the input closes whatever is held. It never holds more than
about one piece of text, however long the line.

`LiveText` reads a file descriptor (stdin, a FIFO, a file) a block at a time on a thread of its
own, decodes it strictly (UTF-8 split across reads is joined), and queues the pieces for the
run; while the queue is full it stops reading, so a producer faster than speech (`yes`) is held
back by the pipe instead of filling memory. `LiveText.start` tells a text that was all there
at once (it ended within SETTLE of its first byte and OPENING_LIMIT characters, or is a file
of at most FILE_OPENING_LIMIT: spoken as a whole text, as before) from one still arriving.
"""

from __future__ import annotations

import codecs
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from outeai_cli.errors import InputError
from outeai_cli.synthesis.splitting import (
    Piece,
    Span,
    pack_sentences,
    sentence_spans,
    without_controls,
)

READ_BLOCK = 1 << 16
# Characters read before a text still coming is spoken as it comes: a pipe's first block; a
# file (read at once until now) up to a long chapter.
OPENING_LIMIT = READ_BLOCK
FILE_OPENING_LIMIT = 1 << 20
# An input that ends within this many seconds of its first byte is a whole text (`echo`, `cat`,
# a script's here-string): spoken as any text given at once. One still open is live.
SETTLE = 0.25
_POLL = 0.1  # seconds between checks for a stop while waiting for room in the queue


class SentenceBuffer:
    """Pieces of a text fed in fragments; offsets count from the start of all text fed."""

    def __init__(self, max_chars: int, language: str = "en") -> None:
        self.max_chars = max_chars
        self.language = language
        self._text = ""  # held: received, not yet in a piece
        self._base = 0  # offset of `_text` in all text fed

    @property
    def held(self) -> str:
        """The text received but not yet in a piece (at most about one piece)."""
        return self._text

    def feed(self, text: str) -> list[Piece]:
        """Add text; the pieces it completed."""
        self._text += text
        return self._take(final=False)

    def flush(self) -> list[Piece]:
        """The input ended: everything held becomes pieces."""
        return self._take(final=True)

    def pause(self) -> list[Piece]:
        """The input paused: what is held becomes pieces, up to its last whole word (a word
        it stopped inside of waits for the next pause, or the end)."""
        text = self._text
        end = len(text.rstrip())
        cut = max(text.rfind(c, 0, end) for c in (" ", "\t", "\n"))
        if end == len(text) and cut > 0:  # it stopped inside a word: keep that word
            rest, self._text = text[cut:], text[:cut]
            pieces = self._take(final=True)  # (the base moves past what it took)
            kept = rest.lstrip()
            self._base += len(rest) - len(kept)
            self._text = kept
            return pieces
        return self._take(final=True)

    def _take(self, *, final: bool) -> list[Piece]:
        text, base = self._text, self._base
        spans = sentence_spans(text, self.language)
        if not spans:
            self._drop(len(text))
            return []
        ready = spans if final or self._closes(text, spans[-1]) else spans[:-1]
        found = list(pack_sentences(text, ready, self.max_chars)) if ready else []
        if len(ready) < len(spans):
            start, end = spans[-1]
            if end - start > self.max_chars:  # too long to wait for its end: cut what is sure
                found += list(pack_sentences(text, [(start, end)], self.max_chars))[:-1]
        self._drop(len(text) if final else found[-1][1] if found else 0)
        return [Piece(base + s, base + e, text[s:e]) for s, e in found]

    def _drop(self, count: int) -> None:
        """Forget the first `count` characters and the whitespace after them."""
        rest = self._text[count:]
        kept = rest.lstrip()
        self._base += count + len(rest) - len(kept)
        self._text = kept

    def _closes(self, text: str, span: Span) -> bool:
        """Whether the last sentence is over: whitespace follows it, and the segmenter still
        ends it there with a new sentence after that whitespace (so "Dr. " waits)."""
        start, end = span
        if end == len(text):
            return False
        probe = sentence_spans(text[start:] + "A", self.language)
        return len(probe) > 1 and probe[0][1] == end - start


class StrictDecoder:
    """UTF-8 decoded a block at a time, strictly; a leading BOM is dropped. An error names
    the offending byte and its offset in the whole input."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._fed = 0
        self._first = True

    def decode(self, data: bytes, *, final: bool = False) -> str:
        pending = self._decoder.getstate()[0]
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            offset = self._fed - len(pending) + exc.start
            raise InputError(
                f"{self.source} is not valid UTF-8 "
                f"(invalid byte 0x{exc.object[exc.start]:02x} at offset {offset})",
                hint="convert it to UTF-8 first (e.g. with iconv)",
            ) from None
        self._fed += len(data)
        if self._first and text:
            self._first = False
            text = text.removeprefix("\ufeff")
        return without_controls(text)


class TextFilter(Protocol):
    """Rewrites text on its way to the splitter, fragment by fragment (e.g. Markdown)."""

    def feed(self, text: str) -> str: ...
    def close(self) -> str: ...


class LivePiece(NamedTuple):
    """A piece of a live text and when its last character arrived (time.monotonic)."""

    piece: Piece
    arrived: float


class TextEnded(NamedTuple):
    """The input ended; `pieces` were queued in all."""

    pieces: int


class LiveText:
    """Read `fd` on a thread and queue its pieces (see the module docstring).

    `pause` is how long the input may stay quiet before what it holds is spoken; `ahead` how
    many pieces may wait for the run before reading stops; `wake` (if given) is called from the
    reading thread whenever something is queued, to wake a loop waiting on other things.
    """

    def __init__(
        self,
        fd: int,
        source: str,
        *,
        max_chars: int,
        language: str = "en",
        pause: float = 0.5,
        ahead: int = 8,
        text_filter: TextFilter | None = None,
        wake: Callable[[], None] | None = None,
        closefd: bool = False,
    ) -> None:
        self._fd = fd
        self._closefd = closefd  # the descriptor is ours: closed when the reading ends
        self.source = source
        self._buffer = SentenceBuffer(max_chars, language)
        self._decoder = StrictDecoder(source)
        self._filter = text_filter
        self._pause = pause
        self._quiet_since = time.monotonic()  # the last read, or the last pause spoken
        self._queue: queue.Queue[LivePiece | TextEnded | BaseException] = queue.Queue(ahead)
        self._wake = wake
        self._stop = threading.Event()
        self._opening: list[str] | None = []  # text kept until the input proves to be live
        self._opening_size = 0
        self._opened_at: float | None = None  # when the first byte came
        self._opening_limit = OPENING_LIMIT
        self.beginning = ""  # the first words received (to name an output after)
        self._decided = threading.Event()
        self._whole: str | None = None
        self._failure: BaseException | None = None
        self.received_chars = 0  # characters of text received (after the filter)
        self.received_bytes = 0
        self.last_text_at: float | None = None
        self.pieces = 0
        self.ended = False
        self._thread = threading.Thread(target=self._run, name="outeai-live-text", daemon=True)

    def start(self) -> str | None:
        """Start reading; return once it is known whether the text was all there at once: then
        the whole text (to be spoken as any other), else None (its pieces come from `next`).
        Raises what stopped the reading before that was known."""
        self._thread.start()
        self._decided.wait()
        if self._whole is not None:
            return self._whole
        if self._failure is not None and self._opening is not None:
            raise self._failure
        return None

    def next(self, timeout: float | None = None) -> LivePiece | TextEnded | None:
        """The next piece, TextEnded at the end, or None if none came within `timeout`.
        Raises what stopped the reading (a decode error, a read error)."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stop reading (the thread leaves at its next wake-up; it never blocks the exit)."""
        self._stop.set()

    def close(self, wait: float = 1.0) -> None:
        """Stop reading and wait (up to `wait` s) for the thread to leave: a daemon thread that
        wakes while the interpreter exits is ended inside the C library, which can abort the
        process ('FATAL: exception not rethrown', exit 134) after its last line was printed."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    # -- the reading thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._read()
        except BaseException as exc:  # handed to the run, which reports it
            self._failure = exc
            self._decided.set()
            self._put(exc)
        finally:
            if self._closefd:
                os.close(self._fd)

    def _read(self) -> None:
        poller = self._poller()
        self._opening_limit = OPENING_LIMIT if poller is not None else FILE_OPENING_LIMIT
        while not self._stop.is_set():
            if poller is not None:
                # Waits in slices, so that a stop is seen while the input is quiet.
                wait = self._wait_time()
                if not _readable(poller, _POLL if wait is None else min(wait, _POLL)):
                    if wait is not None and wait <= _POLL:
                        self._quiet()
                        self._quiet_since = time.monotonic()
                    continue
            try:
                data = os.read(self._fd, READ_BLOCK)
            except BlockingIOError:  # a non-blocking descriptor that had nothing after all
                continue
            except OSError as exc:
                raise InputError(f"cannot read {self.source} ({exc.strerror})") from None
            if not data:
                self._end()
                return
            self._quiet_since = time.monotonic()
            self.received_bytes += len(data)
            self._take(self._decoder.decode(data))

    def _wait_time(self) -> float | None:
        """How long to wait for more input before `_quiet` (None: for ever)."""
        if self._opening is not None:  # after its first byte, an input has SETTLE to end
            if self._opened_at is None:
                return None
            return max(0.0, self._opened_at + SETTLE - time.monotonic())
        if not self._buffer.held:
            return None
        return max(0.0, self._quiet_since + self._pause - time.monotonic())

    def _quiet(self) -> None:
        """Nothing came for `_wait_time`: an input still open after SETTLE is live; text held
        for `pause` is spoken."""
        if self._opening is not None:
            self._go_live()
            return
        self._queue_pieces(self._buffer.pause())

    def _take(self, text: str) -> None:
        if self._opened_at is None:
            self._opened_at = time.monotonic()
        if self._filter is not None:
            text = self._filter.feed(text)
        if not text:
            return
        self.received_chars += len(text)
        self.last_text_at = time.monotonic()
        if self._opening is None:
            self._queue_pieces(self._buffer.feed(text))
            return
        self._opening.append(text)
        self._opening_size += len(text)
        if self._opening_size > self._opening_limit:
            self._go_live()

    def _go_live(self) -> None:
        """The text is still arriving: what came so far goes to the splitter, and on from here."""
        if self._opening is None:
            return
        text, self._opening = "".join(self._opening), None
        self.beginning = text[:200]
        self._decided.set()
        for start in range(0, len(text), READ_BLOCK):  # (a block at a time: bounded memory)
            if self._stop.is_set():
                return
            self._queue_pieces(self._buffer.feed(text[start : start + READ_BLOCK]))

    def _end(self) -> None:
        tail = self._decoder.decode(b"", final=True)
        if self._filter is not None:
            tail = self._filter.feed(tail) + self._filter.close()
        if tail:
            self.received_chars += len(tail)
            self.last_text_at = time.monotonic()
        if self._opening is not None:  # all there at once: the caller speaks it whole
            whole = "".join(self._opening) + tail
            if not whole.strip():
                raise InputError(f"{self.source} is empty", hint="give some text to speak")
            self._whole = whole
            self._decided.set()
            return
        self._queue_pieces(self._buffer.feed(tail) + self._buffer.flush())
        if not self.pieces:
            raise InputError(f"{self.source} is empty", hint="give some text to speak")
        self.ended = True
        self._put(TextEnded(self.pieces))

    def _queue_pieces(self, pieces: list[Piece]) -> None:
        now = time.monotonic()
        for piece in pieces:
            if self._stop.is_set():
                return
            self.pieces += 1
            self._put(LivePiece(piece, now))

    def _put(self, item: LivePiece | TextEnded | BaseException) -> None:
        while True:
            try:
                self._queue.put(item, timeout=_POLL)
                break
            except queue.Full:
                if self._stop.is_set():
                    return
        if self._wake is not None:
            self._wake()

    def _poller(self) -> select.poll | None:
        """A poll on the descriptor, or None for a regular file (always ready, never paused)."""
        import stat

        if stat.S_ISREG(os.fstat(self._fd).st_mode):
            return None
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        return poller


def _readable(poller: select.poll, timeout: float | None) -> bool:
    """Whether the descriptor has data (or its end) within `timeout` seconds (None: wait)."""
    return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))

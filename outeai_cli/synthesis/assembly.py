"""Assembly: a job's audio into its output, strictly in order, checked on the way.

Pieces are stitched into the output as soon as each and every piece before it are fetched,
so encoding overlaps with the requests and spool files are deleted as they are consumed; the
stitcher's decode of a piece is its check (every frame, length, MD5): one decode. Each piece,
once in the output, is handed to the job's listeners (`ReadyPiece`), in order. With listeners,
that one decode is `pcm.decode_piece`'s: the samples it proved whole are stitched and handed on
(to a player, a stream written as it goes), so nothing that fails its check reaches them; an
output that is nowhere (`Destination.nowhere`) is not stitched at all. A text of one
piece with nothing to add is copied as delivered (or converted) at the end instead; a text
sent whole, streamed straight into the output, is checked (and converted) by
`output.received.finish_received`, as `TTSOutput.save` writes the audio of one request.

The end (`Assembly.finish`) proves the whole output decodes (a stitched FLAC while it is
written: its check ends with it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from outeai_cli.audio.verify import AudioCheck, DamagedAudio, check_audio
from outeai_cli.errors import ProtocolError
from outeai_cli.synthesis.pieces import Part, PieceTask
from outeai_cli.synthesis.subtitles import Cue

if TYPE_CHECKING:
    from outeai_cli.audio.pcm import PCMPiece
    from outeai_cli.audio.stitching import Placement, Stitcher
    from outeai_cli.output.destination import Destination

_COPY_BLOCK = 1 << 20


class ReadyPiece(NamedTuple):
    """A piece now in the output, for a job's listeners (on the driving thread, in order).

    Its parts' spool files exist until the listener returns; `start` and `end` are its frames
    in the output (at `samplerate`), the silence of a pause before it not included.
    """

    number: int  # 1-based
    text: str
    parts: tuple[Part, ...]
    start: int
    end: int
    samplerate: int
    # Each part's samples, decoded and checked; a listener that keeps one calls its `share`
    # first (the assembly lets go of them when the listeners return).
    samples: tuple[PCMPiece, ...] = ()


Listener = Callable[[ReadyPiece], None]


class Assembled(NamedTuple):
    """What the finished output holds."""

    duration: float | None
    cues: tuple[Cue, ...]
    delivered_format: str
    silent: bool | None  # no sample of the pieces above -60 dBFS (`audio.loudness`)


class Assembly:
    """The pieces of `order` into `destination` (see the module docstring).

    `stitch`: stitch as pieces arrive (several pieces, a pause, or pieces still to come);
    otherwise the one piece is written at `finish`.
    """

    def __init__(
        self,
        destination: Destination,
        fmt: str,
        *,
        stitch: bool,
        pause: float = 0.0,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.destination = destination
        self.fmt = fmt
        self.listeners = tuple(listeners)
        self.cues: list[Cue] = []
        self._next = 0  # the next piece of the order to assemble
        self._stitcher: Stitcher | None = None
        self._pause = pause
        self._frames = 0  # where the next piece starts, when nothing is stitched
        self._samplerate = 0
        if stitch and not destination.nowhere:
            from outeai_cli.audio.stitching import Stitcher

            self._stitcher = Stitcher(destination.handle, fmt, pause=pause)

    def advance(self, order: Sequence[PieceTask[Any]]) -> None:
        """Stitch every piece whose audio is here and whose predecessors are all in."""
        stitcher = self._stitcher
        if stitcher is None and not self.destination.nowhere:
            return
        while self._next < len(order) and order[self._next].parts is not None:
            task = order[self._next]
            parts = tuple(task.parts or ())
            what = f"the audio of piece {task.number}"
            samples = self._decoded(parts, what) if self.listeners else ()
            start = -1
            try:
                for index, part in enumerate(parts):
                    assert part.path is not None
                    if samples:
                        placed = self._place(samples[index])
                    else:
                        assert stitcher is not None
                        placed = stitcher.append(part.path, expected=part.format, what=what)
                    start = placed.start if start < 0 else start
                    self.cues.append(Cue(part.text, placed.start, placed.end, self.samplerate))
                self._next += 1
                start = start if start >= 0 else self.frames  # (a piece without parts)
                ready = ReadyPiece(
                    self._next,
                    task.piece.text,
                    parts,
                    start,
                    self.frames,
                    self.samplerate,
                    samples,
                )
                for listener in self.listeners:
                    listener(ready)
            finally:
                for piece in samples:
                    piece.release()
            task.uses -= 1
            if task.uses == 0:  # the last piece it serves: its spool files are done with
                for part in parts:
                    if part.path is not None:
                        part.path.unlink(missing_ok=True)

    @property
    def frames(self) -> int:
        return self._stitcher.frames if self._stitcher is not None else self._frames

    @property
    def samplerate(self) -> int:
        return self._stitcher.samplerate if self._stitcher is not None else self._samplerate

    def _decoded(self, parts: tuple[Part, ...], what: str) -> tuple[PCMPiece, ...]:
        """Each part decoded once, and proven whole by that decode (see `pcm.decode_piece`)."""
        from outeai_cli.audio.pcm import decode_piece

        samples: list[PCMPiece] = []
        try:
            for part in parts:
                assert part.path is not None
                samples.append(
                    decode_piece(
                        part.path,
                        expected=part.format,
                        what=what,
                        directory=self.destination.pieces_dir,
                    )
                )
        except BaseException:
            for piece in samples:
                piece.release()
            raise
        return tuple(samples)

    def _place(self, piece: PCMPiece) -> Placement:
        """The checked samples into the output, or, when it is nowhere, only counted."""
        from outeai_cli.audio.stitching import Placement

        if self._stitcher is not None:
            return self._stitcher.append_samples(piece)
        if not self._samplerate:
            self._samplerate = piece.samplerate
        elif piece.samplerate != self._samplerate:
            raise ProtocolError(
                f"a piece came back at {piece.samplerate} Hz but the earlier pieces are at "
                f"{self._samplerate} Hz",
                hint="the server changed its audio format mid-run; refusing to resample",
            )
        if self._frames and self._pause:
            self._frames += round(self._pause * self._samplerate)
        start = self._frames
        self._frames += piece.frames
        return Placement(start, self._frames)

    def finish(self, order: Sequence[PieceTask[Any]]) -> Assembled:
        """Write what is left, close the output and prove it decodes completely."""
        destination = self.destination
        first = order[0].parts or []
        if destination.nowhere:  # nothing was written: nothing to prove
            duration = round(self._frames / self._samplerate, 3) if self._samplerate else 0.0
            delivered = first[0].format if first else "unknown"
            return Assembled(duration, tuple(self.cues), delivered, None)
        copied: Part | None = None
        proof: AudioCheck | None = None  # made while the stitcher wrote it
        if self._stitcher is None:  # (it may start one: a piece the server made us split)
            copied = self._write_single(order[0])
        if self._stitcher is not None:
            proof = self._stitcher.close()
        destination.start_flush()
        what = f"the audio of piece {order[0].number}" if copied else "the stitched audio"
        check = proof or check_audio(destination.handle, expected=self.fmt, what=what)
        lossless = self.fmt in ("flac", "wav")  # (an MP3 encoder pads: more frames decode)
        if lossless and self._stitcher is not None and check.frames != self._stitcher.frames:
            raise DamagedAudio(
                f"{what} is damaged: {check.frames} frames decode, "
                f"but {self._stitcher.frames} were written"
            )
        if copied is not None:  # the output is the piece, byte for byte: so are its frames
            self.cues = [Cue(copied.text, 0, check.frames, check.samplerate)]
        duration = round(self.cues[-1].end_seconds if self.cues else 0.0, 3)
        delivered = first[0].format if first else "unknown"
        # The stitcher heard every piece's samples (an MP3 output itself is only walked).
        silent = self._stitcher.silent if self._stitcher is not None else check.silent
        return Assembled(duration, tuple(self.cues), delivered, silent)

    def abort(self) -> None:
        if self._stitcher is not None:
            self._stitcher.abort()

    def _write_single(self, task: PieceTask[Any]) -> Part | None:
        """One piece and nothing to add: its bytes as delivered when the format matches
        (re-encoding would gain nothing, and lose quality for MP3), else converted. Returns the
        piece copied as delivered, whose proof is then the output's own check; else sets the
        cues (and the stitcher, left for `finish` to close, if the piece came in parts)."""
        from outeai_cli.audio.formats import convert
        from outeai_cli.audio.stitching import Stitcher

        out = self.destination.handle
        parts = task.parts or []
        what = f"the audio of piece {task.number}"
        if len(parts) != 1:  # a single piece the server made us split: stitch after all
            self._stitcher = stitcher = Stitcher(out, self.fmt)  # (`abort` lets go of it)
            for part in parts:
                assert part.path is not None
                placed = stitcher.append(part.path, expected=part.format, what=what)
                self.cues.append(Cue(part.text, placed.start, placed.end, stitcher.samplerate))
            return None
        (part,) = parts
        assert part.path is not None
        if part.format == self.fmt:
            with open(part.path, "rb") as handle:
                shutil.copyfileobj(handle, out, _COPY_BLOCK)
            return part
        # Proven before it is converted: converting a piece cut short would make a whole,
        # shorter output. The check also counts the frames the cue needs.
        check = check_audio(part.path, expected=part.format, what=what)
        convert(part.path, out, self.fmt)  # decoded and encoded block by block, like any stitch
        self.cues = [Cue(part.text, 0, check.frames, check.samplerate)]
        return None

"""The decode check of a FLAC file made while it is written, so that it ends with the writing.

`verify.check_audio` decodes a finished file; a stitched output would wait for that decode
after its last piece. `FollowingCheck` decodes behind the writer instead, and its result is
taken as the same proof only when the finished file is shown to be the very bytes it decoded.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from typing import Any

from outeai_cli.audio.containers import DamagedAudio, Window, walk_container
from outeai_cli.audio.loudness import Loudness
from outeai_cli.audio.verify import DECODE_FRAMES, SFM_READ, AudioCheck, flac_md5_bytes, libsndfile

__all__ = ["FollowingCheck"]

_FOLLOW_WAIT = 0.1  # seconds between looks at the file if the writer says nothing
_HEAD = 1 << 16  # the first bytes, kept as read: the metadata the writer rewrites at its close
_CRC_BLOCK = 1 << 20


class FollowingCheck:
    """`check_audio` of a FLAC file, decoded by a thread of its own while it is written.

    The thread reads behind the writer (pread; it waits at the end until `wrote` or `finish`),
    decodes every frame (libFLAC checks each frame's CRC-16), counts the frames, takes the MD5
    of the samples, and CRC-32s every byte it reads, in order. `finish`, after the writer's
    close, walks the finished file and takes the follow as its proof only if: the decode ended
    without an error at the file's end; the finished header declares exactly the frames and
    the MD5 that decoded; and the bytes from the first frame to the end are the very bytes
    decoded (their CRC-32, recomputed from the file: the writer rewrites only the metadata
    before them), decoded with the rate, channels and sample width the header declares. A
    decoder of the file then meets the same frames, so it decodes completely:
    what `check_audio` proves, with the decode done while the output was made rather than
    after. Anything else (the follow failed, skipped or disagrees) is None, and the caller
    checks the file anew; that check gives the verdict, so the follow can never pass a file
    that the check would fail.
    """

    def __init__(self, fd: int, bits: int) -> None:
        self._fd = fd
        self._bits = bits
        self._cond = threading.Condition()
        self._closed = False  # the writer is done: what is in the file is all there is
        self._abandoned = False
        self._offset = 0  # where the decoder reads next
        self._read = 0  # bytes read (and CRC-32'd) from the start, in order
        self._crc = 0
        self._head = bytearray()
        self._sound = True  # nothing went wrong yet
        self._frames = 0
        self._shape = (0, 0)  # rate and channels the decode began with
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._loudness = Loudness()
        self._thread = threading.Thread(target=self._run, name="outeai-follow", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        """The writer added to the file."""
        with self._cond:
            self._cond.notify()

    def finish(self) -> AudioCheck | None:
        """After the writer's close: the proof that the file decodes completely, or None."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        try:
            return self._proof() if self._sound else None
        except (DamagedAudio, OSError):  # the check after the fact says what is wrong
            return None

    def _proof(self) -> AudioCheck | None:
        size = os.fstat(self._fd).st_size
        declared = walk_container("flac", Window(self._fd, size))
        start = declared.audio_start
        if (
            self._read != size
            or (declared.samplerate, declared.channels) != self._shape
            or declared.bits != self._bits
            or start is None
            or start > len(self._head)
            or declared.frames != self._frames
            or declared.md5 is None
            or declared.md5 != self._md5.digest()
        ):
            return None
        crc = zlib.crc32(self._head[:start])
        for offset in range(start, size, _CRC_BLOCK):
            crc = zlib.crc32(os.pread(self._fd, _CRC_BLOCK, offset), crc)
        if crc != self._crc:
            return None
        shape = (declared.samplerate, declared.channels)
        return AudioCheck("flac", self._frames, *shape, silent=self._loudness.silent)

    def abandon(self) -> None:
        """The write failed: stop at once (no proof)."""
        with self._cond:
            self._abandoned = True
            self._sound = False
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        ffi, lib = libsndfile()

        def failed(*_: object) -> None:  # an exception in a callback: no proof, nothing printed
            self._sound = False

        callbacks = {
            "get_filelen": ffi.callback("sf_vio_get_filelen", lambda _: 1 << 62, onerror=failed),
            "seek": ffi.callback("sf_vio_seek", self._seek, onerror=failed),
            "read": ffi.callback("sf_vio_read", self._reader(ffi), onerror=failed),
            "write": ffi.callback("sf_vio_write", lambda *_: 0, onerror=failed),
            "tell": ffi.callback("sf_vio_tell", lambda _: self._offset, onerror=failed),
        }
        info = ffi.new("SF_INFO*")
        decoder = lib.sf_open_virtual(
            ffi.new("SF_VIRTUAL_IO*", callbacks), SFM_READ, info, ffi.NULL
        )
        if decoder == ffi.NULL:
            self._sound = False
            return
        self._shape = (info.samplerate, info.channels)
        try:
            wide = self._bits > 16
            width = 4 if wide else 2
            block = max(1, DECODE_FRAMES // info.channels)
            buffer = ffi.new("int[]" if wide else "short[]", block * info.channels)
            read = lib.sf_readf_int if wide else lib.sf_readf_short
            while self._sound:
                count = read(decoder, buffer, block)
                if lib.sf_error(decoder):
                    self._sound = False
                if count <= 0:
                    break
                self._frames += count
                samples = ffi.buffer(buffer, count * info.channels * width)
                self._md5.update(flac_md5_bytes(samples, width, self._bits))
                self._loudness.feed(samples, "int32" if wide else "int16")
        finally:
            lib.sf_close(decoder)

    def _seek(self, offset: int, whence: int, _: Any) -> int:
        if whence == os.SEEK_SET:
            self._offset = offset
        elif whence == os.SEEK_CUR:
            self._offset += offset
        else:  # from the end, which is not known yet: a decode never needs it
            self._sound = False
        return self._offset

    def _reader(self, ffi: Any) -> Any:
        def read(pointer: Any, count: int, _: Any) -> int:
            with self._cond:
                while not self._abandoned:
                    if self._closed or self._offset < os.fstat(self._fd).st_size:
                        break
                    self._cond.wait(_FOLLOW_WAIT)
            if self._abandoned:
                return 0
            data = os.pread(self._fd, count, self._offset)
            self._take(self._offset, data)
            ffi.memmove(pointer, data, len(data))
            self._offset += len(data)
            return len(data)

        return read

    def _take(self, offset: int, data: bytes) -> None:
        """CRC-32 the bytes not read before; bytes read again must be what was read."""
        end = offset + len(data)
        if offset > self._read:  # a skip: some bytes never decoded
            self._sound = False
            return
        again = min(end, self._read) - offset
        if again > 0 and data[:again] != self._head[offset : offset + again]:
            self._sound = False  # (also when they lie beyond the head kept)
        if end > self._read:
            fresh = data[again:]
            self._crc = zlib.crc32(fresh, self._crc)
            if self._read < _HEAD:
                self._head += fresh[: _HEAD - self._read]
            self._read = end

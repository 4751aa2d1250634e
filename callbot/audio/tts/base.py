"""What every text-to-speech engine returns, and the protocol calls depend on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SynthesisResult:
    audio: bytes  # 8 kHz mono μ-law, ready for Twilio
    duration_ms: int
    voice: str  # the cache key's voice part: engine and voice name


class TextToSpeech(Protocol):
    voice: str

    async def synthesize_async(self, text: str) -> SynthesisResult:
        """Synthesize one sentence of speakable text."""
        ...

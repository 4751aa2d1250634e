"""Pick the local TTS engine: Piper when it loads, else espeak-ng."""

from __future__ import annotations

import logging
from pathlib import Path

from callbot.audio.tts.espeak import EspeakEngine
from callbot.audio.tts.piper import PiperEngine
from callbot.errors import AudioProcessingError

logger = logging.getLogger("callbot.tts")


def load_local_tts(engine: str = "piper", voice_path: Path | None = None,
                   length_scale: float = 1.0) -> PiperEngine | EspeakEngine:
    if engine == "piper":
        try:
            return PiperEngine(voice_path, length_scale)
        except AudioProcessingError as exc:
            logger.warning("Piper unavailable, using espeak-ng: %s", exc)
    return EspeakEngine()

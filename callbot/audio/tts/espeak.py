"""espeak-ng TTS: robotic but instant, and the fallback when Piper is unavailable."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np

from callbot.audio.codec import mulaw_duration_ms, to_telephony
from callbot.audio.tts.base import SynthesisResult
from callbot.errors import AudioProcessingError

ESPEAK_VOICE = "espeak:en-us"


class EspeakEngine:
    voice = ESPEAK_VOICE

    def __init__(self) -> None:
        self._binary = shutil.which("espeak-ng")
        if not self._binary:
            raise AudioProcessingError("espeak-ng is not installed (Debian package espeak-ng)")

    def synthesize(self, text: str) -> SynthesisResult:
        # "--" ends options: text never becomes a flag
        wav = subprocess.run([self._binary, "-v", "en-us", "-s", "165", "--stdout", "--", text],
                             capture_output=True, check=True, timeout=20).stdout
        with wave.open(io.BytesIO(wav)) as reader:
            rate = reader.getframerate()
            samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
        audio = to_telephony(samples, rate)
        return SynthesisResult(audio, mulaw_duration_ms(audio), self.voice)

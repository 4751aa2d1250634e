"""IncomingAudioManager (seed API): the caller's audio → turns → transcripts.

Per call and cheap. ``process_incoming_audio_async`` does only μ-law decoding, VAD and
turn detection (well under a millisecond per frame), so the WebSocket receive loop never
waits; transcription runs in the shared inference pool when a turn ends.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import deque
from dataclasses import dataclass, field

from callbot.audio.buffer import AudioBuffer
from callbot.audio.codec import FRAME_MS, TELEPHONY_RATE, mulaw_to_pcm16
from callbot.audio.stt.base import SpeechToText
from callbot.audio.turn import TurnDetector, TurnEvent
from callbot.audio.vad import SileroVAD
from callbot.config import Settings
from callbot.errors import AudioProcessingError, handle_manager_errors

PRE_ROLL_MS = 240  # audio kept from before speech was detected, so first syllables survive


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = TELEPHONY_RATE
    chunk_size: int = TELEPHONY_RATE * FRAME_MS // 1000
    max_buffer_duration: float = 30
    vad_threshold: float = 0.5
    speech_start_ms: float = 96
    end_of_turn_silence_ms: float = 400
    pause_ms: float | None = None  # silence after which a speculative transcription may start
    language_code: str = "en"

    @classmethod
    def from_settings(cls, settings: Settings) -> AudioConfig:
        return cls(max_buffer_duration=settings.max_turn_seconds, vad_threshold=settings.vad_threshold,
                   speech_start_ms=settings.speech_start_ms,
                   end_of_turn_silence_ms=settings.end_of_turn_silence_ms,
                   pause_ms=settings.stt_speculative_silence_ms or None)


@dataclass
class AudioProcessingResult:
    """What one frame caused. A finished turn carries its audio; the transcript comes later."""

    transcribed_text: str = ""
    confidence: float = 0.0
    is_final: bool = False
    audio_duration_ms: int = 0
    event: TurnEvent | None = None
    turn_audio: bytes = b""
    voiced_ms: float = 0.0
    last_speech_at: float = 0.0  # monotonic time the turn's last speech frame arrived
    probabilities: list[float] = field(default_factory=list)


class IncomingAudioManager:
    def __init__(self, config: AudioConfig, stt_client: SpeechToText, vad: SileroVAD | None = None) -> None:
        self.config = config
        self.stt_client = stt_client
        self.audio_buffer = AudioBuffer()
        self.vad = vad or SileroVAD(config.sample_rate)
        self.turns = TurnDetector(self.vad.window_ms, config.vad_threshold, config.speech_start_ms,
                                  config.end_of_turn_silence_ms, config.pause_ms)
        self._pre_roll: deque[bytes] = deque(maxlen=max(1, PRE_ROLL_MS // FRAME_MS))
        self.last_speech_at = 0.0
        self._configure_buffer()

    async def initialize_audio_processing_async(self) -> None:
        """Seed API: (re)configure the buffer; the engines are shared and already loaded."""
        self._configure_buffer()

    def _configure_buffer(self) -> None:
        self.audio_buffer.configure(sample_rate=self.config.sample_rate, chunk_size=self.config.chunk_size,
                                    max_buffer_duration=self.config.max_buffer_duration)

    @property
    def in_turn(self) -> bool:
        return self.turns.in_turn

    @property
    def voiced_ms(self) -> float:
        """Speech heard so far in the turn in progress."""
        return self.turns.voiced_ms

    async def process_incoming_audio_async(self, twilio_payload: str) -> AudioProcessingResult:
        """Decode one Twilio media payload (base64 μ-law) and run VAD and turn detection on it."""
        try:
            audio = base64.b64decode(twilio_payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AudioProcessingError("media payload is not valid base64") from exc
        return self.process_frame(audio)

    def process_frame(self, audio: bytes, now: float | None = None) -> AudioProcessingResult:
        now = time.monotonic() if now is None else now
        probabilities = self.vad.process(mulaw_to_pcm16(audio))
        if self.turns.in_turn:
            self.audio_buffer.add_chunk(audio)
        else:
            self._pre_roll.append(audio)
        result = AudioProcessingResult(probabilities=probabilities)
        turn_voiced_ms: float | None = None
        for probability in probabilities:
            if probability >= self.turns.threshold:
                self.last_speech_at = now
            voiced_ms = self.turns.voiced_ms
            event = self.turns.update(probability)
            if event is TurnEvent.SPEECH_STARTED:
                for chunk in self._pre_roll:
                    self.audio_buffer.add_chunk(chunk)
                self._pre_roll.clear()
                result.event = event
            elif event is TurnEvent.END_OF_TURN:
                result.event = event
                result.turn_audio = self.audio_buffer.get_buffered_audio()
                result.audio_duration_ms = len(result.turn_audio) * 1000 // self.config.sample_rate
                self.audio_buffer.clear()
                turn_voiced_ms = voiced_ms  # the detector has reset: report the finished turn's speech
            elif event is TurnEvent.PAUSE:
                result.event = event
                result.turn_audio = self.audio_buffer.get_buffered_audio()
        result.voiced_ms = self.turns.voiced_ms if turn_voiced_ms is None else turn_voiced_ms
        result.last_speech_at = self.last_speech_at
        return result

    async def handle_audio_chunk_async(self, audio_data: bytes) -> str | None:
        """Seed API: feed one μ-law chunk; at the end of a turn, its transcript (else None).

        This one waits for STT; the live call path uses ``process_frame`` and transcribes
        in a task of its own, so its receive loop never waits."""
        result = self.process_frame(audio_data)
        if result.event is not TurnEvent.END_OF_TURN:
            return None
        return (await self.transcribe_turn_async(result.turn_audio)).transcribed_text

    async def detect_speech_end_async(self, audio_chunk: bytes) -> bool:
        return self.process_frame(audio_chunk).event is TurnEvent.END_OF_TURN

    @handle_manager_errors
    async def transcribe_turn_async(self, turn_audio: bytes) -> AudioProcessingResult:
        transcription = await self.stt_client.transcribe_async(turn_audio)
        return AudioProcessingResult(
            transcribed_text=transcription.text, confidence=transcription.confidence,
            is_final=transcription.is_final, audio_duration_ms=transcription.audio_duration_ms,
        )

    async def cleanup_audio_resources_async(self) -> None:
        self.audio_buffer.clear()
        self._pre_roll.clear()
        self.vad.reset()
        self.turns.reset()

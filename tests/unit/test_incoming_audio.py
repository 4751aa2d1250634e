"""IncomingAudioManager fed real speech as Twilio delivers it (20 ms μ-law frames): one turn
per utterance, its audio complete (with the pre-roll), its end neither early nor late."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import pytest

from callbot.audio.codec import (
    FRAME_BYTES,
    FRAME_MS,
    MULAW_SILENCE,
    TELEPHONY_RATE,
    mulaw_to_pcm16,
    pcm16_to_mulaw,
)
from callbot.audio.stt.base import Transcription
from callbot.audio.tts.espeak import EspeakEngine
from callbot.audio.tts.local import load_local_tts
from callbot.audio.turn import TurnEvent
from callbot.errors import AudioProcessingError
from callbot.managers.incoming_audio import (
    PRE_ROLL_MS,
    AudioConfig,
    AudioProcessingResult,
    IncomingAudioManager,
)
from tests.audio_helpers import speech_extent

LEAD_MS = 500  # silence before the caller speaks (a whole number of frames)
LEAD_BYTES = LEAD_MS * TELEPHONY_RATE // 1000
WINDOW_MS = 32
# Silero keeps saying "speech" for a few windows after the sound stops (measured 26–89 ms on
# these voices); end-of-turn is counted from the end of what the VAD calls speech.
VAD_HANGOVER_MS = 4 * WINDOW_MS


class NoSTT:
    async def transcribe_async(self, mulaw: bytes) -> Transcription:  # pragma: no cover - not called
        raise AssertionError("the audio path must not transcribe")


def trim(mulaw: bytes) -> bytes:
    """Cut the near-silence a TTS engine puts around the words: the clip is just the speech."""
    start, end = speech_extent(mulaw_to_pcm16(mulaw))
    return mulaw[start:end]


@pytest.fixture(scope="module")
def clips() -> dict[str, bytes]:
    piper = load_local_tts()
    espeak = EspeakEngine()
    return {
        "piper": trim(piper.synthesize("I'd like to book a meeting with an advisor next week.").audio),
        "piper short": trim(piper.synthesize("Yes, please.").audio),
        "espeak": trim(espeak.synthesize("Could you call me back tomorrow afternoon?").audio),
    }


@pytest.fixture
def manager() -> IncomingAudioManager:
    return IncomingAudioManager(AudioConfig(), NoSTT())


@dataclass
class Fed:
    events: list[tuple[float, int, AudioProcessingResult]]  # (arrival s, windows so far, result)
    probabilities: list[float]


def run(manager: IncomingAudioManager, audio: bytes) -> Fed:
    """Feed audio in 20 ms frames, each stamped with its arrival (frame end) time in seconds."""
    fed = Fed([], [])
    for start in range(0, len(audio), FRAME_BYTES):
        arrival = (start + FRAME_BYTES) / TELEPHONY_RATE
        result = manager.process_frame(audio[start : start + FRAME_BYTES], now=arrival)
        fed.probabilities += result.probabilities
        if result.event is not None:
            fed.events.append((arrival, len(fed.probabilities), result))
    return fed


def padded(clip: bytes) -> bytes:
    """Whole frames, as Twilio sends them: pad the clip's end with silence."""
    return clip + bytes([MULAW_SILENCE]) * (-len(clip) % FRAME_BYTES)


def silence(ms: int) -> bytes:
    return bytes([MULAW_SILENCE]) * (ms * TELEPHONY_RATE // 1000)


def vad_speech_end_ms(probabilities: list[float], threshold: float, release: float) -> float:
    """End (stream time) of the last window the VAD called speech, with the weaker trailing
    windows that hysteresis keeps in the speech (turn.py: trailing consonants don't flap)."""
    last = max(i for i, p in enumerate(probabilities) if p >= threshold)
    while last + 1 < len(probabilities) and probabilities[last + 1] >= release:
        last += 1
    return (last + 1) * WINDOW_MS


@pytest.mark.parametrize("voice", ["piper", "piper short", "espeak"])
def test_speech_then_silence_is_one_turn_with_all_its_audio(manager: IncomingAudioManager,
                                                           clips: dict[str, bytes], voice: str) -> None:
    clip = clips[voice]
    speech_start_s = LEAD_BYTES / TELEPHONY_RATE
    speech_end_s = (LEAD_BYTES + len(clip)) / TELEPHONY_RATE
    eot_ms = manager.config.end_of_turn_silence_ms

    fed = run(manager, silence(LEAD_MS) + padded(clip) + silence(1000))
    assert [result.event for _, _, result in fed.events] == [TurnEvent.SPEECH_STARTED, TurnEvent.END_OF_TURN]
    (started_at, _, _), (ended_at, eot_windows, turn) = fed.events

    # the start is heard soon after the first syllable, and not before speech_start_ms of it
    start_delay_ms = (started_at - speech_start_s) * 1000
    assert manager.config.speech_start_ms - WINDOW_MS <= start_delay_ms <= 250

    # the turn's audio: what came just before (pre-roll), every byte of the speech, the pause
    position = turn.turn_audio.find(clip)
    assert position > 0, "the speech is missing from the turn audio, or nothing precedes it (no pre-roll)"
    assert position <= PRE_ROLL_MS * TELEPHONY_RATE // 1000
    assert turn.turn_audio[:position] == silence(LEAD_MS)[:position]
    tail_ms = (len(turn.turn_audio) - position - len(clip)) * 1000 / TELEPHONY_RATE
    assert eot_ms <= tail_ms <= eot_ms + WINDOW_MS + VAD_HANGOVER_MS + FRAME_MS
    assert turn.audio_duration_ms == len(turn.turn_audio) * 1000 // TELEPHONY_RATE
    assert turn.voiced_ms >= 0.5 * len(clip) * 1000 / TELEPHONY_RATE  # the turn reports its speech

    # end of turn: within end_of_turn_silence_ms + one window of the end of what the VAD heard ...
    speech_end_ms = vad_speech_end_ms(fed.probabilities[:eot_windows], manager.config.vad_threshold,
                                      manager.turns.release_threshold)
    assert eot_ms <= eot_windows * WINDOW_MS - speech_end_ms <= eot_ms + WINDOW_MS
    # ... never before end_of_turn_silence_ms after the last sound, and late only by Silero's hangover
    after_sound_ms = (ended_at - speech_end_s) * 1000
    assert eot_ms <= after_sound_ms <= eot_ms + WINDOW_MS + VAD_HANGOVER_MS + FRAME_MS
    assert turn.last_speech_at <= speech_end_s + VAD_HANGOVER_MS / 1000 + FRAME_MS / 1000


def test_two_utterances_are_two_turns_each_with_only_its_own_audio(manager: IncomingAudioManager,
                                                                  clips: dict[str, bytes]) -> None:
    first, second = clips["piper short"], clips["espeak"]
    fed = run(manager, silence(LEAD_MS) + padded(first) + silence(1000) + padded(second) + silence(1000))
    events = [result.event for _, _, result in fed.events]
    assert events == [TurnEvent.SPEECH_STARTED, TurnEvent.END_OF_TURN] * 2
    one, two = fed.events[1][2].turn_audio, fed.events[3][2].turn_audio
    assert first in one and second not in one
    assert second in two and first not in two


def test_a_turn_longer_than_the_buffer_keeps_its_most_recent_audio(clips: dict[str, bytes]) -> None:
    manager = IncomingAudioManager(AudioConfig(max_buffer_duration=1.0), NoSTT())
    clip = clips["piper"]
    assert len(clip) > 2 * TELEPHONY_RATE
    fed = run(manager, silence(LEAD_MS) + padded(clip) + silence(1000))
    turn = fed.events[-1][2]
    assert turn.event is TurnEvent.END_OF_TURN
    assert len(turn.turn_audio) == TELEPHONY_RATE  # memory bounded: exactly one second
    tail = turn.turn_audio.rstrip(bytes([MULAW_SILENCE]))
    assert padded(clip).rstrip(bytes([MULAW_SILENCE])).endswith(tail)  # the newest audio is kept


@pytest.mark.parametrize("name", ["white", "brown", "tone", "clicks"])
def test_loud_noise_never_starts_a_turn(manager: IncomingAudioManager, name: str) -> None:
    rng = np.random.default_rng(7)
    n = TELEPHONY_RATE * 3
    t = np.arange(n) / TELEPHONY_RATE
    if name == "white":
        noise = rng.uniform(-32000, 32000, n)
    elif name == "brown":
        noise = np.cumsum(rng.normal(0, 1, n))
        noise -= np.convolve(noise, np.ones(801) / 801, mode="same")
        noise *= 30000 / np.abs(noise).max()
    elif name == "tone":
        noise = 20000 * np.sin(2 * np.pi * 1000 * t)
    else:
        noise = np.zeros(n)
        noise[::400] = 32000
    fed = run(manager, pcm16_to_mulaw(np.clip(noise, -32768, 32767).astype(np.int16)))
    assert fed.events == []
    assert not manager.in_turn


async def test_payloads_arrive_base64_as_from_twilio(manager: IncomingAudioManager,
                                                     clips: dict[str, bytes]) -> None:
    audio = silence(LEAD_MS) + padded(clips["piper short"]) + silence(1000)
    events = []
    for start in range(0, len(audio), FRAME_BYTES):
        payload = base64.b64encode(audio[start : start + FRAME_BYTES]).decode()
        result = await manager.process_incoming_audio_async(payload)
        if result.event is not None:
            events.append(result)
    assert [r.event for r in events] == [TurnEvent.SPEECH_STARTED, TurnEvent.END_OF_TURN]
    assert clips["piper short"] in events[1].turn_audio


@pytest.mark.parametrize("payload", ["not base64!", "AAA", "é" * 4])
async def test_bad_base64_raises_audio_processing_error(manager: IncomingAudioManager, payload: str) -> None:
    with pytest.raises(AudioProcessingError):
        await manager.process_incoming_audio_async(payload)


async def test_cleanup_drops_a_turn_in_progress(manager: IncomingAudioManager, clips: dict[str, bytes]) -> None:
    clip = padded(clips["piper"])
    fed = run(manager, silence(LEAD_MS) + clip[: len(clip) // 2])
    assert [r.event for _, _, r in fed.events] == [TurnEvent.SPEECH_STARTED]
    await manager.cleanup_audio_resources_async()
    assert not manager.in_turn
    assert run(manager, silence(1000)).events == []  # no end of a turn that was dropped
    assert manager.audio_buffer.size_bytes == 0


class LocalWhisper:
    """The real Whisper engine behind the async STT protocol."""

    def __init__(self) -> None:
        from callbot.audio.stt.whisper import WhisperEngine

        self.engine = WhisperEngine()

    async def transcribe_async(self, mulaw: bytes) -> Transcription:
        return self.engine.transcribe(mulaw)


async def test_handle_audio_chunk_returns_the_transcript_at_the_end_of_the_turn(clips: dict[str, bytes]) -> None:
    manager = IncomingAudioManager(AudioConfig(), LocalWhisper())
    audio = silence(LEAD_MS) + padded(clips["piper"]) + silence(1000)
    texts = [await manager.handle_audio_chunk_async(audio[i : i + FRAME_BYTES])
             for i in range(0, len(audio), FRAME_BYTES)]
    finished = [t for t in texts if t is not None]
    assert len(finished) == 1
    assert "meeting with an advisor" in finished[0].lower()


def test_a_pause_carries_the_turn_so_far_before_the_turn_ends(clips: dict[str, bytes]) -> None:
    manager = IncomingAudioManager(AudioConfig(pause_ms=160), NoSTT())
    fed = run(manager, silence(LEAD_MS) + padded(clips["piper"]) + silence(1000))
    kinds = [result.event for _, _, result in fed.events]
    assert kinds[0] is TurnEvent.SPEECH_STARTED and kinds[-1] is TurnEvent.END_OF_TURN
    pauses = [(at, result) for at, _, result in fed.events if result.event is TurnEvent.PAUSE]
    end_at, _, end = fed.events[-1]
    last_pause_at, last_pause = pauses[-1]
    assert end_at - last_pause_at == pytest.approx(0.24, abs=0.04)  # 400 − 160 ms earlier
    assert last_pause.voiced_ms == end.voiced_ms  # no speech after it: its transcript stands for the turn
    assert end.turn_audio.startswith(last_pause.turn_audio)
    assert len(end.turn_audio) - len(last_pause.turn_audio) <= 0.3 * TELEPHONY_RATE  # only silence after

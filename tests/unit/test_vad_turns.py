"""Voice activity and turn taking: speech is heard, noise never is, and a turn starts and ends
when the caller starts and stops talking, not when a single noisy window says so."""

from __future__ import annotations

import numpy as np
import pytest

from callbot.audio.codec import TELEPHONY_RATE, mulaw_to_pcm16, pcm16_to_mulaw
from callbot.audio.tts.espeak import EspeakEngine
from callbot.audio.tts.local import load_local_tts
from callbot.audio.turn import TurnDetector, TurnEvent
from callbot.audio.vad import SileroVAD
from tests.audio_helpers import speech_extent

WINDOW = 256  # Silero's window at 8 kHz: 32 ms
FRAME = 160  # a Twilio media frame: 20 ms
SECONDS = 5


def trim(pcm: np.ndarray) -> np.ndarray:
    """Cut the near-silence a TTS engine puts before and after the words."""
    start, end = speech_extent(pcm)
    return pcm[start:end]


def phone_line(samples: np.ndarray) -> np.ndarray:
    """What arrives from Twilio: clipped to int16 and through the μ-law codec."""
    return mulaw_to_pcm16(pcm16_to_mulaw(np.clip(samples, -32768, 32767).astype(np.int16)))


def vad_in_frames(samples: np.ndarray, frame: int = FRAME) -> list[float]:
    vad = SileroVAD()
    probabilities: list[float] = []
    for start in range(0, samples.size, frame):
        probabilities += vad.process(samples[start : start + frame])
    return probabilities


@pytest.fixture(scope="module")
def speech() -> dict[str, np.ndarray]:
    """Real synthesized speech, 8 kHz PCM as decoded from μ-law, silence trimmed."""
    piper = load_local_tts()
    espeak = EspeakEngine()
    texts = {
        "piper": "Hi, I'd like to book a meeting with one of your advisors next Tuesday afternoon.",
        "espeak": "My name is Maria Lopez and I am calling about your pricing.",
    }
    return {
        "piper": trim(mulaw_to_pcm16(piper.synthesize(texts["piper"]).audio)),
        "espeak": trim(mulaw_to_pcm16(espeak.synthesize(texts["espeak"]).audio)),
    }


def _noises() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    n = TELEPHONY_RATE * SECONDS
    t = np.arange(n) / TELEPHONY_RATE
    white = rng.normal(0, 1, n)
    spectrum = np.fft.rfft(white)
    f = np.maximum(np.arange(spectrum.size), 1)
    pink = np.fft.irfft(spectrum / np.sqrt(f), n)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")  # remove the drift, keep the rumble
    clicks = np.zeros(n)
    clicks[::800] = 30000  # ten sharp clicks a second, both polarities
    clicks[400::800] = -30000
    scale = lambda x, peak: x / np.abs(x).max() * peak  # noqa: E731
    return {
        "white noise near full scale": rng.uniform(-32000, 32000, n),
        "gaussian white noise": rng.normal(0, 10000, n),
        "pink noise": scale(pink, 30000),
        "brown noise": scale(brown, 30000),
        "1 kHz tone": 20000 * np.sin(2 * np.pi * 1000 * t),
        "clicks": clicks,
    }


NOISES = _noises()


# --- Silero VAD ------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["piper", "espeak"])
def test_speech_gets_high_probabilities(speech: dict[str, np.ndarray], engine: str) -> None:
    probabilities = np.array(vad_in_frames(speech[engine]))
    assert probabilities.size == speech[engine].size // WINDOW
    share = np.mean(probabilities >= 0.5)
    assert share >= 0.6, f"only {share:.0%} of the windows of speech were called speech"
    assert np.mean(probabilities >= 0.9) >= 0.4
    assert probabilities.max() > 0.95


def test_silence_is_not_speech() -> None:
    probabilities = np.array(vad_in_frames(np.zeros(TELEPHONY_RATE * 2, dtype=np.int16)))
    assert probabilities.size == TELEPHONY_RATE * 2 // WINDOW
    assert probabilities.max() < 0.1


@pytest.mark.parametrize("name", NOISES)
def test_loud_noise_is_not_speech(name: str) -> None:
    probabilities = np.array(vad_in_frames(phone_line(NOISES[name])))
    assert probabilities.size == TELEPHONY_RATE * SECONDS // WINDOW
    speechy = int(np.count_nonzero(probabilities >= 0.5))
    assert speechy <= 1, f"{name}: {speechy} of {probabilities.size} windows called speech"
    assert probabilities.mean() < 0.05


@pytest.mark.parametrize("chunk", [1, 100, FRAME, 255, WINDOW, 257, 1000])
def test_any_chunking_gives_the_same_windows_as_one_stream(speech: dict[str, np.ndarray], chunk: int) -> None:
    samples = speech["espeak"][: TELEPHONY_RATE * 2 + 77] if chunk > 1 else speech["espeak"][:3000]
    whole = SileroVAD().process(samples)
    assert len(whole) == samples.size // WINDOW
    assert vad_in_frames(samples, chunk) == pytest.approx(whole, abs=1e-6)


def test_frames_of_160_samples_finish_a_window_every_1_6_frames() -> None:
    vad = SileroVAD()
    counts = [len(vad.process(np.zeros(FRAME, dtype=np.int16))) for _ in range(8)]
    # samples seen: 160, 320, 480, 640, 800, 960, 1120, 1280 → windows finished: 0,1,1,2,3,3,4,5
    assert counts == [0, 1, 0, 1, 1, 0, 1, 1]


def test_float_input_in_minus_one_to_one_is_accepted(speech: dict[str, np.ndarray]) -> None:
    samples = speech["espeak"][:4096]
    as_int = SileroVAD().process(samples)
    as_float = SileroVAD().process(samples.astype(np.float32) / 32768.0)
    assert as_float == pytest.approx(as_int, abs=1e-6)


def test_reset_forgets_carried_samples() -> None:
    vad = SileroVAD()
    assert vad.process(np.zeros(200, dtype=np.int16)) == []
    vad.reset()
    assert vad.process(np.zeros(100, dtype=np.int16)) == []  # 300 would have finished a window
    assert len(vad.process(np.zeros(156, dtype=np.int16))) == 1


# --- turn detection on probability sequences -------------------------------------------------
def feed(detector: TurnDetector, probabilities: list[float]) -> list[tuple[int, TurnEvent]]:
    return [(i, event) for i, p in enumerate(probabilities) if (event := detector.update(p)) is not None]


def test_speech_start_needs_speech_start_ms_of_speech() -> None:
    detector = TurnDetector(window_ms=32, speech_start_ms=96)
    assert feed(detector, [0.9, 0.9]) == []
    assert not detector.in_turn
    assert detector.update(0.9) is TurnEvent.SPEECH_STARTED  # 3 × 32 ms = 96 ms
    assert detector.in_turn
    assert feed(detector, [0.9] * 10) == []  # started once, not again

    detector = TurnDetector(window_ms=32, speech_start_ms=100)  # 100 ms needs a 4th window
    assert feed(detector, [0.9] * 4) == [(3, TurnEvent.SPEECH_STARTED)]


def test_a_single_noisy_window_never_starts_a_turn() -> None:
    detector = TurnDetector(window_ms=32, speech_start_ms=96)
    isolated = [0.0, 0.0, 1.0] * 50
    pairs = [0.0, 1.0, 1.0] * 50  # two windows (64 ms) of "speech" between silences
    assert feed(detector, isolated + pairs + [0.0]) == []
    assert not detector.in_turn
    assert detector.voiced_ms == 0


def test_end_of_turn_after_exactly_the_silence_hangover() -> None:
    detector = TurnDetector(window_ms=20, speech_start_ms=60, end_of_turn_silence_ms=400)
    assert feed(detector, [0.9] * 10) == [(2, TurnEvent.SPEECH_STARTED)]
    assert feed(detector, [0.1] * 19) == []  # 380 ms of silence: the caller may go on
    assert detector.in_turn
    assert detector.update(0.1) is TurnEvent.END_OF_TURN  # 400 ms
    assert not detector.in_turn


def test_end_of_turn_with_32ms_windows_is_the_first_window_past_the_hangover() -> None:
    detector = TurnDetector(window_ms=32, end_of_turn_silence_ms=400)
    events = feed(detector, [0.9] * 5 + [0.0] * 20)
    assert events == [(2, TurnEvent.SPEECH_STARTED), (5 + 12, TurnEvent.END_OF_TURN)]  # 13 × 32 = 416 ms


def test_a_pause_shorter_than_the_hangover_keeps_the_turn() -> None:
    detector = TurnDetector(window_ms=20, speech_start_ms=60, end_of_turn_silence_ms=400)
    sequence = [0.9] * 10 + [0.1] * 19 + [0.9] * 5 + [0.1] * 19
    assert feed(detector, sequence) == [(2, TurnEvent.SPEECH_STARTED)]  # the pause restarted the count
    assert detector.voiced_ms == 15 * 20
    assert detector.update(0.1) is TurnEvent.END_OF_TURN


def test_hysteresis_keeps_trailing_weak_speech_in_the_turn() -> None:
    detector = TurnDetector(window_ms=20, threshold=0.5, speech_start_ms=60, end_of_turn_silence_ms=200)
    assert detector.release_threshold == pytest.approx(0.35)
    # a word fading out at 0.4 is still speech while speaking: the silence count starts after it
    events = feed(detector, [0.9] * 4 + [0.4] * 5 + [0.1] * 10)
    assert events == [(2, TurnEvent.SPEECH_STARTED), (18, TurnEvent.END_OF_TURN)]


def test_hysteresis_does_not_let_weak_windows_start_or_resume_speech() -> None:
    detector = TurnDetector(window_ms=20, threshold=0.5, speech_start_ms=60, end_of_turn_silence_ms=200)
    assert feed(detector, [0.45] * 20) == []  # never above the threshold: never a turn
    assert feed(detector, [0.6, 0.4, 0.4]) == [(2, TurnEvent.SPEECH_STARTED)]  # started above it
    # after a silent window, 0.4 is silence again: the turn ends 200 ms after the last speech
    events = feed(detector, [0.2] + [0.4] * 9 + [0.4])
    assert events == [(9, TurnEvent.END_OF_TURN)]


def test_after_end_of_turn_a_new_turn_needs_a_new_start() -> None:
    detector = TurnDetector(window_ms=32, speech_start_ms=96, end_of_turn_silence_ms=128)
    first = feed(detector, [0.9] * 3 + [0.0] * 4)
    assert first == [(2, TurnEvent.SPEECH_STARTED), (6, TurnEvent.END_OF_TURN)]
    assert feed(detector, [0.9, 0.9]) == []
    assert detector.update(0.9) is TurnEvent.SPEECH_STARTED
    assert detector.voiced_ms == 96


def test_a_pause_is_announced_once_per_silence_before_the_turn_ends() -> None:
    detector = TurnDetector(window_ms=20, speech_start_ms=60, end_of_turn_silence_ms=400, pause_ms=160)
    sequence = [0.9] * 10 + [0.1] * 10 + [0.9] * 5 + [0.1] * 20
    assert feed(detector, sequence) == [
        (2, TurnEvent.SPEECH_STARTED),
        (10 + 7, TurnEvent.PAUSE),  # 8 × 20 ms = 160 ms of silence
        (25 + 7, TurnEvent.PAUSE),  # speech resumed, so the next silence is announced again
        (25 + 19, TurnEvent.END_OF_TURN),
    ]


def test_no_pause_without_pause_ms_or_when_it_is_not_shorter_than_the_hangover() -> None:
    for pause_ms in (None, 400, 500):
        detector = TurnDetector(window_ms=20, speech_start_ms=60, end_of_turn_silence_ms=400, pause_ms=pause_ms)
        events = [event for _, event in feed(detector, [0.9] * 10 + [0.1] * 20)]
        assert events == [TurnEvent.SPEECH_STARTED, TurnEvent.END_OF_TURN]

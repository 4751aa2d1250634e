"""G.711 μ-law and resampling: what Twilio hears is exactly what the reference coder makes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from callbot.audio.codec import (
    FRAME_BYTES,
    MULAW_SILENCE,
    TELEPHONY_RATE,
    frames,
    mulaw_duration_ms,
    mulaw_to_pcm16,
    pcm16_to_mulaw,
    resample,
    to_telephony,
)

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
ALL_CODES = bytes(range(256))
MAX_MULAW_MAGNITUDE = 32124  # the largest magnitude a μ-law code decodes to


@pytest.fixture(scope="module")
def audioop():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("audioop", reason="audioop was removed in Python 3.13: no reference coder")


def test_encode_is_bit_exact_with_audioop_for_every_int16_value(audioop) -> None:
    ours = pcm16_to_mulaw(ALL_SAMPLES)
    reference = audioop.lin2ulaw(ALL_SAMPLES.astype("<i2").tobytes(), 2)
    assert len(ours) == 65536
    mismatches = [int(s) for s, a, b in zip(ALL_SAMPLES, ours, reference, strict=True) if a != b]
    assert not mismatches, f"{len(mismatches)} samples encode differently, first: {mismatches[:5]}"


def test_decode_is_bit_exact_with_audioop_for_every_code(audioop) -> None:
    ours = mulaw_to_pcm16(ALL_CODES)
    reference = np.frombuffer(audioop.ulaw2lin(ALL_CODES, 2), dtype="<i2")
    assert ours.dtype == np.int16
    np.testing.assert_array_equal(ours, reference)


def test_round_trip_error_is_bounded_by_the_quantiser_step() -> None:
    decoded = mulaw_to_pcm16(pcm16_to_mulaw(ALL_SAMPLES)).astype(np.int32)
    original = ALL_SAMPLES.astype(np.int32)
    error = np.abs(decoded - original)
    in_range = np.abs(original) <= MAX_MULAW_MAGNITUDE
    # μ-law is logarithmic: the step grows with the magnitude, about 1/16 of it at most.
    assert np.all(error[in_range] <= np.abs(original[in_range]) / 32 + 8)
    # Beyond the largest code the coder saturates instead of wrapping around.
    assert np.all(np.abs(decoded[~in_range]) == MAX_MULAW_MAGNITUDE)
    assert np.all(np.sign(decoded[~in_range]) == np.sign(original[~in_range]))


def test_every_code_except_negative_zero_survives_decode_then_encode() -> None:
    re_encoded = pcm16_to_mulaw(mulaw_to_pcm16(ALL_CODES))
    for code in range(256):
        expected = MULAW_SILENCE if code == 0x7F else code  # 0x7F is "-0": zero encodes as 0xFF
        assert re_encoded[code] == expected, f"code {code:#04x}"


def test_zero_is_the_silence_code() -> None:
    assert pcm16_to_mulaw(np.zeros(3, dtype=np.int16)) == bytes([MULAW_SILENCE]) * 3
    assert mulaw_to_pcm16(bytes([MULAW_SILENCE])).tolist() == [0]


def test_frames_split_into_20ms_and_pad_the_last_with_silence() -> None:
    audio = bytes(range(256)) * 2 + b"\x10" * 30  # 542 bytes: 3 whole frames + 62 bytes
    chunks = frames(audio)
    assert FRAME_BYTES == 160
    assert [len(c) for c in chunks] == [160, 160, 160, 160]
    assert b"".join(chunks)[: len(audio)] == audio
    assert chunks[-1][62:] == bytes([MULAW_SILENCE]) * (160 - 62)


def test_frames_of_whole_frames_add_no_padding_and_empty_gives_none() -> None:
    audio = b"\x01" * 480
    assert frames(audio) == [b"\x01" * 160] * 3
    assert frames(b"") == []


@pytest.mark.parametrize("rate", [16000, 22050, 24000, 44100])
def test_resample_keeps_duration_and_pitch(rate: int) -> None:
    seconds = 1.5
    t = np.arange(int(rate * seconds)) / rate
    tone = (12000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    out = resample(tone, rate, TELEPHONY_RATE)
    assert out.dtype == np.int16
    assert abs(out.size - TELEPHONY_RATE * seconds) <= 1
    # 440 Hz stays 440 Hz: count rising zero crossings in the steady middle second.
    middle = out[2000:10000].astype(np.float64)
    crossings = np.count_nonzero((middle[:-1] < 0) & (middle[1:] >= 0))
    assert abs(crossings - 440) <= 2
    # No level lost in band: the tone's RMS survives (12000 / sqrt 2 ≈ 8485).
    assert abs(np.sqrt(np.mean(middle**2)) - 8485) < 400


def test_resample_same_rate_is_identity() -> None:
    samples = np.arange(100, dtype=np.int16)
    assert resample(samples, 8000, 8000) is samples


def test_to_telephony_gives_8khz_mulaw_of_the_same_duration() -> None:
    rate = 22050
    samples = (8000 * np.sin(2 * np.pi * 300 * np.arange(rate * 2) / rate)).astype(np.int16)
    mulaw = to_telephony(samples, rate)
    assert abs(len(mulaw) - 16000) <= 1
    assert abs(mulaw_duration_ms(mulaw) - 2000) <= 1
    assert mulaw_duration_ms(160) == 20

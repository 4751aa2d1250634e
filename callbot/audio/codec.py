"""G.711 μ-law ⇄ PCM16 with numpy lookup tables, and sample-rate conversion.

Bit-exact with the ITU-T G.711 reference (and with the stdlib ``audioop`` that Python
3.13 removed). Telephony audio is 8 kHz mono μ-law; engines want PCM at other rates.
"""

from __future__ import annotations

import numpy as np
import soxr

TELEPHONY_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = TELEPHONY_RATE * FRAME_MS // 1000  # 160 μ-law bytes per 20 ms frame

_BIAS = 0x84
MULAW_SILENCE = 0xFF  # μ-law code of a zero sample


def _build_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _build_encode_table() -> np.ndarray:
    # The G.711 reference coder works on 14-bit samples (arithmetic shift, so negatives round down).
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), 8159) + 0x21
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, magnitude)  # first end >= magnitude
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    code = np.where(segment > 7, 0x7F, code)  # beyond the last segment: full scale
    return (code ^ mask).astype(np.uint8)


_DECODE = _build_decode_table()
_ENCODE = _build_encode_table()  # indexed by sample + 32768


def mulaw_to_pcm16(data: bytes) -> np.ndarray:
    """μ-law bytes → int16 samples."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def pcm16_to_mulaw(samples: np.ndarray) -> bytes:
    """int16 samples → μ-law bytes."""
    index = samples.astype(np.int32) + 32768
    return _ENCODE[index].tobytes()


def pcm16_to_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr); keeps the dtype of int16 or float32 input."""
    if from_rate == to_rate or samples.size == 0:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ")


def to_telephony(samples: np.ndarray, rate: int) -> bytes:
    """int16 PCM at any rate → 8 kHz μ-law bytes."""
    return pcm16_to_mulaw(resample(samples.astype(np.int16), rate, TELEPHONY_RATE))


def mulaw_duration_ms(data: bytes | int) -> int:
    n = data if isinstance(data, int) else len(data)
    return n * 1000 // TELEPHONY_RATE


def frames(mulaw: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Split μ-law audio into 20 ms frames; the last one is padded with silence."""
    out = [mulaw[i : i + frame_bytes] for i in range(0, len(mulaw), frame_bytes)]
    if out and len(out[-1]) < frame_bytes:
        out[-1] = out[-1] + bytes([MULAW_SILENCE]) * (frame_bytes - len(out[-1]))
    return out

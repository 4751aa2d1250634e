"""AudioBuffer: a caller who talks for minutes never grows memory past the limit."""

from __future__ import annotations

import pytest

from callbot.audio.buffer import AudioBuffer


def frame(index: int, size: int = 160) -> bytes:
    """A frame whose bytes say which frame it is, so order and trimming are visible."""
    return bytes([index % 256]) * size


def test_holds_everything_under_the_limit_in_order() -> None:
    buffer = AudioBuffer(max_duration_seconds=1)
    for i in range(10):
        buffer.add_chunk(frame(i))
    assert buffer.get_buffered_audio() == b"".join(frame(i) for i in range(10))
    assert buffer.size_bytes == 1600
    assert buffer.total_duration == pytest.approx(0.2)


def test_never_exceeds_the_limit_and_drops_the_oldest() -> None:
    buffer = AudioBuffer(max_duration_seconds=1)  # 8000 bytes of 8 kHz μ-law
    for i in range(200):  # four seconds of 20 ms frames
        buffer.add_chunk(frame(i))
        assert buffer.size_bytes <= 8000
        assert len(buffer.get_buffered_audio()) == buffer.size_bytes
    assert buffer.size_bytes == 8000
    assert buffer.total_duration == pytest.approx(1.0)
    # the last 50 frames are kept, the first 150 dropped
    assert buffer.get_buffered_audio() == b"".join(frame(i) for i in range(150, 200))


def test_overflow_trims_a_partial_chunk_to_exactly_the_limit() -> None:
    buffer = AudioBuffer(max_duration_seconds=0.1)  # 800 bytes
    first = bytes(range(250)) * 2  # 500 distinct-looking bytes: the trimmed side is visible
    second = bytes(range(249, -1, -1)) * 2
    buffer.add_chunk(first)
    buffer.add_chunk(second)
    assert buffer.size_bytes == 800
    assert buffer.get_buffered_audio() == first[200:] + second  # the oldest 200 bytes dropped
    big = bytes(range(200)) * 5  # one chunk larger than the limit keeps its newest part
    buffer.add_chunk(big)
    assert buffer.get_buffered_audio() == big[200:]
    assert sum(chunk.size_bytes for chunk in buffer.chunks) == 800


def test_get_buffered_audio_of_a_duration_returns_the_most_recent_audio() -> None:
    buffer = AudioBuffer(max_duration_seconds=5)
    for i in range(50):  # one second
        buffer.add_chunk(frame(i))
    recent = buffer.get_buffered_audio(0.1)
    assert recent == b"".join(frame(i) for i in range(45, 50))
    assert buffer.get_buffered_audio(10) == buffer.get_buffered_audio()  # more than held: all of it
    assert buffer.get_buffered_audio(0) == b""
    assert buffer.size_bytes == 8000  # reading takes nothing away


def test_clear_empties_and_the_buffer_is_reusable() -> None:
    buffer = AudioBuffer(max_duration_seconds=1)
    for i in range(10):
        buffer.add_chunk(frame(i))
    buffer.clear()
    assert buffer.get_buffered_audio() == b""
    assert buffer.size_bytes == 0
    assert buffer.total_duration == 0
    buffer.add_chunk(frame(7))
    assert buffer.get_buffered_audio() == frame(7)


def test_configure_a_smaller_limit_trims_what_is_held() -> None:
    buffer = AudioBuffer(max_duration_seconds=2)
    for i in range(100):  # two seconds
        buffer.add_chunk(frame(i))
    buffer.configure(sample_rate=8000, max_buffer_duration=0.5)
    assert buffer.size_bytes == 4000
    assert buffer.get_buffered_audio() == b"".join(frame(i) for i in range(75, 100))


def test_sixteen_bit_audio_limit_counts_bytes_per_sample() -> None:
    buffer = AudioBuffer(max_duration_seconds=1, sample_rate=16000, bytes_per_sample=2)
    for _ in range(40):
        buffer.add_chunk(b"\x00\x01" * 640)  # 40 ms of 16 kHz PCM16
    assert buffer.size_bytes == 32000
    assert buffer.total_duration == pytest.approx(1.0)
    assert len(buffer.get_buffered_audio(0.25)) == 8000


@pytest.mark.parametrize(("rate", "duration"), [(0, 1), (-8000, 1), (8000, 0), (8000, -1)])
def test_configure_rejects_non_positive_rate_or_duration(rate: int, duration: float) -> None:
    with pytest.raises(ValueError):
        AudioBuffer(max_duration_seconds=duration, sample_rate=rate)
    buffer = AudioBuffer()
    with pytest.raises(ValueError):
        buffer.configure(sample_rate=rate, max_buffer_duration=duration)

"""AudioBuffer (seed API): the caller's audio of the turn in progress, bounded in duration."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from callbot.audio.codec import TELEPHONY_RATE


@dataclass(frozen=True, slots=True)
class AudioChunk:
    data: bytes
    timestamp: datetime
    size_bytes: int


class AudioBuffer:
    """Chunks of 8-bit-per-sample audio (μ-law); the oldest are dropped past the maximum duration.

    Memory stays bounded however long the caller talks: a call never grows without limit.
    """

    def __init__(self, max_duration_seconds: float = 30, sample_rate: int = TELEPHONY_RATE,
                 bytes_per_sample: int = 1) -> None:
        self.chunks: deque[AudioChunk] = deque()
        self._size = 0
        self.configure(sample_rate=sample_rate, max_buffer_duration=max_duration_seconds,
                       bytes_per_sample=bytes_per_sample)

    def configure(self, sample_rate: int = TELEPHONY_RATE, chunk_size: int | None = None,
                  max_buffer_duration: float = 30, bytes_per_sample: int = 1) -> None:
        """Set the format and limit (seed: ``configure(sample_rate, chunk_size, max_buffer_duration)``)."""
        if sample_rate <= 0 or max_buffer_duration <= 0:
            raise ValueError("sample_rate and max_buffer_duration must be positive")
        self.sample_rate = sample_rate
        self.chunk_size = chunk_size
        self.bytes_per_sample = bytes_per_sample
        self.max_duration = max_buffer_duration
        self._enforce_max_duration()

    @property
    def max_bytes(self) -> int:
        return int(self.max_duration * self.sample_rate) * self.bytes_per_sample

    @property
    def total_duration(self) -> float:
        """Seconds of audio held."""
        return self._size / (self.sample_rate * self.bytes_per_sample)

    @property
    def size_bytes(self) -> int:
        return self._size

    def add_chunk(self, audio_data: bytes, timestamp: datetime | None = None) -> None:
        chunk = AudioChunk(audio_data, timestamp or datetime.now(UTC), len(audio_data))
        self.chunks.append(chunk)
        self._size += chunk.size_bytes
        self._enforce_max_duration()

    def get_buffered_audio(self, duration_seconds: float | None = None) -> bytes:
        """All audio held, or only the most recent ``duration_seconds`` of it."""
        audio = b"".join(chunk.data for chunk in self.chunks)
        if duration_seconds is None:
            return audio
        keep = int(duration_seconds * self.sample_rate) * self.bytes_per_sample
        return audio[-keep:] if keep > 0 else b""

    def clear(self) -> None:
        self.chunks.clear()
        self._size = 0

    def _enforce_max_duration(self) -> None:
        limit = self.max_bytes
        while self._size > limit and self.chunks:
            oldest = self.chunks[0]
            excess = self._size - limit
            if oldest.size_bytes <= excess:
                self.chunks.popleft()
                self._size -= oldest.size_bytes
            else:  # trim the oldest chunk so exactly the limit is kept
                trimmed = oldest.data[excess:]
                self.chunks[0] = AudioChunk(trimmed, oldest.timestamp, len(trimmed))
                self._size -= excess

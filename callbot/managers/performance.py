"""Latency and health metrics: per-stage and per-turn timings, protocol-problem counters, Prometheus.

Each ``PerformanceManager`` has its own ``CollectorRegistry``, so tests and several app instances
in one process never collide on metric names.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel

from callbot.errors import handle_manager_errors

logger = logging.getLogger("callbot.managers.performance")

# Voice latency lives between tens of milliseconds and a few seconds; finer around 100–800 ms,
# where a caller starts to notice the pause.
STAGE_BUCKETS_S: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0,
)  # fmt: skip
OPERATION_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
# Calls whose cumulative audio-quality totals are remembered (to count only what is new).
_QUALITY_CALLS_KEPT = 1000


class Stage(StrEnum):
    END_OF_TURN = "end_of_turn"
    STT = "stt"
    AGENT = "agent"
    TTS_FIRST_AUDIO = "tts_first_audio"
    FIRST_FRAME_SENT = "first_frame_sent"
    TOTAL = "total"


@dataclass
class TurnTimings:
    """How long each stage of one bot response took, in milliseconds."""

    call_id: str
    turn_index: int
    stages_ms: dict[Stage, float] = field(default_factory=dict)


@dataclass
class TimeRange:
    """Wall-clock window (aware datetimes), both ends inclusive."""

    start: datetime
    end: datetime


@dataclass
class AudioQualityMetrics:
    """Media-stream totals for one call so far (cumulative; may be reported repeatedly)."""

    call_id: str
    frames_received: int = 0
    frames_late: int = 0
    malformed_messages: int = 0
    dropped_frames: int = 0


class StageSummary(BaseModel):
    count: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float


class PerformanceSummary(BaseModel):
    turns: int
    per_stage: dict[str, StageSummary]


def percentile_nearest_rank(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted, non-empty values."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _summarize(values: list[float]) -> StageSummary:
    ordered = sorted(values)
    return StageSummary(
        count=len(ordered),
        median_ms=statistics.median(ordered),
        p95_ms=percentile_nearest_rank(ordered, 95),
        mean_ms=statistics.fmean(ordered),
        max_ms=ordered[-1],
    )


class PerformanceManager:
    """Records latencies and counters; keeps recent turns in memory for summaries."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        keep_turns: int = 10000,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._turns: deque[tuple[datetime, TurnTimings]] = deque(maxlen=keep_turns)
        self._quality_seen: OrderedDict[str, AudioQualityMetrics] = OrderedDict()
        self._active_calls = 0

        self._stage_latency = Histogram(
            "callbot_stage_latency_seconds",
            "Duration of each stage of a bot response.",
            ["stage"],
            buckets=STAGE_BUCKETS_S,
            registry=self.registry,
        )
        self._operation_latency = Histogram(
            "callbot_operation_seconds",
            "Duration of named operations.",
            ["operation"],
            buckets=OPERATION_BUCKETS_S,
            registry=self.registry,
        )
        self._events = Counter(
            "callbot_events",
            "Counted events (protocol problems, barge-ins, calls).",
            ["event"],
            registry=self.registry,
        )
        self._audio_quality = Counter(
            "callbot_audio_quality",
            "Media-stream frame and message counts.",
            ["kind"],
            registry=self.registry,
        )
        self._active_calls_gauge = Gauge("callbot_active_calls", "Calls in progress.", registry=self.registry)
        # Export every stage from the start, so dashboards see zeros rather than gaps.
        for stage in Stage:
            self._stage_latency.labels(stage=stage.value)

    @property
    def active_calls(self) -> int:
        return self._active_calls

    @handle_manager_errors
    async def track_response_time_async(self, operation: str, start_time: float) -> None:
        """Record ``time.time() - start_time`` seconds under ``operation``."""
        duration = max(0.0, time.time() - start_time)  # a wall-clock step back must not go negative
        self._operation_latency.labels(operation=operation).observe(duration)

    @handle_manager_errors
    async def record_turn_async(self, timings: TurnTimings) -> None:
        """Record each stage's duration and keep the turn for summaries."""
        clean: dict[Stage, float] = {}
        for key, ms in timings.stages_ms.items():
            stage = Stage(key)  # plain strings are accepted; unknown ones raise
            if not math.isfinite(ms) or ms < 0:
                # A bad measurement must not break a live call; drop it and say which stage.
                logger.warning(
                    "call %s turn %d: invalid %s duration dropped",
                    timings.call_id,
                    timings.turn_index,
                    stage.value,
                )
                continue
            clean[stage] = float(ms)
            self._stage_latency.labels(stage=stage.value).observe(ms / 1000)
        kept = TurnTimings(call_id=timings.call_id, turn_index=timings.turn_index, stages_ms=clean)
        self._turns.append((self._clock(), kept))

    @handle_manager_errors
    async def track_audio_quality_async(self, quality_metrics: AudioQualityMetrics) -> None:
        """Add what is new since this call's previous report to the audio-quality counters."""
        previous = self._quality_seen.pop(quality_metrics.call_id, None)
        for kind in ("frames_received", "frames_late", "malformed_messages", "dropped_frames"):
            now = getattr(quality_metrics, kind)
            before = getattr(previous, kind) if previous is not None else 0
            if now > before:
                self._audio_quality.labels(kind=kind).inc(now - before)
        self._quality_seen[quality_metrics.call_id] = quality_metrics
        while len(self._quality_seen) > _QUALITY_CALLS_KEPT:
            self._quality_seen.popitem(last=False)

    def count_event(self, name: str, call_id: str | None = None) -> None:
        """Count one event (no per-call label: that would grow the metric without bound)."""
        self._events.labels(event=name).inc()
        if call_id is not None:
            logger.debug("event %s on call %s", name, call_id)

    def set_active_calls(self, n: int) -> None:
        self._active_calls = n
        self._active_calls_gauge.set(n)

    @handle_manager_errors
    async def get_performance_summary_async(self, time_range: TimeRange | None = None) -> PerformanceSummary:
        """Count, median, nearest-rank p95, mean and max per stage over the kept turns."""
        turns = [
            timings
            for at, timings in self._turns
            if time_range is None or time_range.start <= at <= time_range.end
        ]
        per_stage: dict[str, list[float]] = {}
        for timings in turns:
            for stage, ms in timings.stages_ms.items():
                per_stage.setdefault(stage.value, []).append(ms)
        return PerformanceSummary(
            turns=len(turns),
            per_stage={stage: _summarize(values) for stage, values in per_stage.items()},
        )

    def turns_for_call(self, call_id: str) -> list[TurnTimings]:
        """The kept turns of one call, by turn index."""
        return sorted(
            (timings for _, timings in self._turns if timings.call_id == call_id),
            key=lambda t: t.turn_index,
        )

    def render_prometheus(self) -> tuple[bytes, str]:
        """Metrics in the Prometheus text exposition format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

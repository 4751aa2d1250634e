"""PerformanceManager: stage recording, summary statistics, time filtering and Prometheus output."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from callbot.errors import ManagerError
from callbot.managers.performance import (
    AudioQualityMetrics,
    PerformanceManager,
    Stage,
    TimeRange,
    TurnTimings,
    percentile_nearest_rank,
)

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sample(perf: PerformanceManager, name: str, labels: dict[str, str] | None = None) -> float | None:
    return perf.registry.get_sample_value(name, labels or {})


async def test_stages_recorded_in_histogram_and_kept_per_call() -> None:
    perf = PerformanceManager()
    await perf.record_turn_async(
        TurnTimings("call-a", 0, {Stage.STT: 120.0, Stage.AGENT: 300.0, Stage.TOTAL: 700.0})
    )
    await perf.record_turn_async(TurnTimings("call-b", 0, {Stage.STT: 80.0}))
    await perf.record_turn_async(TurnTimings("call-a", 1, {Stage.STT: 60.0}))

    stt = {"stage": "stt"}
    assert sample(perf, "callbot_stage_latency_seconds_count", stt) == 3
    assert sample(perf, "callbot_stage_latency_seconds_sum", stt) == pytest.approx(0.26)
    assert sample(perf, "callbot_stage_latency_seconds_count", {"stage": "total"}) == 1
    # 0.12 s and 0.08 s fall under the 0.15 s bucket, 0.06 s under 0.075 s.
    assert sample(perf, "callbot_stage_latency_seconds_bucket", {"stage": "stt", "le": "0.075"}) == 1
    assert sample(perf, "callbot_stage_latency_seconds_bucket", {"stage": "stt", "le": "0.15"}) == 3

    turns = perf.turns_for_call("call-a")
    assert [t.turn_index for t in turns] == [0, 1]
    assert turns[0].stages_ms == {Stage.STT: 120.0, Stage.AGENT: 300.0, Stage.TOTAL: 700.0}
    assert perf.turns_for_call("nobody") == []


async def test_invalid_durations_are_dropped_not_recorded() -> None:
    perf = PerformanceManager()
    await perf.record_turn_async(TurnTimings("c", 0, {Stage.STT: -5.0, Stage.AGENT: float("nan")}))
    assert sample(perf, "callbot_stage_latency_seconds_count", {"stage": "stt"}) == 0
    assert perf.turns_for_call("c")[0].stages_ms == {}


async def test_unknown_stage_raises_manager_error() -> None:
    perf = PerformanceManager()
    with pytest.raises(ManagerError):
        await perf.record_turn_async(TurnTimings("c", 0, {"warp_drive": 1.0}))  # type: ignore[dict-item]


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile_nearest_rank(values, 95) == 19.0  # ceil(0.95 * 20) = 19th value
    assert percentile_nearest_rank(values, 50) == 10.0
    assert percentile_nearest_rank([7.0], 95) == 7.0


async def test_summary_median_p95_mean_max_on_known_data() -> None:
    perf = PerformanceManager()
    # TOTAL: 100, 200, ..., 1000 ms (10 turns); STT only on the first three.
    for i in range(10):
        stages = {Stage.TOTAL: 100.0 * (i + 1)}
        if i < 3:
            stages[Stage.STT] = [50.0, 10.0, 30.0][i]
        await perf.record_turn_async(TurnTimings("call", i, stages))

    summary = await perf.get_performance_summary_async()
    assert summary.turns == 10
    total = summary.per_stage["total"]
    assert total.count == 10
    assert total.median_ms == pytest.approx(550.0)
    assert total.p95_ms == 1000.0  # nearest rank: ceil(9.5) = 10th value
    assert total.mean_ms == pytest.approx(550.0)
    assert total.max_ms == 1000.0
    stt = summary.per_stage["stt"]
    assert (stt.count, stt.median_ms, stt.p95_ms, stt.max_ms) == (3, 30.0, 50.0, 50.0)
    assert stt.mean_ms == pytest.approx(30.0)
    assert "agent" not in summary.per_stage


async def test_p95_nearest_rank_with_twenty_values() -> None:
    perf = PerformanceManager()
    for i in range(20):
        await perf.record_turn_async(TurnTimings("call", i, {Stage.AGENT: float(20 - i)}))
    summary = await perf.get_performance_summary_async()
    assert summary.per_stage["agent"].p95_ms == 19.0
    assert summary.per_stage["agent"].median_ms == 10.5


async def test_summary_time_range_filter() -> None:
    clock = FakeClock()
    perf = PerformanceManager(clock=clock)
    for minute, ms in [(0, 100.0), (10, 200.0), (20, 300.0)]:
        clock.now = T0 + timedelta(minutes=minute)
        await perf.record_turn_async(TurnTimings("call", minute, {Stage.TOTAL: ms}))

    window = TimeRange(start=T0 + timedelta(minutes=5), end=T0 + timedelta(minutes=20))
    summary = await perf.get_performance_summary_async(window)
    assert summary.turns == 2
    assert summary.per_stage["total"].count == 2
    assert summary.per_stage["total"].max_ms == 300.0  # end is inclusive
    assert summary.per_stage["total"].median_ms == 250.0

    empty = await perf.get_performance_summary_async(
        TimeRange(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    )
    assert empty.turns == 0
    assert empty.per_stage == {}


async def test_keep_turns_bounds_memory() -> None:
    perf = PerformanceManager(keep_turns=3)
    for i in range(5):
        await perf.record_turn_async(TurnTimings("call", i, {Stage.TOTAL: float(i)}))
    assert [t.turn_index for t in perf.turns_for_call("call")] == [2, 3, 4]
    assert (await perf.get_performance_summary_async()).turns == 3
    # The histogram still saw every turn.
    assert sample(perf, "callbot_stage_latency_seconds_count", {"stage": "total"}) == 5


async def test_operation_time_recorded() -> None:
    perf = PerformanceManager()
    await perf.track_response_time_async("llm", time.time() - 0.3)
    count = sample(perf, "callbot_operation_seconds_count", {"operation": "llm"})
    total = sample(perf, "callbot_operation_seconds_sum", {"operation": "llm"})
    assert count == 1
    assert total is not None and 0.29 < total < 5


async def test_counters_gauge_and_audio_quality_in_prometheus_text() -> None:
    perf = PerformanceManager()
    perf.count_event("malformed_json", call_id="abc")
    perf.count_event("malformed_json")
    perf.count_event("barge_in")
    perf.set_active_calls(3)
    await perf.track_audio_quality_async(AudioQualityMetrics("c1", frames_received=100, frames_late=2))
    # Cumulative report: only the growth (50 received, 1 late) is added.
    await perf.track_audio_quality_async(AudioQualityMetrics("c1", frames_received=150, frames_late=3))

    body, content_type = perf.render_prometheus()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert 'callbot_events_total{event="malformed_json"} 2.0' in text
    assert 'callbot_events_total{event="barge_in"} 1.0' in text
    assert "callbot_active_calls 3.0" in text
    assert 'callbot_audio_quality_total{kind="frames_received"} 150.0' in text
    assert 'callbot_audio_quality_total{kind="frames_late"} 3.0' in text
    # Every stage is exported before any turn is recorded.
    assert 'callbot_stage_latency_seconds_count{stage="first_frame_sent"} 0.0' in text
    assert perf.active_calls == 3


def test_separate_registries_do_not_collide() -> None:
    first = PerformanceManager()
    second = PerformanceManager()  # would raise "Duplicated timeseries" on a shared registry
    first.count_event("calls_started")
    first.count_event("calls_started")
    second.count_event("calls_started")
    assert first.registry is not second.registry
    assert sample(first, "callbot_events_total", {"event": "calls_started"}) == 2
    assert sample(second, "callbot_events_total", {"event": "calls_started"}) == 1

    own = CollectorRegistry()
    third = PerformanceManager(registry=own)
    assert third.registry is own
    with pytest.raises(ValueError, match="Duplicated"):
        PerformanceManager(registry=own)

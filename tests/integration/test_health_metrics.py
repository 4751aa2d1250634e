"""/health and /metrics through a real FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

import callbot
from callbot.managers.performance import PerformanceManager, Stage, TurnTimings
from callbot.web.health import build_router


def make_client(perf: PerformanceManager, ready: list[bool]) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(perf, lambda: ready[0]))
    return TestClient(app)


async def test_metrics_content_type_and_recorded_metric() -> None:
    perf = PerformanceManager()
    await perf.record_turn_async(TurnTimings("call", 0, {Stage.TOTAL: 420.0}))
    perf.count_event("unknown_event")
    with make_client(perf, [True]) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    content_type = response.headers["content-type"]
    assert content_type.startswith("text/plain")
    assert "version=" in content_type
    assert 'callbot_stage_latency_seconds_count{stage="total"} 1.0' in response.text
    assert 'callbot_events_total{event="unknown_event"} 1.0' in response.text
    assert "# TYPE callbot_active_calls gauge" in response.text


def test_health_503_while_starting_then_200() -> None:
    perf = PerformanceManager()
    ready = [False]
    with make_client(perf, ready) as client:
        starting = client.get("/health")
        assert starting.status_code == 503
        assert starting.json() == {"status": "starting", "active_calls": 0, "version": callbot.__version__}

        ready[0] = True
        perf.set_active_calls(2)
        ok = client.get("/health")
        assert ok.status_code == 200
        assert ok.json() == {"status": "ok", "active_calls": 2, "version": callbot.__version__}

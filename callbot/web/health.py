"""Operational endpoints: ``GET /health`` for load balancers and ``GET /metrics`` for Prometheus."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

import callbot
from callbot.managers.performance import PerformanceManager


def build_router(perf: PerformanceManager, is_ready: Callable[[], bool]) -> APIRouter:
    """Router with ``/health`` (503 until ``is_ready()``) and ``/metrics``."""
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = perf.render_prometheus()
        return Response(content=body, media_type=content_type)

    @router.get("/health")
    async def health() -> JSONResponse:
        ready = is_ready()
        return JSONResponse(
            {
                "status": "ok" if ready else "starting",
                "active_calls": perf.active_calls,
                "version": callbot.__version__,
            },
            status_code=200 if ready else 503,
        )

    return router

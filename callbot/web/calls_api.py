"""``GET /api/calls`` and ``GET /api/calls/{id}``: what the calls produced, as JSON.

Protected by ``X-API-Key`` when ``CALLBOT_API_KEY`` is set; open (with a warning in the
log) when it is not, which suits a machine nobody else reaches.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Depends, Header, HTTPException

from callbot.config import Settings
from callbot.managers.performance import PerformanceManager
from callbot.storage.records import CallRecord, CallRecordStore

logger = logging.getLogger("callbot.api")


def build_router(settings: Settings, records: CallRecordStore, perf: PerformanceManager) -> APIRouter:
    if not settings.api_key:
        logger.warning("CALLBOT_API_KEY is not set: the /api endpoints are open to anyone who reaches them")

    async def require_key(x_api_key: str | None = Header(default=None)) -> None:
        if settings.api_key and not hmac.compare_digest(x_api_key or "", settings.api_key):
            raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")

    router = APIRouter(prefix="/api", tags=["calls"], dependencies=[Depends(require_key)])

    @router.get("/calls")
    async def list_calls(limit: int = 50) -> list[CallRecord]:
        return await records.list_calls_async(limit=max(1, min(limit, 500)))

    @router.get("/calls/{call_id}")
    async def get_call(call_id: str) -> CallRecord:
        record = await records.get_call_async(call_id)
        if record is None:
            raise HTTPException(status_code=404, detail="no such call")
        return record

    @router.get("/calls/{call_sid}/timings")
    async def get_timings(call_sid: str) -> list[dict[str, object]]:
        """Latency of each bot response by stage, in ms (kept in memory for recent calls)."""
        return [{"turn": t.turn_index, "stages_ms": {str(k): round(v, 1) for k, v in t.stages_ms.items()}}
                for t in perf.turns_for_call(call_sid)]

    return router

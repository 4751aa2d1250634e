"""The JSON API of what the calls produced: calls with their transcripts, leads, appointments.

Protected by ``X-API-Key`` when ``CALLBOT_API_KEY`` is set; open (with a warning in the
log) when it is not, which suits a machine nobody else reaches.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel

from callbot.integrations.phone import normalize_phone
from callbot.services import CallServices
from callbot.storage.records import CallRecord

logger = logging.getLogger("callbot.api")


class LeadView(BaseModel):
    id: str
    name: str | None
    email: str | None
    phone: str
    interest: str | None
    status: str
    qualification_score: float | None
    created_at: datetime
    updated_at: datetime


class AppointmentView(BaseModel):
    id: str
    start: datetime  # ISO 8601 with the business's UTC offset
    end: datetime
    advisor: str
    advisor_id: str
    status: str
    lead_id: str | None
    lead_name: str | None
    phone: str


def _phone_or_400(phone: str | None) -> str | None:
    if phone is None:
        return None
    normalized = normalize_phone(phone)
    if normalized is None:
        raise HTTPException(status_code=400, detail="phone is not a valid phone number")
    return normalized


def build_router(services: CallServices) -> APIRouter:
    settings, records, perf = services.settings, services.records, services.perf
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

    @router.get("/leads")
    async def list_leads(phone: str | None = None) -> list[LeadView]:
        leads = await services.crm.list_leads_async(_phone_or_400(phone))
        return [LeadView(**lead.model_dump(include=set(LeadView.model_fields))) for lead in leads]

    @router.get("/appointments")
    async def list_appointments(phone: str | None = None) -> list[AppointmentView]:
        normalized = _phone_or_400(phone)
        if normalized is None:
            raise HTTPException(status_code=400, detail="give ?phone=")
        zone = services.profile.zone
        return [AppointmentView(id=a.id, start=a.start.astimezone(zone), end=a.end.astimezone(zone),
                                advisor=a.advisor_name, advisor_id=a.advisor_id, status=a.status,
                                lead_id=a.lead_id, lead_name=a.prospect_name, phone=a.prospect_phone)
                for a in await services.calendar.appointments_for_phone_async(normalized)]

    @router.get("/calls/{call_sid}/timings")
    async def get_timings(call_sid: str) -> list[dict[str, object]]:
        """Latency of each bot response by stage, in ms (kept in memory for recent calls)."""
        return [{"turn": t.turn_index, "stages_ms": {str(k): round(v, 1) for k, v in t.stages_ms.items()}}
                for t in perf.turns_for_call(call_sid)]

    return router

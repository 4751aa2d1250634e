"""The JSON API on a running server: leads and appointments by phone, as the sales team reads them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from callbot.business.profile import load_profile
from callbot.integrations.calendar.local import LocalCalendarProvider
from callbot.integrations.crm.base import LeadFields
from callbot.integrations.crm.local import LocalCRMProvider
from callbot.integrations.models import AppointmentRequest
from tests.conftest import RunningServer

PHONE = "+15550142777"


def seed(server: RunningServer) -> None:
    """Write a lead and an appointment into the server's own stores, as a call would."""
    profile = load_profile(None)

    async def write() -> None:
        crm = LocalCRMProvider(f"sqlite:///{server.data_dir / 'crm.db'}")
        calendar = LocalCalendarProvider(f"sqlite:///{server.data_dir / 'calendar.db'}")
        await crm.init_async()
        await calendar.init_async()
        lead = await crm.upsert_lead_async(LeadFields(name="Jane Doe", email="jane@example.com",
                                                      interest="UX Design", qualification_score=7), PHONE)
        start = datetime(2026, 12, 1, 14, 0, tzinfo=ZoneInfo("America/New_York"))
        advisor = profile.advisors[0]
        await calendar.book_async(AppointmentRequest(start=start, prospect_phone=PHONE, prospect_name="Jane Doe",
                                                     lead_id=lead.id), advisor, start + timedelta(minutes=30),
                                  timedelta(0))
        await crm.close_async()
        await calendar.close_async()

    asyncio.run(write())


def test_leads_and_appointments_by_phone(callbot_server: RunningServer) -> None:
    seed(callbot_server)
    headers = {"X-API-Key": callbot_server.api_key}
    leads = httpx.get(f"{callbot_server.base_url}/api/leads", params={"phone": "(555) 014-2777"},
                      headers=headers).json()
    assert [(lead["name"], lead["email"], lead["phone"], lead["interest"], lead["qualification_score"])
            for lead in leads] == [("Jane Doe", "jane@example.com", PHONE, "UX Design", 7.0)]
    appointments = httpx.get(f"{callbot_server.base_url}/api/appointments", params={"phone": PHONE},
                             headers=headers).json()
    assert len(appointments) == 1
    booked = appointments[0]
    assert booked["start"] == "2026-12-01T14:00:00-05:00"  # ISO 8601 in the business's offset
    assert booked["end"] == "2026-12-01T14:30:00-05:00"
    assert booked["status"] == "scheduled"
    assert booked["lead_id"] == leads[0]["id"] and booked["lead_name"] == "Jane Doe"
    assert booked["advisor"] == load_profile(None).advisors[0].name


def test_api_needs_the_key_and_a_valid_phone(callbot_server: RunningServer) -> None:
    base = callbot_server.base_url
    assert httpx.get(f"{base}/api/leads").status_code == 401
    assert httpx.get(f"{base}/api/calls", headers={"X-API-Key": "wrong"}).status_code == 401
    headers = {"X-API-Key": callbot_server.api_key}
    assert httpx.get(f"{base}/api/appointments", params={"phone": "not a number"}, headers=headers).status_code == 400
    assert httpx.get(f"{base}/api/leads", params={"phone": "+15550149999"}, headers=headers).json() == []

"""What the calendar and CRM exchange with the rest of callbot (seed API names).

Every datetime here is timezone-aware; providers store UTC and callers present it in the
business profile's time zone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return value


class AvailableTime(BaseModel):
    """A free slot with one advisor."""

    start: datetime
    end: datetime
    advisor_id: str
    advisor_name: str

    _check = field_validator("start", "end")(_aware)


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"  # replaced by a new appointment


class AppointmentRequest(BaseModel):
    start: datetime
    duration_minutes: int = Field(30, gt=0)
    advisor_id: str | None = None  # None: any advisor free at that time
    prospect_name: str | None = None
    prospect_phone: str  # E.164
    prospect_email: str | None = None
    lead_id: str | None = None
    call_id: str | None = None
    notes: str | None = None

    _check = field_validator("start")(_aware)


class AppointmentDetails(BaseModel):
    id: str
    start: datetime
    end: datetime
    advisor_id: str
    advisor_name: str
    status: AppointmentStatus
    prospect_name: str | None = None
    prospect_phone: str
    prospect_email: str | None = None
    lead_id: str | None = None
    call_id: str | None = None
    notes: str | None = None
    created_at: datetime

    _check = field_validator("start", "end", "created_at")(_aware)


class SchedulingResult(BaseModel):
    success: bool
    appointment: AppointmentDetails | None = None
    reason: str | None = None  # why not: "slot_taken", "outside_business_hours", "too_soon", ...
    alternatives: list[AvailableTime] = Field(default_factory=list)  # nearest free slots when it failed


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    NOT_QUALIFIED = "not_qualified"
    MEETING_BOOKED = "meeting_booked"
    CALLBACK_REQUESTED = "callback_requested"
    LOST = "lost"


class CallDetails(BaseModel):
    call_id: str
    caller_phone: str  # E.164
    called_phone: str | None = None
    started_at: datetime


class CRMRecord(BaseModel):
    """A prospect (lead) as the CRM holds it."""

    id: str
    name: str | None = None
    email: str | None = None
    phone: str  # E.164
    company: str | None = None
    interest: str | None = None
    status: LeadStatus = LeadStatus.NEW
    qualification_score: float | None = None
    notes: str | None = None
    created_at: datetime
    updated_at: datetime


class ActivityRecord(BaseModel):
    """A call logged against a lead."""

    id: str
    lead_id: str | None
    call_id: str
    outcome: str
    summary: str
    created_at: datetime

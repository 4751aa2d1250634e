"""The CRM provider protocol: what every CRM adapter (local SQL, Salesforce, …) offers.

Contract every provider keeps, because the outbox redelivers writes after failures:

- ``upsert_lead_async`` is idempotent on the phone number: one lead per E.164 number, and a
  field that is None (or blank) in the update never erases what the lead already holds.
- ``log_activity_async`` is idempotent on ``call_id``: logging the same call again updates the
  one activity of that call instead of adding a second one.
- ``update_status_async`` to the status the lead already has changes nothing (no history entry).
- ``attach_appointment_async`` is idempotent on the appointment's id.
- An outage (network, timeout, 5xx, database unreachable) is raised as ``ExternalServiceError``
  (or left as ``OSError`` / ``TimeoutError``): those are retried. Anything else is a permanent
  failure of that one write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, field_validator

from callbot.integrations.models import ActivityRecord, AppointmentDetails, CRMRecord, LeadStatus


class LeadNotFoundError(LookupError):
    """A write named a lead id the CRM does not know."""


class LeadFields(BaseModel):
    """What an upsert may set on a lead; None means "unknown here", never "erase"."""

    name: str | None = None
    email: str | None = None
    company: str | None = None
    interest: str | None = None
    notes: str | None = None
    qualification_score: float | None = None

    @field_validator("name", "email", "company", "interest", "notes")
    @classmethod
    def _blank_is_unknown(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return value or None

    def __repr__(self) -> str:  # names and e-mails stay out of reprs, and so out of logs
        known = [name for name, value in self if value is not None]
        return f"LeadFields(known={known})"

    __str__ = __repr__


class LeadStatusChange(BaseModel):
    """One entry of a lead's status history."""

    lead_id: str
    old_status: LeadStatus | None  # None: the lead was created with new_status
    new_status: LeadStatus
    reason: str
    changed_at: datetime


@runtime_checkable
class CRMProvider(Protocol):
    """A CRM. Phone numbers in and out are E.164; datetimes are aware UTC."""

    async def init_async(self) -> None:
        """Connect / create tables. Called once before use."""

    async def close_async(self) -> None:
        """Release connections."""

    async def find_by_phone_async(self, phone: str) -> CRMRecord | None:
        """The lead with this phone number (any format ``normalize_phone`` accepts), or None."""

    async def upsert_lead_async(self, fields: LeadFields, phone: str) -> CRMRecord:
        """Create the lead of ``phone`` or update it with the fields that are not None."""

    async def update_status_async(self, lead_id: str, status: LeadStatus, reason: str) -> bool:
        """Set the lead's status (kept in its history with ``reason``); False if the lead is unknown."""

    async def log_activity_async(self, lead_id: str | None, call_id: str, outcome: str, summary: str) -> ActivityRecord:
        """Record the call against the lead (None: no lead); raises ``LeadNotFoundError``."""

    async def attach_appointment_async(self, lead_id: str, appointment: AppointmentDetails) -> bool:
        """Attach (or update) the appointment on the lead; False if the lead is unknown."""

    async def list_leads_async(self, phone: str | None = None) -> list[CRMRecord]:
        """All leads, oldest first, or the one (at most) of ``phone``."""

    async def list_activities_async(self, lead_id: str) -> list[ActivityRecord]:
        """The lead's activities, oldest first."""

    async def list_appointments_async(self, lead_id: str) -> list[AppointmentDetails]:
        """The appointments attached to the lead, by start time."""

"""CRMManager (seed API): the lead, the call and the appointment, written to the CRM.

Writes go through the durable ``CRMOutbox`` when one is given (the production wiring): the
CRM being down then never fails a call nor loses a lead; the manager returns provisional
records (ids ``pending-…``) and the outbox delivers later. Without an outbox, writes go
straight to the provider and its failures surface as ``ManagerError``.

Logs carry call ids, lead ids and outcomes, never names, e-mails or phone numbers.
"""

from __future__ import annotations

import logging
from datetime import UTC

from callbot.agents.state import ProspectInfo
from callbot.errors import ManagerError, handle_manager_errors
from callbot.integrations.crm.base import CRMProvider, LeadFields
from callbot.integrations.crm.outbox import CRMOutbox, is_provisional_id
from callbot.integrations.models import ActivityRecord, AppointmentDetails, CallDetails, CRMRecord, LeadStatus
from callbot.integrations.phone import normalize_phone
from callbot.managers.conversation import ConversationSummary

logger = logging.getLogger("callbot.managers.crm")


def _duration_text(seconds: float) -> str:
    total = round(seconds)
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def summary_text(summary: ConversationSummary) -> str:
    """The activity text a salesperson reads in the CRM: what happened on the call, in one paragraph.

    Names, e-mails and numbers are on the lead itself and are not repeated here.
    """
    parts = [
        f"Outcome: {summary.outcome.value} (reason: {summary.reason}).",
        f"Duration: {_duration_text(summary.duration_seconds)}, {summary.turn_count} caller turns,"
        f" reached phase: {summary.phase.value}.",
    ]
    interest = (summary.prospect_info.interest or "").strip()
    parts.append(f"Interest: {interest}." if interest else "Interest: not stated.")
    parts.append(f"Qualification score: {summary.qualification_score:.2f}.")
    if summary.appointment is not None:
        when = summary.appointment
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        parts.append(f"Appointment booked: {when:%Y-%m-%d %H:%M} UTC.")
    else:
        parts.append("No appointment booked.")
    return " ".join(parts)


class CRMManager:
    def __init__(self, provider: CRMProvider, outbox: CRMOutbox | None = None) -> None:
        self.provider = provider
        self.outbox = outbox
        # Writes: durable through the outbox when there is one (same method names as the provider).
        self._writer: CRMProvider | CRMOutbox = outbox if outbox is not None else provider

    @handle_manager_errors
    async def create_or_update_prospect_async(
        self, prospect_info: ProspectInfo, call_details: CallDetails, qualification_score: float | None = None
    ) -> CRMRecord:
        """Create the prospect's lead or update it with what this call learnt.

        The lead's phone is the number the prospect gave, else the number they called from
        (E.164). Fields the caller did not give never erase what the CRM already holds. When the
        CRM is down and an outbox is configured, a provisional record is returned and the write
        is queued.
        """
        phone = normalize_phone(prospect_info.phone or "") or normalize_phone(call_details.caller_phone)
        if phone is None:
            raise ManagerError(f"call {call_details.call_id}: no usable phone number for the lead")
        fields = LeadFields(
            name=prospect_info.name,
            email=prospect_info.email,
            company=prospect_info.company,
            interest=prospect_info.interest,
            notes=prospect_info.notes,
            qualification_score=qualification_score,
        )
        record = await self._writer.upsert_lead_async(fields, phone)
        logger.info(
            "call %s: lead %s saved%s",
            call_details.call_id,
            record.id,
            " (queued: CRM unavailable)" if is_provisional_id(record.id) else "",
        )
        return record

    @handle_manager_errors
    async def find_prospect_by_phone_async(self, phone: str) -> CRMRecord | None:
        """The lead of this number (any common format), or None; reads go to the CRM itself."""
        normalized = normalize_phone(phone)
        if normalized is None:
            return None
        return await self.provider.find_by_phone_async(normalized)

    @handle_manager_errors
    async def log_conversation_async(
        self, call_id: str, conversation_summary: ConversationSummary, lead_id: str | None = None
    ) -> ActivityRecord:
        """Log the call as an activity (against ``lead_id`` when known); logging a call twice updates it."""
        activity = await self._writer.log_activity_async(
            lead_id, call_id, conversation_summary.outcome.value, summary_text(conversation_summary)
        )
        logger.info("call %s: activity logged (lead %s, outcome %s)", call_id, lead_id, activity.outcome)
        return activity

    @handle_manager_errors
    async def update_lead_status_async(self, lead_id: str, new_status: LeadStatus, reason: str) -> bool:
        """Set the lead's status (history kept with ``reason``). False: the CRM does not know the lead.

        With an outbox, True also means "queued while the CRM is down".
        """
        updated = await self._writer.update_status_async(lead_id, LeadStatus(new_status), reason)
        logger.info("lead %s: status %s %s", lead_id, LeadStatus(new_status).value, "set" if updated else "not set")
        return updated

    @handle_manager_errors
    async def sync_appointment_to_crm_async(self, appointment: AppointmentDetails, lead_id: str) -> bool:
        """Attach the appointment to the lead (again after a change: idempotent on its id)."""
        attached = await self._writer.attach_appointment_async(lead_id, appointment)
        logger.info("lead %s: appointment %s %s", lead_id, appointment.id, "synced" if attached else "not synced")
        return attached

    @handle_manager_errors
    async def list_leads_async(self, phone: str | None = None) -> list[CRMRecord]:
        """All leads (oldest first), or the lead of ``phone``."""
        return await self.provider.list_leads_async(phone)

    @handle_manager_errors
    async def resolve_lead_id_async(self, lead_id: str) -> str | None:
        """The CRM's id for a lead id this manager returned: None while a provisional lead is still queued."""
        if self.outbox is None or not is_provisional_id(lead_id):
            return lead_id
        return await self.outbox.resolve_lead_id_async(lead_id)

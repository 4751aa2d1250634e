"""The durable CRM outbox: writes made while the CRM is down are kept, retried and delivered once, in order.

The CRM here is the real LocalCRMProvider with a fault switch: while ``down`` is set, its writes
raise ExternalServiceError (or hang) before touching the database, as a CRM outage would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callbot.agents.state import ConversationPhase, ProspectInfo
from callbot.errors import ExternalServiceError, ManagerError
from callbot.integrations.crm import CRMOutbox, LeadFields, LeadNotFoundError, LocalCRMProvider, is_provisional_id
from callbot.integrations.crm.outbox import OutboxRow, UnresolvedLeadError
from callbot.integrations.models import (
    ActivityRecord,
    AppointmentDetails,
    AppointmentStatus,
    CallDetails,
    CRMRecord,
    LeadStatus,
)
from callbot.managers.conversation import CallOutcome, ConversationSummary
from callbot.managers.crm import CRMManager

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
CALLER = "+15550100123"


class FlakyCRM(LocalCRMProvider):
    """The local CRM with an outage switch; records which writes reached it, in order."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self.down = False
        self.hang = False
        self.delivered: list[tuple[str, str]] = []  # (operation, detail) of each write that went through

    async def _gate(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.down:
            raise ExternalServiceError("CRM unreachable (503)")

    async def upsert_lead_async(self, fields: LeadFields, phone: str) -> CRMRecord:
        await self._gate()
        record = await super().upsert_lead_async(fields, phone)
        self.delivered.append(("upsert_lead", fields.name or ""))
        return record

    async def update_status_async(self, lead_id: str, status: LeadStatus, reason: str) -> bool:
        await self._gate()
        result = await super().update_status_async(lead_id, status, reason)
        self.delivered.append(("update_status", LeadStatus(status).value))
        return result

    async def log_activity_async(self, lead_id: str | None, call_id: str, outcome: str, summary: str) -> ActivityRecord:
        await self._gate()
        record = await super().log_activity_async(lead_id, call_id, outcome, summary)
        self.delivered.append(("log_activity", call_id))
        return record

    async def attach_appointment_async(self, lead_id: str, appointment: AppointmentDetails) -> bool:
        await self._gate()
        result = await super().attach_appointment_async(lead_id, appointment)
        self.delivered.append(("attach_appointment", appointment.id))
        return result


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'callbot.db'}"


@pytest.fixture
async def crm(db_url: str) -> AsyncIterator[FlakyCRM]:
    provider = FlakyCRM(db_url)
    await provider.init_async()
    try:
        yield provider
    finally:
        await provider.close_async()


def make_outbox(db_url: str, provider: FlakyCRM, **options: float) -> CRMOutbox:
    settings = {"base_delay_s": 0.05, "max_delay_s": 0.2, "delivery_timeout_s": 2.0, "poll_interval_s": 0.1}
    settings.update(options)
    return CRMOutbox(db_url, provider, **settings)  # type: ignore[arg-type]


@pytest.fixture
async def outbox(db_url: str, crm: FlakyCRM) -> AsyncIterator[CRMOutbox]:
    box = make_outbox(db_url, crm)
    await box.init_async()
    try:
        yield box
    finally:
        await box.close_async()


async def wait_until_delivered(box: CRMOutbox, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while await box.pending_count_async() > 0:
        assert time.monotonic() < deadline, f"{await box.pending_count_async()} writes still pending"
        await asyncio.sleep(0.02)


async def deliver_after_backoff(box: CRMOutbox) -> int:
    """One delivery pass once the failed entries' backoff (at most max_delay_s = 0.2 s here) is over."""
    await asyncio.sleep(0.25)
    return await box.deliver_due_async()


def call_details(caller: str = CALLER) -> CallDetails:
    return CallDetails(call_id=f"CA{uuid.uuid4().hex}", caller_phone=caller, started_at=T0)


def summary(call_id: str) -> ConversationSummary:
    return ConversationSummary(
        call_id=call_id,
        reason="caller_hung_up",
        outcome=CallOutcome.COMPLETED,
        started_at=T0,
        duration_seconds=61,
        turn_count=4,
        phase=ConversationPhase.CLOSING,
        prospect_info=ProspectInfo(interest="solar panels"),
        qualification_score=0.5,
    )


def appointment(lead_id: str) -> AppointmentDetails:
    return AppointmentDetails(
        id=f"appt-{uuid.uuid4().hex[:8]}",
        start=T0,
        end=T0 + timedelta(minutes=30),
        advisor_id="adv-1",
        advisor_name="Dana",
        status=AppointmentStatus.SCHEDULED,
        prospect_phone=CALLER,
        lead_id=lead_id,
        created_at=T0,
    )


async def outbox_rows(box: CRMOutbox) -> list[OutboxRow]:
    async with box._sessions() as session:
        return list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


# --- the CRM is up ---------------------------------------------------------------------------------


async def test_writes_go_straight_through_when_the_crm_is_up(crm: FlakyCRM, outbox: CRMOutbox) -> None:
    manager = CRMManager(crm, outbox)
    call = call_details()
    lead = await manager.create_or_update_prospect_async(ProspectInfo(name="Ann"), call)
    assert not is_provisional_id(lead.id)
    assert lead == await crm.find_by_phone_async(CALLER)
    activity = await manager.log_conversation_async(call.call_id, summary(call.call_id), lead.id)
    assert not is_provisional_id(activity.id) and activity.lead_id == lead.id
    assert await manager.update_lead_status_async(lead.id, LeadStatus.QUALIFIED, "fits")
    assert await manager.update_lead_status_async("no-such-lead", LeadStatus.LOST, "x") is False  # the CRM's answer
    assert await manager.sync_appointment_to_crm_async(appointment(lead.id), lead.id)
    assert await outbox.pending_count_async() == 0
    assert await outbox_rows(outbox) == []  # delivered entries are removed
    assert [op for op, _ in crm.delivered] == [
        "upsert_lead",
        "log_activity",
        "update_status",
        "update_status",
        "attach_appointment",
    ]


# --- the CRM is down -----------------------------------------------------------------------------


async def test_outage_queues_writes_and_delivers_them_once_in_order(
    crm: FlakyCRM, outbox: CRMOutbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callbot")
    manager = CRMManager(crm, outbox)
    crm.down = True
    call = call_details(caller="(555) 010-0123")

    lead = await manager.create_or_update_prospect_async(
        ProspectInfo(name="Maria Lopez", email="maria@example.com", interest="solar panels"), call
    )
    # A provisional record of what we know, under a provisional id.
    assert is_provisional_id(lead.id)
    assert (lead.phone, lead.name, lead.email, lead.interest, lead.status) == (
        CALLER,
        "Maria Lopez",
        "maria@example.com",
        "solar panels",
        LeadStatus.NEW,
    )
    # More of the same call, all against the provisional id.
    again = await manager.create_or_update_prospect_async(ProspectInfo(name="Maria Lopez-Garcia"), call)
    assert again.id == lead.id  # one provisional lead per number
    assert await manager.update_lead_status_async(lead.id, LeadStatus.QUALIFIED, "budget confirmed")
    assert await manager.update_lead_status_async(lead.id, LeadStatus.MEETING_BOOKED, "demo booked")
    booked = appointment(lead.id)
    assert await manager.sync_appointment_to_crm_async(booked, lead.id)
    activity = await manager.log_conversation_async(call.call_id, summary(call.call_id), lead.id)
    assert is_provisional_id(activity.id) and activity.lead_id == lead.id

    assert await outbox.pending_count_async() == 6
    assert await crm.list_leads_async() == []  # nothing reached the CRM
    assert await manager.resolve_lead_id_async(lead.id) is None

    # The background task retries with backoff while the CRM stays down...
    outbox.start()
    await asyncio.sleep(0.3)
    rows = await outbox_rows(outbox)
    assert len(rows) == 6
    assert rows[0].attempts >= 2 and rows[0].last_error == "ExternalServiceError"
    assert rows[0].next_attempt_at > datetime.now(UTC) - timedelta(seconds=1)
    assert all(row.attempts == 0 for row in rows[1:])  # later writes of the lead wait their turn
    assert crm.delivered == []

    # ...and delivers everything once it is back.
    crm.down = False
    await wait_until_delivered(outbox)
    leads = await crm.list_leads_async()
    assert len(leads) == 1
    real = leads[0]
    assert (real.phone, real.name, real.email, real.interest, real.status) == (
        CALLER,
        "Maria Lopez-Garcia",
        "maria@example.com",
        "solar panels",
        LeadStatus.MEETING_BOOKED,
    )
    assert crm.delivered == [
        ("upsert_lead", "Maria Lopez"),
        ("upsert_lead", "Maria Lopez-Garcia"),
        ("update_status", "qualified"),
        ("update_status", "meeting_booked"),
        ("attach_appointment", booked.id),
        ("log_activity", call.call_id),
    ]
    history = await crm.status_history_async(real.id)
    assert [h.new_status for h in history] == [LeadStatus.NEW, LeadStatus.QUALIFIED, LeadStatus.MEETING_BOOKED]
    activities = await crm.list_activities_async(real.id)
    assert [(a.call_id, a.lead_id) for a in activities] == [(call.call_id, real.id)]
    assert [a.id for a in await crm.list_appointments_async(real.id)] == [booked.id]
    assert await manager.resolve_lead_id_async(lead.id) == real.id
    assert await outbox.dead_count_async() == 0

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callbot"))
    assert "ExternalServiceError" in ours
    for secret in ("Maria", "maria@example.com", CALLER, "5550100123", "010-0123"):
        assert secret not in ours


async def test_later_call_after_delivery_uses_the_real_lead(crm: FlakyCRM, outbox: CRMOutbox) -> None:
    manager = CRMManager(crm, outbox)
    crm.down = True
    provisional = await manager.create_or_update_prospect_async(ProspectInfo(name="Ann"), call_details())
    assert is_provisional_id(provisional.id)
    crm.down = False
    assert await outbox.deliver_due_async() == 0  # still in its backoff
    assert await deliver_after_backoff(outbox) == 1
    real = await crm.find_by_phone_async(CALLER)
    assert real is not None

    # A write still holding the provisional id (the call's state kept it) reaches the real lead.
    assert await manager.update_lead_status_async(provisional.id, LeadStatus.CALLBACK_REQUESTED, "call me later")
    assert (await crm.find_by_phone_async(CALLER)).status == LeadStatus.CALLBACK_REQUESTED  # type: ignore[union-attr]

    # Down again: the number is known now, so the provisional record carries the real id.
    crm.down = True
    queued = await manager.create_or_update_prospect_async(ProspectInfo(company="Acme"), call_details())
    assert queued.id == real.id
    crm.down = False
    assert await deliver_after_backoff(outbox) == 1
    assert (await crm.find_by_phone_async(CALLER)).company == "Acme"  # type: ignore[union-attr]
    assert len(await crm.list_leads_async()) == 1


async def test_a_new_write_waits_behind_the_queued_ones_of_its_lead(crm: FlakyCRM, outbox: CRMOutbox) -> None:
    crm.down = True
    await outbox.upsert_lead_async(LeadFields(name="First"), CALLER)
    crm.down = False
    # The CRM is back, but the first write has not been redelivered yet: the second must not overtake it.
    second = await outbox.upsert_lead_async(LeadFields(name="Second"), CALLER)
    assert is_provisional_id(second.id)
    # Another lead is not held up.
    other = await outbox.upsert_lead_async(LeadFields(name="Other"), "+15550100999")
    assert not is_provisional_id(other.id)
    outbox.start()
    await wait_until_delivered(outbox)
    assert [name for op, name in crm.delivered if op == "upsert_lead"] == ["Other", "First", "Second"]
    assert (await crm.find_by_phone_async(CALLER)).name == "Second"  # type: ignore[union-attr]


async def test_many_concurrent_writes_during_an_outage_make_one_lead(crm: FlakyCRM, outbox: CRMOutbox) -> None:
    manager = CRMManager(crm, outbox)
    crm.down = True
    records = await asyncio.gather(
        *(manager.create_or_update_prospect_async(ProspectInfo(notes=f"note {i}"), call_details()) for i in range(20))
    )
    assert len({r.id for r in records}) == 1
    assert await outbox.pending_count_async() == 20
    crm.down = False
    outbox.start()
    await wait_until_delivered(outbox)
    leads = await crm.list_leads_async()
    assert len(leads) == 1
    assert len(crm.delivered) == 20  # each queued write delivered exactly once
    rows = await outbox_rows(outbox)
    assert rows == []


async def test_a_hanging_crm_times_out_and_is_retried(db_url: str, crm: FlakyCRM) -> None:
    box = make_outbox(db_url, crm, delivery_timeout_s=0.2)
    await box.init_async()
    try:
        crm.hang = True
        started = time.monotonic()
        lead = await box.upsert_lead_async(LeadFields(name="Ann"), CALLER)
        assert time.monotonic() - started < 2  # the caller is not held longer than the delivery timeout
        assert is_provisional_id(lead.id)
        assert [row.last_error for row in await outbox_rows(box)] == ["TimeoutError"]
        crm.hang = False
        box.start()
        await wait_until_delivered(box)
        assert len(await crm.list_leads_async()) == 1
    finally:
        await box.close_async()


async def test_outbox_survives_a_restart(db_url: str, crm: FlakyCRM) -> None:
    crm.down = True
    first = make_outbox(db_url, crm)
    await first.init_async()
    manager = CRMManager(crm, first)
    call = call_details()
    lead = await manager.create_or_update_prospect_async(ProspectInfo(name="Ann", email="ann@example.com"), call)
    await manager.log_conversation_async(call.call_id, summary(call.call_id), lead.id)
    first.start()
    await asyncio.sleep(0.2)  # some failed attempts, then the process goes away
    await first.close_async()
    assert crm.delivered == []

    crm.down = False
    second = make_outbox(db_url, crm)  # a new process on the same database file
    await second.init_async()
    try:
        assert await second.pending_count_async() == 2
        second.start()
        await wait_until_delivered(second)
        leads = await crm.list_leads_async()
        assert [(x.name, x.email) for x in leads] == [("Ann", "ann@example.com")]
        assert [a.call_id for a in await crm.list_activities_async(leads[0].id)] == [call.call_id]
        assert await second.resolve_lead_id_async(lead.id) == leads[0].id
    finally:
        await second.close_async()


async def test_a_crash_mid_delivery_is_redelivered_without_duplicates(db_url: str, crm: FlakyCRM) -> None:
    # The CRM got the write but the process died before the entry was removed: the entry is
    # delivered again after its lease expires, and idempotent writes absorb the repeat.
    box = make_outbox(db_url, crm)
    await box.init_async()
    try:
        call = call_details()
        lead = await crm.upsert_lead_async(LeadFields(name="Ann"), CALLER)
        await crm.log_activity_async(lead.id, call.call_id, "completed", "first delivery")
        crm.down = True
        await box.log_activity_async(lead.id, call.call_id, "completed", "first delivery")
        crm.down = False
        assert await deliver_after_backoff(box) == 1
        activities = await crm.list_activities_async(lead.id)
        assert [(a.call_id, a.summary) for a in activities] == [(call.call_id, "first delivery")]
    finally:
        await box.close_async()


async def test_stop_releases_claimed_entries(db_url: str, crm: FlakyCRM) -> None:
    box = make_outbox(db_url, crm, delivery_timeout_s=30.0)
    await box.init_async()
    crm.down = True
    await box.upsert_lead_async(LeadFields(name="Ann"), CALLER)
    crm.down, crm.hang = False, True
    box.start()
    await asyncio.sleep(0.3)  # the background task is stuck in the CRM call, holding the lease
    assert (await outbox_rows(box))[0].locked_until is not None
    await box.close_async()

    crm.hang = False
    again = make_outbox(db_url, crm)
    await again.init_async()
    try:
        assert await again.deliver_due_async() == 1  # not blocked by the stopped outbox's lease
    finally:
        await again.close_async()


async def test_permanent_failures_are_kept_and_do_not_block(crm: FlakyCRM, outbox: CRMOutbox) -> None:
    manager = CRMManager(crm, outbox)
    lead = await manager.create_or_update_prospect_async(ProspectInfo(), call_details())
    # A write the CRM rejects for good: the caller hears about it, the entry is kept as dead.
    with pytest.raises(ManagerError) as raised:
        await manager.log_conversation_async("CAbad", summary("CAbad"), "no-such-lead")
    assert isinstance(raised.value.__cause__, LeadNotFoundError)
    assert (await outbox.pending_count_async(), await outbox.dead_count_async()) == (0, 1)
    rows = await outbox_rows(outbox)
    assert [(r.status, r.last_error) for r in rows] == [("dead", "LeadNotFoundError")]
    assert json.loads(rows[0].payload)["call_id"] == "CAbad"

    # The same lead's later writes still go through.
    crm.down = True
    assert await manager.update_lead_status_async(lead.id, LeadStatus.LOST, "not interested")
    crm.down = False
    assert await deliver_after_backoff(outbox) == 1
    assert (await crm.find_by_phone_async(CALLER)).status == LeadStatus.LOST  # type: ignore[union-attr]

    # Dead writes can be given another chance (after a fix); this one still fails for good.
    assert await outbox.requeue_dead_async() == 1
    assert (await outbox.pending_count_async(), await outbox.dead_count_async()) == (1, 0)
    assert await outbox.deliver_due_async() == 0
    assert (await outbox.pending_count_async(), await outbox.dead_count_async()) == (0, 1)
    assert (await outbox_rows(outbox))[0].attempts == 2


async def test_write_for_a_provisional_lead_that_never_existed_is_dead(crm: FlakyCRM, outbox: CRMOutbox) -> None:
    with pytest.raises(UnresolvedLeadError):
        await outbox.update_status_async("pending-0123456789abcdef", LeadStatus.LOST, "x")
    assert (await outbox.pending_count_async(), await outbox.dead_count_async()) == (0, 1)
    assert [r.last_error for r in await outbox_rows(outbox)] == ["UnresolvedLeadError"]


async def test_background_task_waits_for_backoff_instead_of_spinning(crm: FlakyCRM, db_url: str) -> None:
    box = make_outbox(db_url, crm, base_delay_s=0.3, max_delay_s=0.3, poll_interval_s=1.0)
    await box.init_async()
    passes = 0
    deliver = box.deliver_due_async

    async def counting_pass() -> int:
        nonlocal passes
        passes += 1
        return await deliver()

    box.deliver_due_async = counting_pass  # type: ignore[method-assign]
    try:
        crm.down = True
        # A failing head with writes queued behind it: the queued ones are "due" but must wait.
        await box.upsert_lead_async(LeadFields(name="Ann"), CALLER)
        await box.upsert_lead_async(LeadFields(name="Ann B"), CALLER)
        box.start()
        await asyncio.sleep(1.0)
        # One pass per backoff period (0.24-0.3 s) plus the first: a busy loop would make thousands.
        assert 2 <= passes <= 8
        assert (await outbox_rows(box))[0].attempts >= 3
    finally:
        await box.close_async()

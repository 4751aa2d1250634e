"""LocalCRMProvider and CRMManager against a real SQLite file, and PostgreSQL when CALLBOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, or_, select

from callbot.agents.state import ConversationPhase, ProspectInfo
from callbot.errors import ExternalServiceError, ManagerError
from callbot.integrations.crm import CRMProvider, LeadFields, LeadNotFoundError, LocalCRMProvider
from callbot.integrations.crm.local import ActivityRow, LeadAppointmentRow, LeadRow, LeadStatusChangeRow
from callbot.integrations.models import AppointmentDetails, AppointmentStatus, CallDetails, LeadStatus
from callbot.managers.conversation import CallOutcome, ConversationSummary
from callbot.managers.crm import CRMManager
from tests.postgres import PG_SKIP_REASON, POSTGRES_URL

_PG_SKIP = PG_SKIP_REASON
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


class Numbers:
    """Fresh phone numbers and call ids for one test (the PostgreSQL database is shared)."""

    def __init__(self) -> None:
        self.phones: list[str] = []
        self.call_prefix = f"CAcrm{uuid.uuid4().hex[:12]}"

    def phone(self) -> str:
        # +1 NXX NXX XXXX with random digits: a plausible US number nobody else's test uses.
        area = f"{random.randint(2, 9)}{random.randint(0, 99):02d}"
        phone = f"+1{area}{random.randint(2, 9)}{random.randint(0, 999999):06d}"
        self.phones.append(phone)
        return phone

    def call_id(self) -> str:
        return f"{self.call_prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture
def numbers() -> Numbers:
    return Numbers()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(bool(_PG_SKIP), reason=_PG_SKIP))])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'crm.db'}"
    return POSTGRES_URL


@pytest.fixture
async def crm(database_url: str, numbers: Numbers) -> AsyncIterator[LocalCRMProvider]:
    provider = LocalCRMProvider(database_url)
    await provider.init_async()
    try:
        yield provider
    finally:
        if not database_url.startswith("sqlite"):
            await _delete_test_rows(provider, numbers)
        await provider.close_async()


async def _delete_test_rows(provider: LocalCRMProvider, numbers: Numbers) -> None:
    # A shared test database: remove only what this test created.
    async with provider._sessions() as session, session.begin():
        lead_ids = select(LeadRow.id).where(LeadRow.phone.in_(numbers.phones))
        await session.execute(delete(LeadAppointmentRow).where(LeadAppointmentRow.lead_id.in_(lead_ids)))
        await session.execute(delete(LeadStatusChangeRow).where(LeadStatusChangeRow.lead_id.in_(lead_ids)))
        await session.execute(
            delete(ActivityRow).where(
                or_(ActivityRow.lead_id.in_(lead_ids), ActivityRow.call_id.startswith(numbers.call_prefix))
            )
        )
        await session.execute(delete(LeadRow).where(LeadRow.phone.in_(numbers.phones)))


def _appointment(
    lead_id: str,
    phone: str,
    *,
    status: AppointmentStatus = AppointmentStatus.SCHEDULED,
    start: datetime = T0,
    appointment_id: str | None = None,
) -> AppointmentDetails:
    return AppointmentDetails(
        id=appointment_id or f"appt-{uuid.uuid4().hex[:10]}",
        start=start,
        end=start + timedelta(minutes=30),
        advisor_id="adv-1",
        advisor_name="Dana Advisor",
        status=status,
        prospect_name="Maria Lopez",
        prospect_phone=phone,
        lead_id=lead_id,
        call_id="CA-booking",
        notes="wants a demo",
        created_at=T0 - timedelta(days=1),
    )


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


# --- leads ------------------------------------------------------------------------------------


async def test_provider_satisfies_protocol(crm: LocalCRMProvider) -> None:
    assert isinstance(crm, CRMProvider)


async def test_upsert_is_idempotent_on_phone_and_never_erases(crm: LocalCRMProvider, numbers: Numbers) -> None:
    phone = numbers.phone()
    first = await crm.upsert_lead_async(LeadFields(name="Maria Lopez", email="maria@example.com"), phone)
    assert first.phone == phone and first.status == LeadStatus.NEW
    assert (first.name, first.email, first.company) == ("Maria Lopez", "maria@example.com", None)
    assert first.created_at == first.updated_at
    assert_utc(first.created_at)

    # The same number written another way, with some fields unknown (None) or blank this time.
    national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    second = await crm.upsert_lead_async(LeadFields(name=None, email="  ", company="Acme", interest="solar"), national)
    assert second.id == first.id
    assert (second.name, second.email, second.company, second.interest) == (
        "Maria Lopez",
        "maria@example.com",
        "Acme",
        "solar",
    )
    assert second.updated_at >= first.updated_at
    assert second.created_at == first.created_at

    # A known field is replaced by a new known value.
    third = await crm.upsert_lead_async(LeadFields(email="maria.lopez@example.com", qualification_score=0.8), phone)
    assert third.id == first.id
    assert third.email == "maria.lopez@example.com" and third.qualification_score == pytest.approx(0.8)
    assert third.name == "Maria Lopez" and third.company == "Acme"

    # Nothing new: nothing changes, not even updated_at.
    again = await crm.upsert_lead_async(LeadFields(), phone)
    assert again == third

    leads = await crm.list_leads_async(phone)
    assert [lead.id for lead in leads] == [first.id]
    found = await crm.find_by_phone_async(f"1-{phone[2:5]}-{phone[5:8]}-{phone[8:]}")
    assert found == third


async def test_one_lead_per_number_and_lookups(crm: LocalCRMProvider, numbers: Numbers) -> None:
    a, b = numbers.phone(), numbers.phone()
    lead_a = await crm.upsert_lead_async(LeadFields(name="A"), a)
    lead_b = await crm.upsert_lead_async(LeadFields(name="B"), b)
    assert lead_a.id != lead_b.id
    assert (await crm.find_by_phone_async(b)).name == "B"  # type: ignore[union-attr]
    assert await crm.find_by_phone_async(numbers.phone()) is None
    assert await crm.find_by_phone_async("not a phone") is None
    assert await crm.list_leads_async("not a phone") == []
    mine = [lead for lead in await crm.list_leads_async() if lead.phone in (a, b)]
    assert [lead.id for lead in mine] == [lead_a.id, lead_b.id]  # oldest first


async def test_upsert_rejects_unusable_phone(crm: LocalCRMProvider) -> None:
    with pytest.raises(ValueError, match="phone"):
        await crm.upsert_lead_async(LeadFields(name="X"), "12")


async def test_concurrent_upserts_of_one_phone_make_one_lead(
    crm: LocalCRMProvider, database_url: str, numbers: Numbers
) -> None:
    phone = numbers.phone()
    # A second provider on the same database: another engine, as another process would have.
    other = LocalCRMProvider(database_url)
    try:
        writers = [crm, other]
        formats = [phone, f"{phone[2:5]} {phone[5:8]} {phone[8:]}", f"1 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"]
        records = await asyncio.gather(
            *(writers[i % 2].upsert_lead_async(LeadFields(company=f"Company {i}"), formats[i % 3]) for i in range(20))
        )
    finally:
        await other.close_async()
    assert len({record.id for record in records}) == 1
    leads = await crm.list_leads_async(phone)
    assert len(leads) == 1
    assert leads[0].company in {f"Company {i}" for i in range(20)}
    history = await crm.status_history_async(leads[0].id)
    assert [(h.old_status, h.new_status) for h in history] == [(None, LeadStatus.NEW)]


# --- status -------------------------------------------------------------------------------------


async def test_status_changes_keep_history(crm: LocalCRMProvider, numbers: Numbers) -> None:
    lead = await crm.upsert_lead_async(LeadFields(name="Sam"), numbers.phone())
    assert await crm.update_status_async(lead.id, LeadStatus.QUALIFIED, "budget and timeline confirmed")
    assert await crm.update_status_async(lead.id, LeadStatus.MEETING_BOOKED, "demo booked")
    # The same status again (a redelivered write) changes nothing.
    assert await crm.update_status_async(lead.id, LeadStatus.MEETING_BOOKED, "demo booked")

    current = (await crm.list_leads_async(lead.phone))[0]
    assert current.status == LeadStatus.MEETING_BOOKED
    assert current.updated_at > lead.updated_at
    history = await crm.status_history_async(lead.id)
    assert [(h.old_status, h.new_status, h.reason) for h in history] == [
        (None, LeadStatus.NEW, "lead created"),
        (LeadStatus.NEW, LeadStatus.QUALIFIED, "budget and timeline confirmed"),
        (LeadStatus.QUALIFIED, LeadStatus.MEETING_BOOKED, "demo booked"),
    ]
    times = [h.changed_at for h in history]
    assert times == sorted(times)
    for when in times:
        assert_utc(when)

    # An upsert never touches the status.
    await crm.upsert_lead_async(LeadFields(name="Sam Smith"), lead.phone)
    assert (await crm.find_by_phone_async(lead.phone)).status == LeadStatus.MEETING_BOOKED  # type: ignore[union-attr]


async def test_status_of_unknown_lead(crm: LocalCRMProvider) -> None:
    assert await crm.update_status_async("no-such-lead", LeadStatus.LOST, "x") is False
    assert await crm.status_history_async("no-such-lead") == []


# --- activities ---------------------------------------------------------------------------------


async def test_activity_is_idempotent_on_call_id(crm: LocalCRMProvider, numbers: Numbers) -> None:
    lead = await crm.upsert_lead_async(LeadFields(name="Kim"), numbers.phone())
    call_id = numbers.call_id()
    first = await crm.log_activity_async(lead.id, call_id, "completed", "Outcome: completed.")
    retried = await crm.log_activity_async(lead.id, call_id, "completed", "Outcome: completed.")
    assert retried == first
    # Logged again with more to say: the one activity of the call is updated.
    updated = await crm.log_activity_async(None, call_id, "caller_hung_up", "Outcome: caller_hung_up.")
    assert updated.id == first.id and updated.created_at == first.created_at
    assert (updated.outcome, updated.summary) == ("caller_hung_up", "Outcome: caller_hung_up.")
    assert updated.lead_id == lead.id  # None never detaches the call from its lead

    other_call = await crm.log_activity_async(lead.id, numbers.call_id(), "silence", "Outcome: silence.")
    activities = await crm.list_activities_async(lead.id)
    assert [a.id for a in activities] == [first.id, other_call.id]
    assert [a.call_id for a in activities] == [call_id, other_call.call_id]


async def test_concurrent_logs_of_one_call_make_one_activity(crm: LocalCRMProvider, numbers: Numbers) -> None:
    lead = await crm.upsert_lead_async(LeadFields(), numbers.phone())
    call_id = numbers.call_id()
    records = await asyncio.gather(
        *(crm.log_activity_async(lead.id, call_id, "completed", f"try {i}") for i in range(10))
    )
    assert len({record.id for record in records}) == 1
    assert len(await crm.list_activities_async(lead.id)) == 1


async def test_activity_without_lead_and_unknown_lead(crm: LocalCRMProvider, numbers: Numbers) -> None:
    loose = await crm.log_activity_async(None, numbers.call_id(), "error", "Outcome: error.")
    assert loose.lead_id is None
    with pytest.raises(LeadNotFoundError):
        await crm.log_activity_async("no-such-lead", numbers.call_id(), "completed", "x")


# --- appointments -------------------------------------------------------------------------------


async def test_attach_appointment(crm: LocalCRMProvider, numbers: Numbers) -> None:
    lead = await crm.upsert_lead_async(LeadFields(name="Maria Lopez", email="m@example.com"), numbers.phone())
    plus_two = timezone(timedelta(hours=2))
    appointment = _appointment(lead.id, lead.phone, start=T0.astimezone(plus_two))
    assert await crm.attach_appointment_async(lead.id, appointment)
    assert await crm.attach_appointment_async(lead.id, appointment)  # redelivered: still one

    stored = await crm.list_appointments_async(lead.id)
    assert len(stored) == 1
    got = stored[0]
    assert (got.id, got.start, got.end, got.advisor_id, got.status) == (
        appointment.id,
        T0,
        T0 + timedelta(minutes=30),
        "adv-1",
        AppointmentStatus.SCHEDULED,
    )
    assert (got.lead_id, got.prospect_phone, got.prospect_name, got.notes) == (
        lead.id,
        lead.phone,
        "Maria Lopez",
        "wants a demo",
    )
    assert_utc(got.start)

    # Cancelled, and a new one booked in its place.
    later = _appointment(lead.id, lead.phone, start=T0 + timedelta(days=1))
    assert await crm.attach_appointment_async(
        lead.id, appointment.model_copy(update={"status": AppointmentStatus.RESCHEDULED})
    )
    assert await crm.attach_appointment_async(lead.id, later)
    stored = await crm.list_appointments_async(lead.id)
    assert [(a.id, a.status) for a in stored] == [
        (appointment.id, AppointmentStatus.RESCHEDULED),
        (later.id, AppointmentStatus.SCHEDULED),
    ]


async def test_attach_appointment_to_unknown_lead(crm: LocalCRMProvider, numbers: Numbers) -> None:
    assert await crm.attach_appointment_async("no-such-lead", _appointment("no-such-lead", numbers.phone())) is False
    assert await crm.list_appointments_async("no-such-lead") == []


# --- the manager ----------------------------------------------------------------------------------


def _call(numbers: Numbers, caller: str) -> CallDetails:
    return CallDetails(call_id=numbers.call_id(), caller_phone=caller, called_phone="+15550009999", started_at=T0)


def _summary(
    call_id: str, *, appointment: datetime | None = None, interest: str | None = "heat pumps"
) -> ConversationSummary:
    return ConversationSummary(
        call_id=call_id,
        reason="caller_hung_up",
        outcome=CallOutcome.COMPLETED,
        started_at=T0,
        duration_seconds=125.4,
        turn_count=7,
        phase=ConversationPhase.CLOSING,
        prospect_info=ProspectInfo(name="Maria Lopez", email="maria@example.com", interest=interest),
        qualification_score=0.75,
        appointment=appointment,
    )


async def test_manager_writes_lead_call_status_and_appointment(
    crm: LocalCRMProvider, numbers: Numbers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callbot")
    manager = CRMManager(crm)
    caller = numbers.phone()
    call = _call(numbers, f"{caller[2:5]}.{caller[5:8]}.{caller[8:]}")

    lead = await manager.create_or_update_prospect_async(ProspectInfo(name="Maria Lopez"), call)
    assert lead.phone == caller  # the caller's number, normalised
    again = await manager.create_or_update_prospect_async(
        ProspectInfo(email="maria@example.com", company="Acme", interest="heat pumps"), call
    )
    assert again.id == lead.id
    assert (again.name, again.email, again.company) == ("Maria Lopez", "maria@example.com", "Acme")

    assert await manager.find_prospect_by_phone_async(f"+1 {caller[2:5]} {caller[5:8]} {caller[8:]}") == again
    assert await manager.find_prospect_by_phone_async("nonsense") is None
    assert [x.id for x in await manager.list_leads_async(caller)] == [lead.id]

    activity = await manager.log_conversation_async(
        call.call_id, _summary(call.call_id, appointment=T0 + timedelta(days=2)), lead.id
    )
    assert (activity.lead_id, activity.call_id, activity.outcome) == (lead.id, call.call_id, "completed")
    assert activity.summary == (
        "Outcome: completed (reason: caller_hung_up). Duration: 2 min 05 s, 7 caller turns, reached phase: closing."
        " Interest: heat pumps. Qualification score: 0.75. Appointment booked: 2025-03-05 15:00 UTC."
    )
    assert await manager.update_lead_status_async(lead.id, LeadStatus.MEETING_BOOKED, "demo booked")
    assert await manager.update_lead_status_async("no-such-lead", LeadStatus.LOST, "x") is False
    assert await manager.sync_appointment_to_crm_async(_appointment(lead.id, caller), lead.id)
    assert len(await crm.list_appointments_async(lead.id)) == 1
    assert (await crm.find_by_phone_async(caller)).status == LeadStatus.MEETING_BOOKED  # type: ignore[union-attr]

    # Names, e-mails and numbers never reach our logs.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callbot"))
    for secret in ("Maria", "Lopez", "maria@example.com", caller, caller[2:], caller[5:8] + "." + caller[8:]):
        assert secret not in ours
    assert lead.id in ours and call.call_id in ours  # the logs do say what happened


async def test_manager_prefers_the_number_the_prospect_gave(crm: LocalCRMProvider, numbers: Numbers) -> None:
    manager = CRMManager(crm)
    caller, given = numbers.phone(), numbers.phone()
    lead = await manager.create_or_update_prospect_async(
        ProspectInfo(phone=f"{given[2:5]} {given[5:8]} {given[8:]}"), _call(numbers, caller)
    )
    assert lead.phone == given
    # An unusable number given by voice falls back to the caller id.
    fallback = await manager.create_or_update_prospect_async(ProspectInfo(phone="five five"), _call(numbers, caller))
    assert fallback.phone == caller


async def test_manager_summary_without_interest_or_appointment(crm: LocalCRMProvider, numbers: Numbers) -> None:
    manager = CRMManager(crm)
    call_id = numbers.call_id()
    activity = await manager.log_conversation_async(call_id, _summary(call_id, interest=None))
    assert activity.lead_id is None
    assert "Interest: not stated." in activity.summary
    assert "No appointment booked." in activity.summary


async def test_manager_errors(crm: LocalCRMProvider, numbers: Numbers, caplog: pytest.LogCaptureFixture) -> None:
    manager = CRMManager(crm)
    with pytest.raises(ManagerError, match="no usable phone number"):
        await manager.create_or_update_prospect_async(ProspectInfo(name="Anon"), _call(numbers, "anonymous"))
    with pytest.raises(ManagerError) as raised:
        await manager.log_conversation_async("CAx", _summary("CAx"), "no-such-lead")
    assert isinstance(raised.value.__cause__, LeadNotFoundError)


class _DownCRM(LocalCRMProvider):
    async def upsert_lead_async(self, fields: LeadFields, phone: str):  # type: ignore[override]
        raise ExternalServiceError(f"CRM unreachable while saving {phone}")


async def test_manager_without_outbox_surfaces_outages(
    tmp_path: Path, numbers: Numbers, caplog: pytest.LogCaptureFixture
) -> None:
    provider = _DownCRM(f"sqlite:///{tmp_path / 'crm.db'}")
    await provider.init_async()
    try:
        caller = numbers.phone()
        with pytest.raises(ExternalServiceError):  # a ManagerError: passed through as it is
            await CRMManager(provider).create_or_update_prospect_async(ProspectInfo(), _call(numbers, caller))
        assert caller not in caplog.text  # the error message quoted the number; no log does
    finally:
        await provider.close_async()

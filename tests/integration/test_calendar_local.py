"""The local calendar provider and the CalendarManager on a real database: SQLite, and PostgreSQL when
``CALLBOT_TEST_POSTGRES_URL`` is set (each test gets its own schema, dropped afterwards).

Covers booking rules and their reasons, cancel and reschedule, and races: many tasks, two engines
(as two processes would have) and real separate processes booking the same advisor's slot.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from callbot.business import Advisor, BusinessProfile
from callbot.errors import ManagerError
from callbot.integrations.calendar import AppointmentNotActiveError, LocalCalendarProvider, SchedulingReason
from callbot.integrations.models import AppointmentRequest, AppointmentStatus, SchedulingResult
from callbot.managers.calendar import CalendarManager
from callbot.storage.records import async_database_url

POSTGRES_ENV = "CALLBOT_TEST_POSTGRES_URL"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
NY = ZoneInfo("America/New_York")
PHONE = "+15551230001"
ANN = Advisor(id="a1", name="Ann", calendar_id="ann@example.test")
BOB = Advisor(id="a2", name="Bob", calendar_id="bob@example.test")
BUFFER = timedelta(minutes=15)

PROFILE = BusinessProfile.model_validate(
    {
        "company_name": "Acme",
        "offer": "Courses.",
        "advisors": [ANN.model_dump(), BOB.model_dump()],
        "business_hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["10:00-13:00"]},
        "timezone": "America/New_York",
        "holidays": ["2026-03-10"],
        "buffer_minutes": 15,
        "min_lead_time_minutes": 120,
        "booking_horizon_days": 21,
    }
)


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


NOW = local(3, 2, 6)  # Monday 2 March 2026, 06:00


def request(start: datetime, advisor_id: str | None = None, phone: str = PHONE, **extra: Any) -> AppointmentRequest:
    return AppointmentRequest(start=start, advisor_id=advisor_id, prospect_phone=phone, **extra)


@dataclass
class Backend:
    name: str
    url: str
    schema: str | None
    providers: list[LocalCalendarProvider] = field(default_factory=list)

    async def provider(self) -> LocalCalendarProvider:
        """A new provider with its own engine, as another process would have."""
        provider = LocalCalendarProvider(self.url, schema=self.schema)
        await provider.init_async()
        self.providers.append(provider)
        return provider


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        result = Backend("sqlite", f"sqlite:///{tmp_path / 'data' / 'calendar.db'}", None)
    else:
        url = os.environ.get(POSTGRES_ENV)
        if not url:
            pytest.skip(f"PostgreSQL calendar tests need {POSTGRES_ENV}=postgresql://user@host:5432/db")
        result = Backend("postgresql", url, f"callbot_test_{uuid.uuid4().hex[:12]}")  # dropped below
    try:
        yield result
    finally:
        for provider in result.providers:
            await provider.close_async()
        if result.schema is not None:
            engine = create_async_engine(async_database_url(result.url))
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{result.schema}" CASCADE'))
            await engine.dispose()


@pytest.fixture
async def provider(backend: Backend) -> LocalCalendarProvider:
    return await backend.provider()


@pytest.fixture
def manager(provider: LocalCalendarProvider) -> CalendarManager:
    return CalendarManager(PROFILE, provider, now=lambda: NOW)


def wall(result: SchedulingResult) -> list[str]:
    return [a.start.astimezone(NY).strftime("%a %H:%M") for a in result.alternatives]


# --- the provider ------------------------------------------------------------------------------


async def test_provider_books_lists_and_cancels(provider: LocalCalendarProvider) -> None:
    start = local(3, 3, 10)
    booked = await provider.book_async(
        request(start, prospect_name="Maria Lopez", prospect_email="m@example.test", lead_id="L1", call_id="C1"),
        ANN,
        start + timedelta(minutes=30),
        BUFFER,
    )
    assert booked is not None
    assert (booked.advisor_id, booked.advisor_name, booked.status) == ("a1", "Ann", AppointmentStatus.SCHEDULED)
    assert booked.start == start and booked.start.utcoffset() == timedelta(0)  # stored and returned as UTC
    assert (booked.prospect_name, booked.lead_id, booked.call_id) == ("Maria Lopez", "L1", "C1")
    assert await provider.get_async(booked.id) == booked
    assert await provider.get_async("nope") is None
    assert await provider.list_async(PHONE) == [booked]
    assert await provider.list_async("+15559999999") == []
    busy = await provider.busy_intervals_async(["a1", "a2"], local(3, 3), local(3, 4))
    assert busy == {"a1": [(start, start + timedelta(minutes=30))], "a2": []}

    assert await provider.cancel_async(booked.id) is True
    assert await provider.cancel_async(booked.id) is False  # already cancelled
    assert await provider.cancel_async("nope") is False
    assert await provider.list_async(PHONE) == []
    (cancelled,) = await provider.list_async(PHONE, include_cancelled=True)
    assert cancelled.status == AppointmentStatus.CANCELLED
    assert await provider.busy_intervals_async(["a1"], local(3, 3), local(3, 4)) == {"a1": []}


async def test_provider_refuses_overlaps_including_the_buffer(provider: LocalCalendarProvider) -> None:
    ten = local(3, 3, 10)

    async def book(start: datetime, advisor: Advisor = ANN) -> bool:
        return await provider.book_async(request(start), advisor, start + timedelta(minutes=30), BUFFER) is not None

    assert await book(ten)
    assert not await book(ten)
    assert not await book(ten + timedelta(minutes=30))  # starts 0 min after: inside the buffer
    assert not await book(ten - timedelta(minutes=40))  # ends 10 min before
    assert await book(ten + timedelta(minutes=45))  # exactly the buffer apart
    assert await book(ten - timedelta(minutes=45))
    assert await book(ten, BOB)  # another advisor


async def test_provider_books_a_replacement_atomically(provider: LocalCalendarProvider) -> None:
    ten = local(3, 3, 10)
    old = await provider.book_async(request(ten), ANN, ten + timedelta(minutes=30), BUFFER)
    assert old is not None
    later = ten + timedelta(minutes=30)  # would clash with the old one's buffer, but it replaces it
    new = await provider.book_async(request(later), ANN, later + timedelta(minutes=30), BUFFER, replaces=old.id)
    assert new is not None
    replaced = await provider.get_async(old.id)
    assert replaced is not None and replaced.status == AppointmentStatus.RESCHEDULED
    assert [a.id for a in await provider.list_async(PHONE)] == [new.id]
    with pytest.raises(AppointmentNotActiveError):  # the old one is no longer scheduled
        await provider.book_async(request(local(3, 4, 10)), ANN, local(3, 4, 10, 30), BUFFER, replaces=old.id)
    assert [a.id for a in await provider.list_async(PHONE)] == [new.id]  # nothing was booked
    assert await provider.mark_rescheduled_async(new.id) is True
    assert await provider.mark_rescheduled_async(new.id) is False


async def test_init_is_idempotent_and_data_survives_a_new_engine(backend: Backend) -> None:
    first = await backend.provider()
    booked = await first.book_async(request(local(3, 3, 10)), ANN, local(3, 3, 10, 30), BUFFER)
    await first.init_async()
    second = await backend.provider()
    assert booked is not None and await second.get_async(booked.id) == booked


async def test_in_memory_sqlite_works() -> None:
    provider = LocalCalendarProvider("sqlite://")
    await provider.init_async()
    try:
        manager = CalendarManager(PROFILE, provider, now=lambda: NOW)
        results = await asyncio.gather(
            *(manager.schedule_appointment_async(request(local(3, 3, 10))) for _ in range(3))
        )
        assert [r.success for r in results].count(True) == 2  # two advisors
        assert len(await manager.appointments_for_phone_async(PHONE)) == 2
    finally:
        await provider.close_async()


# --- scheduling through the manager ---------------------------------------------------------------


async def test_schedule_with_and_without_an_advisor(manager: CalendarManager) -> None:
    first = await manager.schedule_appointment_async(request(local(3, 3, 10), notes="wants UX"))
    second = await manager.schedule_appointment_async(request(local(3, 3, 10)))
    third = await manager.schedule_appointment_async(request(local(3, 3, 10)))
    assert first.success and first.appointment is not None and first.appointment.advisor_id == "a1"
    assert first.appointment.notes == "wants UX" and first.reason is None and first.alternatives == []
    assert second.success and second.appointment is not None and second.appointment.advisor_id == "a2"
    assert not third.success and third.reason == SchedulingReason.SLOT_TAKEN and third.appointment is None
    assert wall(third) == ["Tue 09:00", "Tue 11:00", "Tue 11:30"]  # 09:30, 10:30 are inside the buffer

    chosen = await manager.schedule_appointment_async(request(local(3, 3, 14), advisor_id="a2"))
    assert chosen.success and chosen.appointment is not None and chosen.appointment.advisor_id == "a2"
    taken = await manager.schedule_appointment_async(request(local(3, 3, 14, 30), advisor_id="a2"))
    assert taken.reason == SchedulingReason.SLOT_TAKEN
    assert {a.advisor_id for a in taken.alternatives} == {"a2"}  # the advisor asked for
    assert wall(taken) == ["Tue 15:00", "Tue 15:30", "Tue 13:00"]  # 13:30 ends inside 14:00's buffer


@pytest.mark.parametrize(
    ("start", "advisor_id", "reason", "first_alternative"),
    [
        (local(3, 2, 5), None, SchedulingReason.IN_THE_PAST, "Mon 09:00"),
        (local(3, 2, 7), None, SchedulingReason.TOO_SOON, "Mon 09:00"),
        (local(3, 30, 10), None, SchedulingReason.BEYOND_HORIZON, "Sat 12:30"),
        (local(3, 10, 11), None, SchedulingReason.HOLIDAY, "Mon 16:30"),
        (local(3, 8, 11), None, SchedulingReason.OUTSIDE_BUSINESS_HOURS, "Sat 12:30"),
        (local(3, 3, 16, 45), None, SchedulingReason.OUTSIDE_BUSINESS_HOURS, "Tue 16:30"),
        (local(3, 3, 10, 10), None, SchedulingReason.NOT_ON_SLOT_GRID, "Tue 10:00"),
        (local(3, 3, 10), "nobody", SchedulingReason.UNKNOWN_ADVISOR, "Tue 10:00"),
    ],
)
async def test_refusals_give_a_reason_and_the_nearest_bookable_slots(
    manager: CalendarManager, start: datetime, advisor_id: str | None, reason: str, first_alternative: str
) -> None:
    result = await manager.schedule_appointment_async(request(start, advisor_id))
    assert not result.success and result.appointment is None
    assert result.reason == reason
    assert len(result.alternatives) == 3
    assert wall(result)[0] == first_alternative
    for alternative in result.alternatives:
        duration = alternative.end - alternative.start
        assert manager.rule_violation(alternative.start, duration) is None
    assert await manager.appointments_for_phone_async(PHONE) == []


async def test_cancel_frees_the_slot(manager: CalendarManager) -> None:
    booked = await manager.schedule_appointment_async(request(local(3, 3, 10), advisor_id="a1"))
    assert booked.appointment is not None
    free = await manager.find_available_times_async(local(3, 3, 10), local(3, 3, 10, 30), advisor_id="a1")
    assert free == []
    assert await manager.cancel_appointment_async(booked.appointment.id) is True
    assert await manager.cancel_appointment_async(booked.appointment.id) is False
    free = await manager.find_available_times_async(local(3, 3, 10), local(3, 3, 10, 30), advisor_id="a1")
    assert [s.start for s in free] == [local(3, 3, 10)]
    again = await manager.schedule_appointment_async(request(local(3, 3, 10), advisor_id="a1"))
    assert again.success


async def test_reschedule_moves_the_appointment(manager: CalendarManager) -> None:
    booked = await manager.schedule_appointment_async(request(local(3, 3, 10), prospect_name="Maria", lead_id="L9"))
    assert booked.appointment is not None
    old_id = booked.appointment.id

    moved = await manager.reschedule_appointment_async(old_id, local(3, 3, 10, 30))  # next to itself: allowed
    assert moved.success and moved.appointment is not None
    assert moved.appointment.id != old_id
    assert (moved.appointment.advisor_id, moved.appointment.prospect_name, moved.appointment.lead_id) == (
        "a1",
        "Maria",
        "L9",
    )
    assert moved.appointment.start == local(3, 3, 10, 30)
    old = await manager.get_appointment_async(old_id)
    assert old is not None and old.status == AppointmentStatus.RESCHEDULED
    assert [a.id for a in await manager.appointments_for_phone_async(PHONE)] == [moved.appointment.id]

    again = await manager.reschedule_appointment_async(old_id, local(3, 4, 10))
    assert again.reason == SchedulingReason.NOT_FOUND
    assert (await manager.reschedule_appointment_async("nope", local(3, 4, 10))).reason == SchedulingReason.NOT_FOUND


async def test_reschedule_changes_advisor_when_needed_and_keeps_the_old_one_on_failure(
    manager: CalendarManager,
) -> None:
    mine = await manager.schedule_appointment_async(request(local(3, 3, 10)))
    assert mine.appointment is not None and mine.appointment.advisor_id == "a1"
    other = await manager.schedule_appointment_async(request(local(3, 3, 14), advisor_id="a1", phone="+15551230002"))
    assert other.success

    moved = await manager.reschedule_appointment_async(mine.appointment.id, local(3, 3, 14))
    assert moved.success and moved.appointment is not None and moved.appointment.advisor_id == "a2"

    blocker = await manager.schedule_appointment_async(request(local(3, 3, 15, 30), advisor_id="a1", phone="+1555"))
    assert blocker.success
    await manager.schedule_appointment_async(request(local(3, 3, 15, 30), advisor_id="a2", phone="+15551230003"))
    failed = await manager.reschedule_appointment_async(moved.appointment.id, local(3, 3, 15, 30))
    assert failed.reason == SchedulingReason.SLOT_TAKEN and failed.alternatives
    too_soon = await manager.reschedule_appointment_async(moved.appointment.id, local(3, 2, 7))
    assert too_soon.reason == SchedulingReason.TOO_SOON
    (still,) = await manager.appointments_for_phone_async(PHONE)
    assert still.id == moved.appointment.id and still.status == AppointmentStatus.SCHEDULED


async def test_appointments_for_phone_upcoming_only(provider: LocalCalendarProvider) -> None:
    clock = {"now": NOW}
    manager = CalendarManager(PROFILE, provider, now=lambda: clock["now"])
    early = await manager.schedule_appointment_async(request(local(3, 3, 10)))
    late = await manager.schedule_appointment_async(request(local(3, 5, 10)))
    assert early.appointment and late.appointment
    clock["now"] = local(3, 4, 12)
    assert [a.id for a in await manager.appointments_for_phone_async(PHONE)] == [
        early.appointment.id,
        late.appointment.id,
    ]
    assert [a.id for a in await manager.appointments_for_phone_async(PHONE, upcoming_only=True)] == [
        late.appointment.id
    ]


async def test_provider_failures_become_manager_errors(
    manager: CalendarManager, provider: LocalCalendarProvider
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("calendar down")

    provider.busy_intervals_async = broken  # type: ignore[method-assign]
    with pytest.raises(ManagerError) as info:
        await manager.schedule_appointment_async(request(local(3, 3, 10)))
    assert isinstance(info.value.__cause__, ConnectionError)


# --- races --------------------------------------------------------------------------------------------


async def assert_one_winner(
    attempts: list[Callable[[], Awaitable[SchedulingResult]]], manager: CalendarManager, start: datetime
) -> None:
    results = await asyncio.gather(*(attempt() for attempt in attempts))
    winners = [r for r in results if r.success]
    assert len(winners) == 1, [r.reason for r in results]
    losers = [r for r in results if not r.success]
    assert {r.reason for r in losers} == {SchedulingReason.SLOT_TAKEN}
    for loser in losers:
        assert loser.alternatives and all(a.start != start for a in loser.alternatives)
    booked = await manager.find_available_times_async(start, start + timedelta(minutes=30), advisor_id="a1")
    assert booked == []
    scheduled = [a for a in await manager.appointments_for_phone_async(PHONE) if a.advisor_id == "a1"]
    assert [a.start for a in scheduled] == [start]


async def test_ten_concurrent_bookings_of_one_slot_give_one_appointment(manager: CalendarManager) -> None:
    start = local(3, 4, 11)
    attempts = [lambda: manager.schedule_appointment_async(request(start, advisor_id="a1")) for _ in range(10)]
    await assert_one_winner(attempts, manager, start)


async def test_the_race_across_two_engines_on_one_database(backend: Backend) -> None:
    one = CalendarManager(PROFILE, await backend.provider(), now=lambda: NOW)
    two = CalendarManager(PROFILE, await backend.provider(), now=lambda: NOW)
    start = local(3, 4, 11)
    attempts = [(lambda m=m: m.schedule_appointment_async(request(start, advisor_id="a1"))) for m in [one, two] * 5]
    await assert_one_winner(attempts, one, start)


RACER = """
import asyncio, sys
from datetime import datetime, timedelta
from callbot.business import Advisor
from callbot.integrations.calendar import LocalCalendarProvider
from callbot.integrations.models import AppointmentRequest

async def main() -> None:
    url, schema, start = sys.argv[1], sys.argv[2] or None, datetime.fromisoformat(sys.argv[3])
    provider = LocalCalendarProvider(url, schema=schema)
    await provider.init_async()
    advisor = Advisor(id="a1", name="Ann", calendar_id="ann@example.test")
    request = AppointmentRequest(start=start, prospect_phone="+15551230001")
    await provider.busy_intervals_async(["a1"], start, start)  # connect before the start line
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the parent says go to every racer at once
    booked = await provider.book_async(request, advisor, start + timedelta(minutes=30), timedelta(minutes=15))
    print("won" if booked else "lost", flush=True)
    await provider.close_async()

asyncio.run(main())
"""


async def test_the_race_across_separate_processes(backend: Backend, tmp_path: Path) -> None:
    await backend.provider()  # creates the table before the racers start
    start = local(3, 4, 11)
    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACER,
            backend.url,
            backend.schema or "",
            start.isoformat(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=PROJECT_ROOT,
        )
        for _ in range(4)
    ]
    for racer in racers:
        assert racer.stdout is not None
        ready = await asyncio.wait_for(racer.stdout.readline(), timeout=60)
        assert ready == b"ready\n", (ready, await racer.stderr.read() if racer.stderr else b"")
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write(b"go\n")
    await asyncio.gather(*(racer.stdin.drain() for racer in racers if racer.stdin))
    outputs = []
    for racer in racers:
        out, err = await asyncio.wait_for(racer.communicate(), timeout=60)
        assert racer.returncode == 0, err.decode()
        outputs.append(out.decode().strip())
    assert sorted(outputs) == ["lost", "lost", "lost", "won"]
    provider = await backend.provider()
    assert [a.start for a in await provider.list_async(PHONE)] == [start]

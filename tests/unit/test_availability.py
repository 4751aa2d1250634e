"""Free slots under the business rules, with a fixed clock and a provider whose bookings we set.

Test profile (America/New_York): Mon–Fri 09:00–17:00, Sat 10:00–13:00, Sunday closed, holiday
Tue 2026-03-10; 30-minute meetings on a 30-minute grid, 15-minute buffer, 2 h lead time,
21-day horizon; advisors a1 then a2.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callbot.business import BusinessProfile
from callbot.errors import ManagerError
from callbot.integrations.calendar import Interval, SchedulingReason
from callbot.integrations.models import AvailableTime
from callbot.managers.calendar import CalendarManager, candidate_starts

NY = ZoneInfo("America/New_York")
WEEKDAY_HOURS = ["09:00-17:00"]


def make_profile(**changes: Any) -> BusinessProfile:
    data: dict[str, Any] = {
        "company_name": "Acme",
        "offer": "Courses.",
        "advisors": [
            {"id": "a1", "name": "Ann", "calendar_id": "ann@example.test"},
            {"id": "a2", "name": "Bob", "calendar_id": "bob@example.test"},
        ],
        "business_hours": {d: WEEKDAY_HOURS for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["10:00-13:00"]},
        "timezone": "America/New_York",
        "holidays": ["2026-03-10"],
        "meeting_duration_minutes": 30,
        "buffer_minutes": 15,
        "min_lead_time_minutes": 120,
        "booking_horizon_days": 21,
        "slot_step_minutes": 30,
    }
    return BusinessProfile.model_validate(data | changes)


class BusyProvider:
    """Just enough of a CalendarProvider for availability: fixed busy intervals per advisor."""

    def __init__(self, busy: dict[str, list[Interval]] | None = None) -> None:
        self.busy = busy or {}
        self.queries: list[tuple[datetime, datetime]] = []

    async def busy_intervals_async(
        self, advisor_ids: list[str], start: datetime, end: datetime
    ) -> dict[str, list[Interval]]:
        self.queries.append((start, end))
        return {a: sorted((s, e) for s, e in self.busy.get(a, []) if s < end and e > start) for a in advisor_ids}


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def manager(now: datetime, busy: dict[str, list[Interval]] | None = None, **changes: Any) -> CalendarManager:
    return CalendarManager(make_profile(**changes), BusyProvider(busy), now=lambda: now)  # type: ignore[arg-type]


def wall(slots: list[AvailableTime], advisor: str | None = "a1") -> list[str]:
    """Local start times of one advisor's slots (all advisors if None), as 'Mon 09:00'."""
    return [s.start.astimezone(NY).strftime("%a %H:%M") for s in slots if advisor is None or s.advisor_id == advisor]


def hhmm(hour_from: int, hour_to: int, day: str = "Mon") -> list[str]:
    """Half-hour grid from hour_from:00 to (hour_to - 1):30."""
    return [f"{day} {h:02d}:{m:02d}" for h in range(hour_from, hour_to) for m in (0, 30)]


MONDAY_EARLY = local(3, 2, 6)  # Mon 2 March, 06:00: lead time reaches 08:00, before opening


# --- the grid and opening hours -------------------------------------------------------------------


async def test_slots_fill_opening_hours_on_the_grid_one_per_free_advisor() -> None:
    slots = await manager(MONDAY_EARLY).find_available_times_async(local(3, 2), local(3, 3))
    assert wall(slots, "a1") == wall(slots, "a2") == hhmm(9, 17)  # 09:00 … 16:30: the last one ends at 17:00
    assert [(s.advisor_id, s.advisor_name) for s in slots[:2]] == [("a1", "Ann"), ("a2", "Bob")]
    assert [s.start for s in slots] == sorted(s.start for s in slots)  # by start, then advisor order
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert all(s.start.tzinfo is not None and s.start.utcoffset() == timedelta(0) for s in slots)  # UTC


async def test_the_meeting_must_end_before_closing() -> None:
    slots = await manager(MONDAY_EARLY).find_available_times_async(local(3, 2), local(3, 3), duration_minutes=60)
    assert wall(slots)[0] == "Mon 09:00" and wall(slots)[-1] == "Mon 16:00"
    assert len(wall(slots)) == 15
    assert max(s.end for s in slots) == local(3, 2, 17)


async def test_duration_defaults_to_the_profile() -> None:
    slots = await manager(MONDAY_EARLY, meeting_duration_minutes=45).find_available_times_async(
        local(3, 2), local(3, 3)
    )
    assert wall(slots)[-1] == "Mon 16:00" and slots[0].end - slots[0].start == timedelta(minutes=45)


async def test_grid_counts_from_midnight_not_from_opening() -> None:
    hours = {"mon": ["09:15-11:00"]}
    slots = await manager(MONDAY_EARLY, business_hours=hours).find_available_times_async(local(3, 2), local(3, 3))
    assert wall(slots) == ["Mon 09:30", "Mon 10:00", "Mon 10:30"]


async def test_saturday_short_hours_sunday_closed_holiday_skipped() -> None:
    now = local(3, 5, 6)  # Thursday
    slots = await manager(now).find_available_times_async(local(3, 7), local(3, 12))  # Sat … Wed
    days = Counter(s.start.astimezone(NY).strftime("%a %d") for s in slots if s.advisor_id == "a1")
    assert days == {"Sat 07": 6, "Mon 09": 16, "Wed 11": 16}  # no Sunday 8th, no holiday Tuesday 10th
    assert wall([s for s in slots if s.start.astimezone(NY).day == 7]) == hhmm(10, 13, "Sat")


async def test_window_is_start_inclusive_end_exclusive_and_limit_applies() -> None:
    m = manager(MONDAY_EARLY)
    slots = await m.find_available_times_async(local(3, 2, 10), local(3, 2, 11))
    assert wall(slots, None) == ["Mon 10:00", "Mon 10:00", "Mon 10:30", "Mon 10:30"]
    limited = await m.find_available_times_async(local(3, 2), local(3, 9), limit=3)
    assert [(wall([s], None)[0], s.advisor_id) for s in limited] == [
        ("Mon 09:00", "a1"),
        ("Mon 09:00", "a2"),
        ("Mon 09:30", "a1"),
    ]


async def test_one_advisor_only() -> None:
    m = manager(MONDAY_EARLY)
    slots = await m.find_available_times_async(local(3, 2), local(3, 3), advisor_id="a2")
    assert {s.advisor_id for s in slots} == {"a2"} and len(slots) == 16
    with pytest.raises(ManagerError) as info:
        await m.find_available_times_async(local(3, 2), local(3, 3), advisor_id="nobody")
    assert isinstance(info.value.__cause__, ValueError)


async def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ManagerError):
        await manager(MONDAY_EARLY).find_available_times_async(datetime(2026, 3, 2), datetime(2026, 3, 3))


# --- lead time and horizon --------------------------------------------------------------------------


async def test_nothing_before_now_plus_lead_time() -> None:
    slots = await manager(local(3, 2, 10, 10)).find_available_times_async(local(3, 2), local(3, 3))
    assert wall(slots)[0] == "Mon 12:30"  # 10:10 + 2 h = 12:10, next grid time 12:30
    slots = await manager(local(3, 2, 10, 30)).find_available_times_async(local(3, 2), local(3, 3))
    assert wall(slots)[0] == "Mon 12:30"  # exactly now + lead time is bookable


async def test_nothing_beyond_the_booking_horizon() -> None:
    slots = await manager(MONDAY_EARLY).find_available_times_async(local(3, 1), local(5, 1))
    # now + 21 days = Mon 23 March 07:00 EDT (06:00 EST + 21 × 24 h): the last slot is Sat 21st 12:30.
    assert max(s.start for s in slots) == local(3, 21, 12, 30)
    slots = await manager(MONDAY_EARLY, booking_horizon_days=1).find_available_times_async(local(3, 1), local(5, 1))
    assert {s.start.astimezone(NY).date() for s in slots} == {date(2026, 3, 2)}


# --- existing appointments and the buffer -------------------------------------------------------------


async def test_buffer_is_kept_around_an_advisors_appointment() -> None:
    busy = {"a1": [(local(3, 2, 11), local(3, 2, 11, 30))]}
    slots = await manager(MONDAY_EARLY, busy).find_available_times_async(local(3, 2), local(3, 3))
    missing = set(hhmm(9, 17)) - set(wall(slots, "a1"))
    assert missing == {"Mon 10:30", "Mon 11:00", "Mon 11:30"}  # 10:30 would end 15 min before, 11:30 start too soon
    assert wall(slots, "a2") == hhmm(9, 17)  # the other advisor is unaffected

    no_buffer = await manager(MONDAY_EARLY, busy, buffer_minutes=0).find_available_times_async(local(3, 2), local(3, 3))
    assert set(hhmm(9, 17)) - set(wall(no_buffer, "a1")) == {"Mon 11:00"}


async def test_off_grid_and_overlapping_appointments_block_what_they_touch() -> None:
    busy = {
        "a1": [
            (local(3, 2, 13, 10), local(3, 2, 13, 20)),
            (local(3, 2, 15), local(3, 2, 16)),
            (local(3, 2, 15, 30), local(3, 2, 15, 45)),
        ],
        "a2": [(local(3, 1, 20), local(3, 2, 9, 50))],  # from the evening before into the morning
    }
    slots = await manager(MONDAY_EARLY, busy).find_available_times_async(local(3, 2), local(3, 3))
    assert set(hhmm(9, 17)) - set(wall(slots, "a1")) == {
        "Mon 12:30", "Mon 13:00", "Mon 13:30",  # 13:10–13:20 ± 15 min = 12:55–13:35
        "Mon 14:30", "Mon 15:00", "Mon 15:30", "Mon 16:00",  # 15:00–16:00 ± 15 min = 14:45–16:15
    }  # fmt: skip
    assert wall(slots, "a2")[0] == "Mon 10:30"  # busy until 09:50, + 15 min


async def test_busy_lookup_is_one_query_covering_the_buffer() -> None:
    m = manager(MONDAY_EARLY)
    await m.find_available_times_async(local(3, 2), local(3, 7))
    provider = m.provider
    assert isinstance(provider, BusyProvider)
    ((start, end),) = provider.queries
    assert start == local(3, 2, 9) - timedelta(minutes=15)
    assert end == local(3, 6, 17) + timedelta(minutes=15)


# --- daylight saving time -----------------------------------------------------------------------------


async def test_spring_forward_week_keeps_09_00_local_and_every_slot() -> None:
    slots = await manager(local(3, 4, 6)).find_available_times_async(local(3, 5), local(3, 12))  # Thu … Wed
    a1 = [s for s in slots if s.advisor_id == "a1"]
    nine = {
        s.start.astimezone(NY).strftime("%a"): s.start
        for s in a1
        if s.start.astimezone(NY).hour == 9 and s.start.minute == 0
    }
    assert nine["Fri"] == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)  # EST, UTC-5
    assert nine["Fri"].astimezone(NY).utcoffset() == timedelta(hours=-5)
    assert nine["Mon"] == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # EDT, UTC-4
    assert nine["Mon"].astimezone(NY).utcoffset() == timedelta(hours=-4)
    per_day = Counter(s.start.astimezone(NY).strftime("%a") for s in a1)
    assert per_day == {"Thu": 16, "Fri": 16, "Sat": 6, "Mon": 16, "Wed": 16}  # Tue 10th is a holiday
    assert len({s.start for s in a1}) == len(a1)  # no duplicates
    assert all(s.start.astimezone(NY).minute in (0, 30) for s in a1)


async def test_fall_back_week_keeps_09_00_local_and_every_slot() -> None:
    slots = await manager(local(10, 28, 6)).find_available_times_async(local(10, 29), local(11, 5))  # Thu … Wed
    a1 = [s for s in slots if s.advisor_id == "a1"]
    nine = {
        s.start.astimezone(NY).strftime("%a"): s.start
        for s in a1
        if s.start.astimezone(NY).hour == 9 and s.start.minute == 0
    }
    assert nine["Fri"] == datetime(2026, 10, 30, 13, 0, tzinfo=UTC)  # EDT
    assert nine["Mon"] == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # EST
    per_day = Counter(s.start.astimezone(NY).strftime("%a") for s in a1)
    assert per_day == {"Thu": 16, "Fri": 16, "Sat": 6, "Mon": 16, "Tue": 16, "Wed": 16}
    assert len({s.start for s in a1}) == len(a1)


def test_night_hours_across_spring_forward_skip_the_missing_wall_times_but_no_real_time() -> None:
    profile = make_profile(business_hours={"sun": ["00:00-05:00"]})
    starts = candidate_starts(profile, date(2026, 3, 8), timedelta(minutes=30))
    assert [s.astimezone(NY).strftime("%H:%M") for s in starts] == [
        "00:00", "00:30", "01:00", "01:30", "03:00", "03:30", "04:00", "04:30",
    ]  # fmt: skip
    # Every real half hour the business is open (4 h that night) is offered exactly once.
    assert [s - starts[0] for s in starts] == [timedelta(minutes=30 * i) for i in range(8)]
    assert starts[0] == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)


def test_night_hours_across_fall_back_offer_each_wall_time_once() -> None:
    profile = make_profile(business_hours={"sun": ["00:00-05:00"]})
    starts = candidate_starts(profile, date(2026, 11, 1), timedelta(minutes=30))
    assert [s.astimezone(NY).strftime("%H:%M") for s in starts] == [
        f"{h:02d}:{m:02d}" for h in range(5) for m in (0, 30)
    ]
    assert len(set(starts)) == 10
    utc = [s.strftime("%H:%M") for s in starts]
    assert utc[:4] == ["04:00", "04:30", "05:00", "05:30"]  # 00:00–01:30 EDT (first occurrence)
    assert utc[4:] == ["07:00", "07:30", "08:00", "08:30", "09:00", "09:30"]  # 02:00–04:30 EST


async def test_round_the_clock_dst_days_have_46_and_48_slots() -> None:
    spring = manager(local(3, 7, 0), business_hours={"sun": ["00:00-24:00"]}, min_lead_time_minutes=0)
    slots = await spring.find_available_times_async(local(3, 8), local(3, 9), advisor_id="a1")
    assert len(slots) == 46 and len({s.start for s in slots}) == 46
    fall = manager(local(10, 31, 0), business_hours={"sun": ["00:00-24:00"]}, min_lead_time_minutes=0)
    slots = await fall.find_available_times_async(local(11, 1), local(11, 2), advisor_id="a1")
    assert len(slots) == 48 and len({s.start for s in slots}) == 48


# --- nearest slots to a wish ----------------------------------------------------------------------------


async def test_nearest_slots_closest_first_one_per_start_time() -> None:
    busy = {a: [(local(3, 2, 11), local(3, 2, 11, 30))] for a in ("a1", "a2")}
    nearest = await manager(MONDAY_EARLY, busy).nearest_available_async(local(3, 2, 11))
    assert wall(nearest, None) == ["Mon 10:00", "Mon 12:00", "Mon 09:30"]  # ties: earlier first
    assert [s.advisor_id for s in nearest] == ["a1", "a1", "a1"]


async def test_nearest_for_one_advisor() -> None:
    busy = {"a1": [(local(3, 2, 11), local(3, 2, 11, 30))]}
    m = manager(MONDAY_EARLY, busy)
    assert wall(await m.nearest_available_async(local(3, 2, 11), count=1), None) == ["Mon 11:00"]  # a2 is free
    nearest = await m.nearest_available_async(local(3, 2, 11), count=2, advisor_id="a1")
    assert [(s.advisor_id, wall([s], None)[0]) for s in nearest] == [("a1", "Mon 10:00"), ("a1", "Mon 12:00")]


async def test_nearest_prefers_the_wished_day() -> None:
    # Friday 6 March is fully booked but for 09:00; the wish is Friday 23:30 (after hours):
    # Saturday 10:00 is closer in time, yet Friday 09:00 comes first.
    friday = [(local(3, 6, 9, 45), local(3, 6, 17))]  # blocks 09:30 on, with the buffer
    m = manager(local(3, 2, 6), {"a1": friday, "a2": friday})
    nearest = await m.nearest_available_async(local(3, 6, 23, 30), count=2)
    assert wall(nearest, None) == ["Fri 09:00", "Sat 10:00"]


async def test_nearest_on_a_closed_day_or_too_soon() -> None:
    m = manager(local(3, 2, 6))
    assert wall(await m.nearest_available_async(local(3, 8, 10), count=2), None) == ["Sat 12:30", "Sat 12:00"]
    soon = manager(local(3, 2, 10, 10))
    assert wall(await soon.nearest_available_async(local(3, 2, 10, 30), count=2), None) == ["Mon 12:30", "Mon 13:00"]


# --- business rules for a wished start ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "reason"),
    [
        (local(3, 2, 5), 30, SchedulingReason.IN_THE_PAST),
        (local(3, 2, 7, 30), 30, SchedulingReason.TOO_SOON),
        (local(3, 23, 9), 30, SchedulingReason.BEYOND_HORIZON),
        (local(3, 10, 10), 30, SchedulingReason.HOLIDAY),
        (local(3, 8, 11), 30, SchedulingReason.OUTSIDE_BUSINESS_HOURS),  # Sunday
        (local(3, 2, 8, 30), 30, SchedulingReason.OUTSIDE_BUSINESS_HOURS),
        (local(3, 2, 16, 45), 30, SchedulingReason.OUTSIDE_BUSINESS_HOURS),  # would end 17:15
        (local(3, 2, 16, 30), 60, SchedulingReason.OUTSIDE_BUSINESS_HOURS),
        (local(3, 7, 12, 30), 60, SchedulingReason.OUTSIDE_BUSINESS_HOURS),  # Saturday closes 13:00
        (local(3, 2, 10, 10), 30, SchedulingReason.NOT_ON_SLOT_GRID),
        (local(3, 2, 9), 30, None),
        (local(3, 2, 16, 30), 30, None),
        (local(3, 20, 16, 30), 30, None),
    ],
)
def test_rule_violations(start: datetime, minutes: int, reason: SchedulingReason | None) -> None:
    assert manager(MONDAY_EARLY).rule_violation(start, timedelta(minutes=minutes)) == reason

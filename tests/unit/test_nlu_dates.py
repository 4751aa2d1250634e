"""parse_when: what callers say about time, resolved in the business time zone (DST included)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbot.agents.nlu.dates import TimeWish, parse_when

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
# Saturday 8 March 2025, 16:00 in New York: clocks spring forward at 02:00 the next night.
SAT_BEFORE_DST = datetime(2025, 3, 8, 16, 0, tzinfo=NY)
# Tuesday 10 June 2025, 10:00.
TUESDAY_MORNING = datetime(2025, 6, 10, 10, 0, tzinfo=NY)
# Saturday 1 November 2025, 11:00: clocks fall back at 02:00 the next night.
SAT_BEFORE_FALL_BACK = datetime(2025, 11, 1, 11, 0, tzinfo=NY)


def ny(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NY)


def wish(text: str, now: datetime = SAT_BEFORE_DST, tz: ZoneInfo = NY) -> TimeWish:
    result = parse_when(text, now, tz)
    assert result is not None, text
    return result


# (what the caller said, now, the preferred start)
PREFERRED = [
    ("Tuesday afternoon", SAT_BEFORE_DST, ny(2025, 3, 11, 12)),
    ("next week around three", SAT_BEFORE_DST, ny(2025, 3, 10, 15)),
    ("the 14th at 10", SAT_BEFORE_DST, ny(2025, 3, 14, 10)),
    ("tomorrow at 9:30", SAT_BEFORE_DST, ny(2025, 3, 9, 9, 30)),
    ("Tomorrow at 9.30.", SAT_BEFORE_DST, ny(2025, 3, 9, 9, 30)),
    ("tomorrow morning", SAT_BEFORE_DST, ny(2025, 3, 9, 9)),
    ("this Friday", SAT_BEFORE_DST, ny(2025, 3, 14, 9)),
    ("next Monday at 2 pm", SAT_BEFORE_DST, ny(2025, 3, 10, 14)),
    ("in two days", SAT_BEFORE_DST, ny(2025, 3, 10, 9)),
    ("at 3", SAT_BEFORE_DST, ny(2025, 3, 9, 15)),  # 3 pm has passed today (it is 16:00): tomorrow
    ("at 3", TUESDAY_MORNING, ny(2025, 6, 10, 15)),  # still ahead today
    ("3:30", TUESDAY_MORNING, ny(2025, 6, 10, 15, 30)),
    ("half past two", TUESDAY_MORNING, ny(2025, 6, 10, 14, 30)),
    ("quarter to four", TUESDAY_MORNING, ny(2025, 6, 10, 15, 45)),
    ("noon", TUESDAY_MORNING, ny(2025, 6, 10, 12)),
    ("early next week", TUESDAY_MORNING, ny(2025, 6, 16, 9)),
    ("end of the week", TUESDAY_MORNING, ny(2025, 6, 12, 9)),
    ("December 3rd", TUESDAY_MORNING, ny(2025, 12, 3, 9)),
    ("on the 3rd of December at 11am", TUESDAY_MORNING, ny(2025, 12, 3, 11)),
    ("at three thirty", TUESDAY_MORNING, ny(2025, 6, 10, 15, 30)),
    ("ten a m", TUESDAY_MORNING, ny(2025, 6, 11, 10)),  # 10:00 is now, so not today
    ("ten a.m. on thursday", TUESDAY_MORNING, ny(2025, 6, 12, 10)),
    ("um, maybe tuesday? like in the afternoon", SAT_BEFORE_DST, ny(2025, 3, 11, 12)),
    ("um maybe tuesday like in the afternoon", TUESDAY_MORNING, ny(2025, 6, 10, 12)),  # today: it is still ahead
    ("monday at 9", SAT_BEFORE_DST, ny(2025, 3, 10, 9)),
    ("wednesday at three o'clock", SAT_BEFORE_DST, ny(2025, 3, 12, 15)),
    ("Friday around 11ish", SAT_BEFORE_DST, ny(2025, 3, 14, 11)),
    ("the day after tomorrow at noon", SAT_BEFORE_DST, ny(2025, 3, 10, 12)),
    ("how about thursday morning at ten thirty", SAT_BEFORE_DST, ny(2025, 3, 13, 10, 30)),
    ("twelve fifteen", TUESDAY_MORNING, ny(2025, 6, 10, 12, 15)),
    ("9 in the morning tomorrow", SAT_BEFORE_DST, ny(2025, 3, 9, 9)),
    ("friday at 8 in the evening", SAT_BEFORE_DST, ny(2025, 3, 14, 20)),
    ("the fifteenth", SAT_BEFORE_DST, ny(2025, 3, 15, 9)),
    ("the 5th", SAT_BEFORE_DST, ny(2025, 4, 5, 9)),  # the 5th of March is over: April
    ("12/3", TUESDAY_MORNING, ny(2025, 12, 3, 9)),
    ("March 3rd", TUESDAY_MORNING, ny(2026, 3, 3, 9)),  # already past this year: next year
    ("tuesday next week at four", TUESDAY_MORNING, ny(2025, 6, 17, 16)),
    ("next tuesday", TUESDAY_MORNING, ny(2025, 6, 17, 9)),
    ("Tuesday", TUESDAY_MORNING, ny(2025, 6, 10, 10)),  # today, from now on
    ("tonight at 7", TUESDAY_MORNING, ny(2025, 6, 10, 19)),
    ("tomorrow at 10", SAT_BEFORE_FALL_BACK, ny(2025, 11, 2, 10)),
    ("Monday at 9", SAT_BEFORE_FALL_BACK, ny(2025, 11, 3, 9)),
    ("the 31st", SAT_BEFORE_FALL_BACK, ny(2025, 12, 31, 9)),  # November has no 31st
    ("in 2 weeks", SAT_BEFORE_FALL_BACK, ny(2025, 11, 15, 9)),
    ("a quarter past ten tomorrow", SAT_BEFORE_FALL_BACK, ny(2025, 11, 2, 10, 15)),
]


@pytest.mark.parametrize(("text", "now", "expected"), PREFERRED, ids=[f"{p[0]}@{p[1]:%a}" for p in PREFERRED])
def test_preferred_start(text: str, now: datetime, expected: datetime) -> None:
    result = wish(text, now)
    assert result.preferred == expected
    assert result.preferred.utcoffset() == expected.utcoffset()
    assert result.earliest <= result.preferred <= result.latest


@pytest.mark.parametrize(
    "text",
    ["the first one", "option 2", "hello", "yes please", "I may be free", "my number is 555 0123", "", "two people"],
)
def test_no_time_said_gives_none(text: str) -> None:
    assert parse_when(text, TUESDAY_MORNING, NY) is None


def test_dst_offsets_follow_the_calendar_day() -> None:
    before = wish("today at 5 pm", SAT_BEFORE_DST)
    after = wish("tomorrow at 9:30", SAT_BEFORE_DST)
    assert before.preferred.utcoffset() == timedelta(hours=-5)
    assert after.preferred.utcoffset() == timedelta(hours=-4)
    # "in two days" is two calendar days, not 48 hours: still 9:00 on the wall clock.
    two_days = wish("in two days at 9", SAT_BEFORE_DST)
    assert two_days.preferred.hour == 9 and two_days.preferred.utcoffset() == timedelta(hours=-4)
    fall = wish("tomorrow at 10", SAT_BEFORE_FALL_BACK)
    assert fall.preferred.utcoffset() == timedelta(hours=-5)


def test_in_an_hour_across_the_dst_jump_is_sixty_real_minutes() -> None:
    late = datetime(2025, 3, 9, 1, 30, tzinfo=NY)  # 01:30 EST; at 02:00 clocks jump to 03:00 EDT
    result = wish("call me in an hour", late)
    utc = ZoneInfo("UTC")
    # (Python subtracts datetimes sharing a tzinfo on the wall clock, so compare in UTC.)
    assert result.preferred.astimezone(utc) - late.astimezone(utc) == timedelta(hours=1)
    assert result.preferred.hour == 3 and result.preferred.minute == 30
    assert result.approximate


def test_berlin_spring_forward() -> None:
    friday = datetime(2025, 3, 28, 12, 0, tzinfo=BERLIN)  # Europe changes on Sunday 30 March
    result = wish("monday at 10", friday, BERLIN)
    assert result.preferred == datetime(2025, 3, 31, 10, tzinfo=BERLIN)
    assert result.preferred.utcoffset() == timedelta(hours=2)


def test_now_in_another_zone_is_converted() -> None:
    utc_now = SAT_BEFORE_DST.astimezone(ZoneInfo("UTC"))
    assert wish("tomorrow at 9:30", utc_now).preferred == ny(2025, 3, 9, 9, 30)
    naive_local = SAT_BEFORE_DST.replace(tzinfo=None)
    assert wish("tomorrow at 9:30", naive_local).preferred == ny(2025, 3, 9, 9, 30)


def test_weekday_is_never_in_the_past() -> None:
    late_tuesday = datetime(2025, 6, 10, 18, 0, tzinfo=NY)
    result = wish("tuesday afternoon", late_tuesday)
    assert result.date == date(2025, 6, 17)
    assert result.weekday == 1
    for name, weekday in [("monday", 0), ("wednesday", 2), ("friday", 4), ("sunday", 6)]:
        result = wish(name, TUESDAY_MORNING)
        assert result.date is not None
        assert result.date >= TUESDAY_MORNING.date()
        assert result.date.weekday() == weekday
        assert result.date - TUESDAY_MORNING.date() < timedelta(days=7)


def test_part_of_day_windows() -> None:
    afternoon = wish("Tuesday afternoon")
    assert (afternoon.earliest, afternoon.latest) == (ny(2025, 3, 11, 12), ny(2025, 3, 11, 17))
    assert afternoon.part_of_day == "afternoon" and afternoon.time is None
    morning = wish("tomorrow morning")
    assert (morning.earliest, morning.latest) == (ny(2025, 3, 9, 9), ny(2025, 3, 9, 12))
    evening = wish("monday evening")
    assert (evening.earliest, evening.latest) == (ny(2025, 3, 10, 17), ny(2025, 3, 10, 20))
    late = wish("late afternoon on friday")
    assert late.earliest == ny(2025, 3, 14, 14, 30) and late.latest == ny(2025, 3, 14, 17)


def test_window_starts_now_when_the_part_of_day_has_begun() -> None:
    result = wish("this morning", datetime(2025, 6, 10, 10, 7, tzinfo=NY))
    assert result.earliest == ny(2025, 6, 10, 10, 15)  # rounded up to the next quarter hour
    assert result.preferred == result.earliest
    assert result.latest == ny(2025, 6, 10, 12)


def test_exact_and_approximate_times() -> None:
    exact = wish("next Monday at 2 pm")
    assert exact.earliest == exact.latest == exact.preferred
    assert exact.time == time(14) and exact.is_exact
    approx = wish("monday around 2")
    assert approx.approximate and not approx.is_exact
    assert approx.earliest == ny(2025, 3, 10, 13, 30) and approx.latest == ny(2025, 3, 10, 14, 30)


def test_business_hours_for_bare_hours() -> None:
    hours = {"at 1": 13, "at 7": 19, "at 8": 8, "at 11": 11, "at 12": 12, "at 9 pm": 21, "at 4 in the morning": 4}
    for text, hour in hours.items():
        assert wish("monday " + text).preferred.hour == hour, text


def test_spans_of_days() -> None:
    week = wish("next week around three")
    assert week.date is None
    assert week.date_range == (date(2025, 3, 10), date(2025, 3, 14))
    assert week.earliest == ny(2025, 3, 10, 14, 30) and week.latest == ny(2025, 3, 14, 15, 30)
    assert week.approximate
    early = wish("early next week", TUESDAY_MORNING)
    assert early.date_range == (date(2025, 6, 16), date(2025, 6, 17))
    end = wish("end of the week", TUESDAY_MORNING)
    assert end.date_range == (date(2025, 6, 12), date(2025, 6, 13))
    # Said on a Saturday, "end of the week" is the end of the coming week.
    assert wish("end of the week").date_range == (date(2025, 3, 13), date(2025, 3, 14))


def test_bounds_and_ranges() -> None:
    between = wish("between 2 and 4 on thursday")
    assert (between.earliest, between.latest) == (ny(2025, 3, 13, 14), ny(2025, 3, 13, 16))
    after = wish("after 3 tomorrow")
    assert (after.earliest, after.latest) == (ny(2025, 3, 9, 15), ny(2025, 3, 9, 17))
    before = wish("before noon on monday")
    assert (before.earliest, before.latest) == (ny(2025, 3, 10, 9), ny(2025, 3, 10, 12))


def test_a_time_alone_lands_on_the_next_day_it_can() -> None:
    result = wish("at 3")
    assert result.date is None and result.time == time(15)
    assert result.preferred.date() == date(2025, 3, 9)

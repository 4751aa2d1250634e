"""The agents' small decisions: names, e-mails, programs, qualification answers, slots and how they are said."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbot.agents.lead import corrected_name, match_program, name_shaped
from callbot.agents.qualification import parse_answer
from callbot.agents.scheduling import spread_slots
from callbot.agents.speaking import clock_text, join_choices, spelled_email, when_text
from callbot.business.profile import load_profile
from callbot.integrations.models import AvailableTime

PROFILE = load_profile(None)
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("address", "name", "expected"), [
    ("john.smitha@gmail.com", "John Smith", "john.smith@gmail.com"),  # "at" heard as "a", glued on
    ("johnsmithe@yahoo.com", "John Smith", "johnsmith@yahoo.com"),
    ("mariaa@gmail.com", "Maria Lopez", "maria@gmail.com"),
    ("maria@gmail.com", "Maria Lopez", "maria@gmail.com"),  # a name that ends in "a" keeps it
    ("johna@gmail.com", "Peter Parker", "johna@gmail.com"),  # not the caller's name: left as heard
])
def test_a_glued_at_is_removed_when_the_rest_is_the_callers_name(address: str, name: str, expected: str) -> None:
    assert name_shaped(address, name) == expected


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("Jon Smith", "John", "John Smith"),
    ("Jon Smith", "Smyth", "Jon Smyth"),
    ("Jon Smith", "Jane Doe", "Jane Doe"),
    ("Jon", "John", "John"),
])
def test_a_corrected_name_replaces_the_word_it_corrects(old: str, new: str, expected: str) -> None:
    assert corrected_name(old, new) == expected


@pytest.mark.parametrize(("text", "program"), [
    ("I'm interested in the data analytics bootcamp", "Data Analytics Bootcamp"),
    ("something about UX please", "UX Design Certificate"),
    ("the python course", "Python for Beginners"),
    ("I want to cook better", None),
])
def test_programs_are_matched_by_name_or_alias(text: str, program: str | None) -> None:
    found = match_program(PROFILE.programs, text)
    assert (found.name if found else None) == program


@pytest.mark.parametrize(("question", "text", "dtmf", "answer"), [
    ("timeline", "as soon as possible", None, "within_month"),
    ("timeline", "in three months or so", None, "within_quarter"),
    ("timeline", "the last one", None, "later"),
    ("timeline", "", "2", "within_quarter"),
    ("funding", "my employee would pay", None, "employer"),  # Whisper's "employee" for "employer"
    ("funding", "not yet", None, "no_budget"),
    ("funding", "yes, from my savings", None, "self_funded"),
    ("funding", "purple elephants", None, None),
    ("commitment", "yeah, I think so", None, True),
    ("commitment", "no, not really", None, False),
    ("commitment", "", "2", False),
])
def test_qualification_answers(question: str, text: str, dtmf: str | None, answer: object) -> None:
    asked = PROFILE.qualification.question(question)
    assert asked is not None
    assert parse_answer(asked, text, dtmf) == answer


def slot(start: datetime, advisor: str = "maria") -> AvailableTime:
    return AvailableTime(start=start, end=start + timedelta(minutes=30), advisor_id=advisor, advisor_name=advisor)


def test_offers_spread_over_days_one_per_start_time() -> None:
    day1, day2 = datetime(2026, 12, 2, 9, tzinfo=NEW_YORK), datetime(2026, 12, 3, 9, tzinfo=NEW_YORK)
    free = [slot(day1), slot(day1, "james"), slot(day1 + timedelta(minutes=30)), slot(day2)]
    assert [s.start for s in spread_slots(free)] == [day1, day1 + timedelta(minutes=30), day2]
    assert [s.start for s in spread_slots(free, 2)] == [day1, day2]


def test_times_are_said_relative_to_today_in_the_business_zone() -> None:
    now = datetime(2026, 12, 1, 15, 0, tzinfo=ZoneInfo("UTC"))  # 10 AM in New York
    assert when_text(datetime(2026, 12, 1, 17, 30, tzinfo=ZoneInfo("UTC")), now, NEW_YORK) == "today at 12:30 PM"
    assert when_text(datetime(2026, 12, 2, 14, tzinfo=ZoneInfo("UTC")), now, NEW_YORK) == "tomorrow at 9 AM"
    assert when_text(datetime(2026, 12, 4, 14, tzinfo=ZoneInfo("UTC")), now, NEW_YORK) == "on Friday at 9 AM"
    assert when_text(datetime(2026, 12, 14, 14, tzinfo=ZoneInfo("UTC")), now, NEW_YORK) == (
        "on Monday, December 14th at 9 AM")
    assert clock_text(datetime(2026, 12, 1, 0, 0)) == "12 AM"


def test_lists_and_spelled_addresses() -> None:
    assert join_choices(["a"]) == "a"
    assert join_choices(["a", "b"]) == "a or b"
    assert join_choices(["a", "b", "c"]) == "a, b, or c"
    assert spelled_email("j.doe_1@mail.example.com") == "j dot d o e underscore 1 at mail dot example dot com"

"""A scenario's expect: block against recorded results: readable mismatches, none when it matches."""

from __future__ import annotations

from callbot.telephony.expectations import appointment_view, compare

LEAD = {"name": "Jane Doe", "email": "jane@example.com", "status": "meeting_booked",
        "interest": "Data Analytics Bootcamp", "qualification_score": 7.0}
APPOINTMENT = appointment_view({"start": "2026-12-01T14:00:00-05:00", "end": "2026-12-01T14:30:00-05:00",
                                "advisor": "Maria Chen", "status": "scheduled"})


def test_everything_matching_gives_no_problems() -> None:
    expect = {"outcome": "bot_ended",
              "lead": {"name": "jane doe ", "status": "meeting_booked", "interest": {"contains": "data"},
                       "qualification_score": 7},
              "appointment": {"weekday": "Tuesday", "time": "14:00", "date": "2026-12-01", "status": "scheduled"}}
    assert compare(expect, {"outcome": "bot_ended", "lead": LEAD, "appointment": APPOINTMENT}) == []


def test_each_mismatch_is_one_readable_line() -> None:
    expect = {"outcome": "bot_ended", "lead": {"email": "jane@example.org", "interest": {"contains": "ux"}},
              "appointment": {"weekday": "Wednesday"}}
    problems = compare(expect, {"outcome": "caller_hung_up", "lead": LEAD, "appointment": APPOINTMENT})
    assert problems == [
        "outcome: expected 'bot_ended', got 'caller_hung_up'",
        "lead.email: expected 'jane@example.org', got 'jane@example.com'",
        "lead.interest: expected something containing 'ux', got 'Data Analytics Bootcamp'",
        "appointment.weekday: expected 'Wednesday', got 'Tuesday'",
    ]


def test_missing_records_and_expected_absence() -> None:
    assert compare({"appointment": None}, {"appointment": None}) == []
    assert compare({"appointment": None}, {"appointment": APPOINTMENT}) != []
    assert compare({"lead": {"name": "Jane"}}, {"lead": None}) == ["lead: expected one, found none"]


def test_appointment_view_reads_the_time_in_its_own_offset() -> None:
    view = appointment_view({"start": "2026-11-02T09:00:00-05:00"})
    assert (view["weekday"], view["date"], view["time"]) == ("Monday", "2026-11-02", "09:00")

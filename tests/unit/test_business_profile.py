"""Business profile: the demo loads, bad files fail naming file and field, opening hours survive DST."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from callbot.business import DEMO_PROFILE_PATH, BusinessProfile, ProfileError, QuestionKind, Weekday, load_profile

VALID: dict[str, Any] = {
    "company_name": "Acme Training",
    "offer": "Evening courses.",
    "programs": [
        {
            "name": "Data Analytics Bootcamp",
            "description": "SQL and Python.",
            "price": {"amount": 4900, "currency": "usd"},
            "duration": "12 weeks",
            "format": "online, evenings",
        }
    ],
    "advisors": [{"id": "a1", "name": "Ann", "calendar_id": "ann@example.test"}],
    "business_hours": {"mon": ["09:00-12:00", "13:00-17:00"], "sat": ["10:00-13:00"]},
    "timezone": "America/New_York",
    "holidays": ["2026-03-10"],
    "qualification": {
        "min_score": 3,
        "questions": [
            {
                "id": "timeline",
                "text": "When do you want to start?",
                "kind": "choice",
                "options": [
                    {"value": "soon", "label": "within a month", "score": 2},
                    {"value": "later", "label": "later", "score": 0},
                ],
            },
            {"id": "hours", "text": "Ten hours a week?", "kind": "yes_no", "yes_score": 2},
            {"id": "goal", "text": "What is your goal?", "kind": "free"},
        ],
    },
    "transfer_number": "+15550100100",
}


def write(tmp_path: Path, data: Any, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def with_change(path: str, value: Any) -> dict[str, Any]:
    """VALID with one dotted path set (``value`` None + path ending in '-' deletes the key)."""
    data = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if last.endswith("-"):
        del node[last[:-1]]
    else:
        node[last] = value
    return data


# --- the demo profile ---------------------------------------------------------------------------


def test_demo_profile_loads_with_everything_the_bot_needs() -> None:
    profile = load_profile(None)
    assert profile == load_profile(DEMO_PROFILE_PATH)
    assert profile.company_name == "Northwind Academy"
    assert profile.timezone == "America/New_York" and profile.zone.key == "America/New_York"
    assert 3 <= len(profile.programs) <= 4
    assert all(p.price.amount > 0 and p.price.currency == "USD" for p in profile.programs)
    assert len(profile.advisors) == 2
    assert profile.transfer_number == "+15550100100"
    assert all([str(r) for r in profile.business_hours[day]] == ["09:00-17:00"] for day in list(Weekday)[:5])
    assert [str(r) for r in profile.opening_ranges_on(date(2026, 3, 7))] == ["10:00-13:00"]  # a Saturday
    assert profile.opening_ranges_on(date(2026, 3, 8)) == []  # Sunday: closed
    assert len(profile.holidays) >= 2
    questions = profile.qualification.questions
    assert len(questions) == 3
    assert 0 < profile.qualification.min_score <= profile.qualification.max_score
    assert {q.kind for q in questions} <= {QuestionKind.CHOICE, QuestionKind.YES_NO}
    # YAML 1.1 turns bare yes/no into booleans: every keyword must have stayed a string.
    assert all(isinstance(k, str) for q in questions for o in q.options for k in o.keywords)
    assert 5 <= len(profile.faq) <= 8
    assert profile.faq_dir is not None and profile.faq_dir.is_absolute()
    for entry in profile.faq:
        assert entry.title.endswith("?") and len(entry.text) > 100, entry.id


def test_demo_qualification_scores_answers() -> None:
    qualification = load_profile(None).qualification
    eager = {"timeline": "within_month", "funding": "employer", "commitment": True}
    hesitant = {"timeline": "later", "funding": "no_budget", "commitment": False}
    assert qualification.score(eager) == qualification.max_score
    assert qualification.is_qualified(qualification.score(eager))
    assert qualification.score(hesitant) == 0
    assert not qualification.is_qualified(qualification.score(hesitant))
    assert qualification.score({"timeline": "no such option", "commitment": None}) == 0


# --- a profile of one's own ---------------------------------------------------------------------


def test_defaults_relative_faq_dir_and_derived_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "acme"
    (folder / "answers").mkdir(parents=True)
    (folder / "answers" / "b-refunds.md").write_text("# Refunds?\n\nWithin 14 days.\n")
    (folder / "answers" / "a-pricing.md").write_text("Prices are on the website.\n")
    path = write(folder, {**VALID, "faq_dir": "answers"})
    monkeypatch.chdir(tmp_path)  # faq_dir is relative to the profile file, not to the working dir

    profile = load_profile(path)

    assert (profile.meeting_duration_minutes, profile.buffer_minutes, profile.slot_step_minutes) == (30, 15, 30)
    assert (profile.min_lead_time_minutes, profile.booking_horizon_days) == (120, 21)
    assert profile.programs[0].id == "data-analytics-bootcamp"
    assert profile.programs[0].price.currency == "USD"
    assert profile.program("data-analytics-bootcamp") is profile.programs[0]
    assert profile.advisor("a1") is not None and profile.advisor("nobody") is None
    assert [(e.id, e.title, e.text) for e in profile.faq] == [
        ("a-pricing", "a pricing", "Prices are on the website."),
        ("b-refunds", "Refunds?", "Within 14 days."),
    ]
    assert profile.qualification.max_score == 4
    assert profile.qualification.score({"timeline": "soon", "hours": False, "goal": "a new job"}) == 2


def test_no_faq_dir_means_no_faq(tmp_path: Path) -> None:
    assert load_profile(write(tmp_path, VALID)).faq == []


@pytest.mark.parametrize(
    ("change", "value", "expected"),
    [
        ("company_name-", None, "company_name: Field required"),
        ("companyname", "typo", "companyname: Extra inputs are not permitted"),
        ("timezone", "Mars/Olympus_Mons", "timezone: Value error, unknown IANA time zone 'Mars/Olympus_Mons'"),
        ("business_hours.mon", ["9-17"], "business_hours.mon[0]: Value error, opening range must look like"),
        ("business_hours.mon", ["17:00-09:00"], "business_hours.mon[0]: Value error, opening range 17:00-09:00 ends"),
        ("business_hours.mon", ["09:00-25:00"], "business_hours.mon[0]: Value error, not a valid time"),
        ("business_hours.mon", ["09:00-13:00", "12:00-17:00"], "business_hours: Value error, mon: opening ranges"),
        ("business_hours.funday", ["09:00-17:00"], "business_hours.funday.[key]: Input should be 'mon'"),
        ("holidays", ["next tuesday"], "holidays[0]: Input should be a valid date"),
        ("transfer_number", "555-0100", "transfer_number: Value error, transfer_number must be E.164"),
        ("programs.0.price.currency", "dollars", "programs[0].price.currency: Value error"),
        ("programs.0.price.amount", -1, "programs[0].price.amount: Input should be greater than or equal to 0"),
        ("advisors", [], "advisors: List should have at least 1 item"),
        ("advisors", [{"id": "a", "name": "A", "calendar_id": "x"}] * 2, "duplicate advisor id(s): a"),
        ("meeting_duration_minutes", 0, "meeting_duration_minutes: Input should be greater than 0"),
        ("slot_step_minutes", "often", "slot_step_minutes: Input should be a valid integer"),
        ("qualification.min_score", 99, "min_score 99.0 is above the highest possible score 4.0"),
        ("qualification.questions.0.options", [{"value": "x", "label": "x"}], "needs at least two options"),
        ("qualification.questions.1.yes_score", None, "yes_no question 'hours' needs a yes_score"),
        ("qualification.questions.2.kind", "maybe", "qualification.questions[2].kind: Input should be"),
    ],
)
def test_invalid_profiles_name_the_file_and_the_field(tmp_path: Path, change: str, value: Any, expected: str) -> None:
    path = write(tmp_path, with_change(change, value))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid business profile:")
    assert expected in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = with_change("timezone", "Nowhere/Town")
    data["buffer_minutes"] = -5
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, data))
    assert "timezone:" in str(info.value) and "buffer_minutes:" in str(info.value)


def test_the_yaml_boolean_trap_is_reported_with_the_value(tmp_path: Path) -> None:
    text = yaml.safe_dump(VALID).replace("label: later", "label: later\n      keywords: [no, later]")
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    assert "qualification.questions[0].options[1].keywords[0]: Input should be a valid string (got False)" in str(
        info.value
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read business profile"),
        ("company_name: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ],
)
def test_unreadable_files_are_profile_errors(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "profile.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ProfileError, match=expected) as info:
        load_profile(path)
    assert str(info.value).startswith(str(path))


def test_missing_faq_dir_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, {**VALID, "faq_dir": "nowhere"})
    with pytest.raises(ProfileError, match=r"faq_dir: folder .*nowhere does not exist"):
        load_profile(path)


# --- opening hours ------------------------------------------------------------------------------


def profile_with(**changes: Any) -> BusinessProfile:
    return BusinessProfile.model_validate({**VALID, **changes})


def test_opening_hours_are_aware_local_ranges_with_the_right_offset_across_dst() -> None:
    profile = profile_with(business_hours={"mon": ["09:00-17:00"], "fri": ["09:00-17:00"]})
    (friday,) = profile.opening_hours_on(date(2026, 3, 6))  # before spring forward (EST)
    (monday,) = profile.opening_hours_on(date(2026, 3, 9))  # after (EDT)
    assert friday[0].tzinfo is UTC  # arithmetic on these is plain elapsed time
    assert friday[0].astimezone(profile.zone).utcoffset() == timedelta(hours=-5)
    assert friday[0].astimezone(UTC) == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    assert monday[0].astimezone(profile.zone).utcoffset() == timedelta(hours=-4)
    assert monday[0].astimezone(UTC) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert monday[1].astimezone(UTC) == datetime(2026, 3, 9, 21, 0, tzinfo=UTC)


def test_closed_days_and_holidays_have_no_hours() -> None:
    profile = profile_with()
    assert profile.opening_hours_on(date(2026, 3, 8)) == []  # Sunday, not listed
    assert profile.opening_hours_on(date(2026, 3, 10)) == []  # Tuesday, not listed
    assert len(profile_with(business_hours={"tue": ["09:00-17:00"]}).opening_hours_on(date(2026, 3, 17))) == 1
    assert profile_with(business_hours={"tue": ["09:00-17:00"]}).opening_hours_on(date(2026, 3, 10)) == []  # holiday
    assert [str(r) for r in profile.opening_ranges_on(date(2026, 3, 9))] == ["09:00-12:00", "13:00-17:00"]


def test_a_day_with_a_dst_change_is_an_hour_shorter_or_longer() -> None:
    profile = profile_with(business_hours={"sun": ["00:00-24:00"]})
    ((start, end),) = profile.opening_hours_on(date(2026, 3, 8))
    assert end - start == timedelta(hours=23)
    ((start, end),) = profile.opening_hours_on(date(2026, 11, 1))
    assert end - start == timedelta(hours=25)
    # A range ending inside the repeated hour runs until its second occurrence.
    ((start, end),) = profile_with(business_hours={"sun": ["00:00-01:30"]}).opening_hours_on(date(2026, 11, 1))
    assert end - start == timedelta(hours=2, minutes=30)


def test_is_open() -> None:
    profile = profile_with()
    new_york = profile.zone

    def local(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 3, day, hour, minute, tzinfo=new_york)

    assert profile.is_open(local(9, 9))
    assert profile.is_open(local(9, 11, 59))
    assert not profile.is_open(local(9, 12, 30))  # lunch break between the two ranges
    assert profile.is_open(local(9, 16, 59))
    assert not profile.is_open(local(9, 17))
    assert not profile.is_open(local(9, 8, 59))
    assert profile.is_open(datetime(2026, 3, 9, 13, 0, tzinfo=UTC))  # 09:00 EDT
    assert not profile.is_open(datetime(2026, 3, 9, 12, 59, tzinfo=UTC))  # 08:59 EDT
    assert not profile.is_open(local(8, 10))  # Sunday
    assert profile.is_open(local(7, 12, 59)) and not profile.is_open(local(7, 13))  # Saturday short hours
    with pytest.raises(ValueError, match="timezone-aware"):
        profile.is_open(datetime(2026, 3, 9, 10))

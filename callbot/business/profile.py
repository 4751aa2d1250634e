"""The business profile: who the bot speaks for, what it sells, who takes meetings and when.

One YAML file (``Settings.business_profile``; empty = the demo profile shipped beside this
module) is validated once at start-up, so a typo fails with the file and the field instead of
surfacing mid-call. Times are wall-clock times in the profile's time zone; helpers turn them
into aware datetimes that are correct across DST changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

DEMO_PROFILE_PATH = Path(__file__).parent / "demo" / "profile.yaml"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MINUTES_PER_DAY = 24 * 60


class ProfileError(ValueError):
    """The business profile file is missing, unreadable or invalid (the message names file and field)."""


class _Strict(BaseModel):
    # Unknown keys are errors: a misspelt field would otherwise be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @classmethod
    def of(cls, day: date) -> Weekday:
        return _WEEKDAYS[day.weekday()]


_WEEKDAYS = list(Weekday)


class Price(_Strict):
    amount: Decimal = Field(ge=0)
    currency: str = Field(description="ISO 4217 code, e.g. USD")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError(f"currency must be a 3-letter ISO code like USD, got {value!r}")
        return value.upper()


class Program(_Strict):
    id: str = ""  # a slug; derived from the name when omitted
    name: str = Field(min_length=1)
    description: str
    price: Price
    duration: str = Field(description="How long it runs, as said to a caller, e.g. '16 weeks'")
    format: str = Field(description="How it is taught, e.g. 'online, live evening classes'")
    aliases: list[str] = Field(default_factory=list, description="Other names a caller may use")

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, value: Any) -> Any:
        if isinstance(value, dict) and not value.get("id") and isinstance(value.get("name"), str):
            return {**value, "id": re.sub(r"[^a-z0-9]+", "-", value["name"].lower()).strip("-")}
        return value


class Advisor(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    calendar_id: str = Field(min_length=1, description="The advisor's calendar in the calendar provider")


class TimeRange(_Strict):
    """An opening range on one day, from ``"HH:MM-HH:MM"``; the end may be ``24:00``."""

    start_minute: int = Field(ge=0, lt=_MINUTES_PER_DAY)
    end_minute: int = Field(gt=0, le=_MINUTES_PER_DAY)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _RANGE.match(value)
        if not match:
            raise ValueError(f"opening range must look like 'HH:MM-HH:MM', got {value!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"not a valid time in {value!r}")
        return {"start_minute": h1 * 60 + m1, "end_minute": h2 * 60 + m2}

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end_minute <= self.start_minute:
            raise ValueError(f"opening range {self} ends before it starts (ranges cannot cross midnight)")
        return self

    def __str__(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class QuestionKind(StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    FREE = "free"


class QuestionOption(_Strict):
    value: str = Field(min_length=1, description="Stable id of the answer, stored with the lead")
    label: str = Field(min_length=1, description="How the answer is said, e.g. 'within a month'")
    score: float = 0.0
    keywords: list[str] = Field(default_factory=list, description="Words in a reply that select this option")


class QualificationQuestion(_Strict):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1, description="The question as the bot asks it")
    kind: QuestionKind
    options: list[QuestionOption] = Field(default_factory=list)  # choice only
    yes_score: float | None = None  # yes_no only
    no_score: float | None = None  # yes_no only

    @model_validator(mode="after")
    def _consistent(self) -> QualificationQuestion:
        if self.kind is QuestionKind.CHOICE:
            if len(self.options) < 2:
                raise ValueError(f"choice question {self.id!r} needs at least two options")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError(f"choice question {self.id!r} has duplicate option values")
            if self.yes_score is not None or self.no_score is not None:
                raise ValueError(f"choice question {self.id!r}: yes_score/no_score are for yes_no questions")
        elif self.kind is QuestionKind.YES_NO:
            if self.options:
                raise ValueError(f"yes_no question {self.id!r} takes yes_score/no_score, not options")
            if self.yes_score is None:
                raise ValueError(f"yes_no question {self.id!r} needs a yes_score")
        elif self.options or self.yes_score is not None or self.no_score is not None:
            raise ValueError(f"free question {self.id!r} is not scored: remove options/yes_score/no_score")
        return self

    @property
    def max_score(self) -> float:
        if self.kind is QuestionKind.CHOICE:
            return max(o.score for o in self.options)
        if self.kind is QuestionKind.YES_NO:
            return max(self.yes_score or 0.0, self.no_score or 0.0)
        return 0.0

    def score(self, answer: str | bool | None) -> float:
        """Points for an answer: a bool for yes_no, an option value for choice; unknown → 0."""
        if answer is None:
            return 0.0
        if self.kind is QuestionKind.YES_NO and isinstance(answer, bool):
            return (self.yes_score or 0.0) if answer else (self.no_score or 0.0)
        if self.kind is QuestionKind.CHOICE:
            for option in self.options:
                if option.value == answer:
                    return option.score
        return 0.0


class Qualification(_Strict):
    questions: list[QualificationQuestion] = Field(default_factory=list)
    min_score: float = Field(0.0, ge=0, description="A prospect is qualified at this total score or above")

    @model_validator(mode="after")
    def _reachable(self) -> Qualification:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("qualification question ids must be unique")
        if self.min_score > self.max_score:
            raise ValueError(f"min_score {self.min_score} is above the highest possible score {self.max_score}")
        return self

    @property
    def max_score(self) -> float:
        return sum(q.max_score for q in self.questions)

    def question(self, question_id: str) -> QualificationQuestion | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def score(self, answers: Mapping[str, str | bool | None]) -> float:
        """Total score (the seed's ``qualification_score``) for answers keyed by question id."""
        return sum(q.score(answers.get(q.id)) for q in self.questions)

    def is_qualified(self, score: float) -> bool:
        return score >= self.min_score


class FaqEntry(_Strict):
    id: str  # the file name without .md
    title: str  # the first '# ' heading, else the file name
    text: str  # the markdown body below the title
    path: Path


class BusinessProfile(_Strict):
    company_name: str = Field(min_length=1)
    offer: str = Field(min_length=1, description="One or two sentences on what the company sells")
    programs: list[Program] = Field(default_factory=list)
    advisors: list[Advisor] = Field(min_length=1)
    business_hours: dict[Weekday, list[TimeRange]] = Field(description="Missing day = closed")
    timezone: str
    holidays: list[date] = Field(default_factory=list)
    meeting_duration_minutes: int = Field(30, gt=0)
    buffer_minutes: int = Field(15, ge=0, description="Free time kept between two meetings of one advisor")
    min_lead_time_minutes: int = Field(120, ge=0)
    booking_horizon_days: int = Field(21, gt=0)
    slot_step_minutes: int = Field(30, gt=0, description="Start times fall on this grid, counted from midnight")
    qualification: Qualification = Field(default_factory=Qualification)
    faq_dir: Path | None = Field(None, description="Folder of markdown FAQ files, relative to the profile file")
    transfer_number: str | None = Field(None, description="E.164 number a call is transferred to")

    _faq: list[FaqEntry] | None = PrivateAttr(None)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. America/New_York)") from exc
        return value

    @field_validator("transfer_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not _E164.match(value):
            raise ValueError(f"transfer_number must be E.164 like +15550100100, got {value!r}")
        return value

    @field_validator("business_hours")
    @classmethod
    def _no_overlap(cls, value: dict[Weekday, list[TimeRange]]) -> dict[Weekday, list[TimeRange]]:
        result = {}
        for day, ranges in value.items():
            ordered = sorted(ranges, key=lambda r: r.start_minute)
            for before, after in pairwise(ordered):
                if after.start_minute < before.end_minute:
                    raise ValueError(f"{day}: opening ranges {before} and {after} overlap")
            result[day] = ordered
        return result

    @model_validator(mode="after")
    def _unique_ids(self) -> BusinessProfile:
        for kind, ids in (("advisor", [a.id for a in self.advisors]), ("program", [p.id for p in self.programs])):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} id(s): {', '.join(duplicates)}")
        return self

    # --- helpers ------------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key

    def advisor(self, advisor_id: str) -> Advisor | None:
        return next((a for a in self.advisors if a.id == advisor_id), None)

    def program(self, program_id: str) -> Program | None:
        return next((p for p in self.programs if p.id == program_id), None)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays

    def opening_ranges_on(self, day: date) -> list[TimeRange]:
        """The wall-clock ranges open on ``day`` (none on holidays and closed days)."""
        if self.is_holiday(day):
            return []
        return self.business_hours.get(Weekday.of(day), [])

    def opening_hours_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The (start, end) instants, aware UTC, the business is open on a local date.

        UTC on purpose: Python subtracts and compares two datetimes of the *same* ZoneInfo by
        wall clock, which is wrong across a DST change. Present them with
        ``.astimezone(profile.zone)``. A wall time that does not exist (spring forward) maps
        to the instant the clock jumps past it; an end inside the repeated hour (fall back)
        takes its second occurrence, so the range covers every moment the wall clock shows a
        time inside it.
        """
        return [
            (self.wall_time(day, r.start_minute), self.wall_time(day, r.end_minute, fold=1))
            for r in self.opening_ranges_on(day)
        ]

    def wall_time(self, day: date, minute: int, fold: int = 0) -> datetime:
        """The instant (aware UTC) of local ``day`` + ``minute`` wall-clock minutes in the profile's zone.

        ``fold`` picks the occurrence of a repeated wall time (0: first, 1: second); a wall time
        skipped by spring-forward maps past the gap.
        """
        naive = datetime.combine(day, time()) + timedelta(minutes=minute)
        return naive.replace(tzinfo=self.zone, fold=fold).astimezone(UTC)

    def is_open(self, moment: datetime) -> bool:
        """Whether the business is open at an aware instant."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("is_open needs a timezone-aware datetime")
        local_day = moment.astimezone(self.zone).date()
        return any(start <= moment < end for start, end in self.opening_hours_on(local_day))

    @property
    def faq(self) -> list[FaqEntry]:
        """The FAQ entries, sorted by file name (read once)."""
        if self._faq is None:
            self._faq = _read_faq(self.faq_dir) if self.faq_dir is not None else []
        return self._faq


def _read_faq(folder: Path) -> list[FaqEntry]:
    entries = []
    for path in sorted(folder.glob("*.md")):
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        if lines and lines[0].startswith("# "):
            title, body = lines[0][2:].strip(), "\n".join(lines[1:]).strip()
        else:
            title, body = path.stem.replace("-", " ").replace("_", " "), "\n".join(lines).strip()
        entries.append(FaqEntry(id=path.stem, title=title, text=body, path=path))
    return entries


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _got(error: Any) -> str:
    value = error.get("input")
    if error["type"] in ("missing", "value_error") or isinstance(value, dict | list):
        return ""  # our own messages already quote the value
    return f" (got {value!r})"


def load_profile(path: Path | None = None) -> BusinessProfile:
    """Read and validate a business profile YAML file; ``None`` loads the shipped demo profile.

    Raises ``ProfileError`` naming the file and every invalid field.
    """
    path = Path(path) if path is not None else DEMO_PROFILE_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read business profile ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a business profile must be a YAML mapping of fields")
    try:
        profile = BusinessProfile.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_location(e['loc'])}: {e['msg']}{_got(e)}" for e in exc.errors())
        raise ProfileError(f"{path}: invalid business profile:\n{problems}") from exc
    if profile.faq_dir is not None:
        faq_dir = profile.faq_dir if profile.faq_dir.is_absolute() else path.parent / profile.faq_dir
        if not faq_dir.is_dir():
            raise ProfileError(f"{path}: faq_dir: folder {faq_dir} does not exist")
        profile = profile.model_copy(update={"faq_dir": faq_dir.resolve()})
        profile.faq  # noqa: B018  # read the FAQ now: fail at start-up, not mid-call
    return profile

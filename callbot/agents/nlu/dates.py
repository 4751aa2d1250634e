"""When the caller wants the meeting: "tuesday afternoon", "next week around three", "the 14th at 10".

``parse_when`` turns a transcript into a ``TimeWish``: the day (or span of days) and the time (or
part of the day) the caller named, resolved against ``now`` in the business time zone, as an
aware window ``earliest``..``latest`` and a ``preferred`` start the calendar can search from.

Own rules do the work, because the phrases callers use are few and dateparser gets several of
them wrong (it reads "the 14th at 10" as the 14th at midnight, "at 3" as a date next year, and
"tomorrow at 9:30" across a DST change with the offset of the day before). dateparser is used
for what it does well: numeric dates ("12/3", "2025-12-03"). Local times are always built
with zoneinfo from a calendar date and a wall-clock time, so they are right across DST.

Business conventions: an hour from 1 to 7 without am/pm is in the afternoon ("at 3" is 15:00),
8 to 11 is in the morning; morning is 9–12, afternoon 12–17, evening 17–20; a weekday name
means its next occurrence (today only if the wished time is still ahead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callbot.agents.nlu.numbers import spoken_numbers_to_digits

PARTS_OF_DAY: dict[str, tuple[time, time]] = {
    "morning": (time(9), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(20)),
}
BUSINESS_DAY = (time(9), time(17))
APPROXIMATE_MARGIN = timedelta(minutes=30)

WEEKDAYS = {
    "monday": 0, "tuesday": 1, "tues": 1, "wednesday": 2, "weds": 2, "thursday": 3, "thurs": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_WEEKDAY_RE = r"(?:" + "|".join(WEEKDAYS) + r")s?"
_MONTH_RE = r"(?:" + "|".join(MONTHS) + r")"
_ORD = r"(?:st|nd|rd|th)"
_APPROX_RE = re.compile(r"\b(around|about|roughly|approximately|approx|ish|or so|give or take|sometime around)\b")
_FILLERS = re.compile(
    r"\b(um+|uh+|er+|erm|hmm+|mm+|like|maybe|perhaps|possibly|probably|i guess|i think|how about|what about|"
    r"would|could|can we do|can you do|let us say|lets say|you know|kind of|sort of|well|so|okay|ok)\b"
)


@dataclass(frozen=True)
class TimeWish:
    """A caller's wish for when, resolved in the business time zone.

    ``date`` is the day the caller named (resolved: "tuesday" → that Tuesday), ``date_range``
    the first and last day of a span ("next week", "early next week"); both are None when only
    a time was said (``preferred`` then tells which day it lands on). ``weekday`` (0 = Monday)
    is set when a weekday was named. ``time`` is a clock time, ``part_of_day`` "morning",
    "afternoon" or "evening". ``earliest``..``latest`` is the window to search, ``preferred``
    the start to offer first; all three are aware datetimes in the business time zone.
    """

    text: str
    earliest: datetime
    latest: datetime
    preferred: datetime
    date: date | None = None
    date_range: tuple[date, date] | None = None
    weekday: int | None = None
    time: time | None = None
    part_of_day: str | None = None
    approximate: bool = False

    @property
    def is_exact(self) -> bool:
        """A single day and a clock time were said, without "around"."""
        return self.date is not None and self.time is not None and not self.approximate


# --------------------------------------------------------------------------- normalisation


def _normalise(text: str) -> str:
    t = text.lower().replace("’", "'")
    t = re.sub(r"\b([ap])\s?\.?\s?m\b\.?", r"\1m", t)  # "a.m." / "a m" / "p. m." → am / pm
    t = re.sub(r"\bo'?\s?clock\b", " oclock", t)
    t = re.sub(r"\b(to|tom+or+ow|tmrw|tomorow|tommorow)\s+(?=morning|afternoon|evening|night)", "tomorrow ", t)
    t = re.sub(r"\btom+or+ows?\b|\btmrw\b", "tomorrow", t)
    t = re.sub(r"(?<=\d)\s*-\s*(?=\d)", " to ", t)  # "2-4" → "2 to 4"
    t = re.sub(r"[,;!?\"()…]", " ", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", t)  # full stops, not "3.30"
    t = re.sub(r"\b(\d{1,2})\.(\d{2})\b", r"\1:\2", t)  # "3.30" → "3:30"
    t = re.sub(r"\b(\d{1,2})(st|nd|rd|th)\b", r"\1\2", t)
    t = re.sub(r"\bhalf an hour\b", "30 minutes", t)
    t = re.sub(r"\ban hour and a half\b", "90 minutes", t)
    t = spoken_numbers_to_digits(t)
    t = re.sub(r"(\d)(am|pm)\b", r"\1 \2", t)
    t = re.sub(r"\b(\d{1,2}) oh (\d)\b", r"\1:0\2", t)  # "twelve oh five"
    t = re.sub(r"\b(\d{1,2}) (\d{2})(?= ?(?:am|pm|oclock)\b)", r"\1:\2", t)  # "three thirty pm"
    t = re.sub(
        r"\b(at|around|about|by|after|before|say|until|till|from|to|and|between|ish)\s+(\d{1,2}) ([0-5]\d)\b"
        r"(?! (?:min|hour|day))",
        r"\1 \2:\3",
        t,
    )
    t = re.sub(r"^(\d{1,2}) ([0-5]\d)\b", r"\1:\2", t)
    t = re.sub(r"\b(at|around|about|by|after|before)\s+(1[0-2]|[1-9])([0-5]\d)\b", r"\1 \2:\3", t)  # "at 330"
    t = re.sub(r"\bhalf past (\d{1,2})\b", r"\1:30", t)
    t = re.sub(r"\bquarter (?:past|after) (\d{1,2})\b", r"\1:15", t)
    t = re.sub(r"\ba quarter (?:past|after) (\d{1,2})\b", r"\1:15", t)
    t = re.sub(r"\b(?:a )?quarter (?:to|till|of|before) (\d{1,2})\b", lambda m: _minutes_before(m.group(1), 15), t)
    t = re.sub(
        r"\b(\d{1,2}) (?:minutes )?(?:past|after) (\d{1,2})\b(?!:)", lambda m: f"{m.group(2)}:{int(m.group(1)):02d}", t
    )
    t = re.sub(
        r"\b(\d{1,2}) minutes (?:to|till|before) (\d{1,2})\b", lambda m: _minutes_before(m.group(2), int(m.group(1))), t
    )
    t = re.sub(r"\b(12|noon|midday|lunchtime|lunch time)\s+noon\b", "noon", t)
    t = re.sub(r"(\d)ish\b", r"\1 ish", t)
    return re.sub(r"\s+", " ", t).strip()


def _minutes_before(hour: str, minutes: int) -> str:
    h = int(hour)
    h = 12 if h == 1 else h - 1
    return f"{h}:{60 - minutes:02d}"


# --------------------------------------------------------------------------- times


@dataclass
class _Time:
    value: time | None = None  # a clock time
    start: time | None = None  # window bounds on the day, when the caller gave them
    end: time | None = None
    approximate: bool = False
    part: str | None = None


_CLOCK = r"(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?\s?(?P<ap>am|pm)?"


def _hour(h: int, minute: int, ap: str | None, part: str | None) -> time | None:
    if ap:
        if not 1 <= h <= 12:
            return None if h > 12 else time(0, minute)
        h = h % 12 + (12 if ap == "pm" else 0)
    elif h <= 12:
        if part == "morning":
            h = h % 12 if h != 12 else 12
        elif part in ("afternoon", "evening"):
            h = h + 12 if h < 12 else h
        elif 1 <= h <= 7:
            h += 12  # "at 3": business hours, so 3 pm
    if h > 23 or minute > 59:
        return None
    return time(h, minute)


def _part_of_day(t: str) -> tuple[str | None, time | None, time | None]:
    """(part, start, end) for "morning", "late afternoon", "tonight", "first thing", "after lunch"…"""
    if re.search(r"\bafter lunch\b", t):
        return "afternoon", time(13), time(17)
    if re.search(r"\b(end of (the )?(business )?day|close of business|cob)\b", t):
        return "afternoon", time(15), time(17)
    if re.search(r"\bafter work\b", t):
        return "evening", time(17), time(20)
    if re.search(r"\bfirst thing\b", t):
        return "morning", time(9), time(10)
    m = re.search(r"\b(?:(early|late|mid)[\s-]?)?(morning|afternoon|evening|tonight|night)s?\b", t)
    if not m:
        return None, None, None
    part = {"tonight": "evening", "night": "evening"}.get(m.group(2), m.group(2))
    start, end = PARTS_OF_DAY[part]
    mid = time((start.hour + end.hour) // 2, 30 if (start.hour + end.hour) % 2 else 0)
    if m.group(1) == "early":
        end = mid
    elif m.group(1) == "late":
        start = mid
    return part, start, end


def _find_time(t: str) -> _Time:
    part, part_start, part_end = _part_of_day(t)
    result = _Time(part=part, start=part_start, end=part_end)
    approximate = bool(_APPROX_RE.search(t))

    m = re.search(
        rf"\b(?:between|from)\s+{_CLOCK}\s+(?:and|to|till|until)\s+(?P<h2>\d{{1,2}})(?::(?P<m2>[0-5]\d))?\s?(?P<ap2>am|pm)?\b",
        t,
    )
    if m:
        ap2 = m.group("ap2")
        first_ap = m.group("ap") or (ap2 if ap2 and int(m.group("h")) <= int(m.group("h2")) else None)
        start = _hour(int(m.group("h")), int(m.group("m") or 0), first_ap, part)
        end = _hour(int(m.group("h2")), int(m.group("m2") or 0), ap2, part)
        if start and end and start < end:
            return _Time(value=None, start=start, end=end, part=part, approximate=approximate)

    if re.search(r"\b(noon|midday|lunchtime|lunch time|lunch)\b", t) and not re.search(r"\bafter lunch\b", t):
        noon = time(12)
        bound = re.search(r"\b(before|by|until|till|after|not before)\s+(noon|midday|lunch\w*)", t)
        if bound and bound.group(1) in ("before", "by", "until", "till"):
            return _Time(start=part_start or BUSINESS_DAY[0], end=noon, part=part or "morning")
        if bound:
            return _Time(start=noon, end=part_end or BUSINESS_DAY[1], part=part or "afternoon")
        lunch = bool(re.search(r"\blunch", t))
        return _Time(value=noon, approximate=approximate or lunch, part=part)

    patterns = (
        r"\b(?P<h>\d{1,2}):(?P<m>[0-5]\d)\s?(?P<ap>am|pm)?\b",  # 3:30, 3:30 pm
        r"\b(?P<h>\d{1,2})\s?(?P<ap>am|pm)\b",  # 3 pm
        r"\b(?P<h>\d{1,2})\s?(?:oclock)\b",
        r"\b(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?(?= (?:in the|this|tomorrow|on) (?:morning|afternoon|evening|night)\b)",
        rf"\b(?P<lead>at|around|about|by|after|before|say|until|till|ish|not before|no later than|no earlier than"
        rf"|latest|earliest|sometime around|anytime after|anytime before)\s+{_CLOCK}\b"
        rf"(?!\s?(?:st|nd|rd|th|days?|weeks?|months?|minutes?|mins?|hours?|hrs?|people|persons?|of)\b)",
        rf"\b{_CLOCK}\s+ish\b",
    )
    for pattern in patterns:
        m = re.search(pattern, t)
        if not m:
            continue
        groups = m.groupdict()
        value = _hour(int(groups["h"]), int(groups.get("m") or 0), groups.get("ap"), part)
        if value is None:
            continue
        lead = _bound_word(t, m.start())
        if lead in ("after", "not before", "no earlier than", "earliest", "anytime after"):
            return _Time(value=value, start=value, end=max(part_end or BUSINESS_DAY[1], value), part=part,
                         approximate=approximate)  # fmt: skip
        if lead in ("before", "by", "until", "till", "no later than", "latest", "anytime before"):
            return _Time(start=min(part_start or BUSINESS_DAY[0], value), end=value, part=part, approximate=approximate)
        return _Time(value=value, part=part, approximate=approximate)
    return result


def _bound_word(t: str, position: int) -> str | None:
    """The bound ("after", "before"…) written just before a clock time, if any."""
    before = t[:position].rstrip()
    m = re.search(
        r"\b(not before|no earlier than|no later than|anytime after|anytime before|after|before|by|until|till|latest|"
        r"earliest)(?:\s+(?:at|around|about))?$",
        before,
    )
    if m:
        return m.group(1)
    m = re.match(
        r"\s*(after|before|by|until|till|not before|no later than|no earlier than|anytime after)\b", t[position:]
    )
    return m.group(1) if m else None


# --------------------------------------------------------------------------- dates


@dataclass
class _Day:
    day: date | None = None
    span: tuple[date, date] | None = None
    weekday: int | None = None
    approximate: bool = False
    rolls: str | None = None  # how to move on if the day is already over: "week", "month", "year"


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _month_days(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _day_of_month(year: int, month: int, day: int, today: date, year_given: bool) -> date | None:
    d = _safe_date(year, month, day)
    if d is None:
        return None
    if not year_given and d < today:
        d = _safe_date(year + 1, month, day)
    return d


def _find_date(t: str, today: date) -> _Day | None:
    this_monday = _week_start(today)
    next_monday = this_monday + timedelta(days=7)

    if re.search(r"\b(as soon as possible|asap|soonest|earliest (available|possible|you (have|can)))\b", t):
        return _Day(span=(today, today + timedelta(days=2)), approximate=True)
    if re.search(r"\bday after tomorrow\b", t):
        return _Day(day=today + timedelta(days=2))
    m = re.search(r"\bin (?P<n>\d+|a|an|a couple of|a couple|a few|couple of) (?P<unit>days?|weeks?)\b", t)
    if m:
        n = {"a": 1, "an": 1, "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3}.get(m.group("n"))
        n = n if n is not None else int(m.group("n"))
        days = n * (7 if m.group("unit").startswith("week") else 1)
        return _Day(day=today + timedelta(days=days), approximate=m.group("n") in ("a few", "a couple", "a couple of"))
    m = re.search(r"\b(?:a|one) week from (today|tomorrow|now)\b", t)
    if m:
        return _Day(day=today + timedelta(days=7 + (m.group(1) == "tomorrow")))
    if re.search(r"\btomorrow\b", t):
        return _Day(day=today + timedelta(days=1))
    if re.search(r"\b(today|tonight|this (morning|afternoon|evening)|later today|later on today)\b", t):
        return _Day(day=today)

    # A date with a month: "december 3rd", "the 3rd of december", "3 december", "dec 3 2026".
    year_m = re.search(r"\b(20\d\d)\b", t)
    year = int(year_m.group(1)) if year_m else today.year
    m = re.search(rf"\b(?P<month>{_MONTH_RE})\s+(?:the\s+)?(?P<d>\d{{1,2}}){_ORD}?\b(?!:)", t) or re.search(
        rf"\b(?P<d>\d{{1,2}}){_ORD}?\s+(?:of\s+)?(?P<month>{_MONTH_RE})\b", t
    )
    if m and not (
        m.group("month") == "may" and not re.search(rf"\bmay\s+(the\s+)?\d{{1,2}}{_ORD}?\b|\d{_ORD}? (of )?may", t)
    ):
        d = _day_of_month(year, MONTHS[m.group("month")], int(m.group("d")), today, bool(year_m))
        if d is not None:
            return _Day(day=d, weekday=_named_weekday(t), rolls=None if year_m else "year")
    numeric = re.search(r"\b(\d{1,2}/\d{1,2}(?:/\d{2,4})?|20\d\d-\d{2}-\d{2})\b", t)
    if numeric:
        d = _dateparser_date(numeric.group(1), today)
        if d is not None:
            return _Day(day=d)
    # "the 14th", "on the 3rd" (not "the 1st one": that is a choice among offered slots).
    m = re.search(rf"\b(?:the|on)\s+(?P<d>\d{{1,2}}){_ORD}\b(?!\s+(?:one|option|choice|slot)\b)", t) or re.search(
        rf"\b(?P<d>\d{{1,2}}){_ORD}\b(?!\s+(?:one|option|choice|slot)\b)", t
    )
    if m and 1 <= int(m.group("d")) <= 31:
        day = int(m.group("d"))
        d = _safe_date(today.year, today.month, day)
        if d is None or d < today:
            y, mo = (today.year + (today.month == 12), today.month % 12 + 1)
            d = _safe_date(y, mo, day)
        if d is not None:
            return _Day(day=d, weekday=_named_weekday(t), rolls="month")

    # Spans of a week.
    week = None
    if re.search(r"\b(next|following|coming) week\b|\bweek after this\b", t):
        week = next_monday
    elif re.search(r"\b(this|the|of the|rest of the) week\b|\bthis week\b", t):
        week = this_monday if today.weekday() < 5 else next_monday
    if week is not None and not re.search(_WEEKDAY_RE, t):
        first, last = week, week + timedelta(days=4)
        if re.search(r"\b(early|beginning of|start of|first part of)\b", t):
            span, approx = (first, first + timedelta(days=1)), True
        elif re.search(r"\b(mid|middle of|midweek)\b", t):
            span, approx = (first + timedelta(days=1), first + timedelta(days=3)), True
        elif re.search(r"\b(late|end of|later|by the end of|towards the end of|last part of)\b", t):
            span, approx = (first + timedelta(days=3), last), True
        else:
            span, approx = (first, last), False
        start = max(span[0], today)
        if start > span[1]:  # "end of the week" said on a Saturday: next week's end
            span = (span[0] + timedelta(days=7), span[1] + timedelta(days=7))
            start = span[0]
        return _Day(span=(start, span[1]), approximate=approx)
    if re.search(r"\b(this|the) weekend\b", t) or re.search(r"\bnext weekend\b", t):
        saturday = this_monday + timedelta(days=5)
        if re.search(r"\bnext weekend\b", t) or today > saturday + timedelta(days=1):
            saturday += timedelta(days=7)
        return _Day(span=(max(saturday, today), saturday + timedelta(days=1)))

    weekday = _named_weekday(t)
    if weekday is not None:
        if re.search(rf"\b(next|following)\s+{_WEEKDAY_RE}\b|{_WEEKDAY_RE}\s+(next|of next) week\b", t):
            d = next_monday + timedelta(days=weekday)  # "next monday": the monday of next week
            return _Day(day=d, weekday=weekday)
        if re.search(rf"\b{_WEEKDAY_RE}\s+(after next|week)\b|\bweek on {_WEEKDAY_RE}", t):
            return _Day(day=next_monday + timedelta(days=weekday + 7), weekday=weekday)
        ahead = (weekday - today.weekday()) % 7
        return _Day(day=today + timedelta(days=ahead), weekday=weekday, rolls="week")

    m = re.search(
        rf"\b(?P<early>early|beginning of|end of|late|later in)?\s*(?:next month|in (?P<month>{_MONTH_RE}))\b", t
    )
    if m and not (m.group("month") == "may"):
        if m.group("month"):
            month = MONTHS[m.group("month")]
            y = today.year + (month < today.month)
        else:
            y, month = today.year + (today.month == 12), today.month % 12 + 1
        first, last = _month_days(y, month)
        if m.group("early"):
            if m.group("early") in ("early", "beginning of"):
                last = first + timedelta(days=6)
            else:
                first = last - timedelta(days=6)
        return _Day(span=(max(first, today), last), approximate=True)
    return None


def _named_weekday(t: str) -> int | None:
    m = re.search(r"\b(" + "|".join(WEEKDAYS) + r")s?\b", t)
    return WEEKDAYS[m.group(1)] if m else None


def _dateparser_date(phrase: str, today: date) -> date | None:
    import dateparser  # imported lazily: it takes a moment and only numeric dates need it

    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": datetime.combine(today, time(12)),
        "DATE_ORDER": "MDY",
        "PREFER_DAY_OF_MONTH": "first",
    }
    parsed = dateparser.parse(phrase, languages=["en"], settings=settings)  # type: ignore[arg-type]
    return parsed.date() if parsed else None


# --------------------------------------------------------------------------- assembly


def _at(d: date, t: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time on a calendar day in ``tz``: the UTC offset is that day's, DST included."""
    return datetime.combine(d, t, tzinfo=tz)


def _round_up(moment: datetime, minutes: int = 15) -> datetime:
    moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=minutes - 1)
    return moment - timedelta(minutes=moment.minute % minutes)


def _window(day: date, when: _Time, tz: ZoneInfo) -> tuple[datetime, datetime, datetime]:
    """(earliest, latest, preferred) on one day."""
    if when.value is not None and when.start is None and when.end is None:
        at = _at(day, when.value, tz)
        margin = APPROXIMATE_MARGIN if when.approximate else timedelta(0)
        return at - margin, at + margin, at
    start = when.start or (PARTS_OF_DAY[when.part][0] if when.part else BUSINESS_DAY[0])
    end = when.end or (PARTS_OF_DAY[when.part][1] if when.part else BUSINESS_DAY[1])
    preferred = when.value or start
    return _at(day, start, tz), _at(day, end, tz), _at(day, preferred, tz)


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> TimeWish | None:
    """The caller's wish for when, or None if the text names no day and no time.

    ``now`` may be aware (any zone) or naive (then taken as wall-clock time in ``tz``).
    """
    local_now = now.astimezone(tz) if now.tzinfo is not None else now.replace(tzinfo=tz)
    today = local_now.date()
    t = _FILLERS.sub(" ", _normalise(text))
    t = re.sub(r"\s+", " ", t).strip()

    m = re.search(r"\bin (?P<n>\d+|an|a|a couple of|a few) (?P<unit>minutes?|mins?|hours?|hrs?)\b", t)
    if m:
        n = {"a": 1, "an": 1, "a couple of": 2, "a few": 3}.get(m.group("n")) or int(m.group("n"))
        delta = timedelta(hours=n) if m.group("unit").startswith("h") else timedelta(minutes=n)
        at = (local_now.astimezone(ZoneInfo("UTC")) + delta).astimezone(tz)
        return TimeWish(
            text=text, earliest=at - APPROXIMATE_MARGIN / 2, latest=at + APPROXIMATE_MARGIN / 2, preferred=at,
            date=at.date(), time=at.time().replace(second=0, microsecond=0), approximate=True,
        )  # fmt: skip

    when = _find_time(t)
    day = _find_date(t, today)
    has_time = when.value is not None or when.start is not None or when.part is not None
    if day is None and not has_time:
        return None
    if day is not None and day.span is None and day.day is None:
        return None

    approximate = when.approximate or bool(day and day.approximate)
    if day is None or day.span is not None:
        if day is None:
            first, last = today, today + timedelta(days=1)
        else:
            first, last = day.span  # type: ignore[misc]
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        candidates = [d for d in days if _window(d, when, tz)[1] > local_now]
        if not candidates:
            if day is None:
                return None
            candidates = [days[-1]]
        earliest, _, preferred = _window(candidates[0], when, tz)
        _, latest, _ = _window(candidates[-1], when, tz) if day is not None else _window(candidates[0], when, tz)
        span = (candidates[0], candidates[-1]) if day is not None else None
        wish_date = None
    else:
        d = day.day
        assert d is not None
        if day.rolls and _window(d, when, tz)[1] <= local_now:
            d = _roll(d, day.rolls)
        earliest, latest, preferred = _window(d, when, tz)
        span, wish_date = None, d

    if earliest < local_now < latest:
        earliest = _round_up(local_now)
        preferred = max(preferred, earliest)
        if preferred > latest:
            preferred = latest
    return TimeWish(
        text=text,
        earliest=earliest,
        latest=latest,
        preferred=preferred,
        date=wish_date,
        date_range=span,
        weekday=day.weekday if day else None,
        time=when.value,
        part_of_day=when.part,
        approximate=approximate,
    )


def _roll(d: date, unit: str) -> date:
    if unit == "week":
        return d + timedelta(days=7)
    if unit == "month":
        y, m = d.year + (d.month == 12), d.month % 12 + 1
        while True:
            nxt = _safe_date(y, m, d.day)
            if nxt is not None:
                return nxt
            y, m = y + (m == 12), m % 12 + 1
    nxt = _safe_date(d.year + 1, d.month, d.day)
    return nxt if nxt is not None else d + timedelta(days=365)

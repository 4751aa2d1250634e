"""How values are said on the phone: times, slots, lists and spelled e-mail addresses.

Times are said in the business's zone, relative to "now" where that is shorter ("tomorrow at
10 AM", "Friday at 2:30 PM"); the speakable-text step then turns "2:30 PM" into words.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from callbot.agents.nlu.numbers import ordinal_suffix
from callbot.integrations.models import AvailableTime

_LETTER_SYMBOLS = {".": "dot", "_": "underscore", "-": "dash", "+": "plus"}


def clock_text(moment: datetime) -> str:
    """``14:00`` → "2 PM", ``09:30`` → "9:30 AM" (the moment's own zone)."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def day_text(day: date, today: date) -> str:
    """"today", "tomorrow", "on Friday" within the coming week, else "on Friday, December 11th"."""
    days = (day - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if 1 < days < 7:
        return f"on {day:%A}"
    return f"on {day:%A}, {day:%B} {ordinal_suffix(day.day)}"


def when_text(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """"tomorrow at 10 AM", "on Friday at 2:30 PM", "on Monday, December 14th at 9 AM"."""
    local = moment.astimezone(zone)
    return f"{day_text(local.date(), now.astimezone(zone).date())} at {clock_text(local)}"


def join_choices(items: list[str], word: str = "or") -> str:
    """``["a", "b", "c"]`` → "a, b, or c"."""
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {word} {items[1]}"
    return f"{', '.join(items[:-1])}, {word} {items[-1]}"


def slots_text(slots: list[AvailableTime], now: datetime, zone: ZoneInfo) -> str:
    return join_choices([when_text(slot.start, now, zone) for slot in slots])


def dtmf_keys_text(count: int) -> str:
    """"1 or 2", "1, 2, or 3"."""
    return join_choices([str(n) for n in range(1, count + 1)])


def spelled_email(address: str) -> str:
    """Read an address back so every letter can be checked: "j o h n dot smith at gmail dot com".

    The part before the @ is spelled letter by letter (it is where speech recognition errs);
    the domain is said as words.
    """
    local, _, domain = address.partition("@")
    letters = [_LETTER_SYMBOLS.get(ch, ch) for ch in local]
    domain_words = domain.replace(".", " dot ").split()
    return f"{' '.join(letters)} at {' '.join(domain_words)}"

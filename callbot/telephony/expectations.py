"""A scenario's ``expect:`` block, checked against what the server recorded.

```yaml
expect:
  outcome: bot_ended
  lead: {name: Jane Doe, email: jane@example.com, status: meeting_booked, interest: {contains: data}}
  appointment: {weekday: Tuesday, time: "14:00", status: scheduled}   # or `appointment: null`
```

Strings compare without regard to case or surrounding space; ``{contains: x}`` matches a
substring; ``null`` means "there must be none". The result is a list of readable lines,
empty when everything matched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and set(expected) == {"contains"}:
        return actual is not None and str(expected["contains"]).lower() in str(actual).lower()
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().lower() == actual.strip().lower()
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return abs(expected - actual) < 1e-9
    return expected == actual


def _describe(expected: Any) -> str:
    if isinstance(expected, dict) and set(expected) == {"contains"}:
        return f"something containing {expected['contains']!r}"
    return repr(expected)


def appointment_view(appointment: dict[str, Any]) -> dict[str, Any]:
    """The fields a scenario can name: the API's, plus weekday, date and time (in its own offset)."""
    start = datetime.fromisoformat(appointment["start"])
    return {**appointment, "weekday": start.strftime("%A"), "date": start.date().isoformat(),
            "time": start.strftime("%H:%M")}


def compare(expect: dict[str, Any], actual: dict[str, Any | None]) -> list[str]:
    """Mismatches between an ``expect`` block and the actual ``outcome``, ``lead``, ``appointment``."""
    problems: list[str] = []
    for section, wanted in expect.items():
        found = actual.get(section)
        if not isinstance(wanted, dict) or set(wanted) == {"contains"}:
            if not _matches(wanted, found):
                problems.append(f"{section}: expected {_describe(wanted)}, got {found!r}")
            continue
        if found is None:
            problems.append(f"{section}: expected one, found none")
            continue
        for field, value in wanted.items():
            if not _matches(value, found.get(field)):
                problems.append(f"{section}.{field}: expected {_describe(value)}, got {found.get(field)!r}")
    return problems


def fetch_actual(api_base: str, call_sid: str, phone: str, api_key: str = "") -> dict[str, Any | None]:
    """What the server recorded for this call and this caller."""
    headers = {"X-API-Key": api_key} if api_key else {}
    with httpx.Client(base_url=api_base, headers=headers, timeout=10) as client:
        call = client.get(f"/api/calls/{call_sid}")
        leads = client.get("/api/leads", params={"phone": phone})
        appointments = client.get("/api/appointments", params={"phone": phone})
    actual: dict[str, Any | None] = {"outcome": None, "lead": None, "appointment": None}
    if call.status_code == 200:
        record = call.json()
        actual["outcome"] = record.get("outcome") or record.get("end_reason")
        actual["end_reason"] = record.get("end_reason")
    if leads.status_code == 200 and leads.json():
        actual["lead"] = leads.json()[0]
    if appointments.status_code == 200:
        booked = [a for a in appointments.json() if a.get("status") == "scheduled"]
        actual["appointment"] = appointment_view(booked[-1]) if booked else None
    return actual

"""The time calls run on: the real clock, or one started at a chosen instant (``CALLBOT_CLOCK_START``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def real_now() -> datetime:
    return datetime.now(UTC)


def make_clock(start: datetime | None) -> Clock:
    """A clock reading ``start`` now and running on in real time; the real clock when ``start`` is None."""
    if start is None:
        return real_now
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("the clock's start must have a UTC offset, e.g. 2026-12-01T10:00:00-05:00")
    began = time.monotonic()
    start_utc = start.astimezone(UTC)

    def now() -> datetime:
        return start_utc + timedelta(seconds=time.monotonic() - began)

    return now

"""Calendar providers behind one protocol: the embedded SQL calendar, and real adapters beside it."""

from callbot.integrations.calendar.base import (
    AppointmentNotActiveError,
    CalendarProvider,
    Interval,
    SchedulingReason,
)
from callbot.integrations.calendar.local import LocalCalendarProvider

__all__ = [
    "AppointmentNotActiveError",
    "CalendarProvider",
    "Interval",
    "LocalCalendarProvider",
    "SchedulingReason",
]

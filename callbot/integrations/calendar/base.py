"""What a calendar provider must do for the CalendarManager (local SQL, CalDAV, Google, Salesforce…).

Providers know nothing about opening hours, lead times or slot grids: the manager applies the
business rules; a provider stores appointments and books them atomically. All datetimes are
timezone-aware; providers store UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from callbot.business.profile import Advisor
from callbot.integrations.models import AppointmentDetails, AppointmentRequest

Interval = tuple[datetime, datetime]


class SchedulingReason(StrEnum):
    """Why a booking failed: the values of ``SchedulingResult.reason``."""

    SLOT_TAKEN = "slot_taken"  # someone else has it (possibly booked a moment earlier)
    OUTSIDE_BUSINESS_HOURS = "outside_business_hours"  # closed then, or the meeting runs past closing
    HOLIDAY = "holiday"
    IN_THE_PAST = "in_the_past"
    TOO_SOON = "too_soon"  # before now + min_lead_time
    BEYOND_HORIZON = "beyond_horizon"  # after now + booking_horizon
    NOT_ON_SLOT_GRID = "not_on_slot_grid"  # e.g. 10:10 when slots start every 30 minutes
    UNKNOWN_ADVISOR = "unknown_advisor"
    NOT_FOUND = "not_found"  # reschedule: no scheduled appointment with that id


class AppointmentNotActiveError(LookupError):
    """The appointment to replace does not exist or is no longer scheduled."""


@runtime_checkable
class CalendarProvider(Protocol):
    async def init_async(self) -> None:
        """Prepare the provider (create tables, open connections). Idempotent."""

    async def close_async(self) -> None:
        """Release connections."""

    async def busy_intervals_async(
        self, advisor_ids: list[str], start: datetime, end: datetime
    ) -> dict[str, list[Interval]]:
        """Scheduled appointments overlapping [start, end), per advisor id (every id present), sorted."""
        ...

    async def book_async(
        self,
        request: AppointmentRequest,
        advisor: Advisor,
        end: datetime,
        buffer: timedelta,
        *,
        replaces: str | None = None,
    ) -> AppointmentDetails | None:
        """Book [request.start, end) with ``advisor``, atomically.

        Returns None, booking nothing, when the advisor has a scheduled appointment overlapping
        [start - buffer, end + buffer): of two concurrent callers (tasks, processes) only one wins.
        ``replaces``: the id of a scheduled appointment this one replaces (a reschedule). It is
        ignored by the overlap check and marked rescheduled in the same transaction; raises
        ``AppointmentNotActiveError`` if it is not scheduled any more.
        """
        ...

    async def cancel_async(self, appointment_id: str) -> bool:
        """Cancel a scheduled appointment; False if there is none with that id still scheduled."""
        ...

    async def get_async(self, appointment_id: str) -> AppointmentDetails | None: ...

    async def list_async(self, phone: str | None = None, include_cancelled: bool = False) -> list[AppointmentDetails]:
        """Appointments sorted by start; only scheduled ones unless ``include_cancelled``."""
        ...

    async def mark_rescheduled_async(self, appointment_id: str) -> bool:
        """Mark a scheduled appointment as replaced by another; False if it is not scheduled."""
        ...

"""CalendarManager (seed API): free slots, bookings, cancellations and reschedules under the business rules.

The business profile says when meetings may happen (opening hours in its time zone, holidays,
slot grid, lead time, horizon, buffer between one advisor's meetings); the provider says who is
busy and books atomically. Slots are generated on wall-clock times in the profile's zone and
converted to UTC, so a DST change neither loses nor duplicates a slot: wall times skipped by
spring-forward are left out, and a repeated wall time (fall-back) is offered once, at its first
occurrence.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from callbot.business.profile import Advisor, BusinessProfile
from callbot.errors import handle_manager_errors
from callbot.integrations.calendar.base import (
    AppointmentNotActiveError,
    CalendarProvider,
    Interval,
    SchedulingReason,
)
from callbot.integrations.models import (
    AppointmentDetails,
    AppointmentRequest,
    AppointmentStatus,
    AvailableTime,
    SchedulingResult,
)

Clock = Callable[[], datetime]

_MINUTES_PER_DAY = 24 * 60


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def candidate_starts(profile: BusinessProfile, day: date, duration: timedelta) -> list[datetime]:
    """UTC start times on the slot grid of a local date whose meeting fits inside one opening range.

    The grid counts ``slot_step_minutes`` from local midnight. Holidays and closed days have none.
    """
    zone = profile.zone
    step = profile.slot_step_minutes
    midnight = datetime.combine(day, time())
    starts: list[datetime] = []
    for opening in profile.opening_ranges_on(day):
        open_at = profile.wall_time(day, opening.start_minute)
        close_at = profile.wall_time(day, opening.end_minute, fold=1)
        first = -(-opening.start_minute // step) * step  # first grid minute at or after opening
        for minute in range(first, min(opening.end_minute, _MINUTES_PER_DAY), step):
            wall = midnight + timedelta(minutes=minute)
            start = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first occurrence of a repeated time
            if start.astimezone(zone).replace(tzinfo=None) != wall:
                continue  # this wall time does not exist (clocks jumped past it)
            if open_at <= start and start + duration <= close_at:
                starts.append(start)
    return starts


class _Blocked:
    """One advisor's appointments widened by the buffer, merged, for O(log n) overlap tests."""

    def __init__(self, intervals: Sequence[Interval], buffer: timedelta) -> None:
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            start, end = start - buffer, end + buffer
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [m[0] for m in merged]
        self._ends = [m[1] for m in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # Only the last block starting before ``end`` can reach past ``start``: blocks are disjoint.
        index = bisect.bisect_left(self._starts, end) - 1
        return index >= 0 and self._ends[index] > start


class CalendarManager:
    """Finds free slots and books meetings with advisors, enforcing the business profile's rules.

    ``now`` returns the current aware time; inject a fixed clock in tests.
    """

    def __init__(
        self,
        profile: BusinessProfile,
        provider: CalendarProvider,
        *,
        now: Clock | None = None,
        alternatives_count: int = 3,
    ) -> None:
        self.profile = profile
        self.provider = provider
        self._clock = now or _utc_now
        self.alternatives_count = alternatives_count

    # --- rules --------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _require_aware(self._clock(), "now()")

    @property
    def _buffer(self) -> timedelta:
        return timedelta(minutes=self.profile.buffer_minutes)

    def _bookable_window(self, now: datetime) -> tuple[datetime, datetime]:
        """[earliest, latest) start times allowed now: lead time and booking horizon."""
        return (
            now + timedelta(minutes=self.profile.min_lead_time_minutes),
            now + timedelta(days=self.profile.booking_horizon_days),
        )

    def _duration(self, duration_minutes: int | None) -> timedelta:
        minutes = self.profile.meeting_duration_minutes if duration_minutes is None else duration_minutes
        if minutes <= 0:
            raise ValueError("duration_minutes must be positive")
        return timedelta(minutes=minutes)

    def _advisors(self, advisor_id: str | None) -> list[Advisor]:
        if advisor_id is None:
            return list(self.profile.advisors)
        advisor = self.profile.advisor(advisor_id)
        if advisor is None:
            raise ValueError(f"unknown advisor id {advisor_id!r}")
        return [advisor]

    def rule_violation(
        self, start: datetime, duration: timedelta, now: datetime | None = None
    ) -> SchedulingReason | None:
        """Why a meeting at ``start`` breaks the business rules, or None if it may be booked."""
        start = _require_aware(start, "start")
        now = self._now() if now is None else now
        earliest, latest = self._bookable_window(now)
        if start < now:
            return SchedulingReason.IN_THE_PAST
        if start < earliest:
            return SchedulingReason.TOO_SOON
        if start >= latest:
            return SchedulingReason.BEYOND_HORIZON
        local = start.astimezone(self.profile.zone)
        if self.profile.is_holiday(local.date()):
            return SchedulingReason.HOLIDAY
        end = start + duration
        if not any(
            open_at <= start and end <= close_at for open_at, close_at in self.profile.opening_hours_on(local.date())
        ):
            return SchedulingReason.OUTSIDE_BUSINESS_HOURS
        if (local.hour * 60 + local.minute) % self.profile.slot_step_minutes or local.second or local.microsecond:
            return SchedulingReason.NOT_ON_SLOT_GRID
        return None

    # --- availability -------------------------------------------------------------------------

    async def _free_slots(
        self, low: datetime, high: datetime, duration: timedelta, advisors: list[Advisor]
    ) -> list[AvailableTime]:
        """Free (start, advisor) pairs with ``low <= start < high``, sorted by start then profile order."""
        if low >= high:
            return []
        zone = self.profile.zone
        day, last_day = low.astimezone(zone).date(), high.astimezone(zone).date()
        starts: list[datetime] = []
        while day <= last_day:
            starts.extend(s for s in candidate_starts(self.profile, day, duration) if low <= s < high)
            day += timedelta(days=1)
        if not starts:
            return []
        busy = await self.provider.busy_intervals_async(
            [a.id for a in advisors], starts[0] - self._buffer, starts[-1] + duration + self._buffer
        )
        blocked = {a.id: _Blocked(busy.get(a.id, []), self._buffer) for a in advisors}
        return [
            AvailableTime(start=start, end=start + duration, advisor_id=advisor.id, advisor_name=advisor.name)
            for start in starts
            for advisor in advisors
            if not blocked[advisor.id].overlaps(start, start + duration)
        ]

    @handle_manager_errors
    async def find_available_times_async(
        self,
        start_date: datetime,
        end_date: datetime,
        duration_minutes: int | None = None,
        advisor_id: str | None = None,
        limit: int | None = None,
    ) -> list[AvailableTime]:
        """Free slots starting in [start_date, end_date), one entry per free advisor at each start.

        Only bookable slots: on the grid, inside opening hours, not on holidays, after now +
        lead time and before now + horizon, clear of every appointment ± buffer. Sorted by start,
        then by the advisors' order in the profile. ``duration_minutes`` defaults to the profile's.
        """
        now = self._now()
        earliest, latest = self._bookable_window(now)
        low = max(_require_aware(start_date, "start_date"), earliest)
        high = min(_require_aware(end_date, "end_date"), latest)
        slots = await self._free_slots(low, high, self._duration(duration_minutes), self._advisors(advisor_id))
        return slots if limit is None else slots[:limit]

    async def _nearest(
        self, wish: datetime, duration: timedelta, advisor_id: str | None, count: int, now: datetime
    ) -> list[AvailableTime]:
        earliest, latest = self._bookable_window(now)
        slots = await self._free_slots(earliest, latest, duration, self._advisors(advisor_id))
        if advisor_id is None:  # one entry per start time: any free advisor will do
            first_per_start: dict[datetime, AvailableTime] = {}
            for slot in slots:
                first_per_start.setdefault(slot.start, slot)
            slots = list(first_per_start.values())
        zone = self.profile.zone
        wish_day = wish.astimezone(zone).date()
        slots.sort(key=lambda s: (s.start.astimezone(zone).date() != wish_day, abs(s.start - wish), s.start))
        return slots[:count]

    @handle_manager_errors
    async def nearest_available_async(
        self,
        wish: datetime,
        count: int = 3,
        duration_minutes: int | None = None,
        advisor_id: str | None = None,
    ) -> list[AvailableTime]:
        """At most ``count`` free slots closest to a wished time, closest first; the wished day first.

        Without ``advisor_id`` each start time appears once (with the first free advisor).
        """
        wish = _require_aware(wish, "wish")
        return await self._nearest(wish, self._duration(duration_minutes), advisor_id, count, self._now())

    # --- booking ------------------------------------------------------------------------------

    async def _failure(
        self, reason: SchedulingReason, request: AppointmentRequest, advisor_id: str | None, now: datetime
    ) -> SchedulingResult:
        alternatives = await self._nearest(
            request.start, timedelta(minutes=request.duration_minutes), advisor_id, self.alternatives_count, now
        )
        return SchedulingResult(success=False, reason=reason, alternatives=alternatives)

    async def _book(
        self, request: AppointmentRequest, candidates: list[Advisor], replaces: AppointmentDetails | None = None
    ) -> SchedulingResult:
        now = self._now()
        start = request.start.astimezone(UTC)
        duration = timedelta(minutes=request.duration_minutes)
        end = start + duration
        # Alternatives stick to the advisor the caller asked for, else any advisor.
        alternatives_advisor = request.advisor_id if len(candidates) == 1 and request.advisor_id else None
        reason = self.rule_violation(start, duration, now)
        if reason is not None:
            return await self._failure(reason, request, alternatives_advisor, now)
        busy = await self.provider.busy_intervals_async(
            [a.id for a in candidates], start - self._buffer, end + self._buffer
        )
        for advisor in candidates:
            others = [
                (s, e)
                for s, e in busy.get(advisor.id, [])
                if replaces is None or (advisor.id, s, e) != (replaces.advisor_id, replaces.start, replaces.end)
            ]
            if others:
                continue  # known busy: skip the write transaction
            try:
                appointment = await self.provider.book_async(
                    request, advisor, end, self._buffer, replaces=replaces.id if replaces else None
                )
            except AppointmentNotActiveError:
                return SchedulingResult(success=False, reason=SchedulingReason.NOT_FOUND)
            if appointment is not None:
                return SchedulingResult(success=True, appointment=appointment)
        return await self._failure(SchedulingReason.SLOT_TAKEN, request, alternatives_advisor, now)

    @handle_manager_errors
    async def schedule_appointment_async(self, appointment_request: AppointmentRequest) -> SchedulingResult:
        """Book a meeting; on failure ``reason`` says why and ``alternatives`` offers the nearest free slots.

        ``advisor_id`` None books the first advisor (profile order) free at that time. Of several
        callers racing for one advisor's slot exactly one succeeds; the others get ``slot_taken``.
        """
        if appointment_request.advisor_id is not None:
            advisor = self.profile.advisor(appointment_request.advisor_id)
            if advisor is None:
                return await self._failure(SchedulingReason.UNKNOWN_ADVISOR, appointment_request, None, self._now())
            return await self._book(appointment_request, [advisor])
        return await self._book(appointment_request, list(self.profile.advisors))

    @handle_manager_errors
    async def cancel_appointment_async(self, appointment_id: str) -> bool:
        """Cancel a scheduled appointment; False if none with that id is still scheduled."""
        return await self.provider.cancel_async(appointment_id)

    @handle_manager_errors
    async def reschedule_appointment_async(
        self, appointment_id: str, new_start: datetime, duration_minutes: int | None = None
    ) -> SchedulingResult:
        """Move a scheduled appointment: the new one is booked and the old one marked rescheduled, atomically.

        Same advisor if free, else another free advisor; the duration stays unless given. The old
        appointment never blocks its own replacement. Fails with ``not_found`` if it is not scheduled.
        """
        old = await self.provider.get_async(appointment_id)
        if old is None or old.status != AppointmentStatus.SCHEDULED:
            return SchedulingResult(success=False, reason=SchedulingReason.NOT_FOUND)
        minutes = duration_minutes or int((old.end - old.start).total_seconds() // 60)
        request = AppointmentRequest(
            start=_require_aware(new_start, "new_start"),
            duration_minutes=minutes,
            prospect_name=old.prospect_name,
            prospect_phone=old.prospect_phone,
            prospect_email=old.prospect_email,
            lead_id=old.lead_id,
            call_id=old.call_id,
            notes=old.notes,
        )
        candidates = sorted(self.profile.advisors, key=lambda a: a.id != old.advisor_id)
        return await self._book(request, candidates, replaces=old)

    @handle_manager_errors
    async def get_appointment_async(self, appointment_id: str) -> AppointmentDetails | None:
        return await self.provider.get_async(appointment_id)

    @handle_manager_errors
    async def appointments_for_phone_async(self, phone: str, upcoming_only: bool = False) -> list[AppointmentDetails]:
        """The scheduled appointments of a caller (E.164 number), sorted by start."""
        appointments = await self.provider.list_async(phone=phone)
        if upcoming_only:
            now = self._now()
            appointments = [a for a in appointments if a.end > now]
        return appointments


__all__ = ["CalendarManager", "SchedulingReason", "candidate_starts"]

"""The scheduling agent: offer free slots or find the caller's own time, read it back, book on a yes.

Every slot comes from the ``CalendarManager`` (business hours, zone, DST, buffer, lead time,
horizon, holidays). A meeting is booked only after an explicit yes (or key 1) to a read-back
naming day, time and advisor; the booking itself is atomic, and a caller who loses a race
for a slot is offered the nearest free one instead. Known callers can move or cancel the
meeting they have.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from callbot.agents.context import (
    CTX_BOOKED,
    CTX_CALLBACK_REQUESTED,
    CTX_CLOSED,
    CTX_EXISTING,
    CTX_GOAL,
    CTX_OFFERED,
    CTX_PROPOSED,
    CTX_WISH,
    Goal,
    Prompt,
)
from callbot.agents.nlu import Intent as NluIntent
from callbot.agents.nlu import TimeWish, extract_ordinal, parse_when
from callbot.agents.phrases import phrase
from callbot.agents.speaking import clock_text, dtmf_keys_text, slots_text, when_text
from callbot.agents.step import Step
from callbot.errors import ManagerError
from callbot.integrations.calendar.base import SchedulingReason
from callbot.integrations.models import AppointmentDetails, AppointmentRequest, AvailableTime, LeadStatus
from callbot.integrations.phone import normalize_phone

logger = logging.getLogger("callbot.agents.scheduling")

OFFER_COUNT = 3
SEARCH_COUNT = 6  # nearest slots fetched for a wish: enough to find one inside its window
CALLBACK_NOTE = "call-back requested"

_WISH_REASON = {
    SchedulingReason.OUTSIDE_BUSINESS_HOURS: "wish_closed",
    SchedulingReason.NOT_ON_SLOT_GRID: "wish_taken",
    SchedulingReason.HOLIDAY: "wish_holiday",
    SchedulingReason.TOO_SOON: "wish_too_soon",
    SchedulingReason.IN_THE_PAST: "wish_too_soon",
    SchedulingReason.BEYOND_HORIZON: "wish_too_far",
}


def _when(step: Step, slot: AvailableTime | AppointmentDetails) -> str:
    profile = step.config.profile
    assert profile is not None
    return when_text(slot.start, step.now(), profile.zone)


def _caller_phone(step: Step) -> str:
    phone = step.state["caller_phone"] or step.prospect.phone or ""
    return normalize_phone(phone) or phone


def spread_slots(slots: list[AvailableTime], count: int = OFFER_COUNT) -> list[AvailableTime]:
    """A few distinct start times, on different days where possible, earliest first."""
    by_start: dict[object, AvailableTime] = {}
    for slot in slots:
        by_start.setdefault(slot.start, slot)
    ordered = list(by_start.values())
    chosen: list[AvailableTime] = []
    days: set[object] = set()
    for slot in ordered:  # one per day first
        if len(chosen) < count and slot.start.date() not in days:
            chosen.append(slot)
            days.add(slot.start.date())
    for slot in ordered:  # then fill from the earliest
        if len(chosen) < count and slot not in chosen:
            chosen.append(slot)
    return sorted(chosen, key=lambda s: s.start)


def match_offered(offered: list[AvailableTime], wish: TimeWish, step: Step) -> list[AvailableTime]:
    """The offered slots the caller's words point at ("the Friday one", "2 PM", "tomorrow")."""
    profile = step.config.profile
    assert profile is not None

    def fits(slot: AvailableTime) -> bool:
        local = slot.start.astimezone(profile.zone)
        if wish.date is not None and local.date() != wish.date:
            return False
        if wish.date_range is not None and not wish.date_range[0] <= local.date() <= wish.date_range[1]:
            return False
        if wish.weekday is not None and local.weekday() != wish.weekday:
            return False
        if wish.time is not None and local.time() != wish.time:
            return False
        if wish.part_of_day is not None and wish.time is None:
            return wish.earliest.time() <= local.time() < wish.latest.time()
        return True

    return [slot for slot in offered if fits(slot)]


# --- asking --------------------------------------------------------------------------------------


async def ask_next(step: Step) -> bool:
    """Move scheduling on: read back a proposal, search a wish, or offer slots; False if no calendar."""
    if step.config.calendar is None or step.config.profile is None:
        return False
    proposed = step.ctx.get(CTX_PROPOSED)
    if proposed is not None:
        step.ask_phrase(Prompt.CONFIRM_SLOT, "confirm_slot", slot=_when(step, proposed),
                        advisor=proposed.advisor_name)
        return True
    wish_text = step.ctx.pop(CTX_WISH, None)
    if wish_text:
        wish = parse_when(wish_text, step.now(), step.config.profile.zone)
        if wish is not None:
            await resolve_wish(step, wish)
            return True
    if step.ctx.get(CTX_GOAL) == Goal.RESCHEDULE:
        existing = step.ctx.get(CTX_EXISTING)
        if existing is not None:
            step.ask_phrase(Prompt.ASK_TIME, "reschedule_ask", slot=_when(step, existing))
            return True
    offered = step.ctx.get(CTX_OFFERED)
    if not offered:
        offered = await _fresh_offers(step)
        if offered is None:
            return True
    _offer(step, offered, "offer_slots")
    return True


def _offer(step: Step, slots: list[AvailableTime], key: str) -> None:
    profile = step.config.profile
    assert profile is not None
    step.ctx[CTX_OFFERED] = slots
    text = phrase(key, step.lang, slots=slots_text(slots, step.now(), profile.zone))
    if len(slots) > 1:
        text = f"{text} {phrase('press_keys', step.lang, keys=dtmf_keys_text(len(slots)))}"
    step.ask(Prompt.OFFER_SLOTS, text)


async def _fresh_offers(step: Step) -> list[AvailableTime] | None:
    calendar, profile = step.config.calendar, step.config.profile
    assert calendar is not None and profile is not None
    now = step.now()
    try:
        slots = await calendar.find_available_times_async(now, now + timedelta(days=profile.booking_horizon_days))
    except ManagerError as exc:
        _calendar_down(step, exc)
        return None
    if not slots:
        _no_slots(step)
        return None
    return spread_slots(slots)


def _no_slots(step: Step) -> None:
    step.say("no_slots")
    step.ctx[CTX_CALLBACK_REQUESTED] = True
    step.ctx[CTX_CLOSED] = True


def _calendar_down(step: Step, exc: Exception) -> None:
    logger.error("call %s: calendar unavailable (%s)", step.state["call_id"], type(exc).__name__)
    step.say("calendar_down")
    step.ctx[CTX_CALLBACK_REQUESTED] = True
    step.ctx[CTX_CLOSED] = True


def _remember(step: Step, wish: TimeWish) -> None:
    """The caller's wish, kept as the seed's appointment preferences (for the advisor, and the summary)."""
    profile = step.config.profile
    assert profile is not None
    preferences = step.get("appointment_preferences")
    day = wish.preferred.strftime("%A")
    time_ = wish.time.strftime("%H:%M") if wish.time else wish.part_of_day
    step.update["appointment_preferences"] = preferences.model_copy(update={
        "preferred_days": list(dict.fromkeys([*preferences.preferred_days, day])),
        "preferred_times": list(dict.fromkeys([*preferences.preferred_times, *([time_] if time_ else [])])),
        "timezone": profile.timezone, "notes": wish.text})


async def resolve_wish(step: Step, wish: TimeWish) -> None:
    """Propose the free slot nearest the caller's wish if it fits the wish; else say why not and
    offer the nearest free ones."""
    calendar, profile = step.config.calendar, step.config.profile
    assert calendar is not None and profile is not None
    _remember(step, wish)
    step.ctx.pop(CTX_PROPOSED, None)
    try:
        slots = await calendar.nearest_available_async(wish.preferred, count=SEARCH_COUNT)
    except ManagerError as exc:
        _calendar_down(step, exc)
        return
    inside = [s for s in slots if wish.earliest <= s.start <= wish.latest]
    if wish.is_exact:
        inside = [s for s in inside if s.start == wish.preferred]
    if inside:
        _propose(step, inside[0])
        return
    reason = calendar.rule_violation(wish.preferred, timedelta(minutes=profile.meeting_duration_minutes))
    step.say(_WISH_REASON.get(reason, "wish_taken") if reason else "wish_taken")
    if not slots:
        _no_slots(step)
        return
    nearest = spread_slots(slots) if not wish.is_exact else sorted(slots[:OFFER_COUNT], key=lambda s: s.start)
    _offer(step, nearest, "nearest_free")


def _propose(step: Step, slot: AvailableTime) -> None:
    step.ctx[CTX_PROPOSED] = slot
    step.ask_phrase(Prompt.CONFIRM_SLOT, "confirm_slot", slot=_when(step, slot), advisor=slot.advisor_name)


# --- answers -------------------------------------------------------------------------------------


async def scheduling_agent(step: Step) -> None:
    """Handle the caller's turn as an answer to a scheduling question."""
    prompt = step.prompt
    if step.config.calendar is None or step.config.profile is None:
        return
    if prompt is Prompt.OFFER_SLOTS:
        await _answer_offer(step)
    elif prompt is Prompt.ASK_TIME:
        await _answer_time(step)
    elif prompt is Prompt.CONFIRM_SLOT:
        await _answer_confirm(step)
    elif prompt is Prompt.CONFIRM_CANCEL:
        await _answer_cancel(step)
    elif prompt is Prompt.OFFER_CALLBACK:
        await _answer_callback(step)


def _wish(step: Step) -> TimeWish | None:
    profile = step.config.profile
    assert profile is not None
    return parse_when(step.text, step.now(), profile.zone) if step.text else None


async def _answer_offer(step: Step) -> None:
    offered: list[AvailableTime] = step.ctx.get(CTX_OFFERED) or []
    choice = None
    if step.dtmf is not None:
        choice = int(step.dtmf) if step.dtmf.isdigit() else None
    elif step.text:
        choice = extract_ordinal(step.text)
    if choice is not None and offered and (1 <= choice <= len(offered) or -len(offered) <= choice <= -1):
        _propose(step, offered[choice - 1 if choice > 0 else choice])
        return
    wish = _wish(step)
    if wish is not None:
        matches = match_offered(offered, wish, step)
        if matches:
            _propose(step, matches[0])
        else:
            await resolve_wish(step, wish)
        return
    if step.intent in (NluIntent.DENY, NluIntent.RESCHEDULE):  # none of those
        step.ctx.pop(CTX_OFFERED, None)
        step.ask_phrase(Prompt.ASK_TIME, "ask_time_instead")
        return
    step.misunderstood()
    step.say("pick_unclear")


async def _answer_time(step: Step) -> None:
    wish = _wish(step)
    if wish is not None:
        await resolve_wish(step, wish)
        return
    step.misunderstood()
    step.say("time_unclear")
    step.ask_phrase(Prompt.ASK_TIME, "ask_time")


def _amended(step: Step, wish: TimeWish, slot: AvailableTime | AppointmentDetails) -> TimeWish:
    """"Make it Wednesday" keeps the proposed time; "make it 3 instead" keeps the proposed day."""
    profile = step.config.profile
    assert profile is not None
    local = slot.start.astimezone(profile.zone)
    if wish.time is None and wish.part_of_day is None:
        amended = f"{step.text} at {clock_text(local)}"
    elif wish.date is None and wish.weekday is None and wish.date_range is None:
        amended = f"{step.text} on {local:%B} {local.day}"
    else:
        return wish
    return parse_when(amended, step.now(), profile.zone) or wish


async def _answer_confirm(step: Step) -> None:
    offered: list[AvailableTime] = step.ctx.get(CTX_OFFERED) or []
    choice = extract_ordinal(step.text) if step.text else None
    if choice is not None and offered and (1 <= choice <= len(offered) or -len(offered) <= choice <= -1):
        _propose(step, offered[choice - 1 if choice > 0 else choice])  # "the first one": another pick, read back
        return
    answer = step.yes_no()
    wish = _wish(step) if step.intent is not NluIntent.AFFIRM else None
    if wish is not None:  # "actually, make it Wednesday": a new wish, read back again
        await resolve_wish(step, _amended(step, wish, step.ctx[CTX_PROPOSED]))
        return
    if answer and step.intent is not NluIntent.RESCHEDULE:
        await _book(step)
    elif answer is False or step.intent is NluIntent.RESCHEDULE:  # "no, another day"
        step.ctx.pop(CTX_PROPOSED, None)
        step.ask_phrase(Prompt.ASK_TIME, "ask_time_instead")
    else:
        step.misunderstood()
        step.say("yes_no_unclear")


async def _book(step: Step) -> None:
    calendar, profile = step.config.calendar, step.config.profile
    assert calendar is not None and profile is not None
    slot: AvailableTime = step.ctx.pop(CTX_PROPOSED)
    existing: AppointmentDetails | None = step.ctx.get(CTX_EXISTING)
    rescheduling = step.ctx.get(CTX_GOAL) == Goal.RESCHEDULE and existing is not None
    prospect = step.prospect
    try:
        if rescheduling:
            assert existing is not None
            result = await calendar.reschedule_appointment_async(existing.id, slot.start)
        else:
            result = await calendar.schedule_appointment_async(AppointmentRequest(
                start=slot.start, duration_minutes=profile.meeting_duration_minutes, advisor_id=slot.advisor_id,
                prospect_name=prospect.name, prospect_phone=_caller_phone(step), prospect_email=prospect.email,
                lead_id=step.state["salesforce_lead_id"], call_id=step.state["call_id"],
                notes=prospect.interest))
    except ManagerError as exc:
        _calendar_down(step, exc)
        return
    if result.success and result.appointment is not None:
        await _booked(step, result.appointment, "rescheduled" if rescheduling else "booked")
        return
    # Taken a moment ago (another caller won the race): offer the nearest free time instead.
    try:
        nearest = await calendar.nearest_available_async(slot.start, count=OFFER_COUNT + 1)
    except ManagerError as exc:
        _calendar_down(step, exc)
        return
    nearest = [s for s in nearest if (s.start, s.advisor_id) != (slot.start, slot.advisor_id)]
    if not nearest:
        _no_slots(step)
        return
    step.ctx[CTX_PROPOSED] = nearest[0]
    step.ask_phrase(Prompt.CONFIRM_SLOT, "slot_taken_now", slot=_when(step, nearest[0]),
                    advisor=nearest[0].advisor_name)


async def _booked(step: Step, appointment: AppointmentDetails, key: str) -> None:
    step.ctx[CTX_BOOKED] = appointment
    step.ctx[CTX_EXISTING] = appointment
    step.ctx[CTX_CLOSED] = True
    step.ctx.pop(CTX_OFFERED, None)
    step.ctx[CTX_GOAL] = None
    step.update["appointment_scheduled"] = appointment.start
    step.update["calendar_event_id"] = appointment.id
    step.say(key, slot=_when(step, appointment), advisor=appointment.advisor_name)
    await _sync_to_crm(step, appointment)
    if step.ctx.get(CTX_CALLBACK_REQUESTED):
        return  # a call-back: the lead's status says so (written at the end of the call)
    await step.set_lead_status(LeadStatus.MEETING_BOOKED, "meeting booked on a call")


async def _sync_to_crm(step: Step, appointment: AppointmentDetails) -> None:
    crm, lead_id = step.config.crm, step.state["salesforce_lead_id"]
    if crm is None or not lead_id:
        return
    try:
        await crm.sync_appointment_to_crm_async(appointment, lead_id)
    except ManagerError as exc:
        logger.warning("call %s: appointment not synced to the CRM (%s)", step.state["call_id"], type(exc).__name__)


# --- the meeting a caller already has ---------------------------------------------------------------


async def _existing(step: Step) -> AppointmentDetails | None:
    existing = step.ctx.get(CTX_EXISTING)
    if existing is not None or step.config.calendar is None:
        return existing
    try:
        upcoming = await step.config.calendar.appointments_for_phone_async(_caller_phone(step), upcoming_only=True)
    except ManagerError:
        return None
    return upcoming[0] if upcoming else None


async def lookup_existing(step: Step) -> AppointmentDetails | None:
    """The caller's next meeting (remembered in the context), for the greeting of a known caller."""
    existing = await _existing(step)
    if existing is not None:
        step.ctx[CTX_EXISTING] = existing
    return existing


async def manage_agent(step: Step) -> None:
    """"Can I move my meeting?" / "I need to cancel": find the meeting, then change it."""
    existing = await lookup_existing(step)
    if existing is None:
        step.say("no_meeting_found")
        step.ask_phrase(Prompt.OFFER_MEETING, "offer_meeting")
        return
    if step.intent is NluIntent.CANCEL:
        step.ask_phrase(Prompt.CONFIRM_CANCEL, "confirm_cancel", slot=_when(step, existing))
        return
    step.ctx[CTX_GOAL] = Goal.RESCHEDULE
    step.ctx[CTX_CLOSED] = False
    step.ctx.pop(CTX_PROPOSED, None)
    step.ctx.pop(CTX_OFFERED, None)
    wish = _wish(step)
    if wish is not None:
        await resolve_wish(step, _amended(step, wish, existing))


async def _answer_cancel(step: Step) -> None:
    calendar = step.config.calendar
    existing: AppointmentDetails | None = step.ctx.get(CTX_EXISTING)
    answer = step.yes_no()
    if answer is None or existing is None or calendar is None:
        step.misunderstood()
        step.say("yes_no_unclear")
        step.ask_phrase(Prompt.CONFIRM_CANCEL, "confirm_cancel",
                        slot=_when(step, existing) if existing else "")
        return
    step.ctx[CTX_CLOSED] = True
    if not answer:
        step.say("not_cancelled")
        return
    try:
        await calendar.cancel_appointment_async(existing.id)
        cancelled = await calendar.get_appointment_async(existing.id)
    except ManagerError as exc:
        _calendar_down(step, exc)
        return
    step.ctx[CTX_EXISTING] = None
    step.ctx[CTX_BOOKED] = None
    step.update["appointment_scheduled"] = None
    step.update["calendar_event_id"] = None
    step.say("cancelled")
    if cancelled is not None:
        await _sync_to_crm(step, cancelled)
    await step.set_lead_status(LeadStatus.CONTACTED, "meeting cancelled on a call")


# --- a call-back instead of a transfer -----------------------------------------------------------


async def offer_callback(step: Step) -> bool:
    """Advisors are away: offer the first free slot as a call-back. False if there is none to offer."""
    calendar = step.config.calendar
    if calendar is None:
        return False
    try:
        slots = await calendar.nearest_available_async(step.now(), count=1)
    except ManagerError:
        return False
    if not slots:
        return False
    step.ctx[CTX_PROPOSED] = slots[0]
    step.ask_phrase(Prompt.OFFER_CALLBACK, "offer_callback", slot=_when(step, slots[0]))
    return True


async def _answer_callback(step: Step) -> None:
    answer = step.yes_no()
    step.ctx[CTX_CALLBACK_REQUESTED] = True
    if answer:
        slot: AvailableTime = step.ctx[CTX_PROPOSED]
        prospect = step.prospect
        calendar = step.config.calendar
        assert calendar is not None and step.config.profile is not None
        try:
            result = await calendar.schedule_appointment_async(AppointmentRequest(
                start=slot.start, duration_minutes=step.config.profile.meeting_duration_minutes,
                advisor_id=slot.advisor_id, prospect_name=prospect.name, prospect_phone=_caller_phone(step),
                prospect_email=prospect.email, lead_id=step.state["salesforce_lead_id"],
                call_id=step.state["call_id"], notes=CALLBACK_NOTE))
        except ManagerError as exc:
            _calendar_down(step, exc)
            return
        step.ctx.pop(CTX_PROPOSED, None)
        if result.success and result.appointment is not None:
            await _booked(step, result.appointment, "callback_booked")
            return
    step.ctx.pop(CTX_PROPOSED, None)
    step.say("callback_noted")
    step.ctx[CTX_CLOSED] = True

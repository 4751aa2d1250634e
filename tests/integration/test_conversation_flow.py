"""The sales conversation turn by turn, as text: the real graph, NLU, FAQ, and SQLite calendar and CRM.

The clock is fixed on Tuesday 2026-12-01 at 10:00 in New York (business hours), unless a test
says otherwise. The end-to-end scenarios (tests/e2e) run the same conversations as phone calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callbot.agents.graph import AgentConfig, AgentGraph
from callbot.agents.knowledge import KnowledgeBase, shared_knowledge_base
from callbot.agents.phrases import phrase
from callbot.agents.state import CallerInfo, ConversationPhase, NextAction
from callbot.business.profile import load_profile
from callbot.integrations.calendar.local import LocalCalendarProvider
from callbot.integrations.crm.base import LeadFields
from callbot.integrations.crm.local import LocalCRMProvider
from callbot.integrations.models import AppointmentRequest, AppointmentStatus, LeadStatus
from callbot.managers.calendar import CalendarManager
from callbot.managers.conversation import ConversationConfig, ConversationManager, ConversationResponse
from callbot.managers.crm import CRMManager
from callbot.managers.state import StateManager
from callbot.storage.state import MemoryStorageBackend

NEW_YORK = ZoneInfo("America/New_York")
TUESDAY_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=NEW_YORK)
PROFILE = load_profile(None)
PHONE = "+15550142001"


@pytest.fixture(scope="module")
def knowledge() -> KnowledgeBase:
    assert PROFILE.faq_dir is not None
    return shared_knowledge_base(PROFILE.faq_dir)


@dataclass
class Line:
    """One test's phone line: a conversation manager over real stores, and the call on it."""

    conversations: ConversationManager
    calendar: CalendarManager
    crm: LocalCRMProvider
    call_id: str = "CA1"
    phone: str = PHONE

    async def start(self, call_id: str = "CA1", phone: str = PHONE) -> str:
        self.call_id, self.phone = call_id, phone
        state = await self.conversations.start_conversation_async(call_id, CallerInfo(phone_number=phone))
        return state["current_agent_response"]

    async def say(self, text: str) -> ConversationResponse:
        return await self.conversations.process_user_input_async(self.call_id, text)

    async def press(self, digit: str) -> ConversationResponse:
        return await self.conversations.handle_dtmf_async(self.call_id, digit)

    async def talk(self, *lines: str) -> list[str]:
        return [(await self.say(text)).agent_response for text in lines]

    async def lead(self) -> object:
        [lead] = await self.crm.list_leads_async(self.phone)
        return lead

    async def meetings(self) -> list:
        return [a for a in await self.calendar.provider.list_async(phone=self.phone)
                if a.status == AppointmentStatus.SCHEDULED]

    async def end(self) -> None:
        await self.conversations.end_conversation_async(self.call_id, "caller_hung_up")


async def open_line(tmp: Path, knowledge: KnowledgeBase, now: datetime = TUESDAY_10AM) -> Line:
    calendar = CalendarManager(PROFILE, LocalCalendarProvider(f"sqlite:///{tmp / 'calendar.db'}"), now=lambda: now)
    crm = LocalCRMProvider(f"sqlite:///{tmp / 'crm.db'}")
    await calendar.provider.init_async()
    await crm.init_async()
    manager = CRMManager(crm)
    graph = AgentGraph(AgentConfig(company_name=PROFILE.company_name, profile=PROFILE, calendar=calendar,
                                   crm=manager, knowledge=knowledge, now=lambda: now))
    conversations = ConversationManager(ConversationConfig(), StateManager(MemoryStorageBackend()), graph, crm=manager)
    return Line(conversations, calendar, crm)


@pytest.fixture
async def line(tmp_path: Path, knowledge: KnowledgeBase) -> AsyncIterator[Line]:
    opened = await open_line(tmp_path, knowledge)
    yield opened
    await opened.calendar.provider.close_async()
    await opened.crm.close_async()


async def known_caller(line: Line, status: LeadStatus = LeadStatus.QUALIFIED, phone: str = PHONE,
                       **fields: str) -> None:
    fields = {"name": "Maria Garcia", "email": "maria@example.com", "interest": "UX Design Certificate", **fields}
    record = await line.crm.upsert_lead_async(LeadFields(**fields), phone)
    await line.crm.update_status_async(record.id, status, "test")


QUALIFYING_ANSWERS = ("within a month", "my employer would pay", "yes")


# --- a new prospect ---------------------------------------------------------------------------


async def test_a_new_prospect_is_captured_qualified_and_booked(line: Line) -> None:
    assert (await line.start()).startswith("Hello, thanks for calling Northwind Academy!")
    replies = await line.talk("Hi, I'm John Smith, I'd like to learn about the data analytics bootcamp.",
                              "john dot smith at gmail dot com")
    assert replies[0] == "Thanks, John. " + phrase("ask_email")
    assert replies[1] == phrase("confirm_email", email="j o h n . s m i t h at gmail dot com").replace(
        " . ", " dot ")  # the part before the @ spelled out
    replies = await line.talk("yes", *QUALIFYING_ANSWERS)
    assert replies[0].startswith(phrase("qualify_intro"))
    assert "I can offer today at 12 PM, tomorrow at 9 AM, or on Thursday at 9 AM." in replies[-1]
    assert replies[-1].endswith("You can also press 1, 2, or 3.")
    read_back = await line.say("the second one")
    assert read_back.agent_response == "That would be with Maria Lopez tomorrow at 9 AM. Shall I book it?"
    assert await line.meetings() == []  # nothing booked before the yes
    booked = await line.say("yes please")
    assert booked.agent_response.startswith("You're booked with Maria Lopez tomorrow at 9 AM.")
    assert booked.conversation_phase == ConversationPhase.CONFIRMATION
    [meeting] = await line.meetings()
    assert meeting.start == datetime(2026, 12, 2, 9, 0, tzinfo=NEW_YORK)
    assert (meeting.prospect_name, meeting.prospect_email) == ("John Smith", "john.smith@gmail.com")
    assert (await line.say("no thanks")).next_action == NextAction.END_CALL
    await line.end()
    lead = await line.lead()
    assert (lead.name, lead.email, lead.interest) == ("John Smith", "john.smith@gmail.com", "Data Analytics Bootcamp")
    assert lead.status == LeadStatus.MEETING_BOOKED
    assert lead.qualification_score == 8
    assert "funding: my employer would pay" in lead.notes
    [attached] = await line.crm.list_appointments_async(lead.id)
    assert attached.id == meeting.id


async def test_a_wrong_email_is_spelled_again_and_a_name_corrected(line: Line) -> None:
    await line.start()
    replies = await line.talk("I'd like to book a meeting", "My name is Jon Smith", "No, it's John, J O H N",
                              "sarah at example dot com", "no", "s a r a h m at example dot com", "yes")
    assert replies[1] == "Thanks, Jon. " + phrase("ask_email")
    assert replies[2].startswith("Thanks, John.")
    assert replies[4] == phrase("spell_email")
    assert replies[5] == phrase("confirm_email", email="s a r a h m at example dot com")
    assert replies[6].startswith(phrase("ask_interest", programs="Data Analytics Bootcamp, UX Design Certificate, "
                                        "Python for Beginners, or AI for Managers"))
    await line.end()
    lead = await line.lead()
    assert (lead.name, lead.email) == ("John Smith", "sarahm@example.com")


async def test_a_prospect_who_does_not_qualify_is_closed_politely(line: Line) -> None:
    await line.start()
    replies = await line.talk("Hi, I'm Dave Brown, I'm interested in the Python course.", "I don't have an email",
                              "later, maybe next year", "no budget yet", "no")
    assert replies[-1] == f"{phrase('not_qualified')} {phrase('anything_else')}"
    await line.end()
    lead = await line.lead()
    assert (lead.status, lead.qualification_score, lead.email) == (LeadStatus.NOT_QUALIFIED, 0, None)
    assert await line.meetings() == []


async def test_an_unclear_qualification_answer_is_asked_once_more_with_the_options(line: Line) -> None:
    await known_caller(line, LeadStatus.NEW)
    await line.start()
    replies = await line.talk("I'd like to book a meeting", "hmm, purple elephants")
    assert replies[1] == phrase("qualify_reask", options="within a month, in the next three months, or later")
    replies = await line.talk("the first one")
    assert replies[0] == PROFILE.qualification.questions[1].text


# --- scheduling -------------------------------------------------------------------------------


async def test_the_callers_own_time_is_found_and_read_back(line: Line) -> None:
    await known_caller(line)
    await line.start()
    reply = await line.say("Can I book a meeting for Thursday at 3 PM?")
    assert reply.agent_response == "That would be with Maria Lopez on Thursday at 3 PM. Shall I book it?"
    reply = await line.say("actually, make it Wednesday")  # the time stays
    assert reply.agent_response == "That would be with Maria Lopez tomorrow at 3 PM. Shall I book it?"
    preferences = (await line.conversations.get_conversation_state_async("CA1"))["appointment_preferences"]
    assert (preferences.preferred_days, preferences.preferred_times) == (["Thursday", "Wednesday"], ["15:00"])
    await line.say("yes")
    [meeting] = await line.meetings()
    assert meeting.start == datetime(2026, 12, 2, 15, 0, tzinfo=NEW_YORK)


async def test_a_wish_outside_hours_gets_the_nearest_open_times(line: Line) -> None:
    await known_caller(line)
    await line.start()
    reply = await line.say("I'd like to book a meeting on Sunday at 10 AM")
    nearest = "The nearest free times are on Saturday at 11:30 AM"
    assert reply.agent_response.startswith(f"{phrase('wish_closed')} {nearest}")
    reply = await line.say("the last one")
    assert "on Saturday at 12:30 PM" in reply.agent_response


async def test_a_holiday_is_closed(tmp_path: Path, knowledge: KnowledgeBase) -> None:
    line = await open_line(tmp_path, knowledge, now=datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK))
    await known_caller(line)
    await line.start()
    reply = await line.say("Can we meet on Thursday at 10 AM?")  # Thanksgiving
    assert reply.agent_response.startswith(f"{phrase('wish_holiday')} The nearest free times are")


async def test_a_taken_time_offers_the_nearest_free_ones(line: Line) -> None:
    for advisor, phone in (("maria", "+15550179001"), ("james", "+15550179002")):
        result = await line.calendar.schedule_appointment_async(AppointmentRequest(
            start=datetime(2026, 12, 4, 10, 0, tzinfo=NEW_YORK), advisor_id=advisor, prospect_phone=phone))
        assert result.success
    await known_caller(line)
    await line.start()
    reply = await line.say("Can I book a meeting for Friday at 10 AM?")
    assert reply.agent_response.startswith(phrase("wish_taken") + " The nearest free times are on Friday at 9 AM")


async def test_keys_pick_a_slot_and_say_yes(line: Line) -> None:
    await known_caller(line)
    await line.start()
    await line.say("I'd like to book a meeting")
    assert (await line.press("3")).agent_response.endswith("on Thursday at 9 AM. Shall I book it?")
    assert (await line.press("1")).agent_response.startswith("You're booked")
    [meeting] = await line.meetings()
    assert meeting.start == datetime(2026, 12, 3, 9, 0, tzinfo=NEW_YORK)


async def test_no_to_the_read_back_asks_for_another_time(line: Line) -> None:
    await known_caller(line)
    await line.start()
    await line.say("I'd like to book a meeting")
    await line.press("1")
    assert (await line.press("2")).agent_response == phrase("ask_time_instead")
    assert await line.meetings() == []


async def test_two_callers_booking_the_same_slot_one_is_offered_the_next(tmp_path: Path,
                                                                      knowledge: KnowledgeBase) -> None:
    first, second = await open_line(tmp_path, knowledge), await open_line(tmp_path, knowledge)
    # James is busy then: only Maria's slot is left.
    await first.calendar.schedule_appointment_async(AppointmentRequest(
        start=datetime(2026, 12, 3, 16, 0, tzinfo=NEW_YORK), advisor_id="james", prospect_phone="+15550179003"))
    for line, call, phone in ((first, "CA1", "+15550142001"), (second, "CA2", "+15550142002")):
        await known_caller(line, phone=phone)
        await line.start(call, phone)
        reply = await line.say("Can I book a meeting for Thursday at 4 PM?")
        assert reply.agent_response.endswith("on Thursday at 4 PM. Shall I book it?")
    assert (await first.say("yes")).agent_response.startswith("You're booked")
    lost = await second.say("yes")
    assert lost.agent_response.startswith("I'm sorry, that time was just taken.")
    assert lost.agent_response.endswith("Shall I book that instead?")
    assert (await second.say("yes")).agent_response.startswith("You're booked")
    [won], [other] = await first.meetings(), await second.meetings()
    assert won.start == datetime(2026, 12, 3, 16, 0, tzinfo=NEW_YORK) != other.start


# --- known callers ----------------------------------------------------------------------------


async def test_a_known_caller_moves_and_then_cancels_the_meeting(line: Line) -> None:
    await known_caller(line, LeadStatus.MEETING_BOOKED)
    await line.calendar.schedule_appointment_async(AppointmentRequest(
        start=datetime(2026, 12, 3, 14, 0, tzinfo=NEW_YORK), prospect_phone=PHONE))
    greeting = await line.start()
    assert greeting == ("Welcome back, Maria! I see your meeting on Thursday at 2 PM. "
                        "Would you like to keep it, move it, or cancel it?")
    reply = await line.say("I need to move it to Friday at 11 AM")
    assert reply.agent_response == "That would be with Maria Lopez on Friday at 11 AM. Shall I book it?"
    assert (await line.say("yes")).agent_response.startswith("Done: your meeting is now with Maria Lopez on Friday")
    [moved] = await line.meetings()
    assert moved.start == datetime(2026, 12, 4, 11, 0, tzinfo=NEW_YORK)
    assert (await line.say("actually, I want to cancel it")).agent_response == (
        "Shall I cancel your meeting on Friday at 11 AM?")
    await line.say("yes")
    assert await line.meetings() == []
    await line.end()
    assert (await line.lead()).status == LeadStatus.CONTACTED


async def test_a_known_qualified_caller_goes_straight_to_the_slots(line: Line) -> None:
    await known_caller(line)
    assert (await line.start()).startswith("Welcome back, Maria!")
    reply = await line.say("I'd like to book a meeting")
    assert reply.agent_response.startswith("I can offer")


# --- anywhere in the call ---------------------------------------------------------------------


async def test_a_question_is_answered_and_the_question_pending_is_asked_again(line: Line) -> None:
    await line.start()
    asked = (await line.say("I'd like to book a meeting")).agent_response
    reply = await line.say("Is it online?")
    assert "online" in reply.agent_response.lower()
    assert reply.agent_response.endswith(asked)


async def test_repeat_says_the_last_reply_again(line: Line) -> None:
    await known_caller(line)
    await line.start()
    offer = (await line.say("I'd like to book a meeting")).agent_response
    assert (await line.say("sorry, can you repeat that?")).agent_response == offer
    assert (await line.say("the first one")).agent_response.endswith("Shall I book it?")


async def test_after_hours_a_person_becomes_a_call_back_slot(tmp_path: Path, knowledge: KnowledgeBase) -> None:
    line = await open_line(tmp_path, knowledge, now=datetime(2026, 12, 1, 21, 0, tzinfo=NEW_YORK))
    await line.start()
    reply = await line.say("Can I talk to a real person?")
    assert reply.agent_response == phrase("offer_callback", slot="tomorrow at 9 AM")
    reply = await line.say("yes")
    assert reply.agent_response.startswith("Done: Maria Lopez will call you tomorrow at 9 AM.")
    await line.end()
    [meeting] = await line.meetings()
    assert meeting.notes == "call-back requested"
    assert (await line.lead()).status == LeadStatus.CALLBACK_REQUESTED


async def test_repeated_misunderstanding_offers_a_person(line: Line) -> None:
    await known_caller(line)
    await line.start()
    await line.say("I'd like to book a meeting")
    replies = await line.talk("blah", "hmm hmm", "blah blah")
    assert replies[0].startswith(phrase("pick_unclear"))
    assert replies[-1] == phrase("offer_human")
    reply = await line.say("yes")
    assert reply.next_action == NextAction.TRANSFER


async def test_repeated_misunderstanding_after_hours_ends_politely_and_keeps_the_lead(
        tmp_path: Path, knowledge: KnowledgeBase) -> None:
    line = await open_line(tmp_path, knowledge, now=datetime(2026, 12, 1, 21, 0, tzinfo=NEW_YORK))
    await line.start()
    await line.talk("Hi, this is Anna Bell, I'm interested in the UX design certificate.", "I don't have an email",
                    *QUALIFYING_ANSWERS)
    replies = await line.talk("blah", "hmm hmm", "blah blah")
    assert replies[-1] == phrase("trouble_goodbye")
    await line.end()
    lead = await line.lead()
    assert (lead.name, lead.interest, lead.status) == ("Anna Bell", "UX Design Certificate", LeadStatus.QUALIFIED)


async def test_im_followed_by_a_lower_case_word_is_no_name(line: Line) -> None:
    await line.start()
    replies = await line.talk("I'd like to book a meeting", "I'm mostly interested in data analysis.",
                              "I'm Peter Parker")
    assert replies[1] == phrase("ask_name_again")  # the program was taken, the name was not
    assert replies[2].startswith("Thanks, Peter.")
    await line.end()
    lead = await line.lead()
    assert (lead.name, lead.interest) == ("Peter Parker", "Data Analytics Bootcamp")


async def test_a_question_inside_a_longer_turn_is_answered_too(line: Line) -> None:
    await line.start()
    reply = await line.say("Hi, I'm John Smith. How much is the data analytics bootcamp?")
    assert reply.agent_response.startswith("Thanks, John. Data Analytics Bootcamp: 6,900 US dollars")
    assert reply.agent_response.endswith(phrase("ask_email"))  # and on with the lead

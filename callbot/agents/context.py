"""What the graph's nodes remember between turns, in ``state["agent_context"]``.

The context stays JSON-friendly (see ``state.register_context_type``): plain values, the
registered enums and models, and aware datetimes.
"""

from __future__ import annotations

from enum import StrEnum

from callbot.agents.state import register_context_type
from callbot.integrations.models import AppointmentDetails, AvailableTime


class Prompt(StrEnum):
    """The question the bot asked last: it decides what the caller's next words are an answer to."""

    GREETING = "greeting"
    HOW_CAN_I_HELP = "how_can_i_help"
    KNOWN_MENU = "known_menu"  # a known caller: book, or change the meeting they have
    ASK_NAME = "ask_name"
    ASK_EMAIL = "ask_email"
    CONFIRM_EMAIL = "confirm_email"
    SPELL_EMAIL = "spell_email"
    ASK_INTEREST = "ask_interest"
    QUALIFY = "qualify"  # the question in CTX_QUESTION
    OFFER_MEETING = "offer_meeting"
    OFFER_SLOTS = "offer_slots"  # the slots in CTX_OFFERED
    ASK_TIME = "ask_time"
    CONFIRM_SLOT = "confirm_slot"  # the slot in CTX_PROPOSED
    CONFIRM_CANCEL = "confirm_cancel"
    OFFER_CALLBACK = "offer_callback"  # a call-back at CTX_PROPOSED
    OFFER_HUMAN = "offer_human"
    ANYTHING_ELSE = "anything_else"


# What the caller is expected to say after each prompt, for the optional language model.
EXPECTED: dict[Prompt, str] = {
    Prompt.ASK_NAME: "their name",
    Prompt.ASK_EMAIL: "an e-mail address",
    Prompt.SPELL_EMAIL: "an e-mail address, spelled",
    Prompt.ASK_INTEREST: "which training program interests them",
    Prompt.OFFER_SLOTS: "a choice among the meeting times offered, or another day and time",
    Prompt.ASK_TIME: "a day and time for a meeting",
    Prompt.QUALIFY: "an answer to a qualification question",
}

# What the intent classifier should take a short answer to each prompt as (nlu.intents contexts).
NLU_CONTEXT: dict[Prompt, str] = {
    Prompt.ASK_NAME: "name",
    Prompt.ASK_EMAIL: "email",
    Prompt.SPELL_EMAIL: "email",
    Prompt.CONFIRM_EMAIL: "confirm",
    Prompt.CONFIRM_SLOT: "confirm",
    Prompt.CONFIRM_CANCEL: "confirm",
    Prompt.OFFER_MEETING: "yes_no",
    Prompt.OFFER_CALLBACK: "yes_no",
    Prompt.OFFER_HUMAN: "yes_no",
    Prompt.OFFER_SLOTS: "slot_choice",
    Prompt.ASK_TIME: "time",
    Prompt.ANYTHING_ELSE: "anything_else",
}


class Goal(StrEnum):
    """What the caller came for, once known."""

    BOOK = "book"
    RESCHEDULE = "reschedule"


# --- keys ------------------------------------------------------------------------------------
CTX_INTENT = "intent"  # the rule intent of the caller's last turn (graph.Intent)
CTX_NLU_INTENT = "nlu_intent"  # the offline NLU's intent of the caller's last turn
CTX_LAST_PROMPT = "last_prompt"  # the Prompt the bot asked last
CTX_SAID = "said"  # sentences of the reply being built this turn, before the next question
CTX_REPLY_DONE = "reply_done"  # a node has produced the whole reply: ask nothing more
CTX_ASKING = "asking"  # the Prompt this turn's reply ends with (None: no question)
CTX_ASKING_TEXT = "asking_text"  # ... and its words
CTX_LAST_QUESTION = "last_question"  # the words of the last question, to ask it again
CTX_END_REASON = "end_reason"
CTX_TRANSFER_TO = "transfer_to"  # the number the call is being transferred to
CTX_CALLBACK_REQUESTED = "callback_requested"  # asked for a person when none was available
CTX_KNOWN_CALLER = "known_caller"  # the caller's number belongs to a lead the CRM already knows
CTX_LEAD_STATUS = "lead_status"  # the lead's status in the CRM at the start of the call
CTX_DTMF = "dtmf"  # the key the caller pressed this turn, if any
CTX_ALSO_ASKED = "also_asked"  # a question asked in a turn that also said other things ("I'm John. How much…?")
CTX_LLM_SLOTS = "llm_slots"  # values the language model heard this turn (when the offline NLU heard none)

CTX_GOAL = "goal"
CTX_EMAIL_CANDIDATE = "email_candidate"  # heard but not yet confirmed
CTX_EMAIL_DONE = "email_done"  # confirmed, declined or given up on
CTX_EMAIL_TRIES = "email_tries"
CTX_NAME_TRIES = "name_tries"
CTX_INTEREST_ASKED = "interest_asked"
CTX_QUESTION = "question"  # id of the qualification question being asked
CTX_ANSWERS = "answers"  # qualification answers by question id (None: no usable answer)
CTX_REASKED = "reasked"  # the current question was already asked again once
CTX_OFFERED = "offered"  # list[AvailableTime] read to the caller
CTX_PROPOSED = "proposed"  # AvailableTime read back, waiting for a yes
CTX_EXISTING = "existing"  # AppointmentDetails: the meeting the caller already has
CTX_BOOKED = "booked"  # AppointmentDetails booked on this call
CTX_CLOSED = "closed"  # the business part is over (booked, not qualified, declined): only "anything else?"
CTX_QUALIFIED = "qualified"  # True / False once scored
CTX_PHASES = "phases"  # the phases the call went through, in order (for the summary)
CTX_WISH = "wish"  # the caller's own words for when, not yet searched

for _cls in (Prompt, Goal, AvailableTime, AppointmentDetails):
    register_context_type(_cls)

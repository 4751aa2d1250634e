"""The conversation graph (LangGraph): one run per caller turn, from transcript to reply.

    START ─▶ greet ───────────────────────────────────────────────┐
          └▶ understand ─▶ lead | qualify | schedule | manage     ├▶ advance ─▶ END
                        ─▶ inform | repeat | transfer | goodbye   │
                        ─▶ trouble ───────────────────────────────┘

``understand`` classifies the turn (rules, then embeddings, in the context of the question
the bot asked last). Commands win everywhere: goodbye, a person, "repeat that", a question
about the offer, move or cancel a meeting. Anything else answers the last question and goes
to the agent that asked it. Each node adds sentences and may ask a question; ``advance``
asks what comes next when no node did (the next missing lead field, qualification question,
slot offer...) — which is also how the call resumes after a question — and assembles the
reply. The graph is compiled once per process and keeps no state (no checkpointer): the
state lives in the ``StateManager``, per-call tools travel in the run's context.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from enum import StrEnum
from functools import cache
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from callbot.agents import lead, qualification, scheduling
from callbot.agents.closing import Intent, detect_intent
from callbot.agents.context import (
    CTX_ALSO_ASKED,
    CTX_ASKING,
    CTX_ASKING_TEXT,
    CTX_BOOKED,
    CTX_CALLBACK_REQUESTED,
    CTX_CLOSED,
    CTX_DTMF,
    CTX_END_REASON,
    CTX_EXISTING,
    CTX_GOAL,
    CTX_INTENT,
    CTX_KNOWN_CALLER,
    CTX_LAST_PROMPT,
    CTX_LAST_QUESTION,
    CTX_LEAD_STATUS,
    CTX_LLM_SLOTS,
    CTX_NLU_INTENT,
    CTX_PHASES,
    CTX_QUALIFIED,
    CTX_REPLY_DONE,
    CTX_SAID,
    CTX_TRANSFER_TO,
    CTX_WISH,
    EXPECTED,
    NLU_CONTEXT,
    Goal,
    Prompt,
)
from callbot.agents.llm import LLMUnavailable
from callbot.agents.nlu import Intent as NluIntent
from callbot.agents.nlu import classify
from callbot.agents.phrases import phrase
from callbot.agents.speaking import when_text
from callbot.agents.state import AgentType, ConversationPhase, NextAction, PhoneConversationState, make_turn
from callbot.agents.step import AgentConfig, Step
from callbot.integrations.models import LeadStatus

logger = logging.getLogger("callbot.agents.graph")

__all__ = [
    "CTX_CALLBACK_REQUESTED", "CTX_END_REASON", "CTX_KNOWN_CALLER", "CTX_LAST_PROMPT", "CTX_LEAD_STATUS",
    "CTX_TRANSFER_TO", "AgentConfig", "AgentGraph", "EndReason", "Intent", "detect_intent",
]  # fmt: skip


class Node(StrEnum):
    GREET = "greet"
    UNDERSTAND = "understand"
    LEAD = "lead"
    QUALIFY = "qualify"
    SCHEDULE = "schedule"
    MANAGE = "manage"  # move or cancel a meeting
    INFORM = "inform"  # answer a question from the FAQ
    REPEAT = "repeat"
    TRANSFER = "transfer"
    GOODBYE = "goodbye"
    TROUBLE = "trouble"  # nothing intelligible was said
    ADVANCE = "advance"


class EndReason(StrEnum):
    """Why the bot ended the call; kept in ``agent_context["end_reason"]``."""

    COMPLETED = "completed"
    SILENCE = "silence"
    MISUNDERSTANDINGS = "misunderstandings"


# --- nodes -----------------------------------------------------------------------------------
# Each node takes a Step, works, and returns its update; ``advance`` finishes every reply.

_LEAD_PROMPTS = frozenset({Prompt.ASK_NAME, Prompt.ASK_EMAIL, Prompt.CONFIRM_EMAIL, Prompt.SPELL_EMAIL,
                           Prompt.ASK_INTEREST})
_SCHEDULING_PROMPTS = frozenset({Prompt.OFFER_SLOTS, Prompt.ASK_TIME, Prompt.CONFIRM_SLOT, Prompt.CONFIRM_CANCEL,
                                 Prompt.OFFER_CALLBACK})
_OPENING_PROMPTS = frozenset({Prompt.OFFER_MEETING, Prompt.HOW_CAN_I_HELP})
CTX_MISUNDERSTOOD = "misunderstood"  # set by Step.misunderstood for this turn


async def greet(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    step = Step.begin(state, runtime)
    config = step.config
    name = state["prospect_info"].name
    if state["agent_context"].get(CTX_KNOWN_CALLER) and name:
        first = name.split()[0]
        existing = await scheduling.lookup_existing(step)
        if existing is not None and config.profile is not None:
            slot = when_text(existing.start, step.now(), config.profile.zone)
            step.ask_phrase(Prompt.KNOWN_MENU, "greeting_known_meeting", name=first, slot=slot)
        else:
            step.ask_phrase(Prompt.KNOWN_MENU, "greeting_known", name=first)
    elif config.company_name:
        step.ask_phrase(Prompt.GREETING, "greeting_company", company=config.company_name)
    else:
        step.ask_phrase(Prompt.GREETING, "greeting")
    step.update["current_phase"] = ConversationPhase.GREETING
    return step.result()


async def understand(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    step = Step.begin(state, runtime)
    ctx = step.ctx
    for key in (CTX_ASKING, CTX_ASKING_TEXT, CTX_REPLY_DONE, CTX_MISUNDERSTOOD, CTX_LLM_SLOTS, CTX_ALSO_ASKED):
        ctx.pop(key, None)
    ctx[CTX_SAID] = []
    prompt = step.prompt
    nlu_intent: str | None = None
    if ctx.get(CTX_DTMF):
        intent = Intent.STATEMENT  # a key press: the agents read the key itself
    else:
        intent = detect_intent(step.text, after_anything_else=prompt is Prompt.ANYTHING_ELSE)
        if intent in (Intent.STATEMENT, Intent.THANKS):  # the embedding step is CPU work: off the event loop
            context = NLU_CONTEXT.get(prompt) if prompt else None
            nlu_intent = (await asyncio.to_thread(classify, step.text, context)).intent.value
            if nlu_intent == NluIntent.UNKNOWN and step.config.llm is not None:
                nlu_intent = await _llm_understand(step, prompt) or nlu_intent
            if nlu_intent != NluIntent.ASK_QUESTION and "?" in step.text:
                ctx[CTX_ALSO_ASKED] = await asyncio.to_thread(question_in, step.text)
    logger.debug("call %s: intent %s (%s) after %s", state["call_id"], intent, nlu_intent, prompt)
    ctx[CTX_INTENT] = intent.value  # plain strings: the context stays JSON-friendly
    ctx[CTX_NLU_INTENT] = nlu_intent
    step.update["next_action"] = None  # decided by this turn's nodes, else CONTINUE (in advance)
    if intent is Intent.EMPTY:  # misunderstandings count in a row: one clear turn starts again
        step.update["misunderstandings"] = state["misunderstandings"] + 1
    return step.result()


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def question_in(text: str) -> str | None:
    """The question about the offer inside a turn that says other things too, or None."""
    sentences = [s for s in _SENTENCE_BREAK.split(text.strip()) if s]
    if len(sentences) < 2:
        return None
    return next((s for s in sentences if s.endswith("?") and classify(s).intent is NluIntent.ASK_QUESTION), None)


# The language model's intent names (llm.UNDERSTAND_PROMPT) as the offline NLU's.
_LLM_INTENTS = {
    "answer": NluIntent.PROVIDE_INFO, "question": NluIntent.ASK_QUESTION, "book_meeting": NluIntent.BOOK_MEETING,
    "reschedule": NluIntent.RESCHEDULE, "cancel": NluIntent.CANCEL, "not_interested": NluIntent.DENY,
    "talk_to_human": NluIntent.TRANSFER_HUMAN, "affirm": NluIntent.AFFIRM, "deny": NluIntent.DENY,
    "repeat": NluIntent.REPEAT, "callback": NluIntent.CALLBACK,
}  # fmt: skip


async def _llm_understand(step: Step, prompt: Prompt | None) -> str | None:
    """What the language model makes of a turn the offline NLU could not place; None if it is down or
    unsure (the offline path then goes on as before). Its slots go to the agents as a fallback."""
    llm = step.config.llm
    assert llm is not None
    try:
        understood = await llm.understand_async(step.text, EXPECTED.get(prompt, "anything") if prompt else "anything")
    except LLMUnavailable:
        return None
    if not understood:
        return None
    step.ctx[CTX_LLM_SLOTS] = {str(k): str(v) for k, v in (understood.get("slots") or {}).items() if v}
    intent = _LLM_INTENTS.get(str(understood.get("intent", "")))
    return intent.value if intent else None


def _node(agent: Callable[[Step], Any]) -> Callable[[PhoneConversationState, Runtime[AgentConfig]], Any]:
    """A graph node running ``agent`` on the turn's Step."""

    async def node(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
        step = Step.begin(state, runtime)
        await agent(step)
        if "misunderstandings" in step.update:
            step.ctx[CTX_MISUNDERSTOOD] = True
        return step.result()

    node.__name__ = getattr(agent, "__name__", "node")
    return node


async def inform(step: Step) -> None:
    """A question about the offer: the FAQ's answer, or an honest "an advisor can tell you"."""
    lead.take_anything_said(step)
    knowledge = step.config.knowledge
    if knowledge is None:
        step.say("no_answer")
        return
    answer = await knowledge.answer_async(step.ctx.get(CTX_ALSO_ASKED) or step.text)
    if answer is None:
        if not step.ctx.get(CTX_WISH):  # "can we meet Friday at 10?" is a wish, not a question
            step.say("no_answer")
        return
    text = answer.text
    if step.config.llm is not None:  # shorter and more natural, every fact kept; else the FAQ's words
        with contextlib.suppress(LLMUnavailable):
            text = await step.config.llm.rephrase_async(
                text, {"company": step.config.company_name, "caller_said": step.text})
    step.say_text(text)


async def repeat(step: Step) -> None:
    """Say the last reply again; the caller's next words still answer its question."""
    step.ask(step.prompt, step.state["current_agent_response"])


async def transfer(step: Step) -> None:
    """A person: put through while advisors work, else a call-back slot (or a noted call-back)."""
    config = step.config
    profile = config.profile
    wants_callback = step.intent is NluIntent.CALLBACK
    if not wants_callback and profile and profile.transfer_number and profile.is_open(step.now()):
        step.ctx[CTX_TRANSFER_TO] = profile.transfer_number
        step.finish(phrase("transfer_now", step.lang), NextAction.TRANSFER)
        return
    step.ctx[CTX_CALLBACK_REQUESTED] = True
    if await scheduling.offer_callback(step):
        return
    step.ctx[CTX_CLOSED] = True
    step.ask(Prompt.ANYTHING_ELSE, phrase("transfer_closed", step.lang))


async def goodbye(step: Step) -> None:
    if step.rule_intent == Intent.EMPTY or step.ctx.get(CTX_MISUNDERSTOOD):
        text, reason = phrase("trouble_goodbye", step.lang), EndReason.MISUNDERSTANDINGS
    else:
        text, reason = phrase("goodbye", step.lang), EndReason.COMPLETED
    step.ctx[CTX_END_REASON] = reason.value
    step.update["current_phase"] = ConversationPhase.ENDED
    step.finish(text, NextAction.END_CALL)


async def trouble(step: Step) -> None:
    """Nothing intelligible: ask again; the question stays the one asked before."""
    step.ask(step.prompt, phrase("trouble_hearing", step.lang))


async def plan_next(step: Step) -> None:
    """Ask what the conversation needs next: lead fields, qualification, a slot, or "anything else?"."""
    ctx = step.ctx
    if ctx.get(CTX_CLOSED):
        step.ask_phrase(Prompt.ANYTHING_ELSE, "anything_else")
        return
    prospect = step.prospect
    if ctx.get(CTX_GOAL) is None and not ctx.get(CTX_KNOWN_CALLER) and (prospect.name or prospect.interest):
        ctx[CTX_GOAL] = Goal.BOOK  # they've started telling us about themselves: on with the lead
    goal = ctx.get(CTX_GOAL)
    if goal is None:
        lead.ask_opening(step)
        return
    if goal == Goal.BOOK:
        if lead.ask_next(step):
            return
        already = ctx.get(CTX_LEAD_STATUS) in (LeadStatus.QUALIFIED, LeadStatus.MEETING_BOOKED)
        if qualification.ask_next(step, already):
            return
        if ctx.get(CTX_QUALIFIED) is False:
            step.ask_phrase(Prompt.ANYTHING_ELSE, "anything_else")
            return
    if await scheduling.ask_next(step):
        return
    step.ask_phrase(Prompt.ANYTHING_ELSE, "anything_else")


def _phase(step: Step, prompt: Prompt | None) -> tuple[ConversationPhase, AgentType] | None:
    if prompt in _LEAD_PROMPTS:
        return ConversationPhase.LEAD_CAPTURE, AgentType.LEAD_AGENT
    if prompt is Prompt.QUALIFY:
        return ConversationPhase.QUALIFICATION, AgentType.QUALIFICATION_AGENT
    if prompt in _SCHEDULING_PROMPTS:
        return ConversationPhase.SCHEDULING, AgentType.SCHEDULING_AGENT
    if prompt is Prompt.ANYTHING_ELSE:
        booked = step.ctx.get(CTX_EXISTING) is not None and step.get("appointment_scheduled") is not None
        return (ConversationPhase.CONFIRMATION if booked else ConversationPhase.CLOSING), AgentType.INFORMATION_AGENT
    if prompt in _OPENING_PROMPTS:
        return ConversationPhase.INFORMATION, AgentType.INFORMATION_AGENT
    return None


async def _escalate(step: Step) -> None:
    """Misunderstood again and again: offer a person while one is there, else end politely."""
    profile = step.config.profile
    step.ctx[CTX_SAID] = []
    if profile and profile.transfer_number and profile.is_open(step.now()):
        step.ask_phrase(Prompt.OFFER_HUMAN, "offer_human")
        return
    step.ctx[CTX_END_REASON] = EndReason.MISUNDERSTANDINGS.value
    step.update["current_phase"] = ConversationPhase.ENDED
    step.finish(phrase("trouble_goodbye", step.lang), NextAction.END_CALL)


async def advance(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    """Ask what comes next unless a node did, then assemble the reply and the bookkeeping."""
    step = Step.begin(state, runtime)
    ctx = step.ctx
    misunderstood = ctx.pop(CTX_MISUNDERSTOOD, False)
    if misunderstood and state["misunderstandings"] >= step.config.max_misunderstandings:
        await _escalate(step)
    elif not step.asked:
        await plan_next(step)
    if not misunderstood and ctx.get(CTX_INTENT) != Intent.EMPTY:
        step.update["misunderstandings"] = 0
    said: list[str] = ctx.pop(CTX_SAID, [])
    prompt_value = ctx.pop(CTX_ASKING, None)
    question = ctx.pop(CTX_ASKING_TEXT, "")
    for key in (CTX_REPLY_DONE, CTX_DTMF):
        ctx.pop(key, None)
    prompt = Prompt(prompt_value) if prompt_value else None
    ctx[CTX_LAST_PROMPT] = prompt_value
    if question:
        ctx[CTX_LAST_QUESTION] = question
    text = " ".join([*said, question]).strip()
    step.update["current_agent_response"] = text
    step.update["conversation_history"] = [*state["conversation_history"], make_turn("bot", text)]
    if step.get("next_action") is None:
        step.update["next_action"] = NextAction.CONTINUE
    if step.get("next_action") == NextAction.CONTINUE and (phase := _phase(step, prompt)) is not None:
        step.update["current_phase"], step.update["current_agent"] = phase
    phases = ctx.get(CTX_PHASES) or []
    if not phases or phases[-1] != step.get("current_phase"):
        ctx[CTX_PHASES] = [*phases, ConversationPhase(step.get("current_phase")).value]
    return step.result()


# --- routing ---------------------------------------------------------------------------------


def route_start(state: PhoneConversationState) -> str:
    return Node.GREET if not state["conversation_history"] else Node.UNDERSTAND


def route_after_understand(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> str:
    ctx = state["agent_context"]
    intent, nlu = ctx.get(CTX_INTENT), ctx.get(CTX_NLU_INTENT)
    prompt = ctx.get(CTX_LAST_PROMPT)
    if intent == Intent.GOODBYE:
        return Node.GOODBYE
    if intent == Intent.EMPTY:
        config = runtime.context if runtime.context is not None else AgentConfig()
        return Node.GOODBYE if state["misunderstandings"] > config.max_misunderstandings else Node.TROUBLE
    yes = nlu == NluIntent.AFFIRM or ctx.get(CTX_DTMF) == "1"
    if nlu in (NluIntent.TRANSFER_HUMAN, NluIntent.CALLBACK) or (prompt == Prompt.OFFER_HUMAN and yes):
        return Node.TRANSFER
    if nlu == NluIntent.REPEAT:
        return Node.REPEAT
    if nlu == NluIntent.RESCHEDULE and prompt in _SCHEDULING_PROMPTS and ctx.get(CTX_GOAL) != Goal.RESCHEDULE:
        return Node.SCHEDULE  # "another day" about the time being offered, not about a meeting they have
    if nlu in (NluIntent.RESCHEDULE, NluIntent.CANCEL):
        return Node.MANAGE
    if nlu == NluIntent.CORRECTION and prompt == Prompt.ANYTHING_ELSE and ctx.get(CTX_BOOKED) is not None:
        return Node.MANAGE  # "actually, make it Wednesday" right after booking
    asked = state["current_user_input"].rstrip().endswith("?") and nlu in (NluIntent.UNKNOWN, None)
    if nlu == NluIntent.ASK_QUESTION or asked or ctx.get(CTX_ALSO_ASKED):
        return Node.INFORM
    if prompt == Prompt.QUALIFY:
        return Node.QUALIFY
    if prompt in _SCHEDULING_PROMPTS:
        return Node.SCHEDULE
    return Node.LEAD


_AGENTS: dict[Node, Callable[[Step], Any]] = {
    Node.LEAD: lead.lead_agent,
    Node.QUALIFY: qualification.qualification_agent,
    Node.SCHEDULE: scheduling.scheduling_agent,
    Node.MANAGE: scheduling.manage_agent,
    Node.INFORM: inform,
    Node.REPEAT: repeat,
    Node.TRANSFER: transfer,
    Node.GOODBYE: goodbye,
    Node.TROUBLE: trouble,
}


def build_graph() -> StateGraph:
    """The uncompiled graph; add nodes and edges here."""
    graph = StateGraph(PhoneConversationState, context_schema=AgentConfig)
    graph.add_node(Node.GREET, greet)
    graph.add_node(Node.UNDERSTAND, understand)
    graph.add_node(Node.ADVANCE, advance)
    for name, agent in _AGENTS.items():
        graph.add_node(name, _node(agent))
        graph.add_edge(name, Node.ADVANCE)
    graph.add_conditional_edges(START, route_start, [Node.GREET, Node.UNDERSTAND])
    graph.add_conditional_edges(Node.UNDERSTAND, route_after_understand, list(_AGENTS))
    graph.add_edge(Node.GREET, Node.ADVANCE)
    graph.add_edge(Node.ADVANCE, END)
    return graph


@cache
def compiled_graph() -> CompiledStateGraph:
    """The process-wide compiled graph (stateless, so safe to share between calls)."""
    return build_graph().compile()


class AgentGraph:
    """Runs one step of the conversation: the caller's turn (or the call's start) to the bot's reply."""

    def __init__(self, config: AgentConfig | None = None) -> None:
        self.config = config or AgentConfig()
        self._graph = compiled_graph()

    async def execute_async(self, state: PhoneConversationState) -> PhoneConversationState:
        """Return a new state with the bot's reply; the given state is not modified."""
        result = await self._graph.ainvoke(state, context=self.config)
        return PhoneConversationState(**{**state, **result})  # type: ignore[typeddict-item]

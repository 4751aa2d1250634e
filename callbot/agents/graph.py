"""The conversation graph (LangGraph): greet, understand, respond, goodbye.

This is the skeleton the sales conversation grows on: ``understand`` is rule-based and
``respond`` only repeats back what it heard. New nodes go into ``build_graph`` and are reached
from ``route_after_understand``. The graph is compiled once per process and keeps no state of
its own (no checkpointer): the state lives in the ``StateManager``, per-call settings travel
in the run's context (``AgentConfig``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, Field

from callbot.agents.knowledge import KnowledgeBase
from callbot.agents.nlu import Intent as NluIntent
from callbot.agents.nlu import classify
from callbot.agents.phrases import DEFAULT_LANGUAGE, phrase
from callbot.agents.state import (
    ConversationPhase,
    NextAction,
    PhoneConversationState,
    make_turn,
)
from callbot.business.profile import BusinessProfile

logger = logging.getLogger("callbot.agents.graph")


class AgentConfig(BaseModel):
    """Settings and shared tools the graph's nodes read at run time."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    language: str = DEFAULT_LANGUAGE
    company_name: str | None = None
    max_misunderstandings: int = Field(3, ge=0)
    knowledge: KnowledgeBase | None = None  # the FAQ; None: questions get no answer from it
    profile: BusinessProfile | None = None  # business hours and the transfer number
    now: Callable[[], datetime] = Field(default=lambda: datetime.now(UTC))


class Node(StrEnum):
    GREET = "greet"
    UNDERSTAND = "understand"
    RESPOND = "respond"
    GOODBYE = "goodbye"
    TRANSFER = "transfer"


class Intent(StrEnum):
    EMPTY = "empty"  # nothing intelligible was said
    GOODBYE = "goodbye"
    THANKS = "thanks"
    STATEMENT = "statement"  # anything else: a request, a question, an answer


class EndReason(StrEnum):
    """Why the bot ended the call; kept in ``agent_context["end_reason"]``."""

    COMPLETED = "completed"
    SILENCE = "silence"
    MISUNDERSTANDINGS = "misunderstandings"


# agent_context keys the nodes share.
CTX_INTENT = "intent"
CTX_LAST_PROMPT = "last_prompt"  # phrase key of the question the bot asked last
CTX_END_REASON = "end_reason"
CTX_NLU_INTENT = "nlu_intent"  # the offline NLU's intent of the caller's last turn
CTX_TRANSFER_TO = "transfer_to"  # the number the call is being transferred to
CTX_CALLBACK_REQUESTED = "callback_requested"  # asked for a person when none was available

# Prompts after which a bare "no" means "nothing else, thanks".
_ANYTHING_ELSE_PROMPTS = frozenset({"anything_else", "youre_welcome"})

# --- intent rules ----------------------------------------------------------------------------
# A turn ends the call when its last substantive clause is a closing phrase surrounded only by
# filler ("ok thanks, bye", "you can hang up now", "that's all I needed"). A closing word inside
# a request that goes on ("say goodbye to my old provider and switch") leaves other words in the
# clause, so it is not a goodbye.

_CLOSINGS: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "bye",
        "bye bye",
        "goodbye",
        "good bye",
        "that's all",
        "that is all",
        "that's it",
        "that is it",
        "that's everything",
        "that is everything",
        "nothing else",
        "hang up",
        "end the call",
        "end this call",
        "i'm done",
        "i am done",
        "we're done",
        "we are done",
        "i'm all set",
        "i am all set",
        "see you",
        "see ya",
        "talk to you later",
        "talk later",
        "take care",
        "have a nice day",
        "have a good day",
        "have a great day",
    )
)

# Answers to "anything else?" that mean no.
_DECLINES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in ("no", "nope", "nah", "not really", "i'm good", "i am good", "no thanks", "no thank you")
)

_THANKS = frozenset({"thanks", "thank", "cheers", "appreciate", "appreciated"})

# Words that may surround a closing phrase or make up a pure courtesy.
_FILLER = _THANKS | frozenset(
    "ok okay alright all right well so oh um uh hmm yes yeah yep sure great perfect good fine cool "
    "awesome wonderful and then now today just please you very much lot a again for your help it "
    "everything i i'll i'd we can could want to need needed wanted would like let's me that was is".split()
)

_CLAUSE_SPLIT = re.compile(r"[.,!?;:]+")
_WORD = re.compile(r"[a-z0-9']+")


def _strip_phrases(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> tuple[list[str], bool]:
    """Remove every occurrence of the phrases (longest first); report whether any was found."""
    rest: list[str] = []
    found = False
    ordered = sorted(phrases, key=len, reverse=True)
    i = 0
    while i < len(words):
        for p in ordered:
            if tuple(words[i : i + len(p)]) == p:
                found = True
                i += len(p)
                break
        else:
            rest.append(words[i])
            i += 1
    return rest, found


def detect_intent(text: str, *, after_anything_else: bool = False) -> Intent:
    """Classify a caller turn. ``after_anything_else``: the bot just asked if there was anything else."""
    normalized = text.lower().replace("\u2019", "'")
    clauses = [_WORD.findall(part) for part in _CLAUSE_SPLIT.split(normalized)]
    clauses = [words for words in clauses if words]
    if not clauses:
        return Intent.EMPTY

    closing_sets = _CLOSINGS + _DECLINES if after_anything_else else _CLOSINGS
    for words in reversed(clauses):
        rest, found = _strip_phrases(words, closing_sets)
        if all(word in _FILLER for word in rest):
            if found:
                return Intent.GOODBYE
            continue  # a courtesy such as "thank you" after the real content
        return Intent.STATEMENT

    if any(word in _THANKS for words in clauses for word in words):
        return Intent.THANKS
    return Intent.STATEMENT


# --- nodes -----------------------------------------------------------------------------------


def _config(runtime: Runtime[AgentConfig]) -> AgentConfig:
    return runtime.context if runtime.context is not None else AgentConfig()


def _say(state: PhoneConversationState, text: str, prompt_key: str | None, **context: Any) -> dict[str, Any]:
    """The state update for a bot reply: spoken text, appended to a new history list."""
    return {
        "current_agent_response": text,
        "conversation_history": [*state["conversation_history"], make_turn("bot", text)],
        "agent_context": {**state["agent_context"], CTX_LAST_PROMPT: prompt_key, **context},
    }


# agent_context key: the caller's number belongs to a lead the CRM already knows.
CTX_KNOWN_CALLER = "known_caller"


async def greet(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    config = _config(runtime)
    name = state["prospect_info"].name
    if state["agent_context"].get(CTX_KNOWN_CALLER) and name:
        text = phrase("greeting_known", config.language, name=name.split()[0])
    elif config.company_name:
        text = phrase("greeting_company", config.language, company=config.company_name)
    else:
        text = phrase("greeting", config.language)
    return {
        **_say(state, text, "greeting"),
        "current_phase": ConversationPhase.GREETING,
        "next_action": NextAction.CONTINUE,
    }


async def understand(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    last_prompt = state["agent_context"].get(CTX_LAST_PROMPT)
    intent = detect_intent(
        state["current_user_input"], after_anything_else=last_prompt in _ANYTHING_ELSE_PROMPTS
    )
    # Misunderstandings count in a row: one clear turn starts the count again.
    misunderstandings = state["misunderstandings"] + 1 if intent is Intent.EMPTY else 0
    nlu_intent = None
    if intent is Intent.STATEMENT:  # the embedding step is CPU work: off the event loop
        nlu_intent = (await asyncio.to_thread(classify, state["current_user_input"])).intent.value
    logger.debug("call %s: intent %s (%s)", state["call_id"], intent, nlu_intent)
    return {
        # Stored as plain strings so the context stays JSON-friendly.
        "agent_context": {**state["agent_context"], CTX_INTENT: intent.value, CTX_NLU_INTENT: nlu_intent},
        "misunderstandings": misunderstandings,
    }


async def respond(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    lang = _config(runtime).language
    intent = state["agent_context"].get(CTX_INTENT)
    if intent == Intent.EMPTY:
        return _say(state, phrase("trouble_hearing", lang), "trouble_hearing")
    if intent == Intent.THANKS:
        update = _say(state, phrase("youre_welcome", lang), "youre_welcome")
    elif (answer := await _faq_answer(state, _config(runtime))) is not None:
        update = _say(state, f"{answer} {phrase('anything_else', lang)}", "anything_else")
    else:
        heard = state["current_user_input"].strip().rstrip(".!?,;: ")
        text = f"{phrase('repeat_back', lang, text=heard)} {phrase('anything_else', lang)}"
        update = _say(state, text, "anything_else")
    if state["current_phase"] == ConversationPhase.GREETING:
        update["current_phase"] = ConversationPhase.LEAD_CAPTURE
    update["next_action"] = NextAction.CONTINUE
    return update


async def _faq_answer(state: PhoneConversationState, config: AgentConfig) -> str | None:
    """The FAQ's answer when the caller asked about the offer; the no-answer phrase when the FAQ
    does not cover it (never an invented answer); None when it was not a question."""
    text = state["current_user_input"]
    asked = state["agent_context"].get(CTX_NLU_INTENT) == NluIntent.ASK_QUESTION or text.rstrip().endswith("?")
    if config.knowledge is None or not asked:
        return None
    answer = await config.knowledge.answer_async(text)
    return answer.text if answer is not None else phrase("no_answer", config.language)


async def goodbye(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    lang = _config(runtime).language
    if state["agent_context"].get(CTX_INTENT) == Intent.EMPTY:
        text, reason = phrase("trouble_goodbye", lang), EndReason.MISUNDERSTANDINGS
    else:
        text, reason = phrase("goodbye", lang), EndReason.COMPLETED
    return {
        **_say(state, text, None, **{CTX_END_REASON: reason.value}),
        "current_phase": ConversationPhase.ENDED,
        "next_action": NextAction.END_CALL,
    }


async def transfer(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> dict[str, Any]:
    """The caller wants a person: put them through while advisors work, else note a call-back."""
    config = _config(runtime)
    profile = config.profile
    if profile is not None and profile.transfer_number and profile.is_open(config.now()):
        return {
            **_say(state, phrase("transfer_now", config.language), None,
                   **{CTX_TRANSFER_TO: profile.transfer_number}),
            "next_action": NextAction.TRANSFER,
        }
    return {
        **_say(state, phrase("transfer_closed", config.language), "anything_else",
               **{CTX_CALLBACK_REQUESTED: True}),
        "next_action": NextAction.CONTINUE,
    }


# --- routing ---------------------------------------------------------------------------------


def route_start(state: PhoneConversationState) -> str:
    return Node.GREET if not state["conversation_history"] else Node.UNDERSTAND


def route_after_understand(state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> str:
    intent = state["agent_context"].get(CTX_INTENT)
    if intent == Intent.GOODBYE:
        return Node.GOODBYE
    if intent == Intent.EMPTY and state["misunderstandings"] > _config(runtime).max_misunderstandings:
        return Node.GOODBYE
    if state["agent_context"].get(CTX_NLU_INTENT) == NluIntent.TRANSFER_HUMAN:
        return Node.TRANSFER
    return Node.RESPOND


def build_graph() -> StateGraph:
    """The uncompiled graph; add nodes and edges here."""
    graph = StateGraph(PhoneConversationState, context_schema=AgentConfig)
    graph.add_node(Node.GREET, greet)
    graph.add_node(Node.UNDERSTAND, understand)
    graph.add_node(Node.RESPOND, respond)
    graph.add_node(Node.GOODBYE, goodbye)
    graph.add_node(Node.TRANSFER, transfer)
    graph.add_conditional_edges(START, route_start, [Node.GREET, Node.UNDERSTAND])
    graph.add_conditional_edges(Node.UNDERSTAND, route_after_understand,
                                [Node.RESPOND, Node.GOODBYE, Node.TRANSFER])
    graph.add_edge(Node.GREET, END)
    graph.add_edge(Node.RESPOND, END)
    graph.add_edge(Node.GOODBYE, END)
    graph.add_edge(Node.TRANSFER, END)
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

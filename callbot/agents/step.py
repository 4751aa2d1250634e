"""One node's work on one caller turn: what it read, what it says, what it changes.

Every node builds a ``Step`` from the state, adds sentences (``say``), may ask the next
question (``ask``) or end the reply (``finish``), and returns ``step.result()`` as its
LangGraph update. The ``advance`` node then asks whatever comes next and assembles the reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from callbot.agents.context import (
    CTX_ASKING,
    CTX_ASKING_TEXT,
    CTX_DTMF,
    CTX_INTENT,
    CTX_LAST_PROMPT,
    CTX_NLU_INTENT,
    CTX_REPLY_DONE,
    CTX_SAID,
    Prompt,
)
from callbot.agents.knowledge import KnowledgeBase
from callbot.agents.llm import LLMProvider
from callbot.agents.nlu import Intent as NluIntent
from callbot.agents.phrases import DEFAULT_LANGUAGE, phrase
from callbot.agents.state import NextAction, PhoneConversationState, ProspectInfo
from callbot.business.profile import BusinessProfile
from callbot.errors import ManagerError
from callbot.integrations.models import LeadStatus

if TYPE_CHECKING:  # the managers import the graph: annotations only
    from callbot.managers.calendar import CalendarManager
    from callbot.managers.crm import CRMManager

logger = logging.getLogger("callbot.agents")


@dataclass
class AgentConfig:
    """Settings and shared tools the graph's nodes read at run time (LangGraph's run context)."""

    language: str = DEFAULT_LANGUAGE
    company_name: str | None = None
    max_misunderstandings: int = 3
    knowledge: KnowledgeBase | None = None  # the FAQ; None: questions get no answer from it
    profile: BusinessProfile | None = None  # hours, programs, qualification, transfer number
    calendar: CalendarManager | None = None  # None: no booking on this call
    crm: CRMManager | None = None  # None: lead statuses are not written during the call
    llm: LLMProvider | None = None  # optional: understands what the offline NLU could not, rephrases answers
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class Step:
    state: PhoneConversationState
    config: AgentConfig
    ctx: dict[str, Any]
    update: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def begin(cls, state: PhoneConversationState, runtime: Runtime[AgentConfig]) -> Step:
        config = runtime.context if runtime.context is not None else AgentConfig()
        ctx = dict(state["agent_context"])
        ctx[CTX_SAID] = list(ctx.get(CTX_SAID) or [])
        return cls(state, config, ctx)

    # --- what the caller did ------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.state["current_user_input"]

    @property
    def prompt(self) -> Prompt | None:
        value = self.ctx.get(CTX_LAST_PROMPT)
        try:
            return Prompt(value) if value else None
        except ValueError:  # a prompt of the conversation manager ("still_there")
            return None

    @property
    def intent(self) -> NluIntent | None:
        value = self.ctx.get(CTX_NLU_INTENT)
        return NluIntent(value) if value else None

    @property
    def rule_intent(self) -> str | None:
        return self.ctx.get(CTX_INTENT)

    @property
    def dtmf(self) -> str | None:
        return self.ctx.get(CTX_DTMF)

    def yes_no(self) -> bool | None:
        """The answer to a yes/no question: key 1 or 2, or the words."""
        if self.dtmf in ("1", "2"):
            return self.dtmf == "1"
        if self.intent is NluIntent.AFFIRM:
            return True
        if self.intent is NluIntent.DENY:
            return False
        return None

    # --- the state as this step leaves it -----------------------------------------------------
    def get(self, key: str) -> Any:
        return self.update[key] if key in self.update else self.state[key]  # type: ignore[literal-required]

    @property
    def prospect(self) -> ProspectInfo:
        return self.get("prospect_info")

    def set_prospect(self, **fields: Any) -> None:
        self.update["prospect_info"] = self.prospect.model_copy(update=fields)

    @property
    def lang(self) -> str:
        return self.config.language

    def now(self) -> datetime:
        return self.config.now()

    # --- what the bot says --------------------------------------------------------------------
    def say(self, key: str, **values: object) -> None:
        self.ctx[CTX_SAID].append(phrase(key, self.lang, **values))

    def say_text(self, text: str) -> None:
        if text.strip():
            self.ctx[CTX_SAID].append(text.strip())

    def ask(self, prompt: Prompt | None, text: str) -> None:
        """End the reply with this question; the caller's next words answer ``prompt``."""
        self.ctx[CTX_ASKING] = prompt.value if prompt else None
        self.ctx[CTX_ASKING_TEXT] = text
        self.ctx[CTX_REPLY_DONE] = True

    def ask_phrase(self, prompt: Prompt, key: str, **values: object) -> None:
        self.ask(prompt, phrase(key, self.lang, **values))

    def finish(self, text: str, next_action: NextAction) -> None:
        """End the reply without a question (goodbye, transfer)."""
        self.ask(None, text)
        self.update["next_action"] = next_action

    @property
    def asked(self) -> bool:
        return bool(self.ctx.get(CTX_REPLY_DONE))

    def misunderstood(self) -> None:
        self.update["misunderstandings"] = self.state["misunderstandings"] + 1

    def result(self) -> dict[str, Any]:
        return {**self.update, "agent_context": self.ctx}

    # --- the CRM, during the call -------------------------------------------------------------
    async def set_lead_status(self, status: LeadStatus, reason: str) -> None:
        """Best effort: the end of the call writes the lead again, and the outbox retries."""
        lead_id = self.state["salesforce_lead_id"]
        if self.config.crm is None or not lead_id:
            return
        try:
            await self.config.crm.update_lead_status_async(lead_id, status, reason)
        except ManagerError as exc:
            logger.warning("call %s: lead status not written (%s)", self.state["call_id"], type(exc).__name__)

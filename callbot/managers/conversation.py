"""ConversationManager (seed API): runs each call's conversation through the agent graph.

The manager holds no per-call data itself: every method loads the call's state from the
``StateManager``, changes it and saves it back, under a per-call lock so that a silence
timer and a caller turn of the same call cannot overwrite each other's changes.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from callbot.agents.context import (
    CTX_CALLBACK_REQUESTED,
    CTX_DTMF,
    CTX_END_REASON,
    CTX_KNOWN_CALLER,
    CTX_LAST_PROMPT,
    CTX_LAST_QUESTION,
    CTX_LEAD_STATUS,
    CTX_PHASES,
    Prompt,
)
from callbot.agents.graph import AgentConfig, AgentGraph, EndReason
from callbot.agents.phrases import DEFAULT_LANGUAGE, phrase
from callbot.agents.state import (
    CallerInfo,
    ConversationPhase,
    ConversationTurn,
    NextAction,
    PhoneConversationState,
    ProspectInfo,
    make_turn,
    utc_now,
)
from callbot.errors import ConversationError, ManagerError, handle_manager_errors
from callbot.integrations.models import CallDetails, LeadStatus
from callbot.managers.state import StateManager

if TYPE_CHECKING:  # the CRM manager logs this module's summaries: import for annotations only
    from callbot.managers.crm import CRMManager

logger = logging.getLogger("callbot.managers.conversation")


class ConversationConfig(BaseModel):
    language: str = DEFAULT_LANGUAGE
    max_silence_prompts: int = Field(2, ge=0)
    max_misunderstandings: int = Field(3, ge=0)
    company_name: str | None = None

    def agent_config(self) -> AgentConfig:
        return AgentConfig(
            language=self.language,
            company_name=self.company_name,
            max_misunderstandings=self.max_misunderstandings,
        )


class AudioMetadata(BaseModel):
    """What speech recognition knows about the transcript of a caller turn."""

    confidence: float = Field(1.0, ge=0.0, le=1.0)
    audio_duration_ms: int = Field(0, ge=0)
    is_final: bool = True


class ConversationResponse(BaseModel):
    agent_response: str
    next_action: NextAction
    conversation_phase: ConversationPhase
    confidence_score: float = 1.0
    requires_followup: bool = True  # the bot expects the caller to speak next


class InterruptionType(StrEnum):
    LONG_SILENCE = "long_silence"
    BACKGROUND_NOISE = "background_noise"


class InterruptionAction(StrEnum):
    PROMPT_USER = "prompt_user"
    REQUEST_CLARIFICATION = "request_clarification"
    END_CALL = "end_call"
    CONTINUE = "continue"


class InterruptionResponse(BaseModel):
    action: InterruptionAction
    message: str = ""  # what the bot says; empty: nothing


class CallOutcome(StrEnum):
    COMPLETED = "completed"  # the bot said goodbye after the caller was done
    CALLER_HUNG_UP = "caller_hung_up"
    SILENCE = "silence"
    MISUNDERSTANDINGS = "misunderstandings"
    MAX_DURATION = "max_duration"
    ERROR = "error"
    TRANSFERRED = "transferred"  # put through to a person


class ConversationSummary(BaseModel):
    call_id: str
    reason: str
    outcome: CallOutcome
    started_at: datetime
    duration_seconds: float
    turn_count: int
    phase: ConversationPhase
    phases: list[ConversationPhase] = Field(default_factory=list)  # the phases the call went through
    prospect_info: ProspectInfo
    qualification_score: float
    appointment: datetime | None = None
    transcript: list[ConversationTurn] = Field(default_factory=list)


_DEFAULT_METADATA = AudioMetadata()


def _as_outcome(value: object) -> CallOutcome | None:
    try:
        return CallOutcome(value)
    except ValueError:
        return None


CRM_LOOKUP_TIMEOUT_S = 1.0


class ConversationManager:
    def __init__(
        self,
        config: ConversationConfig,
        state_manager: StateManager,
        agent_graph: AgentGraph | None = None,
        crm: CRMManager | None = None,
    ) -> None:
        self.config = config
        self.state_manager = state_manager
        self.crm = crm
        self.agent_graph = agent_graph or AgentGraph(config.agent_config())
        # One lock per live call, dropped by itself once no coroutine holds it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, call_id: str) -> asyncio.Lock:
        lock = self._locks.get(call_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[call_id] = lock
        return lock

    async def _require_state_async(self, call_id: str) -> PhoneConversationState:
        state = await self.state_manager.load_state_async(call_id)
        if state is None:
            raise ConversationError(f"no conversation for call {call_id}")
        return state

    @handle_manager_errors
    async def start_conversation_async(self, call_id: str, caller_info: CallerInfo) -> PhoneConversationState:
        """Create the call's state and produce the greeting (in ``current_agent_response``)."""
        async with self._lock(call_id):
            state = await self.state_manager.create_initial_state_async(call_id, caller_info)
            await self._recognise_caller_async(state)
            state = await self.agent_graph.execute_async(state)
            await self.state_manager.save_state_async(call_id, state)
        logger.info("call %s: conversation started", call_id)
        return state

    @staticmethod
    def _call_details(state: PhoneConversationState) -> CallDetails:
        return CallDetails(call_id=state["call_id"], caller_phone=state["caller_phone"],
                           called_phone=state.get("called_phone"), started_at=state["start_time"])

    async def _recognise_caller_async(self, state: PhoneConversationState) -> None:
        """A known prospect's lead and name go into the state; an unknown caller's lead is created
        at once, so even a hang-up in the first second leaves the sales team a lead."""
        if self.crm is None or not state["caller_phone"]:
            return
        try:
            async with asyncio.timeout(CRM_LOOKUP_TIMEOUT_S):  # the greeting must not wait on a slow CRM
                record = await self.crm.find_prospect_by_phone_async(state["caller_phone"])
                known = record is not None
                if record is None:
                    record = await self.crm.create_or_update_prospect_async(
                        ProspectInfo(phone=state["caller_phone"]), self._call_details(state))
        except (ManagerError, TimeoutError) as exc:
            logger.warning("call %s: CRM look-up failed (%s); treating the caller as new",
                           state["call_id"], type(exc).__name__)
            return
        state["salesforce_lead_id"] = record.id
        if known:
            known_fields = {k: v for k in ("name", "email", "company", "interest") if (v := getattr(record, k))}
            state["prospect_info"] = state["prospect_info"].model_copy(update=known_fields)
            state["agent_context"][CTX_KNOWN_CALLER] = True
            state["agent_context"][CTX_LEAD_STATUS] = record.status.value

    async def _log_to_crm_async(self, state: PhoneConversationState, summary: ConversationSummary) -> None:
        """What the call learnt goes to the lead, and the call to its activities — whatever ended it."""
        if self.crm is None:
            return
        lead_id = state["salesforce_lead_id"]
        try:
            if state["caller_phone"] or state["prospect_info"].phone:
                score = state["qualification_score"] if state["qualification_complete"] else None
                record = await self.crm.create_or_update_prospect_async(
                    state["prospect_info"], self._call_details(state), qualification_score=score)
                lead_id = record.id
            await self.crm.log_conversation_async(state["call_id"], summary, lead_id)
            if lead_id and state["agent_context"].get(CTX_CALLBACK_REQUESTED):
                await self.crm.update_lead_status_async(lead_id, LeadStatus.CALLBACK_REQUESTED,
                                                        "asked for a person outside business hours")
        except ManagerError as exc:
            logger.error("call %s: could not log the call to the CRM (%s)", state["call_id"], type(exc).__name__)

    @handle_manager_errors
    async def get_conversation_state_async(self, call_id: str) -> PhoneConversationState:
        return await self._require_state_async(call_id)

    @handle_manager_errors
    async def handle_conversation_turn_async(
        self, call_id: str, user_input: str, audio_metadata: AudioMetadata
    ) -> ConversationResponse:
        """Run one caller turn (a final transcript) through the graph and return the bot's reply."""
        if not audio_metadata.is_final:
            raise ConversationError("only final transcripts make a conversation turn")
        async with self._lock(call_id):
            state = await self._require_state_async(call_id)
            if state["current_phase"] == ConversationPhase.ENDED:
                # The bot already said goodbye; whatever the caller adds changes nothing.
                return ConversationResponse(
                    agent_response="",
                    next_action=NextAction.END_CALL,
                    conversation_phase=ConversationPhase.ENDED,
                    confidence_score=audio_metadata.confidence,
                    requires_followup=False,
                )
            state = self._with_user_input(state, user_input, audio_metadata)
            state = await self.agent_graph.execute_async(state)
            await self.state_manager.save_state_async(call_id, state)

        next_action = state["next_action"] or NextAction.CONTINUE
        logger.info(
            "call %s: turn %d, phase %s, next %s",
            call_id,
            state["turn_count"],
            state["current_phase"],
            next_action,
        )
        return ConversationResponse(
            agent_response=state["current_agent_response"],
            next_action=next_action,
            conversation_phase=state["current_phase"],
            confidence_score=audio_metadata.confidence,
            requires_followup=next_action == NextAction.CONTINUE,
        )

    @staticmethod
    def _with_user_input(
        state: PhoneConversationState, user_input: str, audio_metadata: AudioMetadata
    ) -> PhoneConversationState:
        text = user_input.strip()
        state = PhoneConversationState(**state)  # type: ignore[typeddict-item]
        state["current_user_input"] = text
        state["agent_context"] = {**state["agent_context"], "last_confidence": audio_metadata.confidence}
        if text:
            # The caller spoke: the silence count starts again.
            state["conversation_history"] = [*state["conversation_history"], make_turn("caller", text)]
            state["turn_count"] += 1
            state["silence_prompts"] = 0
        return state

    async def process_user_input_async(self, call_id: str, user_input: str) -> ConversationResponse:
        """A caller turn without speech-recognition details (e.g. typed in a test console)."""
        return await self.handle_conversation_turn_async(call_id, user_input, _DEFAULT_METADATA)

    @handle_manager_errors
    async def handle_dtmf_async(self, call_id: str, digit: str) -> ConversationResponse:
        """A key the caller pressed (Twilio ``dtmf``): 1, 2, 3 pick an offered slot; 1 is yes, 2 is no."""
        if len(digit) != 1 or digit not in "0123456789*#":
            raise ConversationError(f"not a DTMF key: {digit!r}")
        async with self._lock(call_id):
            state = await self._require_state_async(call_id)
            if state["current_phase"] == ConversationPhase.ENDED:
                return ConversationResponse(agent_response="", next_action=NextAction.END_CALL,
                                            conversation_phase=ConversationPhase.ENDED, requires_followup=False)
            state = self._with_user_input(state, f"(pressed {digit})", _DEFAULT_METADATA)
            state["current_user_input"] = ""
            state["agent_context"][CTX_DTMF] = digit
            state = await self.agent_graph.execute_async(state)
            await self.state_manager.save_state_async(call_id, state)
        logger.info("call %s: key press handled, phase %s", call_id, state["current_phase"])
        next_action = state["next_action"] or NextAction.CONTINUE
        return ConversationResponse(agent_response=state["current_agent_response"], next_action=next_action,
                                    conversation_phase=state["current_phase"],
                                    requires_followup=next_action == NextAction.CONTINUE)

    @handle_manager_errors
    async def handle_conversation_interruption_async(
        self, call_id: str, interruption_type: InterruptionType
    ) -> InterruptionResponse:
        """Silence or noise instead of a turn: prompt, ask again, or end the call politely."""
        async with self._lock(call_id):
            state = await self._require_state_async(call_id)
            if state["current_phase"] == ConversationPhase.ENDED:
                return InterruptionResponse(action=InterruptionAction.END_CALL)

            lang = self.config.language
            if interruption_type == InterruptionType.LONG_SILENCE:
                state["silence_prompts"] += 1
                if state["silence_prompts"] > self.config.max_silence_prompts:
                    action, key, reason = InterruptionAction.END_CALL, "silence_goodbye", EndReason.SILENCE
                else:
                    action, key, reason = InterruptionAction.PROMPT_USER, "still_there", None
            elif interruption_type == InterruptionType.BACKGROUND_NOISE:
                state["misunderstandings"] += 1
                if state["misunderstandings"] > self.config.max_misunderstandings:
                    action, key = InterruptionAction.END_CALL, "trouble_goodbye"
                    reason = EndReason.MISUNDERSTANDINGS
                else:
                    action, key, reason = InterruptionAction.REQUEST_CLARIFICATION, "trouble_hearing", None
            else:
                return InterruptionResponse(action=InterruptionAction.CONTINUE)

            message = phrase(key, lang)
            last_question = state["agent_context"].get(CTX_LAST_QUESTION)
            if key == "still_there" and last_question and state["agent_context"].get(CTX_LAST_PROMPT) not in (
                    Prompt.GREETING, Prompt.KNOWN_MENU):
                message = f"{phrase('still_there_short', lang)} {last_question}"  # the question still stands
            state["current_agent_response"] = message
            state["conversation_history"] = [*state["conversation_history"], make_turn("bot", message)]
            context = dict(state["agent_context"])  # the last question stays the one to answer
            if reason is None:
                state["next_action"] = NextAction.CONTINUE
            else:
                context[CTX_END_REASON] = reason.value
                state["current_phase"] = ConversationPhase.ENDED
                state["next_action"] = NextAction.END_CALL
            state["agent_context"] = context
            await self.state_manager.save_state_async(call_id, state)

        logger.info("call %s: %s -> %s", call_id, interruption_type, action)
        return InterruptionResponse(action=action, message=message)

    @handle_manager_errors
    async def record_bot_heard_async(self, call_id: str, heard_text: str) -> None:
        """After a barge-in, keep in the history only the part of the bot's last turn that was heard."""
        async with self._lock(call_id):
            state = await self._require_state_async(call_id)
            history = list(state["conversation_history"])
            for index in range(len(history) - 1, -1, -1):
                if history[index]["role"] == "bot":
                    history[index] = ConversationTurn(
                        **{**history[index], "text": heard_text.strip(), "interrupted": True}
                    )
                    break
            else:
                logger.debug("call %s: barge-in without a bot turn to truncate", call_id)
                return
            state["conversation_history"] = history
            await self.state_manager.save_state_async(call_id, state)

    @handle_manager_errors
    async def end_conversation_async(self, call_id: str, reason: str) -> ConversationSummary:
        """Summarise the call and remove its live state.

        ``reason`` is kept as given. When it names an outcome other than a hang-up (e.g. "error",
        "max_duration") that outcome wins; otherwise the bot's own reason for ending the call
        counts (a caller who hangs up after the goodbye completed the call), else a hang-up.
        """
        async with self._lock(call_id):
            state = await self._require_state_async(call_id)
            await self.state_manager.delete_state_async(call_id)

        given = _as_outcome(reason)
        if given is not None and given != CallOutcome.CALLER_HUNG_UP:
            outcome = given
        else:
            outcome = _as_outcome(state["agent_context"].get(CTX_END_REASON)) or CallOutcome.CALLER_HUNG_UP

        summary = ConversationSummary(
            call_id=call_id,
            reason=reason,
            outcome=outcome,
            started_at=state["start_time"],
            duration_seconds=max(0.0, (utc_now() - state["start_time"]).total_seconds()),
            turn_count=state["turn_count"],
            phase=state["current_phase"],
            phases=[ConversationPhase(p) for p in state["agent_context"].get(CTX_PHASES, [])],
            prospect_info=state["prospect_info"],
            qualification_score=state["qualification_score"],
            appointment=state["appointment_scheduled"],
            transcript=state["conversation_history"],
        )
        await self._log_to_crm_async(state, summary)
        logger.info(
            "call %s: ended, outcome %s, %d turns, %.1fs",
            call_id,
            outcome,
            summary.turn_count,
            summary.duration_seconds,
        )
        return summary

"""StateManager (seed API): creates, loads and saves each call's conversation state."""

from __future__ import annotations

import logging

from callbot.agents.state import (
    CallerInfo,
    ConversationPhase,
    PhoneConversationState,
    new_conversation_state,
    utc_now,
)
from callbot.errors import ConversationError, handle_manager_errors
from callbot.storage.state import StorageBackend

logger = logging.getLogger("callbot.managers.state")


class StateManager:
    def __init__(self, storage_backend: StorageBackend) -> None:
        self.storage = storage_backend

    @handle_manager_errors
    async def create_initial_state_async(
        self, call_id: str, caller_info: CallerInfo
    ) -> PhoneConversationState:
        """Create and store the state of a new call; a call id already in use is an error."""
        if await self.storage.load_state_async(call_id) is not None:
            raise ConversationError(f"conversation {call_id} already exists")
        state = new_conversation_state(call_id, caller_info)
        await self.storage.save_state_async(call_id, state)
        logger.info("call %s: conversation state created", call_id)
        return state

    @handle_manager_errors
    async def update_conversation_phase_async(
        self, call_id: str, new_phase: ConversationPhase
    ) -> PhoneConversationState:
        state = await self._require_async(call_id)
        state["current_phase"] = new_phase
        state["agent_context"] = {**state["agent_context"], "phase_transition_time": utc_now()}
        await self.storage.save_state_async(call_id, state)
        logger.info("call %s: phase -> %s", call_id, new_phase)
        return state

    @handle_manager_errors
    async def load_state_async(self, call_id: str) -> PhoneConversationState | None:
        return await self.storage.load_state_async(call_id)

    @handle_manager_errors
    async def save_state_async(self, call_id: str, state: PhoneConversationState) -> None:
        if state["call_id"] != call_id:
            raise ConversationError(f"state of {state['call_id']} cannot be saved as {call_id}")
        await self.storage.save_state_async(call_id, state)

    @handle_manager_errors
    async def delete_state_async(self, call_id: str) -> None:
        await self.storage.delete_state_async(call_id)

    async def _require_async(self, call_id: str) -> PhoneConversationState:
        state = await self.storage.load_state_async(call_id)
        if state is None:
            raise ConversationError(f"no conversation state for call {call_id}")
        return state

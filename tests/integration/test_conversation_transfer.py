""""Talk to a human": put through while advisors work, a noted call-back otherwise."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from callbot.agents.graph import CTX_TRANSFER_TO, AgentConfig, AgentGraph
from callbot.agents.phrases import phrase
from callbot.agents.state import CallerInfo, NextAction
from callbot.business.profile import load_profile
from callbot.integrations.crm.local import LocalCRMProvider
from callbot.integrations.models import LeadStatus
from callbot.managers.conversation import AudioMetadata, ConversationConfig, ConversationManager
from callbot.managers.crm import CRMManager
from callbot.managers.state import StateManager
from callbot.storage.state import MemoryStorageBackend

NEW_YORK = ZoneInfo("America/New_York")
TUESDAY_11AM = datetime(2026, 12, 1, 11, 0, tzinfo=NEW_YORK)
TUESDAY_9PM = datetime(2026, 12, 1, 21, 0, tzinfo=NEW_YORK)


def manager(now: datetime, crm: CRMManager | None = None) -> ConversationManager:
    graph = AgentGraph(AgentConfig(profile=load_profile(None), now=lambda: now))
    return ConversationManager(ConversationConfig(), StateManager(MemoryStorageBackend()), graph, crm=crm)


async def test_during_business_hours_the_caller_is_put_through() -> None:
    conversations = manager(TUESDAY_11AM)
    await conversations.start_conversation_async("CA1", CallerInfo(phone_number="+15550142001"))
    response = await conversations.handle_conversation_turn_async(
        "CA1", "can i talk to a real person please", AudioMetadata())
    assert response.next_action == NextAction.TRANSFER
    assert response.agent_response == phrase("transfer_now")
    state = await conversations.get_conversation_state_async("CA1")
    assert state["agent_context"][CTX_TRANSFER_TO] == load_profile(None).transfer_number


async def test_after_hours_a_call_back_is_noted_on_the_lead(tmp_path: Path) -> None:
    provider = LocalCRMProvider(f"sqlite:///{tmp_path / 'crm.db'}")
    await provider.init_async()
    conversations = manager(TUESDAY_9PM, CRMManager(provider))
    await conversations.start_conversation_async("CA2", CallerInfo(phone_number="+15550142002"))
    response = await conversations.handle_conversation_turn_async(
        "CA2", "I'd like to speak with a human", AudioMetadata())
    assert response.next_action == NextAction.CONTINUE
    assert response.agent_response == phrase("transfer_closed")
    await conversations.end_conversation_async("CA2", "caller_hung_up")
    [lead] = await provider.list_leads_async("+15550142002")
    assert lead.status == LeadStatus.CALLBACK_REQUESTED
    await provider.close_async()

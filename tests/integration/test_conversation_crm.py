"""The conversation and the CRM: a known caller is recognised, a new one becomes a lead at once,
and every call is logged to its lead — whatever ends it, and even when the CRM is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callbot.agents.state import CallerInfo
from callbot.errors import ExternalServiceError
from callbot.integrations.crm.base import LeadFields
from callbot.integrations.crm.local import LocalCRMProvider
from callbot.integrations.models import LeadStatus
from callbot.managers.conversation import AudioMetadata, ConversationConfig, ConversationManager
from callbot.managers.crm import CRMManager
from callbot.managers.state import StateManager
from callbot.storage.state import MemoryStorageBackend

CALLER = "+15550142001"


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[LocalCRMProvider]:
    crm = LocalCRMProvider(f"sqlite:///{tmp_path / 'crm.db'}")
    await crm.init_async()
    yield crm
    await crm.close_async()


def manager_with(provider: LocalCRMProvider) -> ConversationManager:
    return ConversationManager(ConversationConfig(), StateManager(MemoryStorageBackend()), crm=CRMManager(provider))


async def test_a_known_caller_is_greeted_by_name(provider: LocalCRMProvider) -> None:
    lead = await provider.upsert_lead_async(LeadFields(name="Jane Doe", interest="UX Design"), CALLER)
    conversations = manager_with(provider)
    state = await conversations.start_conversation_async("CA1", CallerInfo(phone_number="(555) 014-2001"))
    assert state["current_agent_response"].startswith("Welcome back, Jane!")
    assert state["salesforce_lead_id"] == lead.id
    assert state["prospect_info"].interest == "UX Design"


async def test_a_new_caller_is_a_lead_from_the_first_second_and_the_call_is_logged(
    provider: LocalCRMProvider,
) -> None:
    conversations = manager_with(provider)
    state = await conversations.start_conversation_async("CA2", CallerInfo(phone_number=CALLER))
    assert state["current_agent_response"].startswith("Hello, thanks for calling")
    leads = await provider.list_leads_async(CALLER)
    assert [(lead.phone, lead.status) for lead in leads] == [(CALLER, LeadStatus.NEW)]
    assert state["salesforce_lead_id"] == leads[0].id

    await conversations.end_conversation_async("CA2", "caller_hung_up")  # hung up after the greeting
    activities = await provider.list_activities_async(leads[0].id)
    assert [(a.call_id, a.outcome) for a in activities] == [("CA2", "caller_hung_up")]


async def test_a_completed_call_is_logged_once_with_its_outcome(provider: LocalCRMProvider) -> None:
    conversations = manager_with(provider)
    await conversations.start_conversation_async("CA3", CallerInfo(phone_number=CALLER))
    await conversations.handle_conversation_turn_async("CA3", "ok thanks, bye", AudioMetadata())
    summary = await conversations.end_conversation_async("CA3", "bot_ended")
    lead = (await provider.list_leads_async(CALLER))[0]
    activities = await provider.list_activities_async(lead.id)
    assert [(a.call_id, a.outcome) for a in activities] == [("CA3", summary.outcome.value)]
    assert summary.outcome.value == "completed"


class BrokenCRM(LocalCRMProvider):
    """The real provider with its service gone: every call fails as an outage would."""

    async def find_by_phone_async(self, phone: str):  # type: ignore[no-untyped-def]
        raise ExternalServiceError("CRM down")

    async def upsert_lead_async(self, fields, phone):  # type: ignore[no-untyped-def]
        raise ExternalServiceError("CRM down")

    async def log_activity_async(self, lead_id, call_id, outcome, summary):  # type: ignore[no-untyped-def]
        raise ExternalServiceError("CRM down")


async def test_the_call_goes_on_when_the_crm_is_down(tmp_path: Path) -> None:
    broken = BrokenCRM(f"sqlite:///{tmp_path / 'crm.db'}")
    await broken.init_async()
    conversations = manager_with(broken)
    state = await conversations.start_conversation_async("CA4", CallerInfo(phone_number=CALLER))
    assert state["current_agent_response"].startswith("Hello, thanks for calling")
    response = await conversations.handle_conversation_turn_async("CA4", "I'd like some information",
                                                                  AudioMetadata())
    assert response.agent_response
    summary = await conversations.end_conversation_async("CA4", "caller_hung_up")
    assert summary.outcome.value == "caller_hung_up"
    await broken.close_async()

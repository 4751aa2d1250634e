"""Questions about the offer are answered from the business's FAQ during the conversation —
and a question the FAQ does not cover gets an honest "an advisor can tell you", never a guess."""

from __future__ import annotations

import pytest

from callbot.agents.graph import AgentConfig, AgentGraph
from callbot.agents.knowledge import shared_knowledge_base
from callbot.agents.phrases import phrase
from callbot.agents.state import CallerInfo
from callbot.business.profile import load_profile
from callbot.managers.conversation import AudioMetadata, ConversationConfig, ConversationManager
from callbot.managers.state import StateManager
from callbot.storage.state import MemoryStorageBackend


@pytest.fixture(scope="module")
def graph() -> AgentGraph:
    profile = load_profile(None)
    assert profile.faq_dir is not None
    return AgentGraph(AgentConfig(knowledge=shared_knowledge_base(profile.faq_dir)))


async def ask(graph: AgentGraph, question: str) -> str:
    conversations = ConversationManager(ConversationConfig(), StateManager(MemoryStorageBackend()), graph)
    await conversations.start_conversation_async("CA1", CallerInfo(phone_number="+15550142001"))
    response = await conversations.handle_conversation_turn_async("CA1", question, AudioMetadata())
    return response.agent_response


async def test_a_question_is_answered_from_the_faq(graph: AgentGraph) -> None:
    reply = await ask(graph, "how much does the data analytics bootcamp cost")  # as Whisper may write it
    assert "6,900" in reply
    assert reply.endswith(phrase("offer_meeting"))  # then the conversation moves on


async def test_a_question_the_faq_does_not_cover_gets_no_invented_answer(graph: AgentGraph) -> None:
    reply = await ask(graph, "What's the weather like on Mars today?")
    assert reply.startswith(phrase("no_answer"))


async def test_a_statement_is_not_taken_for_a_question(graph: AgentGraph) -> None:
    reply = await ask(graph, "I run a bakery with twelve employees.")
    assert reply == phrase("offer_meeting")

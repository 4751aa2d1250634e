"""The optional language model in the conversation, against a local server speaking OpenAI's wire format.

It understands turns the offline NLU could not place and rewords FAQ answers; when it is down,
the offline path answers exactly as it would without one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callbot.agents.graph import AgentConfig, AgentGraph
from callbot.agents.knowledge import KnowledgeBase, shared_knowledge_base
from callbot.agents.llm import LLMProvider
from callbot.agents.phrases import phrase
from callbot.agents.state import CallerInfo, NextAction
from callbot.business.profile import load_profile
from callbot.managers.conversation import ConversationConfig, ConversationManager
from callbot.managers.state import StateManager
from callbot.storage.state import MemoryStorageBackend
from tests.fakes.openai_server import API_KEY, FakeOpenAI, run_fake_openai

PROFILE = load_profile(None)
TUESDAY_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("America/New_York"))
# Offline, this is no intent the rules or the examples know.
ODD_REQUEST = "could a grown-up from your shop ring my landline about the thing"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with run_fake_openai(api_key=API_KEY) as state:
        yield state


@pytest.fixture
def openai(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    assert server.wait_idle(timeout=5.0)
    server.reset()
    yield server
    assert server.wait_idle(timeout=5.0)
    server.reset()


@pytest.fixture(scope="module")
def knowledge() -> KnowledgeBase:
    assert PROFILE.faq_dir is not None
    return shared_knowledge_base(PROFILE.faq_dir)


def conversations(knowledge: KnowledgeBase, llm: LLMProvider | None) -> ConversationManager:
    graph = AgentGraph(AgentConfig(company_name=PROFILE.company_name, profile=PROFILE, knowledge=knowledge, llm=llm,
                                   now=lambda: TUESDAY_10AM))
    return ConversationManager(ConversationConfig(), StateManager(MemoryStorageBackend()), graph)


async def first_reply(manager: ConversationManager, text: str) -> tuple[str, NextAction]:
    await manager.start_conversation_async("CA1", CallerInfo(phone_number="+15550142001"))
    response = await manager.process_user_input_async("CA1", text)
    return response.agent_response, response.next_action


async def test_the_model_understands_what_the_offline_nlu_could_not(openai: FakeOpenAI,
                                                                     knowledge: KnowledgeBase) -> None:
    offline, _ = await first_reply(conversations(knowledge, None), ODD_REQUEST)
    assert offline == phrase("offer_meeting")  # not understood offline: the conversation just moves on
    openai.reply(json.dumps({"intent": "talk_to_human", "slots": {}}))
    async with LLMProvider(openai.base_url, api_key=API_KEY, model="fake", timeout=2.0) as llm:
        reply, action = await first_reply(conversations(knowledge, llm), ODD_REQUEST)
    assert (reply, action) == (phrase("transfer_now"), NextAction.TRANSFER)
    [request] = openai.requests
    assert request.body["messages"][-1] == {"role": "user", "content": ODD_REQUEST}


async def test_a_name_the_offline_nlu_missed_comes_from_the_model(openai: FakeOpenAI,
                                                                  knowledge: KnowledgeBase) -> None:
    openai.reply(json.dumps({"intent": "answer", "slots": {"name": "Zoë Quinn"}}))
    async with LLMProvider(openai.base_url, api_key=API_KEY, model="fake", timeout=2.0) as llm:
        manager = conversations(knowledge, llm)
        await first_reply(manager, "I'd like to book a meeting")
        reply = await manager.process_user_input_async("CA1", "uh well it's the one my mum picked, zoë, quinn")
    assert reply.agent_response.startswith("Thanks, Zoë.")


REWORDED = ("Data Analytics is 6,900 dollars for 16 weeks, UX Design 5,400 for 12, Python 1,900 for 8, and AI for "
            "Managers 2,400 for 6 weeks.")


async def test_faq_answers_are_reworded_keeping_every_number(openai: FakeOpenAI, knowledge: KnowledgeBase) -> None:
    question = "How much is the UX design certificate?"
    offline, _ = await first_reply(conversations(knowledge, None), question)
    assert "5,400" in offline and offline.endswith(phrase("ask_name"))  # the program named: on to the lead
    openai.reply("The UX Design Certificate costs 5,400 US dollars.", REWORDED)  # the first drops numbers
    async with LLMProvider(openai.base_url, api_key=API_KEY, model="fake", timeout=2.0) as llm:
        dropped, _ = await first_reply(conversations(knowledge, llm), question)
        reworded, _ = await first_reply(conversations(knowledge, llm), question)
    assert dropped == offline  # a rewording that loses a price is not said
    assert reworded == f"{REWORDED} {phrase('ask_name')}"


async def test_with_the_model_down_the_offline_path_answers(openai: FakeOpenAI, knowledge: KnowledgeBase) -> None:
    expected = [await first_reply(conversations(knowledge, None), text)
                for text in (ODD_REQUEST, "How much is the UX design certificate?")]
    openai.fail_next(503, 503)
    async with LLMProvider(openai.base_url, api_key=API_KEY, model="fake", timeout=2.0) as llm:
        got = [await first_reply(conversations(knowledge, llm), text)
               for text in (ODD_REQUEST, "How much is the UX design certificate?")]
    assert got == expected
    assert len(openai.requests) == 2  # it was asked, and failed, both times

"""ConversationManager over the skeleton graph, with in-memory state."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from callbot.agents.graph import Intent, detect_intent
from callbot.agents.phrases import phrase
from callbot.agents.state import CallerInfo, ConversationPhase, NextAction
from callbot.errors import ConversationError, ManagerError
from callbot.managers.conversation import (
    AudioMetadata,
    CallOutcome,
    ConversationConfig,
    ConversationManager,
    InterruptionAction,
    InterruptionType,
)
from callbot.managers.state import StateManager
from callbot.storage.state import MemoryStorageBackend

CALLER = CallerInfo(phone_number="+15551234567", called_number="+15557654321", call_sid="CA1")


def _manager(**config: object) -> ConversationManager:
    return ConversationManager(ConversationConfig(**config), StateManager(MemoryStorageBackend()))


@pytest.fixture
async def manager() -> ConversationManager:
    manager = _manager()
    await manager.start_conversation_async("CA1", CALLER)
    return manager


# --- start and turns -------------------------------------------------------------------------


async def test_start_greets() -> None:
    manager = _manager()
    state = await manager.start_conversation_async("CA1", CALLER)
    assert state["current_agent_response"] == phrase("greeting")
    assert state["current_phase"] == ConversationPhase.GREETING
    assert state["next_action"] == NextAction.CONTINUE
    assert [(t["role"], t["text"]) for t in state["conversation_history"]] == [("bot", phrase("greeting"))]
    stored = await manager.get_conversation_state_async("CA1")
    assert stored == state


async def test_start_greets_with_company_name() -> None:
    manager = _manager(company_name="Acme Solar")
    state = await manager.start_conversation_async("CA1", CALLER)
    assert state["current_agent_response"] == phrase("greeting_company", company="Acme Solar")


async def test_starting_the_same_call_twice_fails(manager: ConversationManager) -> None:
    with pytest.raises(ConversationError):
        await manager.start_conversation_async("CA1", CALLER)


async def test_a_statement_moves_the_conversation_on(manager: ConversationManager) -> None:
    response = await manager.handle_conversation_turn_async(
        "CA1",
        "  I'd like a quote for solar panels.  ",
        AudioMetadata(confidence=0.82, audio_duration_ms=1800, is_final=True),
    )
    assert response.agent_response == phrase("offer_meeting")  # nothing known about the caller yet
    assert response.next_action == NextAction.CONTINUE
    assert response.requires_followup is True
    assert response.confidence_score == pytest.approx(0.82)
    assert response.conversation_phase != ConversationPhase.ENDED

    state = await manager.get_conversation_state_async("CA1")
    assert state["turn_count"] == 1
    assert [t["role"] for t in state["conversation_history"]] == ["bot", "caller", "bot"]
    assert state["conversation_history"][1]["text"] == "I'd like a quote for solar panels."
    assert state["conversation_history"][2]["text"] == response.agent_response


async def test_non_final_transcript_is_refused(manager: ConversationManager) -> None:
    with pytest.raises(ConversationError):
        await manager.handle_conversation_turn_async("CA1", "I'd li", AudioMetadata(is_final=False))
    assert (await manager.get_conversation_state_async("CA1"))["turn_count"] == 0


async def test_unknown_call_is_a_conversation_error() -> None:
    manager = _manager()
    with pytest.raises(ConversationError):
        await manager.process_user_input_async("nope", "hello")
    with pytest.raises(ConversationError):
        await manager.get_conversation_state_async("nope")


async def test_thanks_gets_youre_welcome(manager: ConversationManager) -> None:
    response = await manager.process_user_input_async("CA1", "Thank you so much!")
    assert response.agent_response.startswith(phrase("youre_welcome"))
    assert response.next_action == NextAction.CONTINUE


# --- goodbye ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Goodbye.", "OK, thanks, bye!", "That's all, thank you.", "You can hang up now."]
)
async def test_goodbye_ends_the_call(manager: ConversationManager, text: str) -> None:
    response = await manager.process_user_input_async("CA1", text)
    assert response.agent_response == phrase("goodbye")
    assert response.next_action == NextAction.END_CALL
    assert response.conversation_phase == ConversationPhase.ENDED
    assert response.requires_followup is False
    state = await manager.get_conversation_state_async("CA1")
    assert state["current_phase"] == ConversationPhase.ENDED
    assert state["next_action"] == NextAction.END_CALL


async def test_goodbye_inside_a_longer_request_is_not_an_end(manager: ConversationManager) -> None:
    text = "I want to say goodbye to my old provider and switch"
    response = await manager.process_user_input_async("CA1", text)
    assert response.next_action == NextAction.CONTINUE
    assert response.conversation_phase != ConversationPhase.ENDED
    assert response.agent_response != phrase("goodbye")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bye", Intent.GOODBYE),
        ("Bye bye!", Intent.GOODBYE),
        ("That’s all I needed, thanks!", Intent.GOODBYE),
        ("Thanks, have a great day.", Intent.GOODBYE),
        ("I want to say goodbye to my old provider and switch", Intent.STATEMENT),
        ("Before I say bye, what does it cost?", Intent.STATEMENT),
        ("Bye. Actually wait, one more question", Intent.STATEMENT),
        ("Please don't hang up", Intent.STATEMENT),
        ("See you at the demo on Tuesday", Intent.STATEMENT),
        ("Thank you.", Intent.THANKS),
        ("Thanks, what are your prices?", Intent.STATEMENT),
        ("", Intent.EMPTY),
        (" ... ", Intent.EMPTY),
        ("No, thank you.", Intent.STATEMENT),  # "no" is only an end after "anything else?"
    ],
)
def test_detect_intent(text: str, expected: Intent) -> None:
    assert detect_intent(text) == expected


async def test_no_after_anything_else_ends_the_call(manager: ConversationManager) -> None:
    offer = await manager.process_user_input_async("CA1", "I run a bakery.")
    assert offer.agent_response == phrase("offer_meeting")
    first = await manager.process_user_input_async("CA1", "No.")
    assert first.agent_response.endswith(phrase("anything_else"))
    response = await manager.process_user_input_async("CA1", "No, thank you.")
    assert response.next_action == NextAction.END_CALL


async def test_turn_after_the_end_changes_nothing(manager: ConversationManager) -> None:
    await manager.process_user_input_async("CA1", "Bye!")
    before = await manager.get_conversation_state_async("CA1")
    response = await manager.process_user_input_async("CA1", "Wait, one more thing")
    assert response.agent_response == ""
    assert response.next_action == NextAction.END_CALL
    assert await manager.get_conversation_state_async("CA1") == before


# --- silence and noise -----------------------------------------------------------------------


async def test_silence_prompts_then_ends_after_the_max(manager: ConversationManager) -> None:
    for count in (1, 2):
        response = await manager.handle_conversation_interruption_async("CA1", InterruptionType.LONG_SILENCE)
        assert response.action == InterruptionAction.PROMPT_USER
        assert response.message == phrase("still_there")
        state = await manager.get_conversation_state_async("CA1")
        assert state["silence_prompts"] == count
        assert state["current_phase"] != ConversationPhase.ENDED

    response = await manager.handle_conversation_interruption_async("CA1", InterruptionType.LONG_SILENCE)
    assert response.action == InterruptionAction.END_CALL
    assert response.message == phrase("silence_goodbye")
    state = await manager.get_conversation_state_async("CA1")
    assert state["current_phase"] == ConversationPhase.ENDED
    assert state["next_action"] == NextAction.END_CALL
    assert state["conversation_history"][-1]["text"] == phrase("silence_goodbye")

    summary = await manager.end_conversation_async("CA1", "caller_hung_up")
    assert summary.outcome == CallOutcome.SILENCE


async def test_max_silence_prompts_is_configurable() -> None:
    manager = _manager(max_silence_prompts=0)
    await manager.start_conversation_async("CA1", CALLER)
    response = await manager.handle_conversation_interruption_async("CA1", InterruptionType.LONG_SILENCE)
    assert response.action == InterruptionAction.END_CALL


async def test_caller_turn_resets_silence_count(manager: ConversationManager) -> None:
    await manager.handle_conversation_interruption_async("CA1", InterruptionType.LONG_SILENCE)
    await manager.handle_conversation_interruption_async("CA1", InterruptionType.LONG_SILENCE)
    await manager.process_user_input_async("CA1", "Sorry, I'm here.")
    assert (await manager.get_conversation_state_async("CA1"))["silence_prompts"] == 0
    # Two more prompts are allowed again before the call ends.
    for _ in range(2):
        response = await manager.handle_conversation_interruption_async("CA1", InterruptionType.LONG_SILENCE)
        assert response.action == InterruptionAction.PROMPT_USER


async def test_background_noise_asks_to_repeat_then_ends(manager: ConversationManager) -> None:
    for _ in range(3):
        response = await manager.handle_conversation_interruption_async(
            "CA1", InterruptionType.BACKGROUND_NOISE
        )
        assert response.action == InterruptionAction.REQUEST_CLARIFICATION
        assert response.message == phrase("trouble_hearing")
    response = await manager.handle_conversation_interruption_async("CA1", InterruptionType.BACKGROUND_NOISE)
    assert response.action == InterruptionAction.END_CALL
    assert response.message == phrase("trouble_goodbye")
    state = await manager.get_conversation_state_async("CA1")
    assert state["current_phase"] == ConversationPhase.ENDED


async def test_empty_turns_ask_to_repeat_then_end(manager: ConversationManager) -> None:
    for _ in range(3):
        response = await manager.process_user_input_async("CA1", "  ")
        assert response.agent_response == phrase("trouble_hearing")
        assert response.next_action == NextAction.CONTINUE
    response = await manager.process_user_input_async("CA1", "")
    assert response.agent_response == phrase("trouble_goodbye")
    assert response.next_action == NextAction.END_CALL
    state = await manager.get_conversation_state_async("CA1")
    assert state["turn_count"] == 0  # empty turns are not caller turns
    summary = await manager.end_conversation_async("CA1", "stream_stopped")
    assert summary.outcome == CallOutcome.MISUNDERSTANDINGS


async def test_clear_turn_resets_misunderstandings(manager: ConversationManager) -> None:
    await manager.process_user_input_async("CA1", "")
    await manager.process_user_input_async("CA1", "")
    await manager.process_user_input_async("CA1", "I need a quote")
    assert (await manager.get_conversation_state_async("CA1"))["misunderstandings"] == 0


# --- barge-in --------------------------------------------------------------------------------


async def test_record_bot_heard_truncates_the_last_bot_turn(manager: ConversationManager) -> None:
    response = await manager.process_user_input_async("CA1", "Do you install in Texas?")
    await manager.record_bot_heard_async("CA1", "I heard: Do you")
    state = await manager.get_conversation_state_async("CA1")
    last = state["conversation_history"][-1]
    assert last["role"] == "bot"
    assert last["text"] == "I heard: Do you"
    assert last["text"] != response.agent_response
    assert last["interrupted"] is True
    # Earlier turns are untouched.
    assert state["conversation_history"][0]["interrupted"] is False
    assert state["conversation_history"][0]["text"] == phrase("greeting")


async def test_record_bot_heard_with_nothing_heard_keeps_an_empty_turn(manager: ConversationManager) -> None:
    await manager.record_bot_heard_async("CA1", "")
    history = (await manager.get_conversation_state_async("CA1"))["conversation_history"]
    assert len(history) == 1
    assert history[0]["role"] == "bot"
    assert history[0]["text"] == ""
    assert history[0]["interrupted"] is True


async def test_record_bot_heard_targets_the_bot_turn_before_a_caller_turn(
    manager: ConversationManager,
) -> None:
    state = await manager.get_conversation_state_async("CA1")
    state["conversation_history"].append(
        {**state["conversation_history"][0], "role": "caller", "text": "hello?"}  # type: ignore[typeddict-item]
    )
    await manager.state_manager.save_state_async("CA1", state)
    await manager.record_bot_heard_async("CA1", "Hello, thanks")
    history = (await manager.get_conversation_state_async("CA1"))["conversation_history"]
    assert history[0]["text"] == "Hello, thanks" and history[0]["interrupted"] is True
    assert history[1]["text"] == "hello?" and history[1]["interrupted"] is False


# --- end -------------------------------------------------------------------------------------


async def test_end_conversation_summary_and_state_removed(manager: ConversationManager) -> None:
    state = await manager.get_conversation_state_async("CA1")
    # Pretend the call started a minute ago.
    state["start_time"] -= timedelta(seconds=60)
    await manager.state_manager.save_state_async("CA1", state)
    await manager.process_user_input_async("CA1", "I want a demo")
    await manager.process_user_input_async("CA1", "That's all, bye")

    summary = await manager.end_conversation_async("CA1", "caller_hung_up")
    assert summary.call_id == "CA1"
    assert summary.reason == "caller_hung_up"
    assert summary.outcome == CallOutcome.COMPLETED  # hung up after the bot's goodbye
    assert 60 <= summary.duration_seconds < 120
    assert summary.turn_count == 2
    assert summary.phase == ConversationPhase.ENDED
    assert summary.prospect_info == state["prospect_info"]
    assert summary.qualification_score == 0.0
    assert summary.appointment is None
    assert [t["role"] for t in summary.transcript] == ["bot", "caller", "bot", "caller", "bot"]

    assert await manager.state_manager.load_state_async("CA1") is None
    with pytest.raises(ConversationError):
        await manager.get_conversation_state_async("CA1")
    with pytest.raises(ConversationError):
        await manager.end_conversation_async("CA1", "caller_hung_up")


async def test_end_outcomes(manager: ConversationManager) -> None:
    assert (
        await manager.end_conversation_async("CA1", "caller_hung_up")
    ).outcome == CallOutcome.CALLER_HUNG_UP
    await manager.start_conversation_async("CA1", CALLER)
    assert (await manager.end_conversation_async("CA1", "websocket closed")).outcome == (
        CallOutcome.CALLER_HUNG_UP
    )
    await manager.start_conversation_async("CA1", CALLER)
    await manager.process_user_input_async("CA1", "bye")
    assert (await manager.end_conversation_async("CA1", "error")).outcome == CallOutcome.ERROR


# --- concurrency and errors ------------------------------------------------------------------


NAMES = ["Anna", "Brian", "Clara", "Daniel", "Emma", "Frank", "Grace", "Henry", "Irene", "Jacob"]


async def test_concurrent_calls_do_not_mix_state() -> None:
    manager = _manager()
    callers = {f"CA{i}": CallerInfo(phone_number=f"+1555000{i:04d}", call_sid=f"CA{i}") for i in range(10)}
    names = dict(zip(callers, NAMES, strict=True))
    await asyncio.gather(*(manager.start_conversation_async(cid, info) for cid, info in callers.items()))

    async def talk(call_id: str) -> list[str]:
        name = names[call_id]
        lines = [f"Hi, my name is {name}, I'd like to book a meeting.", f"{name.lower()} at example dot com", "yes"]
        replies = []
        for line in lines:
            await asyncio.sleep(0)
            replies.append((await manager.process_user_input_async(call_id, line)).agent_response)
        return lines, replies

    results = await asyncio.gather(*(talk(cid) for cid in callers))
    for call_id, (lines, replies) in zip(callers, results, strict=True):
        name = names[call_id]
        assert replies[0].startswith(f"Thanks, {name}.")
        assert " ".join(name.lower()) in replies[1]  # the address spelled back
        state = await manager.get_conversation_state_async(call_id)
        assert state["caller_phone"] == callers[call_id].phone_number
        assert state["prospect_info"].name == name
        assert state["prospect_info"].email == f"{name.lower()}@example.com"
        assert state["turn_count"] == 3
        assert [t["text"] for t in state["conversation_history"] if t["role"] == "caller"] == lines


async def test_concurrent_events_on_one_call_are_not_lost(manager: ConversationManager) -> None:
    await asyncio.gather(
        *(
            manager.handle_conversation_interruption_async("CA1", InterruptionType.BACKGROUND_NOISE)
            for _ in range(3)
        )
    )
    assert (await manager.get_conversation_state_async("CA1"))["misunderstandings"] == 3


class _BrokenStorage(MemoryStorageBackend):
    async def save_state_async(self, call_id: str, state: object) -> None:  # type: ignore[override]
        raise OSError("disk full: +15551234567")


async def test_storage_failure_becomes_manager_error_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = ConversationManager(ConversationConfig(), StateManager(_BrokenStorage()))
    with caplog.at_level(logging.DEBUG), pytest.raises(ManagerError) as info:
        await manager.start_conversation_async("CA1", CALLER)
    assert isinstance(info.value.__cause__, OSError)
    assert "+1555" not in caplog.text
    assert "+1555" not in str(info.value)


async def test_logs_hold_no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    manager = _manager()
    with caplog.at_level(logging.DEBUG, logger="callbot"):
        await manager.start_conversation_async("CA1", CALLER)
        await manager.process_user_input_async("CA1", "my email is ada@example.com")
        await manager.handle_conversation_interruption_async("CA1", InterruptionType.LONG_SILENCE)
        await manager.process_user_input_async("CA1", "bye")
        await manager.end_conversation_async("CA1", "caller_hung_up")
    assert caplog.records  # something was logged
    assert "ada@example.com" not in caplog.text
    assert CALLER.phone_number not in caplog.text
    assert "+1555" not in caplog.text

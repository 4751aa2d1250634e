"""Conversation state: initial values and the exact JSON round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from callbot.agents.state import (
    AgentType,
    AppointmentPreferences,
    CallerInfo,
    ConversationPhase,
    NextAction,
    PhoneConversationState,
    ProspectInfo,
    make_turn,
    new_conversation_state,
    state_from_json,
    state_to_json,
)

SEED_KEYS = {
    "call_id",
    "caller_phone",
    "start_time",
    "current_phase",
    "conversation_history",
    "current_user_input",
    "current_agent_response",
    "prospect_info",
    "qualification_score",
    "qualification_complete",
    "appointment_preferences",
    "appointment_scheduled",
    "salesforce_lead_id",
    "calendar_event_id",
    "current_agent",
    "agent_context",
    "next_action",
}
OUR_KEYS = {"called_phone", "turn_count", "silence_prompts", "misunderstandings"}


def _full_state() -> PhoneConversationState:
    state = new_conversation_state(
        "CA123",
        CallerInfo(phone_number="+15551230000", called_number="+15559870000", call_sid="CA123"),
        start_time=datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
    )
    state["current_phase"] = ConversationPhase.SCHEDULING
    state["current_agent"] = AgentType.SCHEDULING_AGENT
    state["next_action"] = NextAction.TRANSFER
    state["conversation_history"] = [
        make_turn("bot", "Hello!", timestamp=datetime(2025, 3, 1, 12, 30, 16, tzinfo=UTC)),
        make_turn("caller", "Hi, I need a demo.", timestamp=datetime(2025, 3, 1, 12, 30, 20, tzinfo=UTC)),
        make_turn("bot", "Sure", interrupted=True, timestamp=datetime(2025, 3, 1, 12, 30, 21, tzinfo=UTC)),
    ]
    state["prospect_info"] = ProspectInfo(name="Ada", email="ada@example.com", company="Acme", notes="demo")
    state["appointment_preferences"] = AppointmentPreferences(
        preferred_days=["Tuesday", "Thursday"], preferred_times=["morning"], timezone="Europe/Paris"
    )
    state["appointment_scheduled"] = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    state["qualification_score"] = 0.75
    state["qualification_complete"] = True
    state["salesforce_lead_id"] = "00Q123"
    state["calendar_event_id"] = "evt-1"
    state["turn_count"] = 1
    state["silence_prompts"] = 1
    state["misunderstandings"] = 2
    state["agent_context"] = {
        "call_sid": "CA123",
        "phase_transition_time": datetime(2025, 3, 1, 12, 31, tzinfo=UTC),
        "previous_phase": ConversationPhase.QUALIFICATION,
        "nested": {"when": [datetime(2025, 1, 1, tzinfo=UTC)], "n": 3, "ok": True, "none": None},
        "draft": ProspectInfo(name="Ada"),
    }
    return state


def test_initial_state_has_exactly_the_seed_keys_plus_ours() -> None:
    state = new_conversation_state(
        "CA1", CallerInfo(phone_number="+15550001111", called_number="+15550002222")
    )
    assert set(state) == SEED_KEYS | OUR_KEYS
    assert state["current_phase"] is ConversationPhase.GREETING
    assert state["current_agent"] is AgentType.LEAD_AGENT
    assert state["caller_phone"] == "+15550001111"
    assert state["called_phone"] == "+15550002222"
    assert state["start_time"].tzinfo is UTC
    assert state["conversation_history"] == []
    assert state["next_action"] is None
    assert (state["turn_count"], state["silence_prompts"], state["misunderstandings"]) == (0, 0, 0)


def test_json_round_trip_is_exact() -> None:
    state = _full_state()
    restored = state_from_json(state_to_json(state))
    assert restored == state
    assert set(restored) == set(state)


def test_round_trip_restores_types_not_just_equal_strings() -> None:
    restored = state_from_json(state_to_json(_full_state()))
    # StrEnums compare equal to their strings, so check the types themselves.
    assert type(restored["current_phase"]) is ConversationPhase
    assert type(restored["current_agent"]) is AgentType
    assert type(restored["next_action"]) is NextAction
    assert isinstance(restored["prospect_info"], ProspectInfo)
    assert isinstance(restored["appointment_preferences"], AppointmentPreferences)
    assert restored["start_time"].tzinfo is UTC
    assert restored["start_time"].microsecond == 123456
    assert restored["conversation_history"][0]["timestamp"].tzinfo is UTC
    assert restored["conversation_history"][2]["interrupted"] is True

    context = restored["agent_context"]
    assert context["phase_transition_time"] == datetime(2025, 3, 1, 12, 31, tzinfo=UTC)
    assert context["phase_transition_time"].tzinfo is UTC
    assert type(context["previous_phase"]) is ConversationPhase
    assert isinstance(context["draft"], ProspectInfo)
    assert context["nested"]["when"][0] == datetime(2025, 1, 1, tzinfo=UTC)


def test_json_is_plain_json() -> None:
    data = json.loads(state_to_json(_full_state()))
    assert data["current_phase"] == "scheduling"
    assert data["start_time"].startswith("2025-03-01T12:30:15.123456")
    assert data["prospect_info"]["email"] == "ada@example.com"


def test_other_timezones_come_back_as_the_same_instant_in_utc() -> None:
    state = _full_state()
    paris = timezone(timedelta(hours=1))
    state["start_time"] = datetime(2025, 3, 1, 13, 0, tzinfo=paris)
    state["agent_context"] = {"at": datetime(2025, 3, 1, 14, 0, tzinfo=paris)}
    restored = state_from_json(state_to_json(state))
    assert restored["start_time"] == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert restored["start_time"].tzinfo is UTC
    assert restored["agent_context"]["at"] == datetime(2025, 3, 1, 13, 0, tzinfo=UTC)


def test_unstorable_context_value_is_refused() -> None:
    state = _full_state()
    state["agent_context"] = {"thing": object()}
    with pytest.raises(TypeError, match="object"):
        state_to_json(state)


def test_invalid_json_state_is_refused() -> None:
    data = json.loads(state_to_json(_full_state()))
    data["current_phase"] = "dancing"
    with pytest.raises(ValueError):
        state_from_json(json.dumps(data))

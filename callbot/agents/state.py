"""Conversation state (seed API): the typed dict the agent graph runs on, and its JSON form.

The state is plain data so it can live in any ``StorageBackend``; ``state_to_json`` and
``state_from_json`` round-trip it exactly (aware UTC datetimes, enums, pydantic models).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before 3.12


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC; aware ones are converted, so loads compare and print alike.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class ConversationPhase(StrEnum):
    GREETING = "greeting"
    LEAD_CAPTURE = "lead_capture"
    QUALIFICATION = "qualification"
    INFORMATION = "information"
    SCHEDULING = "scheduling"
    CONFIRMATION = "confirmation"
    CLOSING = "closing"
    ENDED = "ended"


class AgentType(StrEnum):
    LEAD_AGENT = "lead_agent"
    QUALIFICATION_AGENT = "qualification_agent"
    SCHEDULING_AGENT = "scheduling_agent"
    INFORMATION_AGENT = "information_agent"


class NextAction(StrEnum):
    """What the media layer should do once the bot's reply has been spoken."""

    CONTINUE = "continue"
    END_CALL = "end_call"
    TRANSFER = "transfer"


class ProspectInfo(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    interest: str | None = None
    notes: str | None = None


class AppointmentPreferences(BaseModel):
    preferred_days: list[str] = Field(default_factory=list)
    preferred_times: list[str] = Field(default_factory=list)
    timezone: str | None = None
    notes: str | None = None


class CallerInfo(BaseModel):
    """Who is calling whom; ``call_sid`` is Twilio's id for the call."""

    phone_number: str
    called_number: str | None = None
    call_sid: str | None = None


class ConversationTurn(TypedDict):
    role: Literal["caller", "bot"]
    text: str
    timestamp: UtcDatetime
    # True when the caller barged in: ``text`` is then only what they actually heard.
    interrupted: bool


def make_turn(
    role: Literal["caller", "bot"], text: str, *, interrupted: bool = False, timestamp: datetime | None = None
) -> ConversationTurn:
    """A new history entry, stamped now unless a timestamp is given."""
    return ConversationTurn(role=role, text=text, timestamp=timestamp or utc_now(), interrupted=interrupted)


class PhoneConversationState(TypedDict):
    # --- seed keys ----------------------------------------------------------------------
    call_id: str
    caller_phone: str
    start_time: UtcDatetime
    current_phase: ConversationPhase
    conversation_history: list[ConversationTurn]
    current_user_input: str
    current_agent_response: str
    prospect_info: ProspectInfo
    qualification_score: float
    qualification_complete: bool
    appointment_preferences: AppointmentPreferences
    appointment_scheduled: UtcDatetime | None
    salesforce_lead_id: str | None
    calendar_event_id: str | None
    current_agent: AgentType
    agent_context: dict[str, Any]
    next_action: NextAction | None
    # --- ours -----------------------------------------------------------------------------
    called_phone: str | None
    turn_count: int  # caller turns with speech in them
    silence_prompts: int  # consecutive "are you still there?" prompts
    misunderstandings: int  # consecutive turns the bot could not make out


def new_conversation_state(
    call_id: str, caller_info: CallerInfo, *, start_time: datetime | None = None
) -> PhoneConversationState:
    """The state of a call that has just been answered (nothing said yet)."""
    return PhoneConversationState(
        call_id=call_id,
        caller_phone=caller_info.phone_number,
        start_time=_as_utc(start_time) if start_time else utc_now(),
        current_phase=ConversationPhase.GREETING,
        conversation_history=[],
        current_user_input="",
        current_agent_response="",
        prospect_info=ProspectInfo(),
        qualification_score=0.0,
        qualification_complete=False,
        appointment_preferences=AppointmentPreferences(),
        appointment_scheduled=None,
        salesforce_lead_id=None,
        calendar_event_id=None,
        current_agent=AgentType.LEAD_AGENT,
        agent_context={"call_sid": caller_info.call_sid} if caller_info.call_sid else {},
        next_action=None,
        called_phone=caller_info.called_number,
        turn_count=0,
        silence_prompts=0,
        misunderstandings=0,
    )


# --- JSON ------------------------------------------------------------------------------------
# The typed keys round-trip through pydantic. ``agent_context`` is free-form, so its values are
# tagged: datetimes, and the enums and models registered below, come back as themselves.

_STATE_ADAPTER: TypeAdapter[PhoneConversationState] = TypeAdapter(PhoneConversationState)

_CONTEXT_TYPES: dict[str, type[Enum] | type[BaseModel]] = {}


def register_context_type(cls: type[Enum] | type[BaseModel]) -> None:
    """Let values of ``cls`` (an enum or pydantic model) round-trip inside ``agent_context``."""
    existing = _CONTEXT_TYPES.get(cls.__name__)
    if existing is not None and existing is not cls:
        raise ValueError(f"another context type is already registered as {cls.__name__!r}")
    _CONTEXT_TYPES[cls.__name__] = cls


for _cls in (ConversationPhase, AgentType, NextAction, ProspectInfo, AppointmentPreferences, CallerInfo):
    register_context_type(_cls)


def _encode_context(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    # Enums before str: a StrEnum is a str but must come back as its enum.
    if isinstance(value, Enum):
        name = type(value).__name__
        if _CONTEXT_TYPES.get(name) is not type(value):
            raise TypeError(f"agent_context holds an unregistered enum {name}")
        return {"$enum": name, "value": value.value}
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return {"$datetime": _as_utc(value).isoformat()}
    if isinstance(value, BaseModel):
        name = type(value).__name__
        if _CONTEXT_TYPES.get(name) is not type(value):
            raise TypeError(f"agent_context holds an unregistered model {name}")
        return {"$model": name, "data": value.model_dump(mode="json")}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("agent_context dict keys must be strings")
        return {key: _encode_context(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode_context(item) for item in value]
    raise TypeError(f"agent_context value of type {type(value).__name__} cannot be stored")


def _context_type(name: str) -> type[Enum] | type[BaseModel]:
    try:
        return _CONTEXT_TYPES[name]
    except KeyError:
        raise ValueError(f"agent_context names an unregistered type {name!r}") from None


def _decode_context(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_context(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"$datetime"}:
        return _as_utc(datetime.fromisoformat(value["$datetime"]))
    if value.keys() == {"$enum", "value"}:
        enum_cls = _context_type(value["$enum"])
        return enum_cls(value["value"])  # type: ignore[call-arg]
    if value.keys() == {"$model", "data"}:
        model_cls = _context_type(value["$model"])
        return model_cls.model_validate(value["data"])  # type: ignore[union-attr]
    return {key: _decode_context(item) for key, item in value.items()}


def state_to_json(state: PhoneConversationState) -> str:
    """Serialise a state; raises ``TypeError`` for agent_context values that would not come back."""
    encoded = {**state, "agent_context": _encode_context(state["agent_context"])}
    return _STATE_ADAPTER.dump_json(encoded).decode()  # type: ignore[arg-type]


def state_from_json(data: str | bytes) -> PhoneConversationState:
    """Inverse of ``state_to_json``: validates every key and rebuilds enums, models and datetimes."""
    state = _STATE_ADAPTER.validate_json(data)
    state["agent_context"] = _decode_context(state["agent_context"])
    return state

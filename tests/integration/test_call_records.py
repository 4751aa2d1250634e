"""CallRecordStore against a real SQLite file, and PostgreSQL when CALLBOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from callbot.config import Settings
from callbot.storage.records import (
    CallNotFoundError,
    CallRecordStore,
    CallRow,
    StatusEventRow,
    TurnRow,
    async_database_url,
)
from tests.postgres import PG_SKIP_REASON, POSTGRES_URL

_PG_SKIP = PG_SKIP_REASON

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def sid_prefix() -> str:
    return f"CAtest{uuid.uuid4().hex[:10]}"


@pytest.fixture
def new_sid(sid_prefix: str) -> Callable[[], str]:
    return lambda: f"{sid_prefix}{uuid.uuid4().hex[:16]}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(bool(_PG_SKIP), reason=_PG_SKIP))]
)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, sid_prefix: str
) -> AsyncIterator[CallRecordStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'nested' / 'callbot.db'}"
    else:
        url = POSTGRES_URL
    records = CallRecordStore(url)
    await records.init_async()
    try:
        yield records
    finally:
        if request.param == "postgres":
            await _delete_test_rows(records, sid_prefix)
        await records.close_async()


async def _delete_test_rows(records: CallRecordStore, sid_prefix: str) -> None:
    # A shared test database: remove only what this test created.
    async with records._sessions() as session, session.begin():
        ids = select(CallRow.id).where(CallRow.call_sid.startswith(sid_prefix))
        await session.execute(delete(TurnRow).where(TurnRow.call_id.in_(ids)))
        await session.execute(delete(CallRow).where(CallRow.call_sid.startswith(sid_prefix)))
        await session.execute(delete(StatusEventRow).where(StatusEventRow.call_sid.startswith(sid_prefix)))


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# --- URLs ---------------------------------------------------------------------------------------


def test_async_url_mapping() -> None:
    assert async_database_url("sqlite:///data/x.db").drivername == "sqlite+aiosqlite"
    assert async_database_url("sqlite:///data/x.db").database == "data/x.db"
    assert async_database_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+aiosqlite"
    pg = async_database_url("postgresql://u:secret@db:5432/calls")
    assert pg.drivername == "postgresql+asyncpg"
    assert (pg.username, pg.password, pg.host, pg.port, pg.database) == ("u", "secret", "db", 5432, "calls")
    assert async_database_url("postgresql+asyncpg://db/calls").drivername == "postgresql+asyncpg"


async def test_default_settings_url_creates_sqlite_file_and_folders(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "deep" / "data", database_url="")
    records = CallRecordStore(settings.resolved_database_url)
    try:
        await records.init_async()
        call_id = await records.start_call_async("CAdefault", "MZ1", "+15550001111", "+15550002222")
        assert (await records.get_call_async(call_id)) is not None
    finally:
        await records.close_async()
    assert (tmp_path / "deep" / "data" / "callbot.db").is_file()


# --- one call, start to end ---------------------------------------------------------------------


async def test_call_lifecycle_with_turns_in_order(store: CallRecordStore, new_sid: Callable[[], str]) -> None:
    sid = new_sid()
    call_id = await store.start_call_async(sid, "MZstream", "+15551230000", "+15559870000", started_at=T0)
    assert len(call_id) == 32 and int(call_id, 16) >= 0
    # The same sid again (e.g. a reconnected stream) keeps the first call.
    assert await store.start_call_async(sid, "MZother", "+15551230000", "+15559870000") == call_id

    plus_two = timezone(timedelta(hours=2))
    await store.add_turn_async(call_id, "bot", "Hello, this is Acme.", T0, T0 + timedelta(seconds=2))
    await store.add_turn_async(
        call_id,
        "caller",
        "Hi, I'd like a quote.",
        # A non-UTC offset comes back as the same instant in UTC.
        (T0 + timedelta(seconds=3)).astimezone(plus_two),
        (T0 + timedelta(seconds=5)).astimezone(plus_two),
        confidence=0.91,
    )
    await store.add_turn_async(
        call_id, "bot", "Sure, for how many", T0 + timedelta(seconds=5.4), T0 + timedelta(seconds=6),
        interrupted=True, latency_ms=412.5,
    )  # fmt: skip
    await store.end_call_async(call_id, "caller_hung_up", ended_at=T0 + timedelta(minutes=1), outcome="quote")

    record = await store.get_call_async(call_id)
    assert record is not None
    assert (record.id, record.call_sid, record.stream_sid) == (call_id, sid, "MZstream")
    assert (record.caller, record.called) == ("+15551230000", "+15559870000")
    assert record.started_at == T0
    assert record.ended_at == T0 + timedelta(minutes=1)
    assert (record.status, record.end_reason, record.outcome) == ("completed", "caller_hung_up", "quote")
    assert_utc(record.started_at)
    assert_utc(record.ended_at)

    assert [t.index for t in record.turns] == [0, 1, 2]
    assert [t.speaker for t in record.turns] == ["bot", "caller", "bot"]
    assert record.turns[1].text == "Hi, I'd like a quote."
    assert record.turns[1].started_at == T0 + timedelta(seconds=3)
    assert record.turns[1].confidence == pytest.approx(0.91)
    assert record.turns[2].interrupted is True
    assert record.turns[2].latency_ms == pytest.approx(412.5)
    assert record.turns[0].interrupted is False and record.turns[0].latency_ms is None
    for turn in record.turns:
        assert_utc(turn.started_at)
        assert_utc(turn.ended_at)

    # Personal data stays out of the repr (and so out of logs that print a record).
    assert "+1555" not in repr(record) and "quote." not in repr(record)


async def test_first_end_wins(store: CallRecordStore, new_sid: Callable[[], str]) -> None:
    call_id = await store.start_call_async(new_sid(), None, "+1", "+2", started_at=T0)
    await store.end_call_async(call_id, "caller_hung_up", ended_at=T0 + timedelta(seconds=30))
    await store.end_call_async(call_id, "bot_ended", ended_at=T0 + timedelta(seconds=31), outcome="no_sale")
    record = await store.get_call_async(call_id)
    assert record is not None
    assert record.end_reason == "caller_hung_up"
    assert record.ended_at == T0 + timedelta(seconds=30)
    assert record.outcome == "no_sale"


async def test_invalid_input_rejected(store: CallRecordStore, new_sid: Callable[[], str]) -> None:
    call_id = await store.start_call_async(new_sid(), None, "+1", "+2")
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.add_turn_async(call_id, "bot", "hi", datetime(2025, 1, 1), datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="speaker"):
        await store.add_turn_async(call_id, "robot", "hi", T0, T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="end_reason"):
        await store.end_call_async(call_id, "bored")
    with pytest.raises(CallNotFoundError):
        await store.add_turn_async("0" * 32, "bot", "hi", T0, T0)
    with pytest.raises(CallNotFoundError):
        await store.end_call_async("0" * 32, "error")
    record = await store.get_call_async(call_id)
    assert record is not None and record.turns == [] and record.ended_at is None


# --- Twilio status callbacks --------------------------------------------------------------------


async def test_status_before_and_after_call_exists(
    store: CallRecordStore, new_sid: Callable[[], str]
) -> None:
    sid = new_sid()
    # Before the media stream has created the call: stored, nothing to update.
    await store.record_status(sid, "ringing", {"CallSid": sid, "CallStatus": "ringing", "From": "+15550001"})
    assert await store.get_call_async(sid) is None

    call_id = await store.start_call_async(sid, "MZ", "+15550001", "+15550002")
    record = await store.get_call_async(sid)
    assert record is not None and record.id == call_id
    assert record.status == "in-progress"
    assert [e.status for e in record.status_events] == ["ringing"]
    assert record.status_events[0].params["From"] == "+15550001"

    await store.end_call_async(call_id, "caller_hung_up")
    completed = {"CallSid": sid, "CallStatus": "completed", "CallDuration": 42}
    await store.record_status(sid, "completed", completed)
    # A late, out-of-order callback must not reopen the call.
    await store.record_status(sid, "in-progress", {"CallSid": sid, "CallStatus": "in-progress"})

    record = await store.get_call_async(call_id)
    assert record is not None
    assert record.status == "completed"
    assert [e.status for e in record.status_events] == ["ringing", "completed", "in-progress"]
    assert record.status_events[1].params == completed
    for ev in record.status_events:
        assert_utc(ev.received_at)


async def test_status_updates_live_call(store: CallRecordStore, new_sid: Callable[[], str]) -> None:
    sid = new_sid()
    call_id = await store.start_call_async(sid, "MZ", "+1", "+2")
    await store.record_status(sid, "failed", {})
    record = await store.get_call_async(call_id)
    assert record is not None and record.status == "failed"


# --- lookups ------------------------------------------------------------------------------------


async def test_get_by_id_and_sid_and_list(store: CallRecordStore, new_sid: Callable[[], str]) -> None:
    now = datetime.now(UTC)
    sids = [new_sid() for _ in range(3)]
    ids = [
        await store.start_call_async(sid, f"MZ{i}", "+1", "+2", started_at=now + timedelta(seconds=i))
        for i, sid in enumerate(sids)
    ]
    await store.add_turn_async(ids[0], "bot", "hello", now, now)
    await store.record_status(sids[0], "in-progress", {})

    by_id = await store.get_call_async(ids[1])
    by_sid = await store.get_call_async(sids[1])
    assert by_id is not None and by_sid is not None
    assert by_id == by_sid
    assert by_id.call_sid == sids[1]
    assert await store.get_call_async("CAdoesnotexist") is None

    newest = await store.list_calls_async(limit=2)
    assert [c.id for c in newest] == [ids[2], ids[1]]
    listed = {c.id: c for c in await store.list_calls_async()}
    assert set(ids) <= listed.keys()
    assert [t.text for t in listed[ids[0]].turns] == ["hello"]
    assert [e.status for e in listed[ids[0]].status_events] == ["in-progress"]


# --- concurrency --------------------------------------------------------------------------------


async def test_twenty_concurrent_calls_keep_every_turn(
    store: CallRecordStore, new_sid: Callable[[], str]
) -> None:
    calls, turns_per_call = 20, 8

    async def one_call(n: int) -> tuple[str, str]:
        sid = new_sid()
        await store.record_status(sid, "ringing", {"CallSid": sid})
        call_id = await store.start_call_async(sid, f"MZ{n}", "+1", "+2")
        for i in range(turns_per_call):
            speaker = "caller" if i % 2 else "bot"
            start = T0 + timedelta(seconds=i)
            await store.add_turn_async(
                call_id, speaker, f"call {n} turn {i}", start, start + timedelta(milliseconds=500),
                latency_ms=100.0 + i,
            )  # fmt: skip
            await store.record_status(sid, "in-progress", {"CallSid": sid, "Seq": i})
            await asyncio.sleep(0)  # let the other calls interleave
        await store.end_call_async(call_id, "bot_ended")
        return call_id, sid

    results = await asyncio.gather(*(one_call(n) for n in range(calls)))
    assert len({call_id for call_id, _ in results}) == calls

    for n, (call_id, _sid) in enumerate(results):
        record = await store.get_call_async(call_id)
        assert record is not None
        assert [t.index for t in record.turns] == list(range(turns_per_call))
        assert [t.text for t in record.turns] == [f"call {n} turn {i}" for i in range(turns_per_call)]
        assert len(record.status_events) == 1 + turns_per_call
        assert record.end_reason == "bot_ended"


async def test_concurrent_turns_on_one_call_get_distinct_indexes(
    store: CallRecordStore, new_sid: Callable[[], str]
) -> None:
    call_id = await store.start_call_async(new_sid(), "MZ", "+1", "+2")
    await asyncio.gather(*(store.add_turn_async(call_id, "bot", f"t{i}", T0, T0) for i in range(15)))
    record = await store.get_call_async(call_id)
    assert record is not None
    assert [t.index for t in record.turns] == list(range(15))
    assert sorted(t.text for t in record.turns) == sorted(f"t{i}" for i in range(15))

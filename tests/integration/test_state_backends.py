"""State backends: memory and SQLite store, load and delete whole states."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callbot.agents.state import (
    CallerInfo,
    ConversationPhase,
    PhoneConversationState,
    ProspectInfo,
    make_turn,
    new_conversation_state,
)
from callbot.config import Settings
from callbot.storage.state import (
    MemoryStorageBackend,
    SQLiteStorageBackend,
    StorageBackend,
    build_storage_backend,
)


def _state(call_id: str = "CA1") -> PhoneConversationState:
    state = new_conversation_state(call_id, CallerInfo(phone_number="+15550001111", call_sid=call_id))
    state["conversation_history"] = [make_turn("bot", "Hello")]
    state["current_phase"] = ConversationPhase.QUALIFICATION
    state["prospect_info"] = ProspectInfo(name="Grace", company="Navy")
    state["agent_context"]["since"] = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    return state


@pytest.fixture(params=["memory", "sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageBackend]:
    store: StorageBackend
    if request.param == "memory":
        store = MemoryStorageBackend()
    else:
        store = SQLiteStorageBackend(tmp_path / "nested" / "dir" / "state.db")
    yield store
    await store.close_async()


async def test_save_load_delete(backend: StorageBackend) -> None:
    assert isinstance(backend, StorageBackend)
    assert await backend.load_state_async("CA1") is None

    state = _state()
    await backend.save_state_async("CA1", state)
    assert await backend.load_state_async("CA1") == state

    state["turn_count"] = 5
    await backend.save_state_async("CA1", state)  # overwrite
    loaded = await backend.load_state_async("CA1")
    assert loaded is not None and loaded["turn_count"] == 5

    await backend.delete_state_async("CA1")
    assert await backend.load_state_async("CA1") is None
    await backend.delete_state_async("CA1")  # deleting twice is harmless


async def test_calls_are_kept_apart(backend: StorageBackend) -> None:
    await backend.save_state_async("CA1", _state("CA1"))
    await backend.save_state_async("CA2", _state("CA2"))
    await backend.delete_state_async("CA1")
    assert await backend.load_state_async("CA1") is None
    other = await backend.load_state_async("CA2")
    assert other is not None and other["call_id"] == "CA2"


async def test_loaded_state_is_a_copy(backend: StorageBackend) -> None:
    await backend.save_state_async("CA1", _state())
    loaded = await backend.load_state_async("CA1")
    assert loaded is not None
    loaded["conversation_history"].append(make_turn("caller", "changed"))
    loaded["prospect_info"].name = "changed"
    again = await backend.load_state_async("CA1")
    assert again is not None
    assert len(again["conversation_history"]) == 1
    assert again["prospect_info"].name == "Grace"


async def test_memory_backend_stores_a_deep_copy() -> None:
    store = MemoryStorageBackend()
    state = _state()
    await store.save_state_async("CA1", state)
    # Mutate nested parts of the caller's dict after saving.
    state["conversation_history"].append(make_turn("caller", "after save"))
    state["conversation_history"][0]["text"] = "mutated"
    state["agent_context"]["extra"] = 1
    state["prospect_info"].name = "mutated"
    stored = await store.load_state_async("CA1")
    assert stored is not None
    assert [turn["text"] for turn in stored["conversation_history"]] == ["Hello"]
    assert "extra" not in stored["agent_context"]
    assert stored["prospect_info"].name == "Grace"


async def test_sqlite_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db"
    first = SQLiteStorageBackend(path)
    state = _state()
    await first.save_state_async("CA1", state)
    await first.close_async()
    assert path.exists()

    second = SQLiteStorageBackend(path)
    try:
        loaded = await second.load_state_async("CA1")
        assert loaded == state
        assert loaded is not None and loaded["agent_context"]["since"].tzinfo is UTC
    finally:
        await second.close_async()


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = SQLiteStorageBackend(tmp_path / "state.db")
    try:
        await store.save_state_async("CA1", _state())
        conn = await store._connection()
        async with conn.execute("PRAGMA journal_mode") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0].lower() == "wal"
    finally:
        await store.close_async()


async def test_build_storage_backend(tmp_path: Path) -> None:
    memory = build_storage_backend(Settings(state_backend="memory", data_dir=tmp_path))
    assert isinstance(memory, MemoryStorageBackend)

    sqlite = build_storage_backend(Settings(state_backend="sqlite", data_dir=tmp_path / "data"))
    assert isinstance(sqlite, SQLiteStorageBackend)
    assert sqlite.path == tmp_path / "data" / "state.db"
    try:
        await sqlite.save_state_async("CA1", _state())
        assert (tmp_path / "data" / "state.db").exists()
    finally:
        await sqlite.close_async()

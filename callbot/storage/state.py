"""Where live conversation state is kept while a call runs: in memory or in a SQLite file."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import aiosqlite

from callbot.agents.state import PhoneConversationState, state_from_json, state_to_json, utc_now

if TYPE_CHECKING:
    from callbot.config import Settings


@runtime_checkable
class StorageBackend(Protocol):
    async def save_state_async(self, call_id: str, state: PhoneConversationState) -> None: ...

    async def load_state_async(self, call_id: str) -> PhoneConversationState | None: ...

    async def delete_state_async(self, call_id: str) -> None: ...

    async def close_async(self) -> None: ...


class MemoryStorageBackend:
    """States in a dict of this process. Copies in and out, so nobody shares a stored dict."""

    def __init__(self) -> None:
        self._states: dict[str, PhoneConversationState] = {}

    async def save_state_async(self, call_id: str, state: PhoneConversationState) -> None:
        self._states[call_id] = copy.deepcopy(state)

    async def load_state_async(self, call_id: str) -> PhoneConversationState | None:
        state = self._states.get(call_id)
        return copy.deepcopy(state) if state is not None else None

    async def delete_state_async(self, call_id: str) -> None:
        self._states.pop(call_id, None)

    async def close_async(self) -> None:
        self._states.clear()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_state (
    call_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class SQLiteStorageBackend:
    """States as JSON rows in a SQLite file (WAL mode), so they survive a restart.

    One connection, opened on first use, in autocommit mode: every save is a single atomic
    statement, so concurrent calls cannot interleave inside each other's transaction.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._connect_lock = asyncio.Lock()

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is not None:
            return self._conn
        async with self._connect_lock:
            if self._conn is None:
                await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
                conn = await aiosqlite.connect(self.path, isolation_level=None)
                try:
                    await conn.execute("PRAGMA journal_mode=WAL")
                    await conn.execute("PRAGMA busy_timeout=5000")
                    await conn.execute(_SCHEMA)
                except BaseException:
                    await conn.close()
                    raise
                self._conn = conn
        return self._conn

    async def save_state_async(self, call_id: str, state: PhoneConversationState) -> None:
        conn = await self._connection()
        await conn.execute(
            "INSERT INTO conversation_state (call_id, state, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(call_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (call_id, state_to_json(state), utc_now().isoformat()),
        )

    async def load_state_async(self, call_id: str) -> PhoneConversationState | None:
        conn = await self._connection()
        async with conn.execute("SELECT state FROM conversation_state WHERE call_id = ?", (call_id,)) as cur:
            row = await cur.fetchone()
        return state_from_json(row[0]) if row is not None else None

    async def delete_state_async(self, call_id: str) -> None:
        conn = await self._connection()
        await conn.execute("DELETE FROM conversation_state WHERE call_id = ?", (call_id,))

    async def close_async(self) -> None:
        async with self._connect_lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await conn.close()


def build_storage_backend(settings: Settings) -> StorageBackend:
    """The backend ``settings.state_backend`` names; SQLite lives at ``data_dir/state.db``."""
    if settings.state_backend == "memory":
        return MemoryStorageBackend()
    if settings.state_backend == "sqlite":
        return SQLiteStorageBackend(settings.data_dir / "state.db")
    raise ValueError(f"unknown state backend {settings.state_backend!r}")

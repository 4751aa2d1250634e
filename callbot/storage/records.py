"""Call records: calls, their turns and Twilio status callbacks, stored with SQLAlchemy (async).

SQLite (a file in the data folder) by default; PostgreSQL works through the same models, since
nothing here relies on SQLite-only SQL. Every datetime is timezone-aware UTC, in and out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

logger = logging.getLogger("callbot.storage.records")

Speaker = Literal["caller", "bot"]
SPEAKERS: frozenset[str] = frozenset({"caller", "bot"})
END_REASONS: frozenset[str] = frozenset(
    {"caller_hung_up", "bot_ended", "silence", "misunderstood", "error", "max_duration", "transferred"}
)
# Twilio call statuses after which a call never changes again.
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

# Seconds a SQLite connection waits for another one's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0


class CallNotFoundError(LookupError):
    """No call with the given id."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime(timezone=True) that accepts only aware datetimes and always returns aware UTC.

    SQLite has no time-zone type and hands back naive values; they were stored as UTC, so
    they get UTC attached again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _require_aware(value, "datetime")
        # SQLite would silently drop the offset; make the stored text plainly UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# --- ORM models -------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class CallRow(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    stream_sid: Mapped[str | None] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(String(64))
    called: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(32), default="in-progress")
    end_reason: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text)  # the conversation's summary, JSON

    turns: Mapped[list[TurnRow]] = relationship(
        back_populates="call", order_by="TurnRow.index", cascade="all, delete-orphan", lazy="raise"
    )


class TurnRow(Base):
    __tablename__ = "call_turns"
    __table_args__ = (UniqueConstraint("call_id", "index", name="uq_call_turns_call_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)

    call: Mapped[CallRow] = relationship(back_populates="turns", lazy="raise")


class StatusEventRow(Base):
    __tablename__ = "call_status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign key: Twilio may report a status before the media stream has created the call.
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    params: Mapped[str] = mapped_column(Text, default="{}")


# --- public records ---------------------------------------------------------------------------


class TurnRecord(BaseModel):
    index: int
    speaker: Speaker
    text: str = Field(repr=False)  # what was said stays out of reprs (and so out of logs)
    started_at: datetime
    ended_at: datetime
    interrupted: bool
    latency_ms: float | None
    confidence: float | None


class StatusEventRecord(BaseModel):
    status: str
    received_at: datetime
    params: dict[str, Any] = Field(repr=False)  # holds phone numbers


class CallRecord(BaseModel):
    id: str
    call_sid: str
    stream_sid: str | None
    caller: str = Field(repr=False)
    called: str = Field(repr=False)
    started_at: datetime
    ended_at: datetime | None
    status: str
    end_reason: str | None
    outcome: str | None
    # The conversation's summary: outcome, phases, lead fields, appointment, score, duration.
    summary: dict[str, Any] | None = Field(None, repr=False)
    turns: list[TurnRecord]
    status_events: list[StatusEventRecord]


def async_database_url(database_url: str) -> URL:
    """Map a plain URL onto its async driver: sqlite → aiosqlite, postgresql → asyncpg."""
    url = make_url(database_url)
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg2"):
        return url.set(drivername="postgresql+asyncpg")
    return url


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _to_record(call: CallRow, events: list[StatusEventRow]) -> CallRecord:
    return CallRecord(
        id=call.id,
        call_sid=call.call_sid,
        stream_sid=call.stream_sid,
        caller=call.caller,
        called=call.called,
        started_at=call.started_at,
        ended_at=call.ended_at,
        status=call.status,
        end_reason=call.end_reason,
        outcome=call.outcome,
        summary=json.loads(call.summary) if call.summary else None,
        turns=[
            TurnRecord(
                index=t.index,
                speaker=t.speaker,  # type: ignore[arg-type]  # validated on the way in
                text=t.text,
                started_at=t.started_at,
                ended_at=t.ended_at,
                interrupted=t.interrupted,
                latency_ms=t.latency_ms,
                confidence=t.confidence,
            )
            for t in sorted(call.turns, key=lambda t: t.index)
        ],
        status_events=[
            StatusEventRecord(status=e.status, received_at=e.received_at, params=json.loads(e.params))
            for e in events
        ],
    )


def _add_missing_columns(connection: Connection) -> None:
    """Columns added since a database was created (``create_all`` makes tables, not columns)."""
    existing = {column["name"] for column in inspect(connection).get_columns("calls")}
    if "summary" not in existing:
        connection.execute(text("ALTER TABLE calls ADD COLUMN summary TEXT"))


class CallRecordStore:
    """Async store of call records; safe for many calls writing at once from one process."""

    def __init__(self, database_url: str) -> None:
        url = async_database_url(database_url)
        self._is_sqlite = url.get_backend_name() == "sqlite"
        connect_args: dict[str, Any] = {}
        if self._is_sqlite:
            sqlite_file = _sqlite_file(url)
            if sqlite_file is not None:
                sqlite_file.parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
        self._engine = create_async_engine(url, connect_args=connect_args, pool_pre_ping=not self._is_sqlite)
        if self._is_sqlite:
            event.listen(self._engine.sync_engine, "connect", _configure_sqlite)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        # SQLite allows one writer at a time; two write transactions that both read first can
        # deadlock (an immediate "database is locked"), so writes from this process go in turn.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self._is_sqlite else None

    async def init_async(self) -> None:
        """Create the tables if they do not exist (and add columns newer versions brought)."""
        async with self._engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.run_sync(_add_missing_columns)

    async def close_async(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._write_lock or nullcontext(), self._sessions() as session, session.begin():
            yield session

    async def start_call_async(
        self,
        call_sid: str,
        stream_sid: str | None,
        caller: str,
        called: str,
        started_at: datetime | None = None,
    ) -> str:
        """Create the call and return its id; a call with this sid already stored keeps its id."""
        started = _require_aware(started_at, "started_at") if started_at else _utcnow()
        try:
            async with self._write() as session:
                existing = await session.scalar(select(CallRow.id).where(CallRow.call_sid == call_sid))
                if existing is not None:
                    return existing
                call = CallRow(
                    id=uuid.uuid4().hex,
                    call_sid=call_sid,
                    stream_sid=stream_sid,
                    caller=caller,
                    called=called,
                    started_at=started,
                    status="in-progress",
                )
                session.add(call)
        except IntegrityError:
            # Another process (PostgreSQL) stored the same sid in between: use that row.
            async with self._sessions() as session:
                existing = await session.scalar(select(CallRow.id).where(CallRow.call_sid == call_sid))
            if existing is None:
                raise
            return existing
        logger.info("call %s started", call.id)
        return call.id

    async def add_turn_async(
        self,
        call_id: str,
        speaker: Speaker,
        text: str,
        started_at: datetime,
        ended_at: datetime,
        interrupted: bool = False,
        latency_ms: float | None = None,
        confidence: float | None = None,
    ) -> None:
        """Append a turn; its index is the next one for that call."""
        if speaker not in SPEAKERS:
            raise ValueError(f"speaker must be one of {sorted(SPEAKERS)}")
        started = _require_aware(started_at, "started_at")
        ended = _require_aware(ended_at, "ended_at")
        async with self._write() as session:
            # Locking the call row (PostgreSQL; a no-op on SQLite, which is serialized anyway)
            # keeps two concurrent turns of one call from taking the same index.
            found = await session.scalar(select(CallRow.id).where(CallRow.id == call_id).with_for_update())
            if found is None:
                raise CallNotFoundError(f"no call with id {call_id}")
            last = await session.scalar(select(func.max(TurnRow.index)).where(TurnRow.call_id == call_id))
            session.add(
                TurnRow(
                    call_id=call_id,
                    index=0 if last is None else last + 1,
                    speaker=speaker,
                    text=text,
                    started_at=started,
                    ended_at=ended,
                    interrupted=interrupted,
                    latency_ms=latency_ms,
                    confidence=confidence,
                )
            )

    async def end_call_async(
        self,
        call_id: str,
        end_reason: str,
        status: str = "completed",
        ended_at: datetime | None = None,
        outcome: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """Mark the call ended. The first end wins: a later one only fills in a missing outcome or summary."""
        if end_reason not in END_REASONS:
            raise ValueError(f"end_reason must be one of {sorted(END_REASONS)}")
        ended = _require_aware(ended_at, "ended_at") if ended_at else _utcnow()
        async with self._write() as session:
            call = await session.scalar(select(CallRow).where(CallRow.id == call_id).with_for_update())
            if call is None:
                raise CallNotFoundError(f"no call with id {call_id}")
            if call.ended_at is None:
                call.ended_at = ended
                call.end_reason = end_reason
                call.status = status
            if outcome is not None and call.outcome is None:
                call.outcome = outcome
            if summary is not None and call.summary is None:
                call.summary = json.dumps(summary)
        logger.info("call %s ended: %s", call_id, call.end_reason)

    async def record_status(self, call_sid: str, status: str, params: dict[str, Any]) -> None:
        """Store a Twilio status callback and update the call's status if the call is known."""
        async with self._write() as session:
            session.add(
                StatusEventRow(
                    call_sid=call_sid,
                    status=status,
                    received_at=_utcnow(),
                    params=json.dumps(params, sort_keys=True, default=str),
                )
            )
            call = await session.scalar(select(CallRow).where(CallRow.call_sid == call_sid).with_for_update())
            # Callbacks can arrive out of order: never move a finished call back to a live status.
            if call is not None and not (
                call.status in TERMINAL_STATUSES and status not in TERMINAL_STATUSES
            ):
                call.status = status

    async def get_call_async(self, call_id_or_sid: str) -> CallRecord | None:
        """The call with this id or Twilio call sid, with its turns and status events."""
        async with self._sessions() as session:
            call = await session.scalar(
                select(CallRow)
                .options(selectinload(CallRow.turns))
                .where(or_(CallRow.id == call_id_or_sid, CallRow.call_sid == call_id_or_sid))
            )
            if call is None:
                return None
            events = await self._events_by_sid(session, [call.call_sid])
        return _to_record(call, events.get(call.call_sid, []))

    async def list_calls_async(self, limit: int = 50) -> list[CallRecord]:
        """The most recently started calls, newest first."""
        async with self._sessions() as session:
            calls = list(
                await session.scalars(
                    select(CallRow)
                    .options(selectinload(CallRow.turns))
                    .order_by(CallRow.started_at.desc(), CallRow.id)
                    .limit(limit)
                )
            )
            events = await self._events_by_sid(session, [c.call_sid for c in calls])
        return [_to_record(c, events.get(c.call_sid, [])) for c in calls]

    @staticmethod
    async def _events_by_sid(session: AsyncSession, sids: list[str]) -> dict[str, list[StatusEventRow]]:
        if not sids:
            return {}
        rows = await session.scalars(
            select(StatusEventRow)
            .where(StatusEventRow.call_sid.in_(sids))
            .order_by(StatusEventRow.received_at, StatusEventRow.id)
        )
        grouped: dict[str, list[StatusEventRow]] = {}
        for row in rows:
            grouped.setdefault(row.call_sid, []).append(row)
        return grouped


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while a write is in progress; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()

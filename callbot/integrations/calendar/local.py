"""The embedded calendar: appointments in a SQL table (SQLite by default, PostgreSQL for several processes).

Booking is atomic across tasks *and* processes: the overlap check and the insert run in one
transaction that first takes a write lock covering the advisor —

- PostgreSQL: ``pg_advisory_xact_lock`` on a hash of the advisor id (released at commit), so
  bookings for different advisors still run in parallel;
- SQLite: ``BEGIN IMMEDIATE`` (the database write lock is taken before the check, and another
  process waits for it up to the busy timeout), plus an asyncio.Lock so this process's writes
  queue in memory rather than in SQLite's busy loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Index, String, Text, event, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

from callbot.business.profile import Advisor
from callbot.integrations.calendar.base import AppointmentNotActiveError, Interval
from callbot.integrations.models import AppointmentDetails, AppointmentRequest, AppointmentStatus
from callbot.storage.records import SQLITE_BUSY_TIMEOUT_S, UTCDateTime, async_database_url

# Execution option read by the SQLite "begin" listener: start the transaction with BEGIN IMMEDIATE.
_BEGIN_IMMEDIATE = "callbot_sqlite_begin_immediate"

_SCHEDULED = AppointmentStatus.SCHEDULED.value


class Base(DeclarativeBase):
    pass


class AppointmentRow(Base):
    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_advisor_status_start", "advisor_id", "status", "start_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    advisor_id: Mapped[str] = mapped_column(String(64))
    advisor_name: Mapped[str] = mapped_column(String(255))
    calendar_id: Mapped[str] = mapped_column(String(255))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    prospect_name: Mapped[str | None] = mapped_column(String(255))
    prospect_phone: Mapped[str] = mapped_column(String(32), index=True)
    prospect_email: Mapped[str | None] = mapped_column(String(255))
    lead_id: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    replaced_by: Mapped[str | None] = mapped_column(String(32))  # set when rescheduled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _details(row: AppointmentRow) -> AppointmentDetails:
    return AppointmentDetails(
        id=row.id,
        start=row.start_at,
        end=row.end_at,
        advisor_id=row.advisor_id,
        advisor_name=row.advisor_name,
        status=AppointmentStatus(row.status),
        prospect_name=row.prospect_name,
        prospect_phone=row.prospect_phone,
        prospect_email=row.prospect_email,
        lead_id=row.lead_id,
        call_id=row.call_id,
        notes=row.notes,
        created_at=row.created_at,
    )


def _lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock (Python's hash() differs per process)."""
    digest = hashlib.blake2b("\x1f".join(("callbot.calendar", *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not emit its own (deferred) BEGIN: _on_sqlite_begin does, choosing the mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for a booking
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_BEGIN_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class LocalCalendarProvider:
    """Appointments in a SQL database; implements ``CalendarProvider``.

    ``schema`` (PostgreSQL only) keeps the table in its own schema, created if missing.
    """

    def __init__(self, database_url: str, *, schema: str | None = None) -> None:
        url = async_database_url(database_url)
        self._is_sqlite = url.get_backend_name() == "sqlite"
        self._schema = schema
        if schema is not None and self._is_sqlite:
            raise ValueError("schema is only supported on PostgreSQL")
        kwargs: dict[str, Any] = {}
        in_memory = False
        if self._is_sqlite:
            database = url.database or ""
            in_memory = database in ("", ":memory:") or "mode=memory" in database
            if in_memory:
                kwargs["poolclass"] = StaticPool  # one connection: the database lives in it
            elif not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        else:
            kwargs["pool_pre_ping"] = True
        if schema is not None:
            kwargs["execution_options"] = {"schema_translate_map": {None: schema}}
        self._engine = create_async_engine(url, **kwargs)
        if self._is_sqlite:
            event.listen(self._engine.sync_engine, "connect", _on_sqlite_connect)
            event.listen(self._engine.sync_engine, "begin", _on_sqlite_begin)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        # SQLite: this process's writers queue here. In memory there is a single shared
        # connection, so reads must queue too (two transactions cannot share one connection).
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self._is_sqlite else None
        self._read_lock: asyncio.Lock | None = self._write_lock if in_memory else None

    # --- lifecycle ----------------------------------------------------------------------------

    async def init_async(self) -> None:
        """Create the schema and table if missing; safe when several processes start at once."""
        async with self._write_lock or nullcontext(), self._engine.connect() as conn:
            await conn.execution_options(**{_BEGIN_IMMEDIATE: True})
            async with conn.begin():
                if not self._is_sqlite:
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key("init")})
                    if self._schema is not None:
                        quoted = self._engine.dialect.identifier_preparer.quote_schema(self._schema)
                        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
                await conn.run_sync(Base.metadata.create_all)

    async def close_async(self) -> None:
        await self._engine.dispose()

    # --- sessions -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._write_lock or nullcontext(), self._sessions() as session, session.begin():
            if self._is_sqlite:
                # Procure the connection with the option set, so its BEGIN is IMMEDIATE.
                await session.connection(execution_options={_BEGIN_IMMEDIATE: True})
            yield session

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._read_lock or nullcontext(), self._sessions() as session:
            yield session

    # --- CalendarProvider ---------------------------------------------------------------------

    async def busy_intervals_async(
        self, advisor_ids: list[str], start: datetime, end: datetime
    ) -> dict[str, list[Interval]]:
        busy: dict[str, list[Interval]] = {advisor_id: [] for advisor_id in advisor_ids}
        if not advisor_ids:
            return busy
        async with self._read() as session:
            rows = await session.execute(
                select(AppointmentRow.advisor_id, AppointmentRow.start_at, AppointmentRow.end_at)
                .where(
                    AppointmentRow.advisor_id.in_(advisor_ids),
                    AppointmentRow.status == _SCHEDULED,
                    AppointmentRow.start_at < end,
                    AppointmentRow.end_at > start,
                )
                .order_by(AppointmentRow.start_at)
            )
            for advisor_id, row_start, row_end in rows:
                busy[advisor_id].append((row_start, row_end))
        return busy

    async def book_async(
        self,
        request: AppointmentRequest,
        advisor: Advisor,
        end: datetime,
        buffer: timedelta,
        *,
        replaces: str | None = None,
    ) -> AppointmentDetails | None:
        start = request.start.astimezone(UTC)
        end = end.astimezone(UTC)
        if end <= start:
            raise ValueError("an appointment must end after it starts")
        now = datetime.now(UTC)
        async with self._write() as session:
            if not self._is_sqlite:
                # Serializes bookings of this advisor across every process sharing the database.
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _lock_key(self._schema or "", "advisor", advisor.id)},
                )
            conflict = select(AppointmentRow.id).where(
                AppointmentRow.advisor_id == advisor.id,
                AppointmentRow.status == _SCHEDULED,
                AppointmentRow.start_at < end + buffer,
                AppointmentRow.end_at > start - buffer,
            )
            if replaces is not None:
                conflict = conflict.where(AppointmentRow.id != replaces)
            if await session.scalar(conflict.limit(1)) is not None:
                return None
            row = AppointmentRow(
                id=uuid.uuid4().hex,
                advisor_id=advisor.id,
                advisor_name=advisor.name,
                calendar_id=advisor.calendar_id,
                start_at=start,
                end_at=end,
                status=_SCHEDULED,
                prospect_name=request.prospect_name,
                prospect_phone=request.prospect_phone,
                prospect_email=request.prospect_email,
                lead_id=request.lead_id,
                call_id=request.call_id,
                notes=request.notes,
                created_at=now,
                updated_at=now,
            )
            if replaces is not None:
                old = await session.scalar(
                    select(AppointmentRow).where(AppointmentRow.id == replaces).with_for_update()
                )
                if old is None or old.status != _SCHEDULED:
                    raise AppointmentNotActiveError(f"appointment {replaces} is not scheduled")
                old.status = AppointmentStatus.RESCHEDULED.value
                old.replaced_by = row.id
                old.updated_at = now
            session.add(row)
        return _details(row)

    async def _set_status(self, appointment_id: str, status: AppointmentStatus) -> bool:
        async with self._write() as session:
            result = await session.execute(
                update(AppointmentRow)
                .where(AppointmentRow.id == appointment_id, AppointmentRow.status == _SCHEDULED)
                .values(status=status.value, updated_at=datetime.now(UTC))
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def cancel_async(self, appointment_id: str) -> bool:
        return await self._set_status(appointment_id, AppointmentStatus.CANCELLED)

    async def mark_rescheduled_async(self, appointment_id: str) -> bool:
        return await self._set_status(appointment_id, AppointmentStatus.RESCHEDULED)

    async def get_async(self, appointment_id: str) -> AppointmentDetails | None:
        async with self._read() as session:
            row = await session.get(AppointmentRow, appointment_id)
            return _details(row) if row is not None else None

    async def list_async(self, phone: str | None = None, include_cancelled: bool = False) -> list[AppointmentDetails]:
        query = select(AppointmentRow).order_by(AppointmentRow.start_at, AppointmentRow.id)
        if phone is not None:
            query = query.where(AppointmentRow.prospect_phone == phone)
        if not include_cancelled:
            query = query.where(AppointmentRow.status == _SCHEDULED)
        async with self._read() as session:
            return [_details(row) for row in await session.scalars(query)]

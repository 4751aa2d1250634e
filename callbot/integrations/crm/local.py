"""The embedded CRM: leads, their calls, status history and appointments in SQL (SQLAlchemy async).

SQLite by default, PostgreSQL through the same code (several callbot processes can share it).
Tables are prefixed ``crm_`` so they can live in the same database as the call records.

Concurrency: every write is one transaction. Upserts insert with ``ON CONFLICT DO NOTHING``
on the unique key (phone, call id, appointment id) and then update the row they locked, so
concurrent upserts of one phone make exactly one lead, in one process or many.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import Insert

from callbot.integrations.crm.base import LeadFields, LeadNotFoundError, LeadStatusChange
from callbot.integrations.models import ActivityRecord, AppointmentDetails, AppointmentStatus, CRMRecord, LeadStatus
from callbot.integrations.phone import normalize_phone
from callbot.storage.records import SQLITE_BUSY_TIMEOUT_S, UTCDateTime, async_database_url

logger = logging.getLogger("callbot.integrations.crm.local")

_LEAD_TEXT_FIELDS = ("name", "email", "company", "interest", "notes")


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- SQL plumbing shared with the outbox ---------------------------------------------------------


def create_crm_engine(database_url: str) -> tuple[AsyncEngine, bool]:
    """An async engine for ``database_url`` and whether it is SQLite.

    SQLite transactions start with ``BEGIN IMMEDIATE``: a transaction that reads and then
    writes cannot fail with "database is locked" half-way because another connection (another
    engine on the same file, another process) wrote in between; it waits for the lock instead
    (up to the busy timeout) before it reads anything.
    """
    url = async_database_url(database_url)
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"the CRM tables need SQLite or PostgreSQL, not {backend}")
    is_sqlite = backend == "sqlite"
    if not is_sqlite:
        return create_async_engine(url, pool_pre_ping=True), False
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine.sync_engine, "connect", _configure_sqlite)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine, True


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off so that _begin_immediate can issue its own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def insert_ignoring_conflict(is_sqlite: bool, model: type[Any], values: dict[str, Any], key: list[str]) -> Insert:
    """INSERT … ON CONFLICT (key) DO NOTHING, in the engine's dialect."""
    dialect_insert = sqlite.insert if is_sqlite else postgresql.insert
    return dialect_insert(model).values(**values).on_conflict_do_nothing(index_elements=key)


class SqlStore:
    """An engine, a session factory and serialized writes on SQLite (the provider and outbox share it)."""

    def __init__(self, database_url: str) -> None:
        self._engine, self._is_sqlite = create_crm_engine(database_url)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        # One writer at a time from this process on SQLite: the others would only queue in the
        # driver's busy wait, each holding a pooled connection.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self._is_sqlite else None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._write_lock or nullcontext(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def close_async(self) -> None:
        await self._engine.dispose()


# --- ORM models --------------------------------------------------------------------------------


class CRMBase(DeclarativeBase):
    pass


class LeadRow(CRMBase):
    __tablename__ = "crm_leads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(255))
    interest: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    qualification_score: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeadStatusChangeRow(CRMBase):
    __tablename__ = "crm_lead_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("crm_leads.id", ondelete="CASCADE"), index=True)
    old_status: Mapped[str | None] = mapped_column(String(32))
    new_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ActivityRow(CRMBase):
    __tablename__ = "crm_activities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("crm_leads.id", ondelete="SET NULL"), index=True)
    outcome: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeadAppointmentRow(CRMBase):
    __tablename__ = "crm_lead_appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    appointment_id: Mapped[str] = mapped_column(String(128), unique=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("crm_leads.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    advisor_id: Mapped[str] = mapped_column(String(128))
    advisor_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _lead_record(row: LeadRow) -> CRMRecord:
    return CRMRecord(
        id=row.id,
        name=row.name,
        email=row.email,
        phone=row.phone,
        company=row.company,
        interest=row.interest,
        status=LeadStatus(row.status),
        qualification_score=row.qualification_score,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _activity_record(row: ActivityRow) -> ActivityRecord:
    return ActivityRecord(
        id=row.id,
        lead_id=row.lead_id,
        call_id=row.call_id,
        outcome=row.outcome,
        summary=row.summary,
        created_at=row.created_at,
    )


def _require_phone(phone: str) -> str:
    normalized = normalize_phone(phone)
    if normalized is None:
        raise ValueError("not a usable phone number")  # the number itself stays out of messages
    return normalized


# --- the provider ------------------------------------------------------------------------------


class LocalCRMProvider(SqlStore):
    """``CRMProvider`` on the local database (the default CRM)."""

    async def init_async(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(CRMBase.metadata.create_all)

    async def find_by_phone_async(self, phone: str) -> CRMRecord | None:
        normalized = normalize_phone(phone)
        if normalized is None:
            return None
        async with self._read() as session:
            row = await session.scalar(select(LeadRow).where(LeadRow.phone == normalized))
        return _lead_record(row) if row is not None else None

    async def upsert_lead_async(self, fields: LeadFields, phone: str) -> CRMRecord:
        normalized = _require_phone(phone)
        now = _utcnow()
        new_id = uuid.uuid4().hex
        async with self._write() as session:
            await session.execute(
                insert_ignoring_conflict(
                    self._is_sqlite,
                    LeadRow,
                    {
                        "id": new_id,
                        "phone": normalized,
                        "status": LeadStatus.NEW.value,
                        "created_at": now,
                        "updated_at": now,
                    },
                    ["phone"],
                )
            )
            row = await session.scalar(select(LeadRow).where(LeadRow.phone == normalized).with_for_update())
            if row is None:  # pragma: no cover - the insert or a concurrent one made it
                raise RuntimeError("lead row vanished during upsert")
            created = row.id == new_id
            changed = False
            for name in (*_LEAD_TEXT_FIELDS, "qualification_score"):
                value = getattr(fields, name)
                if value is not None and getattr(row, name) != value:
                    setattr(row, name, value)
                    changed = True
            if changed and not created:
                row.updated_at = now
            if created:
                session.add(
                    LeadStatusChangeRow(
                        lead_id=row.id, old_status=None, new_status=row.status, reason="lead created", changed_at=now
                    )
                )
            record = _lead_record(row)
        logger.info("lead %s %s", record.id, "created" if created else ("updated" if changed else "unchanged"))
        return record

    async def update_status_async(self, lead_id: str, status: LeadStatus, reason: str) -> bool:
        status = LeadStatus(status)
        now = _utcnow()
        async with self._write() as session:
            row = await session.scalar(select(LeadRow).where(LeadRow.id == lead_id).with_for_update())
            if row is None:
                logger.warning("status update for unknown lead %s", lead_id)
                return False
            if row.status == status.value:
                return True
            session.add(
                LeadStatusChangeRow(
                    lead_id=lead_id, old_status=row.status, new_status=status.value, reason=reason, changed_at=now
                )
            )
            old_status, row.status, row.updated_at = row.status, status.value, now
        logger.info("lead %s: status %s -> %s", lead_id, old_status, status.value)
        return True

    async def log_activity_async(self, lead_id: str | None, call_id: str, outcome: str, summary: str) -> ActivityRecord:
        now = _utcnow()
        new_id = uuid.uuid4().hex
        async with self._write() as session:
            if lead_id is not None and await session.get(LeadRow, lead_id) is None:
                raise LeadNotFoundError(f"no lead {lead_id}")
            await session.execute(
                insert_ignoring_conflict(
                    self._is_sqlite,
                    ActivityRow,
                    {
                        "id": new_id,
                        "call_id": call_id,
                        "lead_id": lead_id,
                        "outcome": outcome,
                        "summary": summary,
                        "created_at": now,
                        "updated_at": now,
                    },
                    ["call_id"],
                )
            )
            row = await session.scalar(select(ActivityRow).where(ActivityRow.call_id == call_id).with_for_update())
            if row is None:  # pragma: no cover
                raise RuntimeError("activity row vanished during upsert")
            if row.id != new_id:  # the call was logged before: the latest summary wins, a lead is never dropped
                new_lead = lead_id if lead_id is not None else row.lead_id
                if (row.lead_id, row.outcome, row.summary) != (new_lead, outcome, summary):
                    row.lead_id, row.outcome, row.summary, row.updated_at = new_lead, outcome, summary, now
            record = _activity_record(row)
        logger.info("activity %s for call %s logged", record.id, call_id)
        return record

    async def attach_appointment_async(self, lead_id: str, appointment: AppointmentDetails) -> bool:
        now = _utcnow()
        values = {
            "lead_id": lead_id,
            "start": appointment.start,
            "end": appointment.end,
            "advisor_id": appointment.advisor_id,
            "advisor_name": appointment.advisor_name,
            "status": AppointmentStatus(appointment.status).value,
            "call_id": appointment.call_id,
            "notes": appointment.notes,
            "created_at": appointment.created_at,
        }
        async with self._write() as session:
            if await session.get(LeadRow, lead_id) is None:
                logger.warning("appointment %s for unknown lead %s", appointment.id, lead_id)
                return False
            await session.execute(
                insert_ignoring_conflict(
                    self._is_sqlite,
                    LeadAppointmentRow,
                    {"appointment_id": appointment.id, **values, "updated_at": now},
                    ["appointment_id"],
                )
            )
            row = await session.scalar(
                select(LeadAppointmentRow).where(LeadAppointmentRow.appointment_id == appointment.id).with_for_update()
            )
            if row is None:  # pragma: no cover
                raise RuntimeError("appointment row vanished during upsert")
            if any(getattr(row, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = now
        logger.info("appointment %s attached to lead %s", appointment.id, lead_id)
        return True

    async def list_leads_async(self, phone: str | None = None) -> list[CRMRecord]:
        query = select(LeadRow).order_by(LeadRow.created_at, LeadRow.id)
        if phone is not None:
            normalized = normalize_phone(phone)
            if normalized is None:
                return []
            query = query.where(LeadRow.phone == normalized)
        async with self._read() as session:
            rows = await session.scalars(query)
            return [_lead_record(row) for row in rows]

    async def list_activities_async(self, lead_id: str) -> list[ActivityRecord]:
        async with self._read() as session:
            rows = await session.scalars(
                select(ActivityRow)
                .where(ActivityRow.lead_id == lead_id)
                .order_by(ActivityRow.created_at, ActivityRow.id)
            )
            return [_activity_record(row) for row in rows]

    async def list_appointments_async(self, lead_id: str) -> list[AppointmentDetails]:
        async with self._read() as session:
            lead = await session.get(LeadRow, lead_id)
            if lead is None:
                return []
            rows = await session.scalars(
                select(LeadAppointmentRow)
                .where(LeadAppointmentRow.lead_id == lead_id)
                .order_by(LeadAppointmentRow.start, LeadAppointmentRow.id)
            )
            return [
                AppointmentDetails(
                    id=row.appointment_id,
                    start=row.start,
                    end=row.end,
                    advisor_id=row.advisor_id,
                    advisor_name=row.advisor_name,
                    status=AppointmentStatus(row.status),
                    prospect_name=lead.name,
                    prospect_phone=lead.phone,
                    prospect_email=lead.email,
                    lead_id=lead_id,
                    call_id=row.call_id,
                    notes=row.notes,
                    created_at=row.created_at,
                )
                for row in rows
            ]

    async def status_history_async(self, lead_id: str) -> list[LeadStatusChange]:
        """Every status the lead has had, oldest first (local provider only)."""
        async with self._read() as session:
            rows = await session.scalars(
                select(LeadStatusChangeRow)
                .where(LeadStatusChangeRow.lead_id == lead_id)
                .order_by(LeadStatusChangeRow.changed_at, LeadStatusChangeRow.id)
            )
            return [
                LeadStatusChange(
                    lead_id=row.lead_id,
                    old_status=LeadStatus(row.old_status) if row.old_status is not None else None,
                    new_status=LeadStatus(row.new_status),
                    reason=row.reason,
                    changed_at=row.changed_at,
                )
                for row in rows
            ]

"""The durable CRM outbox: a CRM outage never loses a lead.

Every write is first stored in the ``crm_outbox`` table of the local database (operation name,
JSON payload), then delivered to the provider: at once by the caller when nothing of the same
lead is still waiting, otherwise (and after a failure) by a background task that retries with
exponential backoff. A delivered entry is deleted; the table holds only what the CRM has not
got yet. Writes are delivered in order per lead (a later status never lands before an earlier
one). Redelivery after a crash between "delivered" and "deleted" is safe because provider
writes are idempotent (see ``crm.base``).

Provisional leads: when a lead's first upsert cannot be delivered, the caller gets a record
whose id is provisional (``pending-…``). Later writes may use that id: they queue behind the
upsert, and when the upsert is delivered the real id replaces it (``crm_outbox_leads`` maps
the phone's provisional id to the CRM's id; ``resolve_lead_id_async`` answers it).

Failures: ``ExternalServiceError``, ``OSError`` (connection errors), ``TimeoutError``, httpx
transport errors and SQL connection/lock errors are retried forever (backoff capped at
``max_delay_s``). Anything else is a permanent failure: the entry is kept with status ``dead``
(``dead_count_async``, ``requeue_dead_async``) and no longer blocks its lead.

Several processes may share one database: an entry is claimed with a lease before delivery, so
each is delivered by one process at a time, and per-lead order holds across processes.

Logs name operations, entry ids, lead ids and error types, never payloads (names, e-mails,
phone numbers) nor error messages (which may quote them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
import weakref
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import BigInteger, Integer, String, Text, delete, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, mapped_column

from callbot.errors import ExternalServiceError
from callbot.integrations.crm.base import CRMProvider, LeadFields
from callbot.integrations.crm.local import SqlStore, insert_ignoring_conflict
from callbot.integrations.models import ActivityRecord, AppointmentDetails, CRMRecord, LeadStatus
from callbot.integrations.phone import normalize_phone
from callbot.storage.records import UTCDateTime

logger = logging.getLogger("callbot.integrations.crm.outbox")

PROVISIONAL_PREFIX = "pending-"
# The background task never polls faster than this, whatever the clocks say.
_MIN_WAIT_S = 0.02
PENDING = "pending"
DEAD = "dead"

RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    ExternalServiceError,
    OSError,
    TimeoutError,
    httpx.TransportError,
    OperationalError,
    InterfaceError,
)


def is_provisional_id(lead_id: str | None) -> bool:
    """True for the ids of leads the CRM has not received yet."""
    return lead_id is not None and lead_id.startswith(PROVISIONAL_PREFIX)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed delivery may succeed later (an outage) or never will (a bad write)."""
    if isinstance(exc, RETRYABLE_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class UnresolvedLeadError(LookupError):
    """A write names a provisional lead whose creation was never delivered."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- tables ------------------------------------------------------------------------------------


class OutboxBase(DeclarativeBase):
    pass


class OutboxRow(OutboxBase):
    __tablename__ = "crm_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    # What orders delivery: "phone:<E.164>" for a lead known by its number, "lead:<id>" otherwise.
    lead_key: Mapped[str] = mapped_column(String(160), index=True)
    operation: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(String(128))  # an exception type name, never its message
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(32))


class OutboxLeadRow(OutboxBase):
    """The provisional id handed out for a phone number, and the CRM's id once known."""

    __tablename__ = "crm_outbox_leads"

    provisional_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    lead_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    id: int
    operation: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    value: Any = None
    error: BaseException | None = None  # set when the write failed for good


_Operation = Callable[[CRMProvider, dict[str, Any]], Awaitable[Any]]


async def _op_upsert_lead(provider: CRMProvider, payload: dict[str, Any]) -> CRMRecord:
    return await provider.upsert_lead_async(LeadFields.model_validate(payload["fields"]), payload["phone"])


async def _op_update_status(provider: CRMProvider, payload: dict[str, Any]) -> bool:
    return await provider.update_status_async(payload["lead_id"], LeadStatus(payload["status"]), payload["reason"])


async def _op_log_activity(provider: CRMProvider, payload: dict[str, Any]) -> ActivityRecord:
    return await provider.log_activity_async(
        payload["lead_id"], payload["call_id"], payload["outcome"], payload["summary"]
    )


async def _op_attach_appointment(provider: CRMProvider, payload: dict[str, Any]) -> bool:
    appointment = AppointmentDetails.model_validate(payload["appointment"])
    return await provider.attach_appointment_async(payload["lead_id"], appointment)


OPERATIONS: dict[str, _Operation] = {
    "upsert_lead": _op_upsert_lead,
    "update_status": _op_update_status,
    "log_activity": _op_log_activity,
    "attach_appointment": _op_attach_appointment,
}


# --- the outbox --------------------------------------------------------------------------------


class CRMOutbox(SqlStore):
    """Durable, ordered, retried CRM writes in front of ``provider``.

    Its write methods mirror the provider's and never raise because the CRM is down: they
    return the CRM's answer when it came at once, else a provisional answer (see the module
    docstring). Lifecycle: ``init_async()`` (creates the tables), ``start()`` (background
    delivery), ``stop_async()``, ``close_async()``. The provider's own lifecycle is the caller's.
    """

    def __init__(
        self,
        database_url: str,
        provider: CRMProvider,
        *,
        base_delay_s: float = 1.0,
        max_delay_s: float = 300.0,
        delivery_timeout_s: float = 5.0,
        poll_interval_s: float = 5.0,
        concurrency: int = 4,
    ) -> None:
        super().__init__(database_url)
        self.provider = provider
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.delivery_timeout_s = delivery_timeout_s
        self.poll_interval_s = poll_interval_s
        self._concurrency = asyncio.Semaphore(concurrency)
        self._instance = uuid.uuid4().hex
        self._lease = timedelta(seconds=delivery_timeout_s + 30.0)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Writes of one lead from this process go one at a time, so a write made while the one
        # before it is being delivered waits for it instead of falling back to the queue.
        self._key_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # --- lifecycle ------------------------------------------------------------------------------

    async def init_async(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(OutboxBase.metadata.create_all)

    def start(self) -> None:
        """Start delivering in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="crm-outbox")

    async def stop_async(self) -> None:
        """Stop the background delivery; entries it had claimed are released for the next run."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        try:
            async with self._write() as session:
                await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.locked_by == self._instance)
                    .values(locked_until=None, locked_by=None)
                )
        except Exception as exc:  # the leases then simply expire
            logger.warning("CRM outbox: could not release claimed entries: %s", type(exc).__name__)

    async def close_async(self) -> None:
        await self.stop_async()
        await super().close_async()

    # --- the provider's write methods, made durable -------------------------------------------

    async def upsert_lead_async(self, fields: LeadFields, phone: str) -> CRMRecord:
        """The lead as the CRM returned it, or a provisional record of what was sent."""
        normalized = normalize_phone(phone)
        if normalized is None:
            raise ValueError("not a usable phone number")
        key = f"phone:{normalized}"
        async with self._key_lock(key):
            async with self._write() as session:
                mapping = await self._mapping_for_phone(session, normalized)
                payload = {
                    "phone": normalized,
                    "fields": fields.model_dump(mode="json"),
                    "provisional_id": mapping.provisional_id,
                }
                entry = await self._add_entry(session, "upsert_lead", payload, key)
            outcome = await self._deliver_async(entry, inline=True)
        if outcome.delivered:
            return outcome.value
        now = _utcnow()
        return CRMRecord(
            id=mapping.lead_id or mapping.provisional_id,
            phone=normalized,
            created_at=now,
            updated_at=now,
            **fields.model_dump(),
        )

    async def update_status_async(self, lead_id: str, status: LeadStatus, reason: str) -> bool:
        """The CRM's answer, or True when the change is queued."""
        payload = {"lead_id": lead_id, "status": LeadStatus(status).value, "reason": reason}
        outcome = await self._submit_async("update_status", payload, lead_id)
        return bool(outcome.value) if outcome.delivered else True

    async def log_activity_async(self, lead_id: str | None, call_id: str, outcome: str, summary: str) -> ActivityRecord:
        """The CRM's activity, or a provisional one (id ``pending-…``) when it is queued."""
        payload = {"lead_id": lead_id, "call_id": call_id, "outcome": outcome, "summary": summary}
        result = await self._submit_async("log_activity", payload, lead_id, call_id=call_id)
        if result.delivered:
            return result.value
        return ActivityRecord(
            id=f"{PROVISIONAL_PREFIX}{uuid.uuid4().hex}",
            lead_id=lead_id,
            call_id=call_id,
            outcome=outcome,
            summary=summary,
            created_at=_utcnow(),
        )

    async def attach_appointment_async(self, lead_id: str, appointment: AppointmentDetails) -> bool:
        """The CRM's answer, or True when the attachment is queued."""
        payload = {"lead_id": lead_id, "appointment": appointment.model_dump(mode="json")}
        outcome = await self._submit_async("attach_appointment", payload, lead_id)
        return bool(outcome.value) if outcome.delivered else True

    # --- inspection ---------------------------------------------------------------------------

    async def pending_count_async(self) -> int:
        """Writes not delivered yet (dead ones excluded)."""
        async with self._read() as session:
            return await session.scalar(select(func.count()).where(OutboxRow.status == PENDING)) or 0

    async def dead_count_async(self) -> int:
        """Writes that failed for good; kept for inspection and ``requeue_dead_async``."""
        async with self._read() as session:
            return await session.scalar(select(func.count()).where(OutboxRow.status == DEAD)) or 0

    async def requeue_dead_async(self) -> int:
        """Give every dead write another chance (after a fix); returns how many."""
        async with self._write() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.status == DEAD)
                .values(status=PENDING, next_attempt_at=_utcnow(), locked_until=None, locked_by=None)
            )
        self._wake.set()
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def resolve_lead_id_async(self, lead_id: str) -> str | None:
        """The CRM's id for ``lead_id``: itself if it is not provisional, None while still pending."""
        if not is_provisional_id(lead_id):
            return lead_id
        async with self._read() as session:
            return await session.scalar(select(OutboxLeadRow.lead_id).where(OutboxLeadRow.provisional_id == lead_id))

    # --- delivery -----------------------------------------------------------------------------

    async def deliver_due_async(self) -> int:
        """Deliver every entry that is due, in order per lead; returns how many were delivered."""
        delivered = 0
        while True:
            now = _utcnow()
            async with self._read() as session:
                rows = (
                    await session.scalars(
                        select(OutboxRow)
                        .where(self._is_head(), OutboxRow.next_attempt_at <= now, self._is_free(now))
                        .order_by(OutboxRow.id)
                        .limit(100)
                    )
                ).all()
            if not rows:
                return delivered
            entries = [_Entry(row.id, row.operation, json.loads(row.payload)) for row in rows]
            outcomes = await asyncio.gather(*(self._deliver_in_background_async(entry) for entry in entries))
            progress = sum(1 for outcome in outcomes if outcome.delivered)
            if progress == 0:
                return delivered
            delivered += progress

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.deliver_due_async()
                delay = await self._next_due_in_async()
            except Exception as exc:  # the outbox database itself is unavailable: try again later
                logger.error("CRM outbox pass failed: %s", type(exc).__name__)
                delay = self.poll_interval_s
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _next_due_in_async(self) -> float:
        """Seconds until the next head of a lead can be tried (its backoff or another process's lease ends)."""
        now = _utcnow()
        async with self._read() as session:
            free_at = await session.scalar(
                select(func.min(OutboxRow.next_attempt_at)).where(self._is_head(), self._is_free(now))
            )
            leased_until = await session.scalar(
                select(func.min(OutboxRow.locked_until)).where(self._is_head(), ~self._is_free(now))
            )
        times = [t for t in (free_at, leased_until) if t is not None]
        if not times:
            return self.poll_interval_s
        wait = (min(times) - _utcnow()).total_seconds()
        return min(self.poll_interval_s, max(_MIN_WAIT_S, wait))

    async def _submit_async(
        self, operation: str, payload: dict[str, Any], lead_id: str | None, *, call_id: str | None = None
    ) -> _Outcome:
        async with self._read() as session:
            key = await self._key_for_lead(session, lead_id, call_id)
        async with self._key_lock(key):
            async with self._write() as session:
                entry = await self._add_entry(session, operation, payload, key)
            return await self._deliver_async(entry, inline=True)

    @staticmethod
    async def _add_entry(session: AsyncSession, operation: str, payload: dict[str, Any], key: str) -> _Entry:
        now = _utcnow()
        row = OutboxRow(
            lead_key=key,
            operation=operation,
            payload=json.dumps(payload, sort_keys=True),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        await session.flush()  # assigns the id; the entry is durable once the transaction commits
        return _Entry(row.id, operation, payload)

    async def _deliver_in_background_async(self, entry: _Entry) -> _Outcome:
        async with self._concurrency:
            return await self._deliver_async(entry, inline=False)

    async def _deliver_async(self, entry: _Entry, *, inline: bool) -> _Outcome:
        """Claim the entry (only if it is its lead's oldest and is due), call the provider, record the result.

        Inline (a caller is waiting): a permanent failure is raised after the entry is kept as dead.
        """
        if not await self._claim_async(entry.id):
            if inline:
                self._wake.set()
            return _Outcome(delivered=False)
        try:
            payload = await self._resolved_payload(entry.payload)
            async with asyncio.timeout(self.delivery_timeout_s):
                value = await OPERATIONS[entry.operation](self.provider, payload)
        except asyncio.CancelledError:
            # The caller went away (call ended, shutdown): let the next delivery have it at once.
            await asyncio.shield(self._release_async(entry.id))
            raise
        except Exception as exc:
            await self._record_failure_async(entry, exc)
            if inline:
                self._wake.set()
                if not is_retryable(exc):
                    raise
            return _Outcome(delivered=False, error=exc)
        await self._record_success_async(entry, value)
        return _Outcome(delivered=True, value=value)

    async def _claim_async(self, entry_id: int) -> bool:
        now = _utcnow()
        async with self._write() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == entry_id, self._is_head(), OutboxRow.next_attempt_at <= now, self._is_free(now))
                .values(locked_until=now + self._lease, locked_by=self._instance)
                .execution_options(synchronize_session=False)
            )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def _release_async(self, entry_id: int) -> None:
        async with self._write() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == entry_id, OutboxRow.locked_by == self._instance)
                .values(locked_until=None, locked_by=None)
            )

    async def _record_success_async(self, entry: _Entry, value: Any) -> None:
        async with self._write() as session:
            await session.execute(delete(OutboxRow).where(OutboxRow.id == entry.id))
            provisional_id = entry.payload.get("provisional_id")
            if entry.operation == "upsert_lead" and provisional_id and isinstance(value, CRMRecord):
                await session.execute(
                    update(OutboxLeadRow).where(OutboxLeadRow.provisional_id == provisional_id).values(lead_id=value.id)
                )
        logger.info("CRM outbox: %s (entry %d) delivered", entry.operation, entry.id)

    async def _record_failure_async(self, entry: _Entry, exc: BaseException) -> None:
        retry = is_retryable(exc)
        async with self._write() as session:
            attempts = (await session.scalar(select(OutboxRow.attempts).where(OutboxRow.id == entry.id)) or 0) + 1
            values: dict[str, Any] = {
                "attempts": attempts,
                "last_error": type(exc).__name__[:128],
                "locked_until": None,
                "locked_by": None,
            }
            if retry:
                values["next_attempt_at"] = _utcnow() + timedelta(seconds=self._backoff_s(attempts))
            else:
                values["status"] = DEAD
            await session.execute(update(OutboxRow).where(OutboxRow.id == entry.id).values(**values))
        if retry:
            logger.warning(
                "CRM outbox: %s (entry %d) failed (%s), attempt %d; will retry",
                entry.operation,
                entry.id,
                type(exc).__name__,
                attempts,
            )
        else:
            logger.error(
                "CRM outbox: %s (entry %d) failed for good (%s); kept as dead",
                entry.operation,
                entry.id,
                type(exc).__name__,
            )

    def _backoff_s(self, attempts: int) -> float:
        delay = self.base_delay_s * 2 ** min(attempts - 1, 30)
        return min(self.max_delay_s, delay) * random.uniform(0.8, 1.0)

    async def _resolved_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        lead_id = payload.get("lead_id")
        if not is_provisional_id(lead_id):
            return payload
        real_id = await self.resolve_lead_id_async(lead_id)  # type: ignore[arg-type]
        if real_id is None:
            raise UnresolvedLeadError(f"provisional lead {lead_id} was never created in the CRM")
        return {**payload, "lead_id": real_id}

    # --- keys -------------------------------------------------------------------------------------

    def _key_lock(self, key: str) -> asyncio.Lock:
        lock = self._key_locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._key_locks[key] = lock
        return lock

    async def _mapping_for_phone(self, session: AsyncSession, phone: str) -> OutboxLeadRow:
        await session.execute(
            insert_ignoring_conflict(
                self._is_sqlite,
                OutboxLeadRow,
                {
                    "provisional_id": f"{PROVISIONAL_PREFIX}{uuid.uuid4().hex}",
                    "phone": phone,
                    "lead_id": None,
                    "created_at": _utcnow(),
                },
                ["phone"],
            )
        )
        return (await session.scalars(select(OutboxLeadRow).where(OutboxLeadRow.phone == phone))).one()

    @staticmethod
    async def _key_for_lead(session: AsyncSession, lead_id: str | None, call_id: str | None) -> str:
        if lead_id is None:
            return f"call:{call_id}"
        if is_provisional_id(lead_id):
            phone = await session.scalar(select(OutboxLeadRow.phone).where(OutboxLeadRow.provisional_id == lead_id))
            if phone is not None:
                return f"phone:{phone}"  # behind the upsert that creates the lead
        return f"lead:{lead_id}"

    @staticmethod
    def _is_head() -> Any:
        """SQL: the entry is pending and no older entry of its lead is pending."""
        older = aliased(OutboxRow)
        return (OutboxRow.status == PENDING) & ~exists().where(
            older.lead_key == OutboxRow.lead_key, older.status == PENDING, older.id < OutboxRow.id
        )

    @staticmethod
    def _is_free(now: datetime) -> Any:
        return or_(OutboxRow.locked_until.is_(None), OutboxRow.locked_until < now)

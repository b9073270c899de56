"""Transactional outbox: events written with the business rows, relayed to JetStream in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import propagate
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Column, Integer, String, Table, Text, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from careloop_common.bus import Bus, Outbound
from careloop_common.db import OUTBOX_DIRTY, SessionFactory, UTCDateTime, stage_insert, transaction, utcnow
from careloop_common.events.envelope import CloudEvent, EventContract, new_event

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter("careloop_outbox_published_total", "Events relayed from the outbox", ["service"])
OUTBOX_FAILURES = Counter("careloop_outbox_failures_total", "Relay attempts that failed", ["service"])
OUTBOX_PENDING = Gauge("careloop_outbox_pending", "Unsent outbox rows at the last relay pass", ["service"])


class OutboxMessage(SQLModel, table=True):
    """One event waiting to be (or already) published; written in the business transaction."""

    __tablename__ = "outbox_message"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    event_id: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    subject: str = Field(sa_column=Column(String(255), nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    headers: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    last_error: str | None = Field(default=None, sa_column=Column(String(500)))


OUTBOX_TABLE: Table = OutboxMessage.__table__  # type: ignore[attr-defined]


class RelayLease(SQLModel, table=True):
    """Who relays this database's outbox now; a lease so replicas never relay side by side."""

    __tablename__ = "outbox_relay_lease"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    holder: str = Field(sa_column=Column(String(128), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def publish_later(
    session: AsyncSession,
    payload: EventContract,
    *,
    source: str,
    subject: str | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    """Stage an event in the caller's transaction; it is published only if that transaction commits."""
    event = new_event(payload, source=source, subject=subject, event_id=event_id)
    stage_event(session, event)
    return event


def stage_event(session: AsyncSession, event: CloudEvent) -> None:
    """Add a ready-made envelope to the outbox inside the caller's transaction."""
    headers: dict[str, str] = {}
    propagate.inject(headers)  # the trace that wrote the event continues when it is consumed
    stage_insert(
        session,
        OUTBOX_TABLE,
        {
            "event_id": event.id,
            "subject": event.nats_subject(),
            "payload": event.to_json().decode(),
            "headers": json.dumps(headers),
            "created_at": utcnow(),
            "sent_at": None,
            "attempts": 0,
            "last_error": None,
        },
    )
    session.info[OUTBOX_DIRTY] = True


class OutboxRelay:
    """Publishes unsent outbox rows in id order, marking each sent after JetStream acks it.

    It retries with capped exponential backoff for as long as it takes: a broker outage or a
    crash leaves rows unsent, never lost; a row published twice (ack lost, then a crash) is
    dropped by JetStream's duplicate window because Nats-Msg-Id is the event id.
    """

    def __init__(
        self,
        *,
        service: str,
        sessions: SessionFactory,
        bus: Bus,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 15.0,
        lease_s: float = 15.0,
    ) -> None:
        self.service = service
        self.sessions = sessions
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        # A crashed relay's lease lapses after this long; then another replica takes over.
        self.lease_s = lease_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False

    def notify(self) -> None:
        """Wake the relay now (called after a transaction that staged events commits)."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled."""
        backoff = 0.2
        while not self._stopping:
            try:
                sent = await self.relay_once()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                OUTBOX_FAILURES.labels(self.service).inc()
                log.warning("outbox relay paused %.1fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if sent < self.batch_size:
                await self._sleep_until_woken()

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows if this process holds the lease; return how many."""
        if not await self._hold_lease():
            return 0
        async with transaction(self.sessions) as session:
            rows = (
                await session.execute(
                    sa_select(
                        OUTBOX_TABLE.c.id,
                        OUTBOX_TABLE.c.subject,
                        OUTBOX_TABLE.c.event_id,
                        OUTBOX_TABLE.c.payload,
                        OUTBOX_TABLE.c.headers,
                    )
                    .where(OUTBOX_TABLE.c.sent_at.is_(None))
                    .order_by(OUTBOX_TABLE.c.id)
                    .limit(self.batch_size)
                )
            ).all()
            # A short batch is everything unsent: counting again would tell nothing new.
            pending = (
                len(rows)
                if len(rows) < self.batch_size
                else await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(col(OutboxMessage.sent_at).is_(None))
                )
            )
        OUTBOX_PENDING.labels(self.service).set(pending or 0)
        if not rows:
            return 0
        # The database connection is not held while we wait for the broker. The payload goes as
        # stored: it was serialised from a validated envelope when the event was staged.
        results = await self.bus.publish_batch(
            [
                Outbound(subject, event_id, payload.encode(), json.loads(headers))
                for _, subject, event_id, payload, headers in rows
            ]
        )
        acked = [
            row[0] for row, result in zip(rows, results, strict=True) if not isinstance(result, BaseException)
        ]
        await self._mark_sent(acked)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(acked))
        failed = [(row[0], r) for row, r in zip(rows, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            row_id, exc = failed[0]
            await self._record_failure(row_id, exc)
            raise exc
        return len(acked)

    async def stop(self) -> None:
        """Ask the loop to end (then ``release_lease`` once it has)."""
        self._stopping = True
        self._wake.set()

    async def release_lease(self) -> None:
        """Give up the lease, so another replica (or this one restarted) relays at once, not in 15 s."""
        try:
            async with transaction(self.sessions) as session:
                await session.execute(
                    update(RelayLease)
                    .where(col(RelayLease.name) == "relay", col(RelayLease.holder) == self.holder)
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
        except Exception:  # best effort: the lease lapses on its own
            log.warning("could not release the outbox relay lease", exc_info=True)

    async def _mark_sent(self, row_ids: list[int | None]) -> None:
        if not row_ids:
            return
        async with transaction(self.sessions) as session:
            await session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(row_ids))
                .values(sent_at=utcnow(), attempts=col(OutboxMessage.attempts) + 1, last_error=None)
            )

    async def _record_failure(self, row_id: int | None, exc: BaseException) -> None:
        try:
            async with transaction(self.sessions) as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == row_id)
                    .values(
                        attempts=col(OutboxMessage.attempts) + 1,
                        last_error=str(exc)[:500] or type(exc).__name__,
                    )
                )
        except Exception:  # the failure note is best effort; the row stays unsent either way
            log.exception("could not record outbox failure")

    async def _hold_lease(self) -> bool:
        now = utcnow()
        until = now + timedelta(seconds=self.lease_s)
        async with transaction(self.sessions) as session:
            taken = await session.execute(
                update(RelayLease)
                .where(col(RelayLease.name) == "relay")
                .where((col(RelayLease.holder) == self.holder) | (col(RelayLease.expires_at) < now))
                .values(holder=self.holder, expires_at=until)
            )
            if _rowcount(taken):
                return True
            exists = await session.scalar(
                select(col(RelayLease.holder)).where(col(RelayLease.name) == "relay")
            )
            if exists is None:
                session.add(RelayLease(name="relay", holder=self.holder, expires_at=until))
                try:
                    await session.flush()
                except Exception:  # another replica inserted it first
                    return False
                return True
        return False

    async def _sleep_until_woken(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
        self._wake.clear()


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

"""Idempotent JetStream consumers: durable pull, explicit ack, bounded redelivery, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import propagate, trace
from prometheus_client import Counter
from sqlalchemy import Column, String, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from careloop_common.bus import Bus, dead_letter_subject
from careloop_common.db import (
    SessionFactory,
    UTCDateTime,
    database_unavailable,
    stage_insert,
    transaction,
    utcnow,
)
from careloop_common.events.envelope import CloudEvent, EventContract, MalformedEvent, decode_payload

log = logging.getLogger(__name__)
tracer = trace.get_tracer("careloop.inbox")

CONSUMED = Counter(
    "careloop_consumer_messages_total", "Messages handled by consumers, by outcome", ["consumer", "outcome"]
)

Handler = Callable[[AsyncSession, CloudEvent, EventContract], Awaitable[None]]

REASON_HEADER = "Careloop-Dead-Letter-Reason"


class ProcessedEvent(SQLModel, table=True):
    """An event a consumer has applied; written in the same transaction as the handler's effects."""

    __tablename__ = "inbox_processed_event"

    consumer: str = Field(sa_column=Column(String(128), primary_key=True))
    event_id: str = Field(sa_column=Column(String(128), primary_key=True))
    processed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


PROCESSED_EVENT: Table = ProcessedEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer: which stream and subjects it reads and the handler that applies them."""

    durable: str
    stream: str
    subjects: tuple[str, ...]
    handler: Handler
    max_deliver: int = 5
    ack_wait_s: float = 30.0
    batch: int = 64
    # Apply each fetched batch in one transaction (one commit for up to ``batch`` events), for
    # high-rate streams; any failure in it rolls the batch back and applies its events one by one.
    together: bool = False
    # Called first in a batch's transaction with the batch's payloads (e.g. to read and lock every
    # row the batch touches in one query instead of one per event).
    prepare: Callable[[AsyncSession, list[EventContract]], Awaitable[None]] | None = None
    # Called last in a batch's transaction, before it commits (e.g. to write what it collected).
    finish: Callable[[AsyncSession], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        """Refuse durable names JetStream would reject."""
        if any(ch in self.durable for ch in ".*> "):
            raise ValueError(f"durable name {self.durable!r} may not contain '.', '*', '>' or spaces")


class ConsumerRunner:
    """Runs one durable pull consumer until cancelled, surviving broker outages.

    The JetStream consumer itself redelivers without limit; this runner counts deliveries and
    moves a message to the dead-letter subject after ``max_deliver`` failures (a database that
    cannot be written is not the message's failure: that waits for the database), acking it only
    once the dead letter is stored. So a message is never dropped, even if the broker is away at
    the moment it gives up on it.
    """

    def __init__(self, spec: ConsumerSpec, *, sessions: SessionFactory, bus: Bus) -> None:
        self.spec = spec
        self.sessions = sessions
        self.bus = bus

    async def run(self) -> None:
        """Fetch and handle messages until cancelled."""
        backoff = 0.2
        while True:
            stop_if_cancelled()
            subscription = None
            try:
                subscription = await self._bind()
                backoff = 0.2
                while True:
                    stop_if_cancelled()
                    try:
                        messages = await subscription.fetch(self.spec.batch, timeout=1.0)
                    except TimeoutError:
                        continue
                    if self.spec.together and len(messages) > 1:
                        await self.handle_together(messages)
                        continue
                    for message in messages:
                        await self.handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer %s paused %.1fs: %s", self.spec.durable, backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                # Each bind makes a new subscription: drop the old one so outages do not pile them up.
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()

    async def handle(self, message: Msg) -> None:
        """Apply one message exactly once, or dead-letter it, then acknowledge it."""
        try:
            event = CloudEvent.from_json(message.data)
            payload = decode_payload(event)
        except MalformedEvent as exc:
            await self._dead_letter(message, str(exc))
            return
        context = propagate.extract(dict(message.headers or {}))
        with tracer.start_as_current_span(
            f"{message.subject} process", context=context, kind=trace.SpanKind.CONSUMER
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.consumer.group.name", self.spec.durable)
            span.set_attribute("messaging.message.id", event.id)
            try:
                applied = await self.apply(event, payload)
            except MalformedEvent as exc:
                # The handler says no retry can make this message acceptable: park it at once.
                span.record_exception(exc)
                await self._dead_letter(message, str(exc))
                return
            except Exception as exc:
                span.record_exception(exc)
                await self._retry_or_dead_letter(message, exc)
                return
        CONSUMED.labels(self.spec.durable, "applied" if applied else "duplicate").inc()
        await _quietly(message.ack())

    async def handle_together(self, messages: list[Msg]) -> None:
        """Apply a batch of messages in one transaction, then acknowledge them; if anything in it
        fails, nothing of it is kept and each message is handled on its own (retried or parked)."""
        decoded: list[tuple[Msg, CloudEvent, EventContract]] = []
        for message in messages:
            try:
                event = CloudEvent.from_json(message.data)
                decoded.append((message, event, decode_payload(event)))
            except MalformedEvent as exc:
                await self._dead_letter(message, str(exc))
        with tracer.start_as_current_span(
            f"{self.spec.stream} batch process", kind=trace.SpanKind.CONSUMER
        ) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.consumer.group.name", self.spec.durable)
            span.set_attribute("messaging.batch.message_count", len(decoded))
            try:
                applied = await self.apply_together([(event, payload) for _, event, payload in decoded])
            except Exception as exc:
                log.info(
                    "consumer %s: a batch failed (%s); applying its events one by one", self.spec.durable, exc
                )
                for message, _, _ in decoded:
                    await self.handle(message)
                return
        for (message, _, _), was_applied in zip(decoded, applied, strict=True):
            CONSUMED.labels(self.spec.durable, "applied" if was_applied else "duplicate").inc()
            await _quietly(message.ack())

    async def apply_together(self, events: list[tuple[CloudEvent, EventContract]]) -> list[bool]:
        """Run the handler for each event not applied before and record their ids, all in one
        transaction; return, per event, whether it was applied now (False: a duplicate)."""
        async with transaction(self.sessions) as session:
            ids = [event.id for event, _ in events]
            done = set(
                await session.scalars(
                    select(ProcessedEvent.event_id).where(
                        ProcessedEvent.consumer == self.spec.durable,
                        col(ProcessedEvent.event_id).in_(ids),
                    )
                )
            )
            if self.spec.prepare is not None:
                await self.spec.prepare(session, [p for e, p in events if e.id not in done])
            applied = []
            for event, payload in events:
                if event.id in done:
                    applied.append(False)
                    continue
                done.add(event.id)  # the same event twice in one batch applies once
                stage_insert(
                    session,
                    PROCESSED_EVENT,
                    {"consumer": self.spec.durable, "event_id": event.id, "processed_at": utcnow()},
                )
                await self.spec.handler(session, event, payload)
                applied.append(True)
            if self.spec.finish is not None:
                await self.spec.finish(session)
        return applied

    async def apply(self, event: CloudEvent, payload: EventContract) -> bool:
        """Run the handler and record the event id in one transaction; False if already applied."""
        try:
            async with transaction(self.sessions) as session:
                if await session.get(ProcessedEvent, (self.spec.durable, event.id)) is not None:
                    return False
                session.add(
                    ProcessedEvent(consumer=self.spec.durable, event_id=event.id, processed_at=utcnow())
                )
                await session.flush()
                await self.spec.handler(session, event, payload)
        except IntegrityError:
            # A replica may have applied the same delivery concurrently: that is a duplicate.
            async with self.sessions() as session:
                if await session.get(ProcessedEvent, (self.spec.durable, event.id)) is not None:
                    return False
            raise
        return True

    async def _retry_or_dead_letter(self, message: Msg, exc: Exception) -> None:
        deliveries = message.metadata.num_delivered
        if database_unavailable(exc):
            # The message is not at fault, the database is (full, read-only, gone): parking it would
            # lose a good event, so it waits for the database however many tries that takes.
            log.warning("consumer %s: database unavailable, will retry: %s", self.spec.durable, exc)
            CONSUMED.labels(self.spec.durable, "retried").inc()
            await _quietly(message.nak(delay=min(0.25 * 2 ** min(deliveries, 7), 30.0)))
            return
        if deliveries >= self.spec.max_deliver:
            await self._dead_letter(
                message, f"handler failed {deliveries} times: {type(exc).__name__}: {exc}"
            )
            return
        log.warning("consumer %s: delivery %d failed, will retry: %s", self.spec.durable, deliveries, exc)
        CONSUMED.labels(self.spec.durable, "retried").inc()
        await _quietly(message.nak(delay=min(0.5 * 2**deliveries, 30.0)))

    async def _dead_letter(self, message: Msg, reason: str) -> None:
        meta = message.metadata
        headers = {
            # One dead letter per stored message, however often we try to write it.
            "Nats-Msg-Id": f"{self.spec.durable}:{meta.stream}:{meta.sequence.stream}",
            REASON_HEADER: reason[:1000],
            "Careloop-Original-Subject": message.subject,
            "Careloop-Original-Stream": meta.stream,
            "Careloop-Deliveries": str(meta.num_delivered),
        }
        try:
            await self.bus.js.publish(dead_letter_subject(self.spec.durable), message.data, headers=headers)
        except Exception as exc:
            log.warning("consumer %s: dead letter not stored yet (%s); will retry", self.spec.durable, exc)
            await _quietly(message.nak(delay=2.0))
            return
        log.error("consumer %s: dead-lettered %s: %s", self.spec.durable, message.subject, reason)
        CONSUMED.labels(self.spec.durable, "dead_lettered").inc()
        await _quietly(message.term())

    async def _bind(self) -> nats.js.JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=self.spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.spec.ack_wait_s,
            max_deliver=-1,
            max_ack_pending=max(self.spec.batch * 4, 256),
            filter_subjects=list(self.spec.subjects),
        )
        if not self.bus.connected:
            raise ConnectionError("NATS is not connected")
        await self.bus.ensure_streams()
        await self.bus.js.add_consumer(self.spec.stream, config)
        return await self.bus.js.pull_subscribe_bind(durable=self.spec.durable, stream=self.spec.stream)


def stop_if_cancelled() -> None:
    """Raise CancelledError in a task whose cancellation was requested but swallowed on the way.

    On Python 3.11, ``asyncio.wait_for`` (which nats-py uses for every request and fetch) returns
    the result instead of raising when the cancellation lands just as the awaited reply arrives.
    The task stays "cancelling" and a loop would go on forever: a service's shutdown hung waiting
    for its consumers. Loops call this at the top of each round. (Python 3.12 fixed wait_for.)
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _quietly(ack: Awaitable[None]) -> None:
    """Ack/nak/term; if the connection is gone the message is redelivered, which is safe."""
    try:
        await ack
    except (nats.errors.Error, TimeoutError) as exc:
        log.info("acknowledgement not sent (%s); the message will be redelivered", exc)

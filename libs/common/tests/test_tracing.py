"""Trace context crosses the outbox and NATS: the consumer's span continues the producer's trace."""

from __future__ import annotations

import asyncio

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from careloop_common.bus import Bus
from careloop_common.db import create_engine, create_session_factory, transaction, utcnow
from careloop_common.events.complaints import ComplaintFiledV1
from careloop_common.events.envelope import CloudEvent, EventContract
from careloop_common.inbox import ConsumerRunner, ConsumerSpec, ProcessedEvent
from careloop_common.outbox import OutboxMessage, OutboxRelay, publish_later
from careloop_common.testing import wait_until

EXPORTER = InMemorySpanExporter()


def provider() -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    created = TracerProvider()
    trace.set_tracer_provider(created)
    return created


async def test_consumer_span_continues_the_writers_trace(sqlite_url: str, nats_url: str) -> None:
    provider().add_span_processor(SimpleSpanProcessor(EXPORTER))
    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.run_sync(
            SQLModel.metadata.create_all,
            tables=[OutboxMessage.__table__, ProcessedEvent.__table__],  # type: ignore[attr-defined]
        )
    from careloop_common.outbox import RelayLease

    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[RelayLease.__table__])  # type: ignore[attr-defined]
    sessions = create_session_factory(engine)
    bus = Bus(nats_url, "tracing-test")
    await bus.connect()
    seen: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        seen.append(format(trace.get_current_span().get_span_context().trace_id, "032x"))

    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("file complaint") as root:
        async with transaction(sessions) as session:
            publish_later(
                session,
                ComplaintFiledV1(
                    complaint_id="c1",
                    reference="CMP-1",
                    category="coverage",
                    channel="web",
                    filed_at=utcnow(),
                ),
                source="/test",
            )
    writer_trace = format(root.get_span_context().trace_id, "032x")
    relay = OutboxRelay(service="test", sessions=sessions, bus=bus, poll_interval_s=0.05)
    runner = ConsumerRunner(
        ConsumerSpec(durable="trace-test", stream="COMPLAINTS", subjects=("complaints.>",), handler=handler),
        sessions=sessions,
        bus=bus,
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
    try:
        await wait_until(lambda: asyncio.sleep(0, result=bool(seen)), message="the event to be consumed")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.close()
        await engine.dispose()
    assert seen == [writer_trace]
    names = {
        span.name
        for span in EXPORTER.get_finished_spans()
        if format(span.context.trace_id, "032x") == writer_trace
    }
    assert {
        "file complaint",
        "complaints.complaint.filed publish",
        "complaints.complaint.filed process",
    } <= names

"""Nothing lost, nothing doubled: outbox → relay → JetStream → inbox through outages and crashes.

The consumer's effect is deliberately not idempotent by itself (it inserts a row per delivery it
is handed), so only the inbox stands between a redelivery and a doubled effect.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Column, Integer, String, func
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import Field, SQLModel, col, select

from careloop_common.bus import Bus
from careloop_common.db import SessionFactory, create_engine, create_session_factory, transaction
from careloop_common.events.envelope import CloudEvent, EventContract, contract, new_event
from careloop_common.inbox import ConsumerRunner, ConsumerSpec, ProcessedEvent
from careloop_common.natsserver import NatsServer
from careloop_common.outbox import OutboxMessage, OutboxRelay, RelayLease, publish_later
from careloop_common.testing import read_dead_letters, wait_until


@contract
class LedgerPostedV1(EventContract):
    """Test-only event: the n-th entry of a ledger."""

    subject = "complaints.ledger.posted"
    version = 1

    n: int


class Applied(SQLModel, table=True):
    """One row per handler call: doubles show up as duplicate event ids."""

    __tablename__ = "test_applied"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    event_id: str = Field(sa_column=Column(String(128), nullable=False))
    n: int = Field(sa_column=Column(Integer, nullable=False))


TABLES = [OutboxMessage.__table__, RelayLease.__table__, ProcessedEvent.__table__, Applied.__table__]


@dataclass
class Harness:
    """Producer database + relay, consumer database + runner, one real broker."""

    producer: SessionFactory
    consumer: SessionFactory
    producer_bus: Bus
    consumer_bus: Bus
    engines: list[AsyncEngine]
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    relay: OutboxRelay | None = None
    durable: str = "test-ledger"

    async def post(self, *numbers: int) -> list[str]:
        """Write ledger events through the outbox, one transaction each; return their ids."""
        ids = []
        for n in numbers:
            async with transaction(self.producer) as session:
                ids.append(publish_later(session, LedgerPostedV1(n=n), source="/test").id)
        return ids

    def start_relay(self) -> OutboxRelay:
        """Start a fresh relay (as a restarted process would), with a one-second lease."""
        self.relay = OutboxRelay(
            service="test",
            sessions=self.producer,
            bus=self.producer_bus,
            poll_interval_s=0.05,
            max_backoff_s=0.5,
            lease_s=1.0,
        )
        self.tasks["relay"] = asyncio.create_task(self.relay.run())
        return self.relay

    async def kill_relay(self) -> None:
        """Cancel the relay as a crash would: no clean hand-over."""
        task = self.tasks.pop("relay")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def start_consumer(
        self, handler: object = None, max_deliver: int = 3, *, together: bool = False
    ) -> ConsumerRunner:
        """Start the durable consumer (``together``: a fetched batch in one transaction)."""
        spec = ConsumerSpec(
            durable=self.durable,
            stream="COMPLAINTS",
            subjects=(LedgerPostedV1.subject,),
            handler=handler or apply_entry,
            max_deliver=max_deliver,
            ack_wait_s=2.0,
            together=together,
        )
        runner = ConsumerRunner(spec, sessions=self.consumer, bus=self.consumer_bus)
        self.tasks["consumer"] = asyncio.create_task(runner.run())
        return runner

    async def applied(self) -> list[tuple[str, int]]:
        """Return (event id, n) of every handler effect, in order."""
        async with self.consumer() as session:
            return [
                (r.event_id, r.n)
                for r in await session.execute(
                    select(col(Applied.event_id), col(Applied.n)).order_by(col(Applied.id))
                )
            ]

    async def unsent(self) -> int:
        """Count outbox rows not yet acknowledged by JetStream."""
        async with self.producer() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(col(OutboxMessage.sent_at).is_(None))
                )
                or 0
            )


async def apply_entry(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
    """Record one effect per call."""
    assert isinstance(payload, LedgerPostedV1)
    session.add(Applied(event_id=event.id, n=payload.n))


async def _engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=TABLES)
    return engine


@pytest.fixture
async def harness(database_url: str, sqlite_url: str, nats_url: str) -> AsyncIterator[Harness]:
    """Producer on the parametrized backend, consumer on its own SQLite file: two services, two databases."""
    producer_engine, consumer_engine = await _engine(database_url), await _engine(sqlite_url)
    producer_bus, consumer_bus = Bus(nats_url, "producer"), Bus(nats_url, "consumer")
    await producer_bus.connect()
    await consumer_bus.connect()
    h = Harness(
        producer=create_session_factory(producer_engine),
        consumer=create_session_factory(consumer_engine),
        producer_bus=producer_bus,
        consumer_bus=consumer_bus,
        engines=[producer_engine, consumer_engine],
    )
    yield h
    for task in h.tasks.values():
        task.cancel()
    await asyncio.gather(*h.tasks.values(), return_exceptions=True)
    await producer_bus.close()
    await consumer_bus.close()
    for engine in h.engines:
        await engine.dispose()


async def all_applied(h: Harness, count: int) -> list[tuple[str, int]]:
    async def check() -> list[tuple[str, int]] | None:
        rows = await h.applied()
        return rows if len(rows) >= count else None

    return list(await wait_until(check, message=f"{count} effects"))


async def test_events_arrive_once_and_in_order(harness: Harness) -> None:
    harness.start_relay()
    harness.start_consumer()
    ids = await harness.post(*range(20))
    rows = await all_applied(harness, 20)
    assert [n for _, n in rows] == list(range(20))
    assert [event_id for event_id, _ in rows] == ids
    assert await harness.unsent() == 0


async def test_broker_outage_mid_stream_loses_and_doubles_nothing(
    harness: Harness, nats_server: NatsServer
) -> None:
    harness.start_relay()
    harness.start_consumer()
    await harness.post(*range(0, 10))
    await all_applied(harness, 10)
    nats_server.stop()
    # Writes go on while the broker is down: they wait in the outbox, nothing is lost.
    await harness.post(*range(10, 25))
    assert await harness.unsent() == 15
    nats_server.start()
    await harness.post(*range(25, 30))
    rows = await all_applied(harness, 30)
    await asyncio.sleep(0.5)  # give a double, if there were one, the chance to show up
    rows = await harness.applied()
    assert sorted(n for _, n in rows) == list(range(30))
    assert len({event_id for event_id, _ in rows}) == 30
    assert await harness.unsent() == 0


async def test_relay_crash_between_publish_and_mark_sent_doubles_nothing(harness: Harness) -> None:
    ids = await harness.post(*range(5))
    # A relay published these but crashed before marking them sent: simulate by publishing directly.
    for event_id in ids[:3]:
        async with harness.producer() as session:
            from careloop_common.outbox import OutboxMessage

            payload = await session.scalar(
                select(col(OutboxMessage.payload)).where(col(OutboxMessage.event_id) == event_id)
            )
        await harness.producer_bus.publish(CloudEvent.model_validate_json(payload))
    harness.start_relay()  # the restarted relay publishes all five again
    harness.start_consumer()
    await all_applied(harness, 5)
    await asyncio.sleep(0.5)
    rows = await harness.applied()
    assert sorted(n for _, n in rows) == list(range(5))
    stream = await harness.consumer_bus.js.stream_info("COMPLAINTS")
    assert stream.state.messages == 5  # JetStream dropped the re-published ids (Nats-Msg-Id)


async def test_killed_relay_resumes_where_it_stopped(harness: Harness) -> None:
    harness.start_consumer()
    harness.start_relay()
    await harness.post(*range(10))
    await all_applied(harness, 10)
    await harness.kill_relay()
    await harness.post(*range(10, 20))
    assert await harness.unsent() == 10
    harness.start_relay()  # it takes over once the dead relay's one-second lease lapses
    rows = await all_applied(harness, 20)
    assert sorted(n for _, n in rows) == list(range(20))


async def test_a_cleanly_stopped_relay_hands_over_at_once(harness: Harness) -> None:
    def relay() -> OutboxRelay:
        # A long lease: only an explicit release lets the next relay in within this test.
        return OutboxRelay(service="test", sessions=harness.producer, bus=harness.producer_bus, lease_s=60.0)

    harness.start_consumer()
    first, second = relay(), relay()
    await harness.post(1)
    assert await first.relay_once() == 1
    await first.stop()
    await first.release_lease()
    await harness.post(2)
    assert await second.relay_once() == 1
    assert sorted(n for _, n in await all_applied(harness, 2)) == [1, 2]


async def test_redelivered_event_has_one_effect(harness: Harness) -> None:
    harness.start_consumer()
    event = new_event(LedgerPostedV1(n=7), source="/test")
    # Same event id under different Nats-Msg-Ids: JetStream stores both, the inbox must catch it.
    for attempt in range(3):
        await harness.producer_bus.js.publish(
            LedgerPostedV1.subject, event.to_json(), headers={"Nats-Msg-Id": f"{event.id}-{attempt}"}
        )
    marker = await harness.post(8)
    harness.start_relay()
    await all_applied(harness, 2)
    await asyncio.sleep(0.3)
    rows = await harness.applied()
    assert rows == [(event.id, 7), (marker[0], 8)]


async def test_malformed_message_is_dead_lettered_and_consumer_goes_on(harness: Harness) -> None:
    harness.start_consumer()
    js = harness.producer_bus.js
    await js.publish(LedgerPostedV1.subject, b"{not json")
    bad_payload = new_event(LedgerPostedV1(n=1), source="/test").model_copy(update={"data": {"n": "many"}})
    await js.publish(LedgerPostedV1.subject, bad_payload.to_json())
    ids = await harness.post(2)
    harness.start_relay()
    rows = await all_applied(harness, 1)
    assert rows == [(ids[0], 2)]
    letters = await dead_letters(harness, 2)
    assert letters[0][0] == b"{not json"
    assert "not a CloudEvents 1.0 envelope" in letters[0][1]
    assert "payload does not match" in letters[1][1]
    assert json.loads(letters[1][0])["id"] == bad_payload.id


async def test_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(harness: Harness) -> None:
    calls: list[int] = []

    async def flaky(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        assert isinstance(payload, LedgerPostedV1)
        if payload.n == 13:
            calls.append(payload.n)
            raise RuntimeError("unlucky number")
        await apply_entry(session, event, payload)

    harness.start_consumer(handler=flaky, max_deliver=3)
    harness.start_relay()
    await harness.post(12, 13, 14)
    letters = await dead_letters(harness, 1)
    assert "handler failed 3 times: RuntimeError: unlucky number" in letters[0][1]
    rows = await all_applied(harness, 2)
    assert [n for _, n in rows] == [12, 14]
    assert calls == [13, 13, 13]  # failed effects rolled back each time: no partial write


async def published(harness: Harness, count: int) -> None:
    """Wait until the relay has published every outbox row (so a consumer fetches them as a batch)."""

    async def relayed() -> bool:
        return await harness.unsent() == 0

    await wait_until(relayed, message=f"{count} events published")


async def test_a_batch_applied_together_has_each_effect_once(harness: Harness) -> None:
    ids = await harness.post(*range(40))
    event = new_event(LedgerPostedV1(n=99), source="/test")
    for attempt in range(3):  # the same event id three times, within the same batch
        await harness.producer_bus.js.publish(
            LedgerPostedV1.subject, event.to_json(), headers={"Nats-Msg-Id": f"{event.id}-{attempt}"}
        )
    await harness.producer_bus.js.publish(LedgerPostedV1.subject, b"{not json")
    harness.start_relay()
    await published(harness, 40)
    harness.start_consumer(together=True)

    await all_applied(harness, 41)
    await asyncio.sleep(0.3)
    rows = await harness.applied()
    assert sorted(rows) == sorted([(i, n) for n, i in enumerate(ids)] + [(event.id, 99)])
    letters = await dead_letters(harness, 1)
    assert letters[0][0] == b"{not json"


async def test_a_failing_event_in_a_batch_leaves_the_rest_applied_once(harness: Harness) -> None:
    calls: list[int] = []

    async def flaky(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        assert isinstance(payload, LedgerPostedV1)
        if payload.n == 13:
            calls.append(payload.n)
            raise RuntimeError("unlucky number")
        await apply_entry(session, event, payload)

    await harness.post(*range(10, 20))
    harness.start_relay()
    await published(harness, 10)
    harness.start_consumer(handler=flaky, max_deliver=3, together=True)

    letters = await dead_letters(harness, 1)
    assert "handler failed 3 times: RuntimeError: unlucky number" in letters[0][1]
    rows = await all_applied(harness, 9)
    assert sorted(n for _, n in rows) == [n for n in range(10, 20) if n != 13]
    # Once in the batch (rolled back whole), then three times on its own.
    assert calls == [13, 13, 13, 13]


async def test_a_database_that_cannot_be_written_delays_an_event_but_never_dead_letters_it(
    harness: Harness,
) -> None:
    failures: list[int] = []

    async def on_a_failing_disk(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        assert isinstance(payload, LedgerPostedV1)
        if payload.n == 13 and len(failures) < 3:
            failures.append(payload.n)
            # What SQLite raises on a full, read-only or failing disk (the db-readonly drill's fault).
            raise OperationalError("INSERT INTO test_applied", {}, sqlite3.OperationalError("disk I/O error"))
        await apply_entry(session, event, payload)

    harness.start_consumer(handler=on_a_failing_disk, max_deliver=2)
    harness.start_relay()
    await harness.post(12, 13, 14)
    rows = await all_applied(harness, 3)
    # Failed more often than max_deliver, yet applied once the disk took writes: not parked.
    assert sorted(n for _, n in rows) == [12, 13, 14]
    assert failures == [13, 13, 13]


async def dead_letters(h: Harness, count: int) -> list[tuple[bytes, str]]:
    """Read the dead-letter subject of the harness consumer."""
    return await read_dead_letters(h.producer_bus.js, h.durable, count)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"specversion": "0.3", "id": "x", "source": "s", "type": "t", "time": "2026-01-01T00:00:00Z"}',
    ],
)
def test_envelope_parsing_rejects_non_events(data: bytes) -> None:
    from careloop_common.events.envelope import MalformedEvent

    with pytest.raises(MalformedEvent):
        CloudEvent.from_json(data)

"""Hub subscriptions and callback delivery, on real databases and a real HTTP receiver on a socket."""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from fastapi import FastAPI, Request, Response
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel, col, select

from careloop_common.db import SessionFactory, create_engine, create_session_factory, transaction
from careloop_common.errors import ProblemError
from careloop_common.hub import (
    HUB_TABLES,
    HubDeliverer,
    HubDelivery,
    HubSubscription,
    RetryPolicy,
    anyone_wants,
    create_hub_tables_v1,
    create_subscription,
    delete_subscription,
    enqueue_hub_event,
    get_subscription,
)
from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, wait_until

API = "troubleTicket"
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05)


@dataclass
class Receiver:
    """A partner's listener: records what each callback path got, failing the first N posts if told."""

    fail_first: dict[str, int] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    bodies: defaultdict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/cb/{name}")
        async def listener(name: str, request: Request) -> Response:
            self.attempts[name] += 1
            if self.fail_first.get(name, 0) > 0:
                self.fail_first[name] -= 1
                return Response(status_code=500)
            self.bodies[name].append(await request.json())
            return Response(status_code=204)

        return app


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_migrate)
    yield create_session_factory(engine)
    await engine.dispose()


def _migrate(connection: Connection) -> None:
    with Operations.context(MigrationContext.configure(connection)):
        create_hub_tables_v1()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    partner = Receiver()
    async with LiveServer(partner.app()) as server:
        yield partner, f"{server.url}/cb"


@pytest.fixture
async def deliverers(db: SessionFactory) -> AsyncIterator[Callable[..., Awaitable[HubDeliverer]]]:
    started: list[HubDeliverer] = []

    async def start(**overrides: Any) -> HubDeliverer:
        options: dict[str, Any] = {
            "sessions": db,
            "service": "test",
            "retry": FAST_RETRY,
            "poll_interval_s": 0.05,
            "lease_s": 10.0,
            "timeout_s": 2.0,
        }
        deliverer = HubDeliverer(**{**options, **overrides})
        await deliverer.start()
        started.append(deliverer)
        return deliverer

    yield start
    for deliverer in started:
        await deliverer.stop()


async def subscribe(
    db: SessionFactory, callback: str, *, query: str | None = None, partner: str | None
) -> str:
    async with transaction(db) as session:
        return (await create_subscription(session, API, callback, query=query, partner_id=partner)).id


def tmf_event(event_type: str, event_id: str) -> dict[str, Any]:
    return {
        "@type": event_type,
        "eventId": event_id,
        "eventType": event_type,
        "eventTime": "2026-11-30T10:00:00Z",
        "event": {"troubleTicket": {"@type": "TroubleTicket", "id": "tt-1"}},
    }


async def raise_event(
    db: SessionFactory, event_type: str, *, partner: str | None, event_id: str | None = None
) -> str:
    event_id = event_id or str(uuid.uuid4())
    async with transaction(db) as session:
        await enqueue_hub_event(session, API, event_type, tmf_event(event_type, event_id), event_id, partner)
    return event_id


async def deliveries(db: SessionFactory) -> list[HubDelivery]:
    async with db() as session:
        return list((await session.execute(select(HubDelivery).order_by(col(HubDelivery.id)))).scalars())


async def all_settled(db: SessionFactory) -> bool:
    rows = await deliveries(db)
    return bool(rows) and all(row.delivered_at is not None or row.dead for row in rows)


async def test_event_reaches_the_callback_as_soon_as_its_transaction_commits(
    db: SessionFactory, receiver: tuple[Receiver, str], deliverers: Callable[..., Awaitable[HubDeliverer]]
) -> None:
    partner, base = receiver
    # A poll far longer than the wait below: only the commit's wake-up can deliver in time.
    await deliverers(poll_interval_s=300.0)
    await subscribe(db, f"{base}/a?token=secret", partner="p1")
    event_id = await raise_event(db, "TroubleTicketCreateEvent", partner="p1")

    await wait_until(lambda: _true(partner.bodies["a"]), timeout_s=10, message="the callback")
    assert partner.bodies["a"] == [tmf_event("TroubleTicketCreateEvent", event_id)]
    [row] = await deliveries(db)
    assert (row.attempts, row.dead, row.last_error, row.next_attempt_at) == (1, False, None, None)
    assert row.delivered_at is not None


async def test_failing_callback_is_retried_then_delivered_once(
    db: SessionFactory, receiver: tuple[Receiver, str], deliverers: Callable[..., Awaitable[HubDeliverer]]
) -> None:
    partner, base = receiver
    partner.fail_first["flaky"] = 1
    await deliverers()
    await subscribe(db, f"{base}/flaky", partner=None)
    event_id = await raise_event(db, "TroubleTicketStatusChangeEvent", partner=None)

    await wait_until(lambda: all_settled(db), message="the retried delivery")
    [row] = await deliveries(db)
    assert row.delivered_at is not None
    assert not row.dead
    assert row.attempts == 2
    assert partner.attempts["flaky"] == 2
    assert [body["eventId"] for body in partner.bodies["flaky"]] == [event_id]


async def test_unreachable_callback_goes_dead_after_max_attempts(
    db: SessionFactory,
    deliverers: Callable[..., Awaitable[HubDeliverer]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await deliverers()
    await subscribe(db, f"http://127.0.0.1:{free_port()}/nobody", partner="p1")
    with caplog.at_level(logging.ERROR, logger="careloop_common.hub"):
        await raise_event(db, "TroubleTicketCreateEvent", partner="p1")
        await wait_until(lambda: all_settled(db), message="the delivery to give up")

    [row] = await deliveries(db)
    assert row.dead
    assert (row.delivered_at, row.next_attempt_at) == (None, None)
    assert row.attempts == FAST_RETRY.max_attempts
    assert (row.last_error or "").startswith("ConnectError")
    assert any("dead after 3 attempts" in record.getMessage() for record in caplog.records)
    # Logs name the host only, never the path or query a partner may put a token in.
    assert all("/nobody" not in record.getMessage() for record in caplog.records)


async def test_same_event_enqueued_twice_is_delivered_once(
    db: SessionFactory, receiver: tuple[Receiver, str], deliverers: Callable[..., Awaitable[HubDeliverer]]
) -> None:
    partner, base = receiver
    await subscribe(db, f"{base}/once", partner="p1")
    event_id = str(uuid.uuid4())
    async with transaction(db) as session:  # twice in one transaction
        for _ in range(2):
            body = tmf_event("TroubleTicketCreateEvent", event_id)
            await enqueue_hub_event(session, API, "TroubleTicketCreateEvent", body, event_id, "p1")
    await raise_event(db, "TroubleTicketCreateEvent", partner="p1", event_id=event_id)  # and again later
    assert len(await deliveries(db)) == 1

    await deliverers()
    await wait_until(lambda: all_settled(db), message="the delivery")
    await raise_event(db, "TroubleTicketCreateEvent", partner="p1", event_id=event_id)  # after delivery too
    assert len(await deliveries(db)) == 1
    assert [body["eventId"] for body in partner.bodies["once"]] == [event_id]
    assert partner.attempts["once"] == 1


async def test_two_replicas_never_send_the_same_delivery(
    db: SessionFactory, receiver: tuple[Receiver, str], deliverers: Callable[..., Awaitable[HubDeliverer]]
) -> None:
    partner, base = receiver
    await subscribe(db, f"{base}/shared", partner=None)
    sent = [await raise_event(db, "TroubleTicketCreateEvent", partner=None) for _ in range(40)]
    await deliverers(batch_size=5)
    await deliverers(batch_size=5)

    await wait_until(lambda: _true(len(partner.bodies["shared"]) >= 40), message="every event")
    await wait_until(lambda: all_settled(db), message="every delivery recorded")
    assert sorted(body["eventId"] for body in partner.bodies["shared"]) == sorted(sent)
    assert partner.attempts["shared"] == 40


async def test_query_selects_event_types(
    db: SessionFactory, receiver: tuple[Receiver, str], deliverers: Callable[..., Awaitable[HubDeliverer]]
) -> None:
    partner, base = receiver
    await subscribe(db, f"{base}/create", query="eventType=TroubleTicketCreateEvent", partner="p1")
    await subscribe(
        db,
        f"{base}/status",
        query="?eventType=TroubleTicketStatusChangeEvent,TroubleTicketResolvedEvent",
        partner="p1",
    )
    await subscribe(db, f"{base}/all", query="", partner="p1")
    for event_type in (
        "TroubleTicketCreateEvent",
        "TroubleTicketStatusChangeEvent",
        "TroubleTicketAttributeValueChangeEvent",
    ):
        await raise_event(db, event_type, partner="p1")
    await deliverers()

    await wait_until(lambda: all_settled(db), message="every delivery")
    got = {name: [body["eventType"] for body in bodies] for name, bodies in partner.bodies.items()}
    assert got["create"] == ["TroubleTicketCreateEvent"]
    assert got["status"] == ["TroubleTicketStatusChangeEvent"]
    assert sorted(got["all"]) == [
        "TroubleTicketAttributeValueChangeEvent",
        "TroubleTicketCreateEvent",
        "TroubleTicketStatusChangeEvent",
    ]
    assert len(await deliveries(db)) == 5  # nothing queued that a filter refused


async def test_anyone_wants_says_whether_any_subscription_takes_an_event_type(db: SessionFactory) -> None:
    async def wanted(event_type: str, api: str = API) -> bool:
        async with db() as session:
            return await anyone_wants(session, api, event_type)

    assert not await wanted("TroubleTicketCreateEvent")  # nobody subscribed yet
    await subscribe(db, "http://127.0.0.1:9/create", query="eventType=TroubleTicketCreateEvent", partner="p1")
    assert await wanted("TroubleTicketCreateEvent")
    assert not await wanted("TroubleTicketResolvedEvent")
    assert not await wanted("TroubleTicketCreateEvent", api="another-api")
    await subscribe(db, "http://127.0.0.1:9/all", query=None, partner=None)
    assert await wanted("TroubleTicketResolvedEvent")


async def test_a_partners_events_reach_only_its_own_and_internal_subscriptions(
    db: SessionFactory, receiver: tuple[Receiver, str], deliverers: Callable[..., Awaitable[HubDeliverer]]
) -> None:
    partner, base = receiver
    await subscribe(db, f"{base}/p1", partner="p1")
    await subscribe(db, f"{base}/p2", partner="p2")
    await subscribe(db, f"{base}/internal", partner=None)
    async with transaction(db) as session:  # another API's subscription hears nothing of this one
        await create_subscription(session, "communication", f"{base}/other-api", query=None, partner_id="p1")
    for_p1 = await raise_event(db, "TroubleTicketCreateEvent", partner="p1")
    for_nobody = await raise_event(db, "TroubleTicketCreateEvent", partner=None)
    await deliverers()

    await wait_until(lambda: all_settled(db), message="every delivery")
    got = {name: sorted(body["eventId"] for body in bodies) for name, bodies in partner.bodies.items()}
    assert got == {"p1": [for_p1], "internal": sorted([for_p1, for_nobody])}
    assert len(await deliveries(db)) == 3


@pytest.mark.parametrize(
    "callback",
    [
        "ftp://partner.example/cb",
        "javascript:alert(1)",
        "http://",
        "https://user:password@partner.example/cb",
        "http://partner.example:99999/cb",
        "http://[partner.example/cb",
        "http://partner example/cb",
        "https://partner.example/" + "x" * 2000,
    ],
)
async def test_callback_must_be_a_plain_http_url(db: SessionFactory, callback: str) -> None:
    async with transaction(db) as session:
        with pytest.raises(ProblemError) as refused:
            await create_subscription(session, API, callback, query=None, partner_id="p1")
    assert (refused.value.status, refused.value.slug) == (422, "invalid-callback")


@pytest.mark.parametrize(
    "query", ["event.troubleTicket.severity=Major", "eventType=A&eventType=B", "eventType=", "eventType=A, B"]
)
async def test_unsupported_query_is_refused_not_ignored(db: SessionFactory, query: str) -> None:
    async with transaction(db) as session:
        with pytest.raises(ProblemError) as refused:
            await create_subscription(
                session, API, "https://partner.example/cb", query=query, partner_id="p1"
            )
    assert (refused.value.status, refused.value.slug) == (422, "unsupported-query")


async def test_foreign_or_unknown_subscription_is_not_found(db: SessionFactory) -> None:
    sid = await subscribe(db, "https://partner.example/cb", partner="p1")
    for api, key, caller in [(API, sid, "p2"), ("communication", sid, "p1"), (API, "no-such-id", "p1")]:
        async with transaction(db) as session:
            with pytest.raises(ProblemError) as missing:
                await get_subscription(session, api, key, partner_id=caller)
            assert missing.value.status == 404
            with pytest.raises(ProblemError) as missing:
                await delete_subscription(session, api, key, partner_id=caller)
            assert missing.value.status == 404
    async with db() as session:  # staff (no partner) see every subscription
        assert (await get_subscription(session, API, sid, partner_id=None)).owner_partner_id == "p1"


async def test_deleting_a_subscription_drops_what_is_queued_for_it(db: SessionFactory) -> None:
    sid = await subscribe(db, "https://partner.example/cb", partner="p1")
    await raise_event(db, "TroubleTicketCreateEvent", partner="p1")
    assert len(await deliveries(db)) == 1
    async with transaction(db) as session:
        await delete_subscription(session, API, sid, partner_id="p1")
    assert await deliveries(db) == []
    async with db() as session:
        assert await session.get(HubSubscription, sid) is None


async def test_migration_builds_exactly_the_hub_models(db: SessionFactory) -> None:
    wanted = MetaData(naming_convention=SQLModel.metadata.naming_convention)
    for name in HUB_TABLES:
        SQLModel.metadata.tables[name].to_metadata(wanted)
    engine = db.kw["bind"]
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": False}), wanted
            )
        )
    assert diff == []


async def _true(value: object) -> bool:
    return bool(value)

"""Two replicas of a consumer service on one NATS and one PostgreSQL database share the work of one
durable JetStream consumer, and every event takes effect exactly once (docs/deploy.md, "Scaling").

coverage-map's follow-up consumer is the subject: each FollowUpRequested event files its complaint
into the open investigation of its area. Each event is published twice under two message ids, as
a producer's retry after a lost ack would, so JetStream delivers it twice and only the inbox can
keep the second copy from counting the complaint again. Areas are shared by many complaints, so
both replicas also contend for the same investigations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import h3
import pytest
from fastapi import FastAPI
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from careloop_common.bus import Bus
from careloop_common.events import CloudEvent, EventContract
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.events.envelope import new_event
from careloop_common.inbox import ConsumerRunner, ProcessedEvent
from careloop_common.testing import LiveServer, service_settings, wait_until
from careloop_common.testing.plugin import postgres_admin_url
from coverage_map.consumers import FOLLOW_UPS
from coverage_map.main import create_app
from coverage_map.models import Investigation, InvestigationComplaint
from coverage_map.settings import CoverageSettings

pytestmark = pytest.mark.skipif(
    postgres_admin_url() is None,
    reason="needs CARELOOP_TEST_POSTGRES_URL: replicas share one PostgreSQL database "
    "(SQLite is one writer on one machine, not something replicas share)",
)

# More than two fetches' worth (a pull takes up to 64), so no replica can take every event at once.
EVENTS = 100
AREAS = 10
CENTRAL = (22.2819, 114.1582)


@pytest.fixture
def shared_database() -> Iterator[str]:
    """Make one PostgreSQL database for both replicas; drop it afterwards."""
    admin = postgres_admin_url()
    assert admin is not None
    name = f"careloop_replicas_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(admin_url: str, statement: str) -> None:
    url = make_url(admin_url)
    connection = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Tally:
    """What one replica's follow-up consumer did: events applied, and copies it found done."""

    applied: int = 0
    duplicates: int = 0
    seen: set[str] = field(default_factory=set)


def tally_of(app: FastAPI) -> Tally:
    """Count what this replica's follow-up consumer applies, around its real apply step."""
    [runner] = [r for r in app.state.platform.consumers if r.spec.durable == FOLLOW_UPS]
    assert isinstance(runner, ConsumerRunner)
    tally = Tally()
    apply = runner.apply

    async def counted(event: CloudEvent, payload: EventContract) -> bool:
        applied = await apply(event, payload)
        if applied:
            tally.applied += 1
            tally.seen.add(event.id)
        else:
            tally.duplicates += 1
        return applied

    runner.apply = counted  # type: ignore[method-assign]
    return tally


def follow_ups() -> list[CloudEvent]:
    """Return EVENTS follow-up requests spread over AREAS neighbouring areas."""
    centre = h3.latlng_to_cell(*CENTRAL, 8)
    areas = sorted(h3.grid_disk(centre, 2))[:AREAS]
    events = []
    for n in range(EVENTS):
        lat, lng = h3.cell_to_latlng(areas[n % AREAS])
        request = FollowUpRequestedV1(
            complaint_id=f"complaint-{n}",
            reference=f"CMP-{n:05d}",
            lat=lat,
            lng=lng,
            symptoms=["call_drop"],
            requested_at=datetime.now(UTC),
        )
        events.append(new_event(request, source="/careloop/complaints", subject=request.complaint_id))
    return events


async def pulls_waiting(bus: Bus) -> int:
    """Return how many pull requests wait on the durable consumer (0 before it exists)."""
    try:
        info = await bus.js.consumer_info("COMPLAINTS", FOLLOW_UPS)
    except NotFoundError:
        return 0
    return int(info.num_waiting or 0)


async def drained(bus: Bus) -> bool:
    """Tell whether every delivered copy has been acknowledged."""
    info = await bus.js.consumer_info("COMPLAINTS", FOLLOW_UPS)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_two_replicas_share_one_durable_consumer_and_apply_each_event_once(
    shared_database: str, nats_url: str
) -> None:
    replicas = [create_app(service_settings(CoverageSettings, shared_database, nats_url)) for _ in range(2)]
    tallies = [tally_of(app) for app in replicas]
    publisher = Bus(nats_url, "replica-test-publisher")
    await publisher.connect()
    try:
        async with LiveServer(replicas[0]), LiveServer(replicas[1]):
            # Both replicas are pulling from the one durable consumer before anything is sent.
            await wait_until(lambda: both_pulling(publisher), message="both replicas pulling")
            events = follow_ups()
            for event in events:
                first = await publisher.publish_acked(event)
                again = await publisher.publish_acked(event, msg_id=f"{event.id}:retry")
                assert not first.duplicate
                assert not again.duplicate  # stored twice: only the inbox stands between it and a repeat
            await wait_until(
                lambda: all_done(tallies, publisher), timeout_s=30, message="every copy handled and acked"
            )
            sessions = replicas[0].state.platform.sessions
            async with sessions() as session:
                filed = await session.scalar(select(func.count()).select_from(InvestigationComplaint))
                distinct = await session.scalar(
                    select(func.count(func.distinct(InvestigationComplaint.complaint_id)))
                )
                counted = await session.scalar(select(func.sum(Investigation.complaint_count)))
                open_per_area = (
                    await session.execute(
                        select(Investigation.area_id, func.count()).group_by(Investigation.area_id)
                    )
                ).all()
                processed = await session.scalar(
                    select(func.count())
                    .select_from(ProcessedEvent)
                    .where(col(ProcessedEvent.consumer) == FOLLOW_UPS)
                )
    finally:
        await publisher.close()

    # Each complaint filed once, counted once, recorded once in the inbox; one investigation per
    # area, though both replicas filed into each area.
    per_area = sorted(n for _, n in open_per_area)
    assert (filed, distinct, counted, processed, per_area) == (EVENTS, EVENTS, EVENTS, EVENTS, [1] * AREAS)
    # The work was shared, and no event was applied by both.
    first, second = tallies
    assert first.applied > 0
    assert second.applied > 0
    assert first.applied + second.applied == EVENTS
    assert not first.seen & second.seen
    assert first.duplicates + second.duplicates == EVENTS


async def both_pulling(bus: Bus) -> bool:
    """Tell whether both replicas have a pull request waiting on the durable consumer."""
    return await pulls_waiting(bus) >= 2


async def all_done(tallies: list[Tally], bus: Bus) -> bool:
    """Tell whether both copies of every event were handled and nothing waits for an ack."""
    handled = sum(t.applied + t.duplicates for t in tallies)
    return handled >= 2 * EVENTS and await drained(bus)

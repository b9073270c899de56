"""Care after a coverage complaint: filed complaints become customers' past events, and a completed
coverage plan tells the past complainers of its area, and no one else, that coverage is better."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import nats
from audience import Audience, subscriber
from sqlalchemy import select

from campaigns import catalogue, coverage_care
from campaigns.main import create_app
from campaigns.models import Campaign, CampaignMember, SubscriberEvent
from campaigns.settings import CampaignsSettings
from careloop_common.db import transaction
from careloop_common.events import new_event
from careloop_common.events.complaints import ComplaintFiledV1
from careloop_common.events.coverage import LevelReading, PlanCompletedV1
from careloop_common.outbox import OutboxMessage
from careloop_common.testing import running_app, service_settings, wait_until

NOW = datetime(2026, 12, 7, 2, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Hong_Kong")
SOURCE = "/careloop/test"
MONG_KOK = (22.3193, 114.1694)
AREA = h3.latlng_to_cell(*MONG_KOK, 9)
ELSEWHERE = (22.2783, 114.1747)  # Wan Chai: another area
INSIDE, ALSO_INSIDE, OUTSIDE, LONG_AGO, STRANGER = (
    "+85291234567",
    "+85291234568",
    "+85291234569",
    "+85291234566",
    "+85291234565",
)


def filed(
    msisdn: str | None, at: datetime, place: tuple[float, float] | None, **values: Any
) -> ComplaintFiledV1:
    """Return a coverage complaint's filing as the complaints service publishes it."""
    return ComplaintFiledV1(
        complaint_id=str(uuid.uuid4()),
        reference=f"C-{uuid.uuid4().hex[:8]}",
        category=values.pop("category", "coverage"),
        channel="portal",
        filed_at=at,
        customer_ref=None if msisdn is None else "ref-" + msisdn[-6:],
        lat=place[0] if place else None,
        lng=place[1] if place else None,
        **values,
    )


def completed(area_id: str = AREA) -> PlanCompletedV1:
    """Return coverage-map's news that the plan for an area was carried out."""
    return PlanCompletedV1(
        plan_id="plan-1",
        area_id=area_id,
        district_id=h3.cell_to_parent(area_id, 7),
        levels=[LevelReading(technology="4G", service="data", level="good")],
        completed_at=NOW,
    )


def notice_campaign(**values: Any) -> Campaign:
    """Return a running coverage-improved notice drafted from the catalogue's template."""
    template = catalogue.TEMPLATES["coverage_improved_notice"]
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": template.name,
        "goal": template.goal,
        "kind": template.kind,
        "status": "running",
        "trigger_kind": "event",
        "trigger": template.trigger,
        "audience": template.audience,
        "content": template.content,
        "conversion": template.conversion,
        "control_share": 0.0,
        "cap_per_customer": template.cap_per_customer,
        "min_gap_days": template.min_gap_days,
        "author": "mei",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Campaign(**(fields | values))


async def complaint_events(sessions: Any) -> list[tuple[str, str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.execute(
            select(SubscriberEvent.msisdn, SubscriberEvent.kind, SubscriberEvent.detail).order_by(
                SubscriberEvent.id
            )
        )
        return [(m, k, dict(d)) for m, k, d in rows]


async def told(sessions: Any) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.payload).where(OutboxMessage.subject == "contact.cmd.send")
        )
        return sorted(json.loads(payload)["data"]["msisdn"] for (payload,) in rows)


async def test_a_complaint_becomes_its_customers_past_event_and_a_strangers_is_left_out(
    audience: Audience,
) -> None:
    await audience.replace([subscriber(INSIDE)])
    known = filed(INSIDE, NOW, MONG_KOK, area_id=AREA)
    async with transaction(audience.sessions) as session:
        assert await coverage_care.record_complaint(session, known)
        assert not await coverage_care.record_complaint(session, filed(STRANGER, NOW, MONG_KOK))
        assert not await coverage_care.record_complaint(session, filed(None, NOW, MONG_KOK))
        assert await coverage_care.record_complaint(session, filed(INSIDE, NOW, None, category="billing"))

    events = await complaint_events(audience.sessions)
    assert [(m, k) for m, k, _ in events] == [(INSIDE, "complaint.coverage"), (INSIDE, "complaint.billing")]
    assert events[0][2] == {
        "complaint_id": known.complaint_id,
        "channel": "portal",
        "lat": MONG_KOK[0],
        "lng": MONG_KOK[1],
        "area_id": AREA,
    }


def test_a_complaint_lies_in_an_area_by_its_area_or_its_point_at_the_areas_resolution() -> None:
    district = h3.cell_to_parent(AREA, 7)
    assert coverage_care.in_area({"lat": MONG_KOK[0], "lng": MONG_KOK[1]}, AREA)
    assert coverage_care.in_area({"lat": MONG_KOK[0], "lng": MONG_KOK[1]}, district)
    assert not coverage_care.in_area({"lat": ELSEWHERE[0], "lng": ELSEWHERE[1]}, AREA)
    assert coverage_care.in_area({"area_id": AREA}, AREA)
    assert not coverage_care.in_area({"area_id": AREA, "lat": "x"}, district)
    assert not coverage_care.in_area({}, AREA)
    rows = [(INSIDE, {"area_id": AREA}), (OUTSIDE, {"area_id": "x"}), (INSIDE, {"area_id": AREA})]
    assert coverage_care.complainers_in(rows, AREA) == [INSIDE]


async def test_a_completed_plan_tells_the_areas_recent_complainers_and_no_one_else(
    audience: Audience,
) -> None:
    numbers = [INSIDE, ALSO_INSIDE, OUTSIDE, LONG_AGO, "+85291230000"]
    await audience.replace([subscriber(n) for n in numbers])
    async with transaction(audience.sessions) as session:
        for complaint in (
            filed(INSIDE, NOW - timedelta(days=30), MONG_KOK),
            filed(INSIDE, NOW - timedelta(days=20), MONG_KOK),  # twice: told once
            filed(ALSO_INSIDE, NOW - timedelta(days=100), None, area_id=AREA),
            filed(OUTSIDE, NOW - timedelta(days=10), ELSEWHERE),
            filed(LONG_AGO, NOW - timedelta(days=200), MONG_KOK),  # outside the template's 180 days
            filed("+85291230000", NOW - timedelta(days=5), MONG_KOK, category="billing"),
        ):
            await coverage_care.record_complaint(session, complaint)
        notice = notice_campaign()
        session.add(notice)

    async with transaction(audience.sessions) as session:
        met = await coverage_care.tell_area_improved(session, completed(), now=NOW, zone=ZONE, source=SOURCE)
    assert (met.targeted, met.held_out) == (2, 0)
    assert await told(audience.sessions) == sorted([INSIDE, ALSO_INSIDE])

    # Coverage-map's event redelivered, or a second plan in the same area a week later: the
    # campaign's minimum gap keeps them from being told again so soon.
    async with transaction(audience.sessions) as session:
        again = await coverage_care.tell_area_improved(
            session, completed(), now=NOW + timedelta(days=7), zone=ZONE, source=SOURCE
        )
    assert (again.targeted, dict(again.suppressed)) == (0, {"min_gap": 2})
    assert len(await told(audience.sessions)) == 2

    async with transaction(audience.sessions) as session:
        elsewhere = await coverage_care.tell_area_improved(
            session, completed(h3.latlng_to_cell(*ELSEWHERE, 9)), now=NOW, zone=ZONE, source=SOURCE
        )
    assert elsewhere.targeted == 1  # OUTSIDE's area, and only OUTSIDE


async def test_a_completed_plan_with_no_notice_running_tells_no_one(audience: Audience) -> None:
    await audience.replace([subscriber(INSIDE)])
    async with transaction(audience.sessions) as session:
        await coverage_care.record_complaint(session, filed(INSIDE, NOW, MONG_KOK))
        session.add(notice_campaign(status="paused"))
    async with transaction(audience.sessions) as session:
        met = await coverage_care.tell_area_improved(session, completed(), now=NOW, zone=ZONE, source=SOURCE)
    assert met.targeted == 0
    assert await told(audience.sessions) == []


async def test_complaints_and_completed_plans_arrive_over_nats(database_url: str, nats_url: str) -> None:
    app = create_app(service_settings(CampaignsSettings, database_url, nats_url))
    async with running_app(app):
        sessions = app.state.platform.sessions
        await Audience(sessions).replace([subscriber(INSIDE), subscriber(OUTSIDE)])
        async with transaction(sessions) as session:
            session.add(notice_campaign(created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
        now = datetime.now(UTC)
        connection = await nats.connect(nats_url)
        try:
            js = connection.jetstream()
            for complaint in (filed(INSIDE, now, MONG_KOK), filed(OUTSIDE, now, ELSEWHERE)):
                event = new_event(complaint, source="/careloop/complaints")
                await js.publish(event.nats_subject(), event.to_json())

            async def both_recorded() -> bool:
                return len(await complaint_events(sessions)) == 2

            await wait_until(both_recorded, message="the two complaints recorded")
            event = new_event(completed(), source="/careloop/coverage-map")
            await js.publish(event.nats_subject(), event.to_json())
            await js.publish(event.nats_subject(), event.to_json())  # redelivered: no second notice

            async def member_met() -> bool:
                async with sessions() as session:
                    rows = await session.execute(select(CampaignMember.msisdn))
                    return [m for (m,) in rows] == [INSIDE]

            await wait_until(member_met, message="the area's complainer met")
        finally:
            await connection.close()
        await wait_until(lambda: _told_is(sessions, [INSIDE]), message="one notice")


async def _told_is(sessions: Any, expected: list[str]) -> bool:
    return await told(sessions) == expected

"""Running campaigns on a real database: a batch run over a segment, the control arm held out, the
campaign's contact rules, a trigger firing for one customer, and contact outcomes coming back."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from audience import Audience, event, subscriber
from sqlalchemy import select

from campaigns import execution, lifecycle, repository
from campaigns.models import Campaign, CampaignMember
from careloop_common.db import transaction
from careloop_common.outbox import OutboxMessage

NOW = datetime(2026, 12, 7, 2, tzinfo=UTC)  # Monday 10:00 in Hong Kong
SOURCE = "/careloop/test"
ZONE = ZoneInfo("Asia/Hong_Kong")
LOW_BALANCE = {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}}


def campaign(**values: Any) -> Campaign:
    """Return a running campaign: SMS, Chinese and English content, no control unless given."""
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "test",
        "goal": "test",
        "kind": "balance_reminder",
        "status": "running",
        "trigger_kind": "once",
        "trigger": {"type": "once"},
        "content": {"zh-Hant": "中文", "en": "English"},
        "author": "mei",
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(values)
    return Campaign(**fields)


async def store(audience: Audience, row: Campaign) -> str:
    async with transaction(audience.sessions) as session:
        session.add(row)
    return row.id


async def sent(audience: Audience) -> list[dict[str, Any]]:
    """Return the contact commands in the outbox, oldest first."""
    async with audience.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.payload)
            .where(OutboxMessage.subject == "contact.cmd.send")
            .order_by(OutboxMessage.id)
        )
        return [json.loads(payload)["data"] for (payload,) in rows]


async def members(audience: Audience, campaign_id: str) -> dict[str, tuple[str, str, int]]:
    async with audience.sessions() as session:
        rows = await session.execute(
            select(
                CampaignMember.msisdn, CampaignMember.arm, CampaignMember.outcome, CampaignMember.touches
            ).where(CampaignMember.campaign_id == campaign_id)
        )
        return {m: (arm, outcome, touches) for m, arm, outcome, touches in rows}


async def test_a_batch_run_contacts_its_segment_and_holds_the_control_arm_out(audience: Audience) -> None:
    numbers = [f"+8529100{n:04d}" for n in range(300)]
    await audience.replace(
        [
            subscriber(n, balance=5.0, avg_daily_spend_3d=4.0, language="en" if i % 2 else "zh-Hant")
            for i, n in enumerate(numbers)
        ]
        + [subscriber("+85298880000", balance=50.0, avg_daily_spend_3d=4.0)]  # plenty left: not in it
        + [subscriber("+85298880001", balance=1.0, avg_daily_spend_3d=4.0, contact_sms=False)]
    )
    campaign_id = await store(audience, campaign(audience=LOW_BALANCE, control_share=0.2))

    met = await execution.run_batch(audience.sessions, campaign_id, now=NOW, zone=ZONE, source=SOURCE)

    control = {n for n in numbers if lifecycle.in_control_group(campaign_id, n, 0.2)}
    assert 30 < len(control) < 90  # about a fifth of 300
    assert (met.targeted, met.held_out, dict(met.suppressed)) == (
        300 - len(control),
        len(control),
        {"no_consent": 1},
    )
    commands = await sent(audience)
    assert sorted(c["msisdn"] for c in commands) == sorted(set(numbers) - control)
    assert {c["purpose"] for c in commands} == {"care"}
    assert {c["campaign_id"] for c in commands} == {campaign_id}
    # Each customer in their language: odd positions speak English, even ones Chinese.
    position = {n: i for i, n in enumerate(numbers)}
    assert {c["text"] for c in commands if position[c["msisdn"]] % 2} == {"English"}
    assert {c["text"] for c in commands if not position[c["msisdn"]] % 2} == {"中文"}
    assert len({c["idempotency_key"] for c in commands}) == len(commands)
    found = await members(audience, campaign_id)
    assert {n for n, (arm, _, _) in found.items() if arm == "control"} == control
    assert {outcome for arm, outcome, _ in found.values() if arm == "control"} == {"held_out"}
    async with audience.sessions() as session:
        stored = await repository.get_campaign(session, campaign_id)
    assert stored is not None
    assert (stored.runs, stored.next_run_at) == (1, None)


async def test_the_campaigns_own_cap_and_gap_apply_to_both_arms(audience: Audience) -> None:
    numbers = [f"+8529200{n:04d}" for n in range(40)]
    await audience.replace([subscriber(n) for n in numbers])
    campaign_id = await store(audience, campaign(cap_per_customer=2, min_gap_days=7, control_share=0.25))

    first = await execution.run_batch(audience.sessions, campaign_id, now=NOW, zone=ZONE, source=SOURCE)
    too_soon = await execution.run_batch(
        audience.sessions, campaign_id, now=NOW + timedelta(days=3), zone=ZONE, source=SOURCE
    )
    second = await execution.run_batch(
        audience.sessions, campaign_id, now=NOW + timedelta(days=8), zone=ZONE, source=SOURCE
    )
    capped = await execution.run_batch(
        audience.sessions, campaign_id, now=NOW + timedelta(days=20), zone=ZONE, source=SOURCE
    )

    assert first.targeted + first.held_out == 40
    assert dict(too_soon.suppressed) == {"min_gap": 40}
    assert (second.targeted, second.held_out) == (first.targeted, first.held_out)  # the same arms again
    assert dict(capped.suppressed) == {"campaign_cap": 40}
    commands = await sent(audience)
    assert len(commands) == 2 * first.targeted
    assert len({c["idempotency_key"] for c in commands}) == len(commands)  # touch 1 and touch 2
    assert {touches for _, _, touches in (await members(audience, campaign_id)).values()} == {2}


async def test_a_trigger_meets_the_customer_whose_event_makes_the_condition_hold(audience: Audience) -> None:
    await audience.replace(
        [
            subscriber("+85291110001", balance=5.0, avg_daily_spend_3d=4.0),
            subscriber("+85291110002", balance=50.0, avg_daily_spend_3d=4.0),
        ],
        [event("+85291110001", "complaint.coverage", NOW - timedelta(days=1))],
    )
    trigger = {
        "type": "event",
        "subject": "feeds.bss.balance_changed",
        "condition": LOW_BALANCE,
        "once_per_days": 30,
    }
    # A reminder may come back once a cycle: the campaign's own cap is not what limits it here.
    await store(audience, campaign(trigger_kind="event", trigger=trigger, cap_per_customer=12))
    other = await store(
        audience,
        campaign(trigger_kind="event", trigger={**trigger, "subject": "feeds.bss.payment_received"}),
    )

    async def fire(msisdn: str, when: datetime) -> execution.Met:
        async with transaction(audience.sessions) as session:
            return await execution.fire_triggers(
                session, msisdn, "feeds.bss.balance_changed", now=when, zone=ZONE, source=SOURCE
            )

    assert (await fire("+85291110001", NOW)).targeted == 1
    assert (await fire("+85291110002", NOW)).targeted == 0  # balance fine: the condition does not hold
    assert (await fire("+85291110001", NOW + timedelta(days=2))).targeted == 0  # once per 30 days
    assert (await fire("+85291110001", NOW + timedelta(days=31))).targeted == 1
    assert [c["msisdn"] for c in await sent(audience)] == ["+85291110001", "+85291110001"]
    assert await members(audience, other) == {}


async def test_contact_outcomes_move_members_forward_only(audience: Audience) -> None:
    await audience.replace([subscriber("+85291230001")])
    campaign_id = await store(audience, campaign())
    await execution.run_batch(audience.sessions, campaign_id, now=NOW, zone=ZONE, source=SOURCE)
    ref = "ref-230001"

    async def outcome(name: str, reason: str | None = None) -> bool:
        async with transaction(audience.sessions) as session:
            return await execution.record_outcome(session, campaign_id, ref, name, reason)

    assert await outcome("accepted")
    assert await outcome("delivered")
    assert not await outcome("sent")  # late news of an earlier step changes nothing
    assert not await outcome("accepted")
    assert (await members(audience, campaign_id))["+85291230001"][1] == "delivered"
    async with transaction(audience.sessions) as session:
        assert not await execution.record_outcome(session, campaign_id, "ref-unknown", "failed", "x")

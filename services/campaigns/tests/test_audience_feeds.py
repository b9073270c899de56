"""Operator feeds keep the audience current: each feed applied, applied twice (once), out of order,
unknown subscribers counted, changed subscribers recomputed in batches, and bad data dead-lettered.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import nats
import pytest
from campaign_data import Campaigns, catalogue_rows, deliver, held, past_events, store
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlmodel import col

from campaigns import audience
from campaigns.audience import refresh_due_models
from campaigns.catalogue import TEMPLATES
from campaigns.consumers import AUDIENCE
from campaigns.main import create_app
from campaigns.models import CallContact, Campaign, CampaignMember, ModelDue, ModelRun
from campaigns.settings import CampaignsSettings
from careloop_common.db import transaction, utcnow
from careloop_common.events import CloudEvent, EventContract, new_event
from careloop_common.events.feeds import (
    BalanceChangedV1,
    BillIssuedV1,
    CallDetailV1,
    DailySpendClosedV1,
    LocationUpdatedV1,
    PaymentReceivedV1,
    PlanChangedV1,
    SubscriberLeftV1,
    SubscriberUpsertedV1,
)
from careloop_common.testing import auth_headers, read_dead_letters, running_app, service_settings, wait_until

HK = "+85291234567"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    """Return an instant ``hours`` after T0."""
    return T0 + timedelta(hours=hours)


def profile(**changes: Any) -> SubscriberUpsertedV1:
    """Return a CRM profile event for HK."""
    values: dict[str, Any] = {
        "msisdn": "+852 9123 4567",  # any international form; stored as E.164
        "brand": "harbour",
        "plan_id": "BASIC",
        "region": "HK",
        "time_zone": "Asia/Hong_Kong",
        "language": "zh-Hant",
        "join_date": date(2024, 5, 1),
        "birthday": date(1990, 7, 14),
        "at": T0,
    }
    values.update(changes)
    return SubscriberUpsertedV1(**values)


def bill(period: str, amount: float, **usage: Any) -> BillIssuedV1:
    """Return a bill for HK."""
    return BillIssuedV1(msisdn=HK, period=period, amount=amount, **usage)


async def subscribed(campaigns: Campaigns) -> None:
    """Make HK a subscriber through the CRM feed."""
    assert await deliver(campaigns, profile())


# --- the CRM profile ------------------------------------------------------------------------------


async def test_a_profile_creates_the_subscriber_and_only_a_newer_one_changes_it(campaigns: Campaigns) -> None:
    await subscribed(campaigns)
    created = await held(campaigns.sessions, HK)
    assert created is not None
    assert (created.brand, created.plan_id, created.language, created.join_date) == (
        "harbour",
        "BASIC",
        "zh-Hant",
        date(2024, 5, 1),
    )
    assert len(created.customer_ref) == 32  # the keyed pseudonym, never the number

    await deliver(campaigns, profile(language="en", plan_id="PLUS", at=at(2)))
    await deliver(campaigns, profile(language="zh-Hans", plan_id="OLD", at=at(1)))  # late: older

    now = await held(campaigns.sessions, HK)
    assert now is not None
    assert (now.language, now.plan_id, now.profile_at) == ("en", "PLUS", at(2))


# --- each feed, applied once ----------------------------------------------------------------------


FEEDS: list[Any] = [
    BalanceChangedV1(msisdn=HK, balance=42.5, at=at(1)),
    bill("2026-10", 88.0, minutes=300.0, sms=20, long_distance_calls=4, prefix_calls=1, top_ups=2),
    PaymentReceivedV1(msisdn=HK, amount=100.0, at=at(1)),
    PlanChangedV1(msisdn=HK, from_plan="BASIC", to_plan="PLUS", at=at(1)),
    DailySpendClosedV1(msisdn=HK, day=date(2026, 11, 19), spend=3.5),
    LocationUpdatedV1(msisdn=HK, lat=22.2819, lng=114.1582, roaming=False, at=at(1)),
    LocationUpdatedV1(msisdn=HK, cell="8841a8d5b7fffff", roaming=True, country="CN", at=at(1)),
    CallDetailV1(
        msisdn=HK, called="+8613812345678", started_at=at(1), duration_s=95, long_distance=True, roaming=True
    ),
]


@pytest.mark.parametrize("feed", FEEDS, ids=lambda feed: feed.subject.rsplit(".", 1)[-1])
async def test_each_feed_delivered_twice_has_one_effect(campaigns: Campaigns, feed: Any) -> None:
    await subscribed(campaigns)
    assert await deliver(campaigns, feed, event_id="feed-1") is True
    once = (await held(campaigns.sessions, HK)).model_dump(exclude={"updated_at"})  # type: ignore[union-attr]
    events_once = await past_events(campaigns.sessions, HK)

    assert await deliver(campaigns, feed, event_id="feed-1") is False

    twice = (await held(campaigns.sessions, HK)).model_dump(exclude={"updated_at"})  # type: ignore[union-attr]
    assert twice == once
    assert await past_events(campaigns.sessions, HK) == events_once


async def test_a_balance_is_kept_only_when_newer(campaigns: Campaigns) -> None:
    await subscribed(campaigns)
    await deliver(campaigns, BalanceChangedV1(msisdn=HK, balance=30.0, at=at(3)))
    await deliver(campaigns, BalanceChangedV1(msisdn=HK, balance=99.0, at=at(2)))  # late

    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    assert (kept.balance, kept.balance_at) == (30.0, at(3))


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_bills_in_any_order_leave_the_same_three_months(
    campaigns: Campaigns, order: tuple[int, ...]
) -> None:
    """A newer month shifts m1 to m2 to m3; an older one fills its own slot and leaves m1 alone."""
    await subscribed(campaigns)
    bills = [
        bill("2026-08", 50.0, minutes=100.0),
        bill("2026-09", 60.0, minutes=200.0),
        bill("2026-10", 70.0, minutes=300.0, long_distance_minutes=40.0, fee_queries=2),
    ]
    for index in order:
        await deliver(campaigns, bills[index])

    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    assert [kept.revenue_m1, kept.revenue_m2, kept.revenue_m3] == [70.0, 60.0, 50.0]
    assert (kept.bill_period, kept.minutes_m1, kept.long_distance_minutes_m1, kept.fee_queries_m1) == (
        "2026-10",
        300.0,
        40.0,
        2,
    )


async def test_a_gap_between_bills_counts_as_months_without_revenue(campaigns: Campaigns) -> None:
    await subscribed(campaigns)
    await deliver(campaigns, bill("2026-07", 40.0))
    await deliver(campaigns, bill("2026-09", 60.0))
    await deliver(campaigns, bill("2026-09", 65.0))  # the same month again: a corrected bill replaces it
    await deliver(campaigns, bill("2026-05", 10.0))  # older than the three months kept: nothing

    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    assert [kept.revenue_m1, kept.revenue_m2, kept.revenue_m3] == [65.0, 0.0, 40.0]


async def test_daily_spend_keeps_seven_days_and_the_three_day_average(campaigns: Campaigns) -> None:
    await subscribed(campaigns)
    first = date(2026, 11, 10)
    for offset, spend in enumerate([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]):
        await deliver(
            campaigns, DailySpendClosedV1(msisdn=HK, day=first + timedelta(days=offset), spend=spend)
        )
    await deliver(campaigns, DailySpendClosedV1(msisdn=HK, day=date(2026, 11, 16), spend=10.0))  # late fix
    await deliver(campaigns, DailySpendClosedV1(msisdn=HK, day=date(2026, 11, 1), spend=99.0))  # too old
    await deliver(
        campaigns, DailySpendClosedV1(msisdn=HK, day=date(2026, 11, 19), spend=9.0)
    )  # a day skipped

    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    # 11-13 … 11-19, oldest first: 11-18 had no report (0 until it comes).
    assert kept.daily_spend == [4.0, 5.0, 6.0, 10.0, 8.0, 0.0, 9.0]
    assert kept.spend_through == date(2026, 11, 19)
    assert kept.avg_daily_spend_3d == round((8.0 + 0.0 + 9.0) / 3, 2)


async def test_plan_changes_are_recorded_and_an_older_one_does_not_move_the_plan(
    campaigns: Campaigns,
) -> None:
    await subscribed(campaigns)
    await deliver(campaigns, PlanChangedV1(msisdn=HK, from_plan="BASIC", to_plan="PLUS", at=at(5)))
    await deliver(campaigns, PlanChangedV1(msisdn=HK, from_plan="OLD", to_plan="BASIC", at=at(3)))  # late
    await deliver(campaigns, profile(plan_id="OLD", at=at(4)))  # the CRM's older view of the plan

    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    assert (kept.plan_id, kept.plan_at) == ("PLUS", at(5))
    assert [kind for kind, _ in await past_events(campaigns.sessions, HK)] == ["plan.changed", "plan.changed"]


async def test_payments_are_recorded_with_the_latest_payment_time(campaigns: Campaigns) -> None:
    await subscribed(campaigns)
    await deliver(campaigns, PaymentReceivedV1(msisdn=HK, amount=50.0, at=at(4)))
    await deliver(campaigns, PaymentReceivedV1(msisdn=HK, amount=20.0, at=at(2)))

    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    assert kept.last_payment_at == at(4)
    assert await past_events(campaigns.sessions, HK) == [
        ("payment.received", {"amount": 20.0}),
        ("payment.received", {"amount": 50.0}),
    ]


async def test_entering_and_leaving_roaming_is_recorded_and_the_newest_place_kept(
    campaigns: Campaigns,
) -> None:
    await subscribed(campaigns)
    shenzhen = "8841a8d5b7fffff"
    await deliver(campaigns, LocationUpdatedV1(msisdn=HK, lat=22.2819, lng=114.1582, at=at(1)))
    await deliver(
        campaigns, LocationUpdatedV1(msisdn=HK, cell=shenzhen, roaming=True, country="CN", at=at(2))
    )
    await deliver(
        campaigns, LocationUpdatedV1(msisdn=HK, cell=shenzhen, roaming=True, country="CN", at=at(3))
    )
    await deliver(campaigns, LocationUpdatedV1(msisdn=HK, lat=22.3193, lng=114.1694, at=at(5)))
    await deliver(
        campaigns, LocationUpdatedV1(msisdn=HK, cell=shenzhen, roaming=True, country="CN", at=at(4))
    )

    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    assert (kept.roaming, kept.roaming_country, kept.located_at) == (False, None, at(5))
    assert kept.cell == audience.h3.latlng_to_cell(22.3193, 114.1694, audience.LOCATION_RESOLUTION)
    kinds = [(kind, detail["country"]) for kind, detail in await past_events(campaigns.sessions, HK)]
    assert kinds == [("roaming.entered", "CN"), ("roaming.ended", "CN")]


async def test_long_distance_roaming_and_prefix_calls_are_recorded_local_calls_are_not(
    campaigns: Campaigns,
) -> None:
    await subscribed(campaigns)
    call = {"msisdn": HK, "started_at": at(1), "duration_s": 60}
    await deliver(campaigns, CallDetailV1(**call, called="+85223456789"))
    await deliver(
        campaigns, CallDetailV1(**call, called="+8613812345678", long_distance=True, prefix="12593")
    )
    await deliver(campaigns, CallDetailV1(**call, called="+85223456789", roaming=True))

    recorded = await past_events(campaigns.sessions, HK)
    assert sorted((kind, detail["called"], detail["prefix"]) for kind, detail in recorded) == [
        ("call.long_distance", "+8613812345678", "12593"),
        ("call.prefix", "+8613812345678", "12593"),  # dialled with the cheap prefix: tariff care's goal
        ("call.roaming", "+85223456789", None),
    ]


async def test_a_usage_feed_about_no_subscriber_keeps_nothing_and_is_counted(campaigns: Campaigns) -> None:
    labels = {"feed": BalanceChangedV1.subject}
    before = REGISTRY.get_sample_value("careloop_campaigns_feed_unknown_subscriber_total", labels) or 0.0

    assert await deliver(campaigns, BalanceChangedV1(msisdn=HK, balance=5.0, at=at(1))) is True

    assert await held(campaigns.sessions, HK) is None
    after = REGISTRY.get_sample_value("careloop_campaigns_feed_unknown_subscriber_total", labels)
    assert after == before + 1


# --- the models follow, in batches ----------------------------------------------------------------


async def test_changed_subscribers_are_recomputed_together_once(campaigns: Campaigns) -> None:
    await store(campaigns.sessions, catalogue_rows())
    await subscribed(campaigns)
    await deliver(campaigns, bill("2026-10", 120.0, minutes=600.0))
    await deliver(campaigns, BalanceChangedV1(msisdn=HK, balance=1.0, at=at(1)))
    await deliver(campaigns, PaymentReceivedV1(msisdn=HK, amount=10.0, at=at(2)))  # no model input

    recomputed = await refresh_due_models(campaigns.sessions, today=date(2026, 12, 15))

    assert recomputed == 1
    async with transaction(campaigns.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(ModelDue)) == 0
        assert await session.scalar(select(func.count()).select_from(ModelRun)) == 1
    kept = await held(campaigns.sessions, HK)
    assert kept is not None
    assert kept.models_at is not None
    assert kept.lifecycle_stage is not None
    assert kept.recommended_plan_id == "PLUS"  # 600 minutes fit Plus better than Basic
    assert await refresh_due_models(campaigns.sessions) == 0


async def test_a_change_during_a_recompute_keeps_the_subscriber_due(campaigns: Campaigns) -> None:
    await subscribed(campaigns)
    async with transaction(campaigns.sessions) as session:
        seen = await audience.repository.models_due(session, 10)
    await deliver(campaigns, BalanceChangedV1(msisdn=HK, balance=3.0, at=at(1)))  # after the read

    async with transaction(campaigns.sessions) as session:
        await audience.repository.clear_models_due(session, seen)
        assert await audience.repository.models_due(session, 10) == [(HK, 2)]


async def test_a_customer_who_leaves_is_recorded_and_no_longer_contacted_until_the_crm_says_otherwise(
    campaigns: Campaigns,
) -> None:
    await subscribed(campaigns)
    assert await deliver(campaigns, SubscriberLeftV1(msisdn=HK, reason="ported_out", at=at(2)))

    gone = await held(campaigns.sessions, HK)
    assert gone is not None
    assert (gone.contact_sms, gone.contact_call, gone.profile_at) == (False, False, at(2))
    assert await past_events(campaigns.sessions, HK) == [("subscriber.left", {"reason": "ported_out"})]

    # A profile older than the departure changes nothing; a newer one (they came back) does.
    assert await deliver(campaigns, profile(at=at(1)))
    assert (await held(campaigns.sessions, HK)).contact_sms is False  # type: ignore[union-attr]
    assert await deliver(campaigns, profile(at=at(3)))
    assert (await held(campaigns.sessions, HK)).contact_sms is True  # type: ignore[union-attr]
    # The departure of someone campaigns never knew keeps nothing.
    assert await deliver(campaigns, SubscriberLeftV1(msisdn="+85291234569", at=at(2)))
    assert await held(campaigns.sessions, "+85291234569") is None


# --- bad feed data --------------------------------------------------------------------------------


def envelope(event_type: str, data: dict[str, Any], event_id: str) -> bytes:
    """Return a CloudEvent as an operator system would publish it, whatever its data."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/operator/bss",
            "type": event_type,
            "time": "2026-11-20T08:00:00Z",
            "data": data,
        }
    ).encode()


BAD_FEEDS = [
    ("feeds.bss.balance_changed.v1", {"msisdn": "12345", "balance": 1.0, "at": "2026-11-20T08:00:00Z"}),
    ("feeds.bss.balance_changed.v1", {"msisdn": HK, "balance": 1.0, "at": "2026-11-20T08:00:00"}),
    ("feeds.bss.balance_changed.v1", {"msisdn": HK, "balance": 1e12, "at": "2026-11-20T08:00:00Z"}),
    ("feeds.bss.bill_issued.v1", {"msisdn": HK, "period": "2026-13", "amount": 1.0}),
    (
        "feeds.bss.bill_issued.v1",
        {"msisdn": HK, "period": "2026-10", "amount": 1.0, "long_distance_calls": 1, "prefix_calls": 2},
    ),
    ("feeds.network.location_updated.v1", {"msisdn": HK, "cell": "zzz", "at": "2026-11-20T08:00:00Z"}),
    (
        "feeds.network.location_updated.v1",
        {"msisdn": HK, "roaming": True, "lat": 1, "lng": 2, "at": "2026-11-20T08:00:00Z"},
    ),
]


async def test_bad_feed_data_is_dead_lettered_with_the_reason_and_the_consumer_goes_on(
    database_url: str, nats_url: str
) -> None:
    app = create_app(
        service_settings(CampaignsSettings, database_url, nats_url, model_refresh_interval_s=0.1)
    )
    async with running_app(app):
        sessions = app.state.platform.sessions
        connection = await nats.connect(nats_url)
        try:
            js = connection.jetstream()
            for number, (event_type, data) in enumerate(BAD_FEEDS):
                await js.publish(event_type.rsplit(".", 1)[0], envelope(event_type, data, f"bad-{number}"))
            good = new_event(profile(), source="/operator/crm", event_id="good-1")
            await js.publish(good.nats_subject(), good.to_json())

            await wait_until(lambda: held(sessions, HK), message="the good event after the bad ones")
            letters = await dead_letters(js, len(BAD_FEEDS))
        finally:
            await connection.close()
    reasons = [reason for _, reason in letters]
    assert all("payload does not match" in reason for reason in reasons), reasons
    assert "not a valid phone number" in reasons[0] or "international form" in reasons[0]
    assert "timezone" in reasons[1].lower()
    assert "period" in reasons[3]
    assert "prefix_calls" in reasons[4]
    assert "H3" in reasons[5]
    assert "country" in reasons[6]
    assert json.loads(letters[0][0])["id"] == "bad-0"  # the original message, byte for byte


async def dead_letters(js: Any, count: int) -> list[tuple[bytes, str]]:
    """Read the campaigns-audience dead letters, in the order the bad events were published."""
    letters = await read_dead_letters(js, AUDIENCE, count)
    return sorted(letters, key=lambda letter: int(json.loads(letter[0])["id"].split("-")[1]))


# --- the rules on their own -----------------------------------------------------------------------


def test_spend_window_rules() -> None:
    day = date(2026, 11, 19)
    assert audience.shifted_spend([], None, day, 2.0) == ([2.0], day)
    assert audience.shifted_spend([1.0], day, day + timedelta(days=2), 3.0) == (
        [1.0, 0.0, 3.0],
        day + timedelta(days=2),
    )
    assert audience.shifted_spend([1.0, 2.0], day, day - timedelta(days=3), 5.0) == (
        [5.0, 0.0, 1.0, 2.0],
        day,
    )
    assert audience.shifted_spend([1.0], day, day - timedelta(days=7), 5.0) is None
    assert audience.average_recent_spend([9.0, 1.0, 2.0, 3.0]) == 2.0
    assert audience.average_recent_spend([]) == 0.0


def test_bill_slots() -> None:
    assert audience.bill_slot(None, "2026-10") == 0
    assert audience.bill_slot("2026-10", "2026-10") == 0
    assert audience.bill_slot("2026-10", "2026-12") == -2
    assert audience.bill_slot("2027-01", "2026-12") == 1
    assert audience.bill_slot("2026-10", "2026-07") is None
    assert audience.shifted_revenue([3.0, 2.0, 1.0], 2, 9.0) == [9.0, 0.0, 3.0]


# --- a batch applied in one transaction ------------------------------------------------------------


def feed_story(msisdn: str, base: datetime) -> list[EventContract]:
    """A day of one customer's feeds: profile, spend, a low balance, calls, a trip, a payment, a bill."""

    def hours(n: float) -> datetime:
        return base + timedelta(hours=n)

    day = base.date()
    return [
        profile(msisdn=msisdn),
        *(DailySpendClosedV1(msisdn=msisdn, day=day - timedelta(days=n), spend=6.0) for n in (1, 2, 3)),
        BalanceChangedV1(msisdn=msisdn, balance=9.0, at=hours(1)),
        CallDetailV1(
            msisdn=msisdn, called="+8613800000001", started_at=hours(2), duration_s=60, long_distance=True
        ),
        CallDetailV1(
            msisdn=msisdn, called="+8613800000001", started_at=hours(3), duration_s=30, long_distance=True
        ),
        BalanceChangedV1(msisdn=msisdn, balance=8.0, at=hours(4)),
        LocationUpdatedV1(msisdn=msisdn, roaming=True, country="JP", lat=35.68, lng=139.69, at=hours(5)),
        PaymentReceivedV1(msisdn=msisdn, amount=50.0, at=hours(6)),
        BillIssuedV1(msisdn=msisdn, period="2026-10", amount=120.0, minutes=300.0),
    ]


async def test_a_batch_in_one_transaction_leaves_what_its_events_one_by_one_leave(
    campaigns: Campaigns,
) -> None:
    """The feed consumer applies a fetched batch in one transaction (subscribers read at once,
    writes collected to its end): the same events one by one must leave the same state."""
    one_by_one, together = HK, "+85291234568"
    async with transaction(campaigns.sessions) as session:
        for template_id in ("balance_reminder", "prefix_long_distance", "prefix_roaming"):
            session.add(running_from_template(template_id))
    [runner] = [r for r in campaigns.app.state.platform.consumers if r.spec.durable == AUDIENCE]
    base = utcnow() - timedelta(hours=7)  # the 12593 care looks at calls of the last day
    for payload in feed_story(one_by_one, base):
        assert await runner.apply(new_event(payload, source="/operator/test"), payload)
    batch = [(new_event(p, source="/operator/test"), p) for p in feed_story(together, base)]
    batch.append(batch[5])  # a redelivery within the batch: applied once
    assert await runner.apply_together(batch) == [True] * (len(batch) - 1) + [False]

    def same(values: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v for k, v in values.items() if k not in ("msisdn", "customer_ref", "updated_at", "created_at")
        }

    first, second = await held(campaigns.sessions, one_by_one), await held(campaigns.sessions, together)
    assert first is not None
    assert second is not None
    assert same(first.model_dump()) == same(second.model_dump())
    assert await past_events(campaigns.sessions, one_by_one) == await past_events(
        campaigns.sessions, together
    )
    async with transaction(campaigns.sessions) as session:
        members, calls = {}, {}
        for msisdn in (one_by_one, together):
            met = await session.scalars(select(CampaignMember).where(col(CampaignMember.msisdn) == msisdn))
            members[msisdn] = sorted((m.campaign_id, m.touches, m.outcome) for m in met)
            counted = await session.scalars(select(CallContact).where(col(CallContact.msisdn) == msisdn))
            calls[msisdn] = [(c.counterpart, c.calls, c.seconds) for c in counted]
        due = set(await session.scalars(select(ModelDue.msisdn)))
    assert members[one_by_one] == members[together]
    assert len(members[together]) == 3  # the balance reminder, the 12593 care and the roaming care
    assert calls[one_by_one] == calls[together] == [("+8613800000001", 2, 90)]
    assert {one_by_one, together} <= due


async def test_a_batch_meets_known_and_new_members_together_in_one_transaction(campaigns: Campaigns) -> None:
    """A batch that meets a campaign's member again (read back from the database) beside a customer
    it meets for the first time writes both in its one transaction: no fallback to one by one."""
    known, new = "+85291234568", "+85291234569"
    async with transaction(campaigns.sessions) as session:
        session.add(running_from_template("payment_received"))
    [runner] = [r for r in campaigns.app.state.platform.consumers if r.spec.durable == AUDIENCE]
    paid = utcnow() - timedelta(hours=1)

    def events(*payloads: EventContract) -> list[tuple[CloudEvent, EventContract]]:
        return [(new_event(p, source="/operator/test"), p) for p in payloads]

    first = events(
        profile(msisdn=known), profile(msisdn=new), PaymentReceivedV1(msisdn=known, amount=5, at=paid)
    )
    assert await runner.apply_together(first) == [True] * 3
    second = events(
        PaymentReceivedV1(msisdn=known, amount=7, at=paid + timedelta(minutes=1)),
        PaymentReceivedV1(msisdn=new, amount=9, at=paid + timedelta(minutes=2)),
    )
    assert await runner.apply_together(second) == [True, True]  # raises if the batch cannot be written
    async with transaction(campaigns.sessions) as session:
        met = await session.scalars(select(CampaignMember).order_by(col(CampaignMember.msisdn)))
        touches = [(m.msisdn, m.touches, m.answer) for m in met]
    assert touches == [(known, 2, None), (new, 1, None)]


async def test_a_batch_reads_the_past_events_stored_before_it(campaigns: Campaigns) -> None:
    """The 12593 care asks whether the caller dialled the prefix in the last 90 days. A batch reads
    those past events once for all its customers: the prefix call stored by an earlier batch must
    keep its customer out, while a customer without one is met at the long-distance call."""
    dialled_before, never = "+85291234568", "+85291234569"
    async with transaction(campaigns.sessions) as session:
        session.add(running_from_template("prefix_long_distance"))
    [runner] = [r for r in campaigns.app.state.platform.consumers if r.spec.durable == AUDIENCE]
    now = utcnow()

    def events(*payloads: EventContract) -> list[tuple[CloudEvent, EventContract]]:
        return [(new_event(p, source="/operator/test"), p) for p in payloads]

    def long_distance(msisdn: str, at: datetime, prefix: str | None = None) -> CallDetailV1:
        called = "1259313800000001" if prefix else "+8613800000001"
        return CallDetailV1(
            msisdn=msisdn, called=called, started_at=at, duration_s=60, long_distance=True, prefix=prefix
        )

    earlier = events(
        profile(msisdn=dialled_before),
        profile(msisdn=never),
        long_distance(dialled_before, now - timedelta(days=10), prefix="12593"),
    )
    assert await runner.apply_together(earlier) == [True] * 3
    later = events(
        long_distance(dialled_before, now - timedelta(minutes=5)),
        long_distance(never, now - timedelta(minutes=4)),
    )
    assert await runner.apply_together(later) == [True, True]
    async with transaction(campaigns.sessions) as session:
        met = list(await session.scalars(select(CampaignMember.msisdn)))
    assert met == [never]


def running_from_template(template_id: str) -> Campaign:
    """Return a running campaign drafted from a catalogue template, with no control arm."""
    template = TEMPLATES[template_id]
    now = utcnow()
    return Campaign(
        id=str(uuid.uuid4()),
        name=template.name,
        goal=template.goal,
        kind=template.kind,
        status="running",
        trigger_kind=template.trigger["type"],
        trigger=template.trigger,
        audience=template.audience,
        content=template.content,
        conversion=template.conversion,
        control_share=0.0,
        cap_per_customer=template.cap_per_customer,
        author="mei",
        created_at=now,
        updated_at=now,
    )


async def test_the_call_centre_reads_a_summary_and_nothing_more(campaigns: Campaigns) -> None:
    await subscribed(campaigns)
    agent = auth_headers("subscribers:read", subject="agent-1")
    summary = await campaigns.client.get(f"/campaigns/v1/subscribers/{HK}/summary", headers=agent)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert (body["plan_id"], body["brand"], body["customer_class"]) == ("BASIC", "harbour", "normal")
    assert set(body) == {
        "msisdn",
        "brand",
        "plan_id",
        "region",
        "language",
        "join_date",
        "customer_class",
        "contact_sms",
        "contact_call",
        "balance",
        "models",
    }
    # The summary only: the full profile (usage, places, past events) stays with campaigns:read.
    full = await campaigns.client.get(f"/campaigns/v1/subscribers/{HK}", headers=agent)
    assert full.status_code == 403
    marketer = auth_headers("campaigns:read", subject="mei")
    refused = await campaigns.client.get(f"/campaigns/v1/subscribers/{HK}/summary", headers=marketer)
    assert refused.status_code == 403
    unknown = await campaigns.client.get("/campaigns/v1/subscribers/+85291234569/summary", headers=agent)
    assert unknown.status_code == 404

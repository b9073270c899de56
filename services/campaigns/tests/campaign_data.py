"""What the campaigns tests share: the service under test, a small catalogue and audience.

The numbers are chosen so every model output can be worked out by hand; the tests that use them
say how (``test_models_service.py`` and ``test_models_api.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from campaigns.consumers import AUDIENCE
from campaigns.models import Plan, Subscriber, SubscriberEvent
from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.events import EventContract, new_event
from careloop_common.events.feeds import SubscriberUpsertedV1
from careloop_common.testing import auth_headers

TODAY = date(2026, 12, 15)


def reading() -> dict[str, str]:
    """Headers of a caller who may read campaigns."""
    return auth_headers("campaigns:read", subject="analyst")


def writing() -> dict[str, str]:
    """Headers of a caller who may read and write campaigns."""
    return auth_headers("campaigns:read", "campaigns:write", subject="marketer")


@dataclass
class Campaigns:
    """The campaigns service running in-process, and its database sessions."""

    client: httpx.AsyncClient
    sessions: SessionFactory
    app: FastAPI


# Plan terms: fee; included minutes, SMS, MB; rates beyond them; long-distance and roaming surcharges.
PLANS: dict[str, dict[str, Any]] = {
    "BASIC": {
        "name": "Basic 30",
        "monthly_fee": 30.0,
        "included_minutes": 100.0,
        "included_sms": 50,
        "included_data_mb": 500.0,
        "per_minute": 0.25,
        "per_sms": 0.1,
        "per_mb": 0.05,
        "long_distance_per_minute": 0.2,
        "roaming_per_minute": 1.0,
        "active": True,
    },
    "PLUS": {
        "name": "Plus 60",
        "monthly_fee": 60.0,
        "included_minutes": 500.0,
        "included_sms": 200,
        "included_data_mb": 3000.0,
        "per_minute": 0.15,
        "per_sms": 0.1,
        "per_mb": 0.02,
        "long_distance_per_minute": 0.1,
        "roaming_per_minute": 0.8,
        "active": True,
    },
    "OLD": {  # retired: still priced for those on it, never recommended
        "name": "Old 20",
        "monthly_fee": 20.0,
        "included_minutes": 0.0,
        "included_sms": 0,
        "included_data_mb": 0.0,
        "per_minute": 0.3,
        "per_sms": 0.1,
        "per_mb": 0.1,
        "long_distance_per_minute": 0.3,
        "roaming_per_minute": 1.0,
        "active": False,
    },
}


def subscriber(msisdn: str, plan_id: str, join_date: date, **values: Any) -> Subscriber:
    """Build a subscriber with a plain profile and no usage unless ``values`` says otherwise."""
    now = utcnow()
    fields: dict[str, Any] = {
        "msisdn": msisdn,
        "customer_ref": "ref-" + msisdn[-4:],
        "brand": "easyown",
        "plan_id": plan_id,
        "region": "CN-FJ",
        "time_zone": "Asia/Shanghai",
        "join_date": join_date,
        "created_at": now,
        "updated_at": now,
    }
    fields.update(values)
    return Subscriber(**fields)


def audience() -> list[Subscriber]:
    """Six subscribers whose outputs the tests work out by hand."""
    return [
        subscriber(
            "+8613900000001",
            "BASIC",
            date(2020, 3, 1),
            revenue_m1=200.0,
            revenue_m2=190.0,
            revenue_m3=210.0,
            minutes_m1=400.0,
            sms_m1=100,
            data_mb_m1=2000.0,
            long_distance_minutes_m1=50.0,
            roaming_minutes_m1=10.0,
            fee_queries_m1=3,
            long_distance_calls_m1=10,
            prefix_calls_m1=0,
            balance=100.0,
            avg_daily_spend_3d=5.0,
        ),
        subscriber(
            "+8613900000002",
            "PLUS",
            date(2026, 7, 1),
            revenue_m1=60.0,
            revenue_m2=60.0,
            revenue_m3=60.0,
            minutes_m1=50.0,
            sms_m1=10,
            data_mb_m1=100.0,
        ),
        subscriber(
            "+8613900000003",
            "BASIC",
            date(2024, 1, 20),
            revenue_m1=30.0,
            revenue_m2=50.0,
            revenue_m3=50.0,
            minutes_m1=100.0,
            sms_m1=50,
            data_mb_m1=500.0,
            top_ups_m1=2,
            balance=1.0,
            avg_daily_spend_3d=2.0,
        ),
        subscriber(
            "+8613900000004",
            "OLD",
            date(2019, 5, 5),
            revenue_m1=23.0,
            revenue_m2=20.0,
            revenue_m3=20.0,
            minutes_m1=10.0,
            fee_queries_m1=1,
        ),
        subscriber(
            "+8613900000005",
            "GONE",
            date(2018, 1, 1),
            fee_queries_m1=6,
            top_ups_m1=8,
            balance=-5.0,
            avg_daily_spend_3d=1.0,
        ),
        subscriber(
            "+8613900000006",
            "PLUS",
            date(2025, 6, 15),
            revenue_m1=60.0,
            revenue_m2=60.0,
            revenue_m3=54.0,
            minutes_m1=204.0,
            fee_queries_m1=3,
            top_ups_m1=4,
            long_distance_calls_m1=4,
            prefix_calls_m1=0,
            balance=0.0,
            avg_daily_spend_3d=2.0,
        ),
    ]


async def store(sessions: SessionFactory, rows: Sequence[Subscriber | Plan]) -> None:
    """Insert rows in one transaction."""
    async with transaction(sessions) as session:
        session.add_all(rows)


def catalogue_rows() -> list[Plan]:
    """The catalogue as table rows."""
    return [Plan(id=plan_id, updated_at=utcnow(), **terms) for plan_id, terms in PLANS.items()]


async def deliver(campaigns: Campaigns, payload: EventContract, event_id: str | None = None) -> bool:
    """Hand a feed event to the campaigns-audience consumer as a delivery would; False if a duplicate."""
    [runner] = [r for r in campaigns.app.state.platform.consumers if r.spec.durable == AUDIENCE]
    event = new_event(payload, source="/operator/test", event_id=event_id)
    applied: bool = await runner.apply(event, payload)
    return applied


async def held(sessions: SessionFactory, msisdn: str) -> Subscriber | None:
    """Return a subscriber as stored now."""
    async with transaction(sessions) as session:
        return await session.get(Subscriber, msisdn)


async def past_events(sessions: SessionFactory, msisdn: str) -> list[tuple[str, dict[str, object]]]:
    """Return a subscriber's recorded past events (kind, detail), oldest first."""
    async with transaction(sessions) as session:
        rows = await session.scalars(
            select(SubscriberEvent)
            .where(col(SubscriberEvent.msisdn) == msisdn)
            .order_by(col(SubscriberEvent.at), col(SubscriberEvent.id))
        )
        return [(row.kind, row.detail) for row in rows]


def mainland_profile(msisdn: str, at: datetime) -> SubscriberUpsertedV1:
    """A Fujian customer's profile as the CRM feed sends it (incidents and cell-site tests)."""
    return SubscriberUpsertedV1(
        msisdn=msisdn,
        brand="easyown",
        plan_id="BASIC",
        region="CN-FJ",
        time_zone="Asia/Shanghai",
        language="zh-Hans",
        join_date=date(2020, 1, 1),
        at=at,
    )

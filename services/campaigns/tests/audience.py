"""Subscribers and their events in a real database, selected by a segment both ways: compiled to SQL
and run by the database, and evaluated in memory by the predicate. Every selection asserts the two
agree, so a test of an operator is a test of both compilers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from campaigns import repository, segments
from campaigns.models import Subscriber, SubscriberEvent
from careloop_common.db import SessionFactory, transaction
from careloop_common.migrations import upgrade, upgrade_async

MIGRATIONS = Path(segments.__file__).parent / "migrations"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


async def migrated(database_url: str) -> None:
    """Bring a test database to the campaigns schema, as the service does at start."""
    await upgrade_async(MIGRATIONS, database_url)


def migrated_now(database_url: str) -> None:
    """Bring a test database to the campaigns schema from synchronous code (outside any loop)."""
    upgrade(MIGRATIONS, database_url)


def subscriber(msisdn: str, **values: Any) -> dict[str, Any]:
    """Return a subscriber row: plain defaults, then ``values``."""
    row: dict[str, Any] = {
        "msisdn": msisdn,
        "customer_ref": "ref-" + msisdn[-6:],
        "brand": "Prime",
        "plan_id": "P1",
        "region": "HK",
        "time_zone": "Asia/Hong_Kong",
        "language": "zh-Hant",
        "join_date": date(2020, 1, 1),
        "birthday": None,
        "customer_class": "normal",
        "contact_sms": True,
        "contact_call": True,
        "balance": 0.0,
        "revenue_m1": 0.0,
        "revenue_m2": 0.0,
        "revenue_m3": 0.0,
        "daily_spend": [],
        "avg_daily_spend_3d": 0.0,
        "top_ups_m1": 0,
        "last_payment_at": None,
        "points": 0,
        "points_expire_on": None,
        "minutes_m1": 0.0,
        "sms_m1": 0,
        "data_mb_m1": 0.0,
        "long_distance_minutes_m1": 0.0,
        "roaming_minutes_m1": 0.0,
        "prefix_calls_m1": 0,
        "long_distance_calls_m1": 0,
        "fee_queries_m1": 0,
        "cell": None,
        "roaming": False,
        "roaming_country": None,
        "located_at": None,
        "lifecycle_stage": None,
        "value_tier": None,
        "fee_sensitivity": None,
        "recommended_plan_id": None,
        "plan_saving": None,
        "models_at": None,
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    unknown = set(values) - set(row)
    assert not unknown, f"not subscriber columns: {unknown}"
    row.update(values)
    return row


def event(msisdn: str, kind: str, at: datetime) -> dict[str, Any]:
    """Return a subscriber_event row."""
    return {"msisdn": msisdn, "kind": kind, "at": at, "detail": {}}


@dataclass(frozen=True)
class Event:
    """A past event as the predicate reads it."""

    kind: str
    at: datetime


@dataclass
class Audience:
    """A campaigns database holding subscribers, and the two ways of selecting from it."""

    sessions: SessionFactory

    async def replace(
        self, subscribers: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Make these the only subscribers and events."""
        async with transaction(self.sessions) as session:
            await session.execute(delete(SubscriberEvent))
            await session.execute(delete(Subscriber))
            if subscribers:
                await session.execute(insert(Subscriber), list(subscribers))
            if events:
                await session.execute(insert(SubscriberEvent), list(events))

    async def select(self, tree: Mapping[str, Any], as_of: segments.AsOf) -> set[str]:
        """Return who a tree selects, after asserting SQL and the predicate select the same."""
        checked = segments.parse(dict(tree))
        by_sql, counted = await self.by_sql(checked, as_of)
        by_predicate = await self.by_predicate(checked, as_of)
        assert by_sql == by_predicate, (
            f"{tree}: SQL selects {sorted(by_sql)}, the predicate {sorted(by_predicate)}"
        )
        assert counted == len(by_sql), f"{tree}: counted {counted}, selected {len(by_sql)}"
        return by_sql

    async def by_sql(self, checked: segments.Checked, as_of: segments.AsOf) -> tuple[set[str], int]:
        """Return who the compiled WHERE clause selects, and what the count query says."""
        condition = segments.where(checked, as_of)
        async with self.sessions() as session:
            members = await repository.sample_subscribers(session, condition, 100_000)
            counted = await repository.count_subscribers(session, condition)
        return {m.msisdn for m in members}, counted

    async def by_predicate(self, checked: segments.Checked, as_of: segments.AsOf) -> set[str]:
        """Return who the in-memory predicate selects, over rows read back from the database."""
        async with self.sessions() as session:
            rows = (await session.execute(select(Subscriber.__table__))).mappings().all()  # type: ignore[attr-defined]
            stored = (await session.execute(select(SubscriberEvent.__table__))).mappings().all()  # type: ignore[attr-defined]
        events: dict[str, list[Event]] = defaultdict(list)
        for row in stored:
            events[row["msisdn"]].append(Event(row["kind"], row["at"]))
        return {row["msisdn"] for row in rows if segments.matches(checked, row, events[row["msisdn"]], as_of)}

"""The audience kept current from operator feeds: how each feed event changes a subscriber.

Every rule runs inside the inbox transaction of the ``campaigns-audience`` consumer, so an event
applied twice has one effect. Rules are safe against events arriving out of order where the order
changes the outcome: a value is replaced only by a newer one (the profile, the plan, the balance,
the location), a bill for an older month fills the older revenue slot instead of the last month,
and a day's spend lands on its own day of the last seven.

A change to a model input marks the subscriber in ``model_due`` in the same transaction; the
``ModelRefresher`` recomputes marked subscribers in batches, never the whole population per event.

A usage feed for a number that is not a subscriber keeps nothing: no stub is made (a stub would
have no brand, plan, region or join date, so the models and segments would work on invented
values and campaigns could reach someone the CRM never sent). It is counted in
``careloop_campaigns_feed_unknown_subscriber_total`` by feed and logged (number masked); the CRM
feed or an import creates the subscriber, and the operator replays what was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import h3
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import repository
from campaigns.models import Subscriber, SubscriberEvent
from campaigns.service import SUBSCRIBER_LEFT, recompute_models
from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.errors import NotFound
from careloop_common.events import EventContract, MalformedEvent
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
    period_index,
)
from careloop_common.inbox import stop_if_cancelled
from careloop_common.pseudonyms import customer_ref
from careloop_common.telemetry import redact

log = logging.getLogger(__name__)

UNKNOWN_SUBSCRIBER = Counter(
    "careloop_campaigns_feed_unknown_subscriber_total",
    "Feed events about a number that is not a subscriber: nothing kept",
    ["feed"],
)
UNKNOWN_CELL = Counter(
    "careloop_campaigns_feed_unknown_cell_total",
    "Location updates naming a network cell id the cell-site registry does not hold: place kept as it was",
)
STALE = Counter(
    "careloop_campaigns_feed_stale_total",
    "Feed events older than what the subscriber row holds: history kept, current values not changed",
    ["feed"],
)

SPEND_DAYS = 7  # daily_spend holds the last seven days, oldest first
AVERAGE_DAYS = 3  # avg_daily_spend_3d: what the balance reminder compares the balance with
REVENUE_MONTHS = 3
LOCATION_RESOLUTION = 8  # H3 resolution of ``subscriber.cell``: coverage-map's area size

# Feeds about a subscriber's usage, money or whereabouts: they need the subscriber to exist.
UsageFeed = (
    BalanceChangedV1
    | BillIssuedV1
    | DailySpendClosedV1
    | PlanChangedV1
    | PaymentReceivedV1
    | LocationUpdatedV1
    | CallDetailV1
)
USAGE_FEEDS = (
    BalanceChangedV1,
    BillIssuedV1,
    DailySpendClosedV1,
    PlanChangedV1,
    PaymentReceivedV1,
    LocationUpdatedV1,
    CallDetailV1,
)

# The kinds of past events kept in subscriber_event (what segments ask about).
PLAN_CHANGED = "plan.changed"
PAYMENT_RECEIVED = "payment.received"
ROAMING_ENTERED = "roaming.entered"
ROAMING_ENDED = "roaming.ended"
CALL_LONG_DISTANCE = "call.long_distance"
CALL_ROAMING = "call.roaming"
# A call dialled with the operator's cheap prefix (12593 in the seeds): what tariff care converts to.
CALL_PREFIX = "call.prefix"


# --- pure rules: what a feed makes of the values held ---------------------------------------------


def shifted_spend(
    spend: Sequence[float], through: date | None, day: date, amount: float
) -> tuple[list[float], date] | None:
    """Place a day's spend in the last seven days; None when the day is older than those seven.

    ``spend`` ends on ``through``. A newer day moves the window on (days between, not reported,
    count as nothing spent until their own report arrives); an older day within the window
    replaces its own entry.
    """
    if through is None:
        return [amount], day
    if day > through:
        gap = (day - through).days
        moved = [*spend, *([0.0] * (gap - 1)), amount]
        return moved[-SPEND_DAYS:], day
    back = (through - day).days
    if back >= SPEND_DAYS:
        return None
    padded = [*([0.0] * max(0, back + 1 - len(spend))), *spend]
    padded[len(padded) - 1 - back] = amount
    return padded[-SPEND_DAYS:], through


def average_recent_spend(spend: Sequence[float]) -> float:
    """Return the mean spend of the last three days held (of fewer, when fewer are known)."""
    recent = list(spend)[-AVERAGE_DAYS:]
    return round(sum(recent) / len(recent), 2) if recent else 0.0


def bill_slot(held_period: str | None, period: str) -> int | None:
    """Return where a bill goes: 0 for a new last month (after shifting), 1 or 2 for an older slot.

    Negative: the bill is that many months newer than the one held (shift by that much). None:
    older than the three months kept.
    """
    if held_period is None:
        return 0
    back = period_index(held_period) - period_index(period)
    if back >= REVENUE_MONTHS:
        return None
    return back


def shifted_revenue(revenue: Sequence[float], months_newer: int, amount: float) -> list[float]:
    """Move revenue m1..m3 back by ``months_newer`` months (months without a bill count 0) and add m1."""
    kept = [0.0] * (months_newer - 1) + list(revenue)
    return [amount, *kept][:REVENUE_MONTHS]


def is_newer(at: datetime, held: datetime | None) -> bool:
    """Tell whether an instant is later than the one held (anything is newer than nothing)."""
    return held is None or at > held


# --- applying each feed -----------------------------------------------------------------------------


async def apply_feed(session: AsyncSession, payload: EventContract, *, customer_key: str) -> None:
    """Apply one feed event to the audience (the consumer's handler calls this)."""
    if isinstance(payload, SubscriberUpsertedV1):
        await apply_profile(session, payload, customer_key=customer_key)
        return
    if isinstance(payload, SubscriberLeftV1):
        await apply_departure(session, payload)
        return
    if not isinstance(payload, USAGE_FEEDS):
        raise MalformedEvent(f"campaigns-audience cannot handle {payload.event_type()}")
    if isinstance(payload, CallDetailV1) and not (payload.long_distance or payload.roaming):
        return  # only long-distance and roaming calls matter to care: a local call changes nothing
    subscriber = await repository.subscriber_for_update(session, payload.msisdn)
    if subscriber is None:
        _count_unknown(payload)
        return
    changes_inputs = await _apply_usage(session, subscriber, payload)
    subscriber.updated_at = utcnow()
    if changes_inputs:
        await repository.mark_models_due(session, [subscriber.msisdn], utcnow())
    await _flush_unless_collecting(session)


async def _flush_unless_collecting(session: AsyncSession) -> None:
    """Write the subscriber's change now, unless a batch writes everything at its end (one UPDATE
    per subscriber changed, not one per event)."""
    if repository.pending_writes(session) is None:
        await session.flush()


async def _apply_usage(session: AsyncSession, subscriber: Subscriber, payload: UsageFeed) -> bool:
    """Apply a usage feed to a subscriber; tell whether a model input changed."""
    if isinstance(payload, BalanceChangedV1):
        return apply_balance(subscriber, payload)
    if isinstance(payload, BillIssuedV1):
        return apply_bill(subscriber, payload)
    if isinstance(payload, DailySpendClosedV1):
        return apply_daily_spend(subscriber, payload)
    if isinstance(payload, PlanChangedV1):
        return await apply_plan_change(session, subscriber, payload)
    if isinstance(payload, PaymentReceivedV1):
        await apply_payment(session, subscriber, payload)
        return False
    if isinstance(payload, LocationUpdatedV1):
        await apply_location(session, subscriber, payload)
        return False
    await apply_call(session, payload)
    return False


async def apply_profile(session: AsyncSession, payload: SubscriberUpsertedV1, *, customer_key: str) -> None:
    """Create a subscriber, or update its profile if this one is newer than the profile held."""
    now = utcnow()
    subscriber = await repository.subscriber_for_update(session, payload.msisdn)
    if subscriber is None:
        subscriber = Subscriber(
            msisdn=payload.msisdn,
            customer_ref=customer_ref(payload.msisdn, customer_key),
            created_at=now,
            updated_at=now,
            **_profile_values(payload),
            plan_id=payload.plan_id,
            plan_at=payload.at,
        )
        session.add(subscriber)
        await repository.mark_models_due(session, [payload.msisdn], now)
        await session.flush()
        return
    inputs_before = (subscriber.plan_id, subscriber.join_date)
    if is_newer(payload.at, subscriber.profile_at):
        for name, value in _profile_values(payload).items():
            setattr(subscriber, name, value)
    else:
        STALE.labels(payload.subject).inc()
    if is_newer(payload.at, subscriber.plan_at):
        subscriber.plan_id, subscriber.plan_at = payload.plan_id, payload.at
    subscriber.updated_at = now
    if (subscriber.plan_id, subscriber.join_date) != inputs_before:
        await repository.mark_models_due(session, [payload.msisdn], now)
    await _flush_unless_collecting(session)


def _profile_values(payload: SubscriberUpsertedV1) -> dict[str, Any]:
    """Return the profile columns a CRM event sets (the plan has its own clock: ``plan_at``)."""
    return {
        "brand": payload.brand,
        "region": payload.region,
        "time_zone": payload.time_zone,
        "language": payload.language,
        "join_date": payload.join_date,
        "birthday": payload.birthday,
        "customer_class": payload.customer_class,
        "contact_sms": payload.contact_sms,
        "contact_call": payload.contact_call,
        "profile_at": payload.at,
    }


def apply_balance(subscriber: Subscriber, payload: BalanceChangedV1) -> bool:
    """Keep a balance only if it is newer than the one held."""
    if not is_newer(payload.at, subscriber.balance_at):
        STALE.labels(payload.subject).inc()
        return False
    changed = subscriber.balance != payload.balance
    subscriber.balance, subscriber.balance_at = payload.balance, payload.at
    return changed


def apply_bill(subscriber: Subscriber, payload: BillIssuedV1) -> bool:
    """Take a bill: a newer month shifts revenue m1 to m2 to m3; an older one fills its own slot."""
    slot = bill_slot(subscriber.bill_period, payload.period)
    revenue = [subscriber.revenue_m1, subscriber.revenue_m2, subscriber.revenue_m3]
    if slot is None:
        STALE.labels(payload.subject).inc()
        return False
    if slot > 0:
        # A late bill for an older month: its revenue belongs to m2 or m3, the last month stays.
        revenue[slot] = payload.amount
        subscriber.revenue_m2, subscriber.revenue_m3 = revenue[1], revenue[2]
        return True
    if slot < 0 or subscriber.bill_period is None:
        revenue = shifted_revenue(revenue, -slot if slot < 0 else 1, payload.amount)
    else:
        revenue[0] = payload.amount  # the same month again: a corrected bill replaces it
    subscriber.revenue_m1, subscriber.revenue_m2, subscriber.revenue_m3 = revenue
    subscriber.bill_period = payload.period
    subscriber.minutes_m1 = payload.minutes
    subscriber.sms_m1 = payload.sms
    subscriber.data_mb_m1 = payload.data_mb
    subscriber.long_distance_minutes_m1 = payload.long_distance_minutes
    subscriber.roaming_minutes_m1 = payload.roaming_minutes
    subscriber.long_distance_calls_m1 = payload.long_distance_calls
    subscriber.prefix_calls_m1 = payload.prefix_calls
    subscriber.fee_queries_m1 = payload.fee_queries
    subscriber.top_ups_m1 = payload.top_ups
    return True


def apply_daily_spend(subscriber: Subscriber, payload: DailySpendClosedV1) -> bool:
    """Put a day's spend in the last seven days and recompute the three-day average."""
    placed = shifted_spend(subscriber.daily_spend, subscriber.spend_through, payload.day, payload.spend)
    if placed is None:
        STALE.labels(payload.subject).inc()
        return False
    spend, through = placed
    # A new list, not an edit in place: the ORM notices an assigned JSON value, not a mutated one.
    subscriber.daily_spend, subscriber.spend_through = spend, through
    average = average_recent_spend(spend)
    changed = average != subscriber.avg_daily_spend_3d
    subscriber.avg_daily_spend_3d = average
    return changed


async def apply_plan_change(session: AsyncSession, subscriber: Subscriber, payload: PlanChangedV1) -> bool:
    """Record a plan change; move the subscriber to the new plan unless a newer plan is held."""
    await repository.add_subscriber_event(
        session,
        subscriber.msisdn,
        PLAN_CHANGED,
        payload.at,
        {"from_plan": payload.from_plan, "to_plan": payload.to_plan},
    )
    if not is_newer(payload.at, subscriber.plan_at):
        STALE.labels(payload.subject).inc()
        return False
    changed = subscriber.plan_id != payload.to_plan
    subscriber.plan_id, subscriber.plan_at = payload.to_plan, payload.at
    return changed


async def apply_departure(session: AsyncSession, payload: SubscriberLeftV1) -> None:
    """Record that a customer left, and stop campaigns contacting them (unless the CRM has since
    sent a newer profile: a customer who came back)."""
    subscriber = await repository.subscriber_for_update(session, payload.msisdn)
    if subscriber is None:
        _count_unknown(payload)
        return
    await repository.add_subscriber_event(
        session, subscriber.msisdn, SUBSCRIBER_LEFT, payload.at, {"reason": payload.reason}
    )
    if is_newer(payload.at, subscriber.profile_at):
        subscriber.contact_sms = subscriber.contact_call = False
        subscriber.profile_at = payload.at
    subscriber.updated_at = utcnow()
    await _flush_unless_collecting(session)


async def apply_payment(session: AsyncSession, subscriber: Subscriber, payload: PaymentReceivedV1) -> None:
    """Record a payment and keep the latest payment time."""
    await repository.add_subscriber_event(
        session, subscriber.msisdn, PAYMENT_RECEIVED, payload.at, {"amount": payload.amount}
    )
    if is_newer(payload.at, subscriber.last_payment_at):
        subscriber.last_payment_at = payload.at


async def apply_location(session: AsyncSession, subscriber: Subscriber, payload: LocationUpdatedV1) -> None:
    """Keep the newest location; record entering roaming (or another country) and coming back."""
    if not is_newer(payload.at, subscriber.located_at):
        # Where someone was before the place held says nothing about where they are now.
        STALE.labels(payload.subject).inc()
        return
    cell = await _cell_of(session, payload) or subscriber.cell
    country = payload.country if payload.roaming else None
    entered = payload.roaming and (not subscriber.roaming or subscriber.roaming_country != country)
    if entered:
        await repository.add_subscriber_event(
            session, subscriber.msisdn, ROAMING_ENTERED, payload.at, {"country": country, "cell": cell}
        )
    elif subscriber.roaming and not payload.roaming:
        await repository.add_subscriber_event(
            session,
            subscriber.msisdn,
            ROAMING_ENDED,
            payload.at,
            {"country": subscriber.roaming_country, "cell": cell},
        )
    subscriber.cell, subscriber.roaming, subscriber.roaming_country = cell, payload.roaming, country
    subscriber.located_at = payload.at


async def _cell_of(session: AsyncSession, payload: LocationUpdatedV1) -> str | None:
    """Return the H3 cell a location update names; None for a network cell id the registry lacks."""
    if payload.cell_id is None:
        return payload.cell or h3.latlng_to_cell(payload.lat, payload.lng, LOCATION_RESOLUTION)
    cell = await repository.site_cell(session, payload.cell_id)
    if cell is None:
        # Roaming and the time still apply; where in the network is unknown until the site is registered.
        UNKNOWN_CELL.inc()
        log.info("location update names cell %s, which the cell-site registry does not hold", payload.cell_id)
    return cell


async def apply_call(session: AsyncSession, payload: CallDetailV1) -> None:
    """Record a long-distance, roaming or cheap-prefix call, once under each kind it is."""
    detail: dict[str, object] = {
        "called": payload.called,
        "duration_s": payload.duration_s,
        "prefix": payload.prefix,
        "long_distance": payload.long_distance,
        "roaming": payload.roaming,
    }
    kinds = [
        kind
        for kind, is_one in (
            (CALL_LONG_DISTANCE, payload.long_distance),
            (CALL_ROAMING, payload.roaming),
            (CALL_PREFIX, payload.prefix is not None),
        )
        if is_one
    ]
    for kind in kinds:
        await repository.add_subscriber_event(session, payload.msisdn, kind, payload.started_at, detail)


def _count_unknown(payload: UsageFeed | SubscriberLeftV1) -> None:
    """Count (and log, number masked) a usage feed about a number that is not a subscriber."""
    UNKNOWN_SUBSCRIBER.labels(payload.subject).inc()
    log.info("feed %s about %s: not a subscriber, nothing kept", payload.subject, redact(payload.msisdn))


# --- recomputing the models of changed subscribers --------------------------------------------------


async def refresh_due_models(
    sessions: SessionFactory, *, batch: int = 5_000, today: date | None = None
) -> int:
    """Recompute the models of every subscriber marked due, a batch at a time; return how many."""
    done = 0
    while True:
        async with transaction(sessions) as session:
            due = await repository.models_due(session, batch)
        if not due:
            return done
        await recompute_models(sessions, [msisdn for msisdn, _ in due], today)
        async with transaction(sessions) as session:
            await repository.clear_models_due(session, due)
        done += len(due)
        if len(due) < batch:
            return done


class ModelRefresher:
    """Recomputes the models of changed subscribers every ``interval_s`` (a background task).

    One pass takes every mark made so far, so a burst of feed events costs one recompute per
    subscriber per pass, not one per event.
    """

    def __init__(self, sessions: SessionFactory, interval_s: float = 2.0) -> None:
        self.sessions = sessions
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background task."""
        self._task = asyncio.create_task(self._run(), name="campaigns-model-refresher")

    async def stop(self) -> None:
        """Stop the background task (marks left are taken by the next start or another replica)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            stop_if_cancelled()
            try:
                await refresh_due_models(self.sessions)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recomputing the models of changed subscribers failed; will retry")
            await asyncio.sleep(self.interval_s)


# --- showing a subscriber ----------------------------------------------------------------------------

DISTRICT_RESOLUTION = 6  # whereabouts are shown to the district, not the cell
RECENT_EVENTS = 20


def mask_number(number: str) -> str:
    """Show a dialled number as ``+852******67``: enough to tell calls apart, not to call back."""
    return number[:4] + "*" * max(0, len(number) - 6) + number[-2:]


def district_of(cell: str | None) -> str | None:
    """Return the district-sized H3 cell around a cell."""
    if cell is None or not h3.is_valid_cell(cell) or h3.get_resolution(cell) < DISTRICT_RESOLUTION:
        return cell
    return str(h3.cell_to_parent(cell, DISTRICT_RESOLUTION))


def spend_by_day(spend: Sequence[float], through: date | None) -> list[tuple[date, float]]:
    """Pair the last seven days' spend with their days (none without a day to end on)."""
    if through is None:
        return []
    return [(through - timedelta(days=len(spend) - 1 - i), amount) for i, amount in enumerate(spend)]


def masked_detail(detail: dict[str, object]) -> dict[str, object]:
    """Return an event's detail with any called number masked."""
    called = detail.get("called")
    return {**detail, "called": mask_number(called)} if isinstance(called, str) else dict(detail)


async def known_subscriber(session: AsyncSession, msisdn: str) -> Subscriber:
    """Return a subscriber, or raise NotFound."""
    found = await repository.subscriber(session, msisdn)
    if found is None:
        raise NotFound("subscriber", msisdn)
    return found


async def profile(session: AsyncSession, msisdn: str) -> tuple[Subscriber, list[SubscriberEvent]]:
    """Return a subscriber and their latest past events, or raise NotFound."""
    found = await known_subscriber(session, msisdn)
    return found, await repository.recent_events(session, msisdn, RECENT_EVENTS)

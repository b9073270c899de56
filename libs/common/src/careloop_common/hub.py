"""TM Forum "hub" event subscriptions, with callbacks delivered reliably by a background worker.

A partner registers a callback for one API (``POST /hub`` in TMF621, TMF681 …); every event the
service raises for that API is queued once per matching subscription *in the business
transaction* (``enqueue_hub_event``, like the outbox), and ``HubDeliverer`` POSTs it to the
callback afterwards, retrying with exponential backoff and jitter until the partner answers 2xx or
the attempts run out (then the delivery is marked ``dead`` and logged). A partner that is away for
a while gets its events late, not never.

Guarantees and limits:

- At least once, unordered. A (subscription, event id) pair is queued at most once, so enqueuing
  the same event twice never doubles it; but a worker that dies after the POST and before noting
  success sends again once its lease lapses. Receivers dedupe on the event's ``eventId``.
- Deliveries are leased (``leased_until``) by an ``UPDATE … WHERE`` claim, so any number of
  replicas may run a deliverer and no delivery is sent by two at the same time.
- Who sees what: an event raised for partner P goes to P's subscriptions and to internal ones
  (owner ``None``); an event with no partner goes to internal subscriptions only.
- ``query`` filters, as TMF630 lets a partner give them: only ``eventType=A`` or
  ``eventType=A,B,…`` (a leading ``?`` is allowed). Anything else (attribute filters such as
  ``event.troubleTicket.severity=Major``, ``&``-joined terms) is refused with a 422
  ``unsupported-query`` problem when the subscription is made, never silently ignored.
- Callbacks are plain ``http``/``https`` URLs with a host and no user info. Nothing here stops a
  partner naming an internal address: route callbacks through an egress proxy (httpx honours
  ``HTTPS_PROXY``) or network policy where that matters.

Every service that serves a hub runs the same two tables: its models (or migrations ``env.py``)
import this module so they register on ``careloop_common.db.metadata()``, and one migration calls
``create_hub_tables_v1()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from alembic import op
from prometheus_client import Counter
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    or_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from careloop_common.db import SessionFactory, UTCDateTime, on_commit, transaction, utcnow
from careloop_common.errors import NotFound, ProblemError

log = logging.getLogger(__name__)

HUB_DELIVERIES = Counter(
    "careloop_hub_deliveries_total", "Hub callback attempts, by outcome", ["service", "outcome"]
)

MAX_CALLBACK_LENGTH = 2000
# Control characters and spaces spelt out: "\s" means different sets in JSON Schema (ECMA),
# Python and pydantic's Rust regex (U+0085 is whitespace to the last two only).
CALLBACK_URL_PATTERN = r"^https?://[^\x00-\x20\x7f-\x9f/?#@]+([/?#][^\x00-\x20\x7f-\x9f]*)?$"
"""What a callback must look like, for a route's OpenAPI schema (``create_subscription`` checks more)."""
HUB_QUERY_PATTERN = r"^\??eventType=[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*$"
"""The ``query`` filters supported, for a route's OpenAPI schema."""
_QUERY = re.compile(HUB_QUERY_PATTERN)


class HubSubscription(SQLModel, table=True):
    """A registration to receive one API's events at a callback URL, owned by a partner or internal."""

    __tablename__ = "hub_subscription"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), sa_column=Column(String(36), primary_key=True))
    api: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    callback: str = Field(sa_column=Column(String(MAX_CALLBACK_LENGTH), nullable=False))
    query: str | None = Field(default=None, sa_column=Column(String(500)))
    owner_partner_id: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class HubDelivery(SQLModel, table=True):
    """One event on its way to one subscription's callback; at most one per (subscription, event)."""

    __tablename__ = "hub_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_hub_delivery_subscription_event"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    # Deleting a subscription drops what is still queued for it: nobody is listening any more.
    subscription_id: str = Field(
        sa_column=Column(String(36), ForeignKey("hub_subscription.id", ondelete="CASCADE"), nullable=False)
    )
    event_id: str = Field(sa_column=Column(String(128), nullable=False))
    event_type: str = Field(sa_column=Column(String(128), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    # NULL once delivered or dead, so the index holds only work still to do.
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))
    leased_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(String(500)))
    dead: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


HUB_TABLES = ("hub_subscription", "hub_delivery")


def create_hub_tables_v1() -> None:
    """Create the hub tables (call it from one of a service's migrations).

    Frozen as version 1, like ``create_platform_tables_v1``: a later change to these tables gets
    its own ``..._v2`` step, so a history that already ran this one never changes under it.
    """
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "hub_subscription",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("api", sa.String(64), nullable=False),
        sa.Column("callback", sa.String(MAX_CALLBACK_LENGTH), nullable=False),
        sa.Column("query", sa.String(500), nullable=True),
        sa.Column("owner_partner_id", sa.String(64), nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_subscription")),
    )
    op.create_index(op.f("ix_hub_subscription_api"), "hub_subscription", ["api"])
    op.create_table(
        "hub_delivery",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ts, nullable=True),
        sa.Column("leased_until", ts, nullable=True),
        sa.Column("delivered_at", ts, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["hub_subscription.id"],
            name=op.f("fk_hub_delivery_subscription_id_hub_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_delivery")),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_hub_delivery_subscription_event"),
    )
    op.create_index(op.f("ix_hub_delivery_next_attempt_at"), "hub_delivery", ["next_attempt_at"])


def drop_hub_tables_v1() -> None:
    """Drop the hub tables (the downgrade of ``create_hub_tables_v1``)."""
    for table in reversed(HUB_TABLES):
        op.drop_table(table)


# --- subscriptions (for a service's /hub routes) --------------------------------------------------


def check_callback(callback: str) -> str:
    """Return the callback URL if it is a plain http(s) URL with a host, else raise a 422 problem."""
    if len(callback) > MAX_CALLBACK_LENGTH:
        raise _bad_callback(f"the callback is longer than {MAX_CALLBACK_LENGTH} characters")
    try:
        parts = urlsplit(callback)
    except ValueError as exc:  # e.g. an unbalanced "[" reads as a broken IPv6 host
        raise _bad_callback(f"the callback is not a URL: {exc}") from None
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise _bad_callback("the callback's port is not a number from 0 to 65535") from None
    if parts.scheme not in ("http", "https") or not re.fullmatch(CALLBACK_URL_PATTERN, callback):
        raise _bad_callback("the callback must be an http or https URL")
    if not parts.hostname:
        raise _bad_callback("the callback names no host")
    return callback


def _bad_callback(detail: str) -> ProblemError:
    return ProblemError(422, "invalid-callback", detail, field="callback")


def event_types_of(query: str | None) -> frozenset[str] | None:
    """Return the event types a hub ``query`` selects (None: all), or raise a 422 if unsupported."""
    if query is None or not query.strip():
        return None
    text = query.strip()
    if not _QUERY.fullmatch(text):
        raise ProblemError(
            422,
            "unsupported-query",
            "only 'eventType=<type>' or 'eventType=<type>,<type>,…' filters are supported",
            field="query",
        )
    return frozenset(text.removeprefix("?").removeprefix("eventType=").split(","))


async def create_subscription(
    session: AsyncSession, api: str, callback: str, *, query: str | None, partner_id: str | None
) -> HubSubscription:
    """Register a callback for ``api``'s events, owned by ``partner_id`` (None: internal)."""
    event_types_of(query)  # refuse what we could not honour before storing it
    subscription = HubSubscription(
        api=api,
        callback=check_callback(callback),
        query=query if query and query.strip() else None,
        owner_partner_id=partner_id,
    )
    session.add(subscription)
    await session.flush()
    session.info.pop(_SUBSCRIPTION_QUERIES, None)  # anyone_wants reads them again
    return subscription


async def get_subscription(
    session: AsyncSession, api: str, subscription_id: str, *, partner_id: str | None
) -> HubSubscription:
    """Return a subscription the caller may see; 404 if it is unknown, another API's or another partner's.

    ``partner_id`` None is an internal (staff) caller, who sees every subscription of the API.
    """
    subscription = await session.get(HubSubscription, subscription_id)
    if (
        subscription is None
        or subscription.api != api
        or (partner_id is not None and subscription.owner_partner_id != partner_id)
    ):
        # A foreign subscription answers like a missing one: its id tells the caller nothing.
        raise NotFound("hub subscription", subscription_id)
    return subscription


async def delete_subscription(
    session: AsyncSession, api: str, subscription_id: str, *, partner_id: str | None
) -> None:
    """Remove a subscription and what is still queued for it; 404 as ``get_subscription``."""
    subscription = await get_subscription(session, api, subscription_id, partner_id=partner_id)
    await session.delete(subscription)
    await session.flush()
    session.info.pop(_SUBSCRIPTION_QUERIES, None)


def hub_to_tmf(subscription: HubSubscription) -> dict[str, Any]:
    """Return the TMF ``Hub`` resource for a subscription (what POST/GET /hub answer)."""
    resource: dict[str, Any] = {"id": subscription.id, "callback": subscription.callback, "@type": "Hub"}
    if subscription.query is not None:
        resource["query"] = subscription.query
    return resource


# --- events -------------------------------------------------------------------------------------


async def anyone_wants(session: AsyncSession, api: str, event_type: str) -> bool:
    """Say whether any subscription (of any partner) wants this type of event, so a service can
    skip building an event nobody will receive: one indexed query per transaction, whose answer
    serves every event a consumer applies in the same batch."""
    known: dict[str, list[str]] = session.info.setdefault(_SUBSCRIPTION_QUERIES, {})
    if api not in known:
        query = select(col(HubSubscription.query)).where(col(HubSubscription.api) == api)
        known[api] = list(await session.scalars(query))
    return any(_wants(query, event_type) for query in known[api])


# Where anyone_wants keeps the subscriptions it read, for the rest of the session's transaction.
_SUBSCRIPTION_QUERIES = "hub_subscription_queries"


async def enqueue_hub_event(
    session: AsyncSession,
    api: str,
    event_type: str,
    payload: dict[str, Any],
    event_id: str,
    owner_partner_id: str | None,
) -> int:
    """Queue an event for each matching subscription in the caller's transaction; return how many.

    ``payload`` is the JSON body the callbacks receive (JSON-ready: dump models with
    ``mode="json"``). Queuing the same ``event_id`` again adds nothing for a subscription that
    already has it, so a redelivered domain event never doubles a callback.
    """
    owner = col(HubSubscription.owner_partner_id)
    visible = owner.is_(None) if owner_partner_id is None else or_(owner.is_(None), owner == owner_partner_id)
    subscriptions = (
        await session.execute(
            select(col(HubSubscription.id), col(HubSubscription.query))
            .where(col(HubSubscription.api) == api)
            .where(visible)
        )
    ).all()
    targets = [sid for sid, query in subscriptions if _wants(query, event_type)]
    if not targets:
        return 0
    now = utcnow()
    rows = [
        {
            "subscription_id": sid,
            "event_id": event_id,
            "event_type": event_type,
            "payload": payload,
            "attempts": 0,
            "next_attempt_at": now,
            "dead": False,
            "created_at": now,
        }
        for sid in targets
    ]
    await session.execute(_insert_once(session), rows)
    on_commit(session, _wake_deliverers)
    return len(targets)


def _wants(query: str | None, event_type: str) -> bool:
    try:
        wanted = event_types_of(query)
    except ProblemError:
        # Stored before this check existed, or written by hand: deliver nothing rather than guess.
        log.warning("hub subscription with an unsupported query %r gets no events", query)
        return False
    return wanted is None or event_type in wanted


def _insert_once(session: AsyncSession) -> Any:
    """An INSERT that skips a (subscription, event) pair already queued, even by a concurrent writer."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"hub deliveries need PostgreSQL or SQLite, not {dialect}")
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(HubDelivery).on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])


# --- delivery -----------------------------------------------------------------------------------

_DELIVERERS: weakref.WeakSet[HubDeliverer] = weakref.WeakSet()


def _wake_deliverers() -> None:
    # Normally one deliverer per process; waking one that serves another database costs it a poll.
    for deliverer in list(_DELIVERERS):
        deliverer.notify()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a callback that fails.

    The defaults try 12 times over about 47 minutes (2 s doubling, at most 15 min apart), so a
    partner restarting or briefly down misses nothing.
    """

    max_attempts: int = 12
    base_delay_s: float = 2.0
    max_delay_s: float = 900.0
    jitter: float = 0.25

    def delay_s(self, attempts: int) -> float:
        """Return how long to wait after the ``attempts``-th failed attempt."""
        delay = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(attempts - 1, 0))
        # Jitter spreads the retries of many deliveries that failed together (a partner outage).
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - not a secret


@dataclass(frozen=True)
class _Claimed:
    id: int
    callback: str
    payload: dict[str, Any]
    attempts: int
    leased_until: datetime


@dataclass(frozen=True)
class _Outcome:
    delivery: _Claimed
    error: str | None = None


@dataclass
class _Loop:
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False


class HubDeliverer:
    """POSTs due hub deliveries to their callbacks; marks 2xx delivered, retries the rest with backoff.

    Deliveries are claimed with a lease (``leased_until``) in a short transaction, sent without
    holding a database connection, then recorded; replicas share the work and never send the
    same delivery side by side. ``lease_s`` must exceed ``timeout_s`` (a batch is sent
    concurrently, so one slow partner does not hold up the others).
    """

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        service: str = "careloop",
        retry: RetryPolicy | None = None,
        batch_size: int = 50,
        poll_interval_s: float = 1.0,
        lease_s: float = 60.0,
        timeout_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if lease_s <= timeout_s:
            raise ValueError("lease_s must exceed timeout_s, or a slow callback could be sent twice")
        self.sessions = sessions
        self.service = service
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.lease_s = lease_s
        self.timeout_s = timeout_s
        self._client = client
        self._own_client = client is None
        self._loop = _Loop()

    def notify(self) -> None:
        """Wake the deliverer now (enqueue_hub_event does this when its transaction commits)."""
        self._loop.wake.set()

    async def start(self) -> None:
        """Start delivering in a background task."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s, connect=min(2.0, self.timeout_s)),
                follow_redirects=False,  # a redirect is not an acknowledgement
                limits=httpx.Limits(max_connections=self.batch_size),
                headers={"User-Agent": f"careloop-hub/{self.service}"},
            )
        self._loop.stopping = False
        _DELIVERERS.add(self)
        self._loop.task = asyncio.create_task(self.run(), name=f"hub-deliverer-{self.service}")

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop after the batch in flight (cancelled after ``grace_s``; its leases then lapse)."""
        _DELIVERERS.discard(self)
        self._loop.stopping = True
        self._loop.wake.set()
        task, self._loop.task = self._loop.task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=grace_s)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self) -> None:
        """Deliver until stopped, surviving database outages."""
        backoff = 0.2
        while not self._loop.stopping:
            try:
                handled = await self.deliver_once()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("hub deliverer paused %.1fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)
                continue
            if handled < self.batch_size:
                await self._sleep_until_woken()

    async def deliver_once(self) -> int:
        """Claim one batch of due deliveries, send them, record the outcomes; return how many."""
        claimed = await self._claim()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(delivery) for delivery in claimed))
        await self._record(outcomes)
        return len(claimed)

    async def _claim(self) -> list[_Claimed]:
        now = utcnow()
        until = now + timedelta(seconds=self.lease_s)
        free = or_(col(HubDelivery.leased_until).is_(None), col(HubDelivery.leased_until) < now)
        async with transaction(self.sessions) as session:
            due = (
                (
                    await session.execute(
                        select(col(HubDelivery.id))
                        .where(col(HubDelivery.next_attempt_at) <= now)
                        .where(free)
                        .order_by(col(HubDelivery.next_attempt_at))
                        .limit(self.batch_size)
                    )
                )
                .scalars()
                .all()
            )
            if not due:
                return []
            # The WHERE is checked again under the row lock: a replica that claimed a row first wins.
            ids = (
                (
                    await session.execute(
                        update(HubDelivery)
                        .where(col(HubDelivery.id).in_(due))
                        .where(col(HubDelivery.next_attempt_at).is_not(None))
                        .where(free)
                        .values(leased_until=until)
                        .returning(col(HubDelivery.id))
                        .execution_options(synchronize_session=False)
                    )
                )
                .scalars()
                .all()
            )
            rows = await session.execute(
                select(
                    col(HubDelivery.id),
                    col(HubSubscription.callback),
                    col(HubDelivery.payload),
                    col(HubDelivery.attempts),
                )
                .join(HubSubscription, col(HubSubscription.id) == col(HubDelivery.subscription_id))
                .where(col(HubDelivery.id).in_(ids))
            )
            return [
                _Claimed(id=row_id, callback=callback, payload=payload, attempts=attempts, leased_until=until)
                for row_id, callback, payload, attempts in rows.all()
            ]

    async def _send(self, delivery: _Claimed) -> _Outcome:
        assert self._client is not None, "start() the deliverer before delivering"
        try:
            # Streamed so a partner's response body is never read: only its status matters.
            async with self._client.stream("POST", delivery.callback, json=delivery.payload) as response:
                if response.is_success:
                    return _Outcome(delivery)
                return _Outcome(delivery, f"HTTP {response.status_code}")
        except Exception as exc:  # any failure to reach the partner is retried the same way
            return _Outcome(delivery, f"{type(exc).__name__}: {exc}"[:500])

    async def _record(self, outcomes: Sequence[_Outcome]) -> None:
        now = utcnow()
        async with transaction(self.sessions) as session:
            for outcome in outcomes:
                await session.execute(
                    update(HubDelivery)
                    .where(col(HubDelivery.id) == outcome.delivery.id)
                    # Only while our lease holds: once it lapsed, whoever claimed the row since owns it.
                    .where(col(HubDelivery.leased_until) == outcome.delivery.leased_until)
                    .values(**self._next_state(outcome, now))
                    .execution_options(synchronize_session=False)
                )

    def _next_state(self, outcome: _Outcome, now: datetime) -> dict[str, Any]:
        delivery = outcome.delivery
        attempts = delivery.attempts + 1
        done = {"attempts": attempts, "leased_until": None}
        if outcome.error is None:
            HUB_DELIVERIES.labels(self.service, "delivered").inc()
            return {**done, "delivered_at": now, "next_attempt_at": None, "last_error": None}
        if attempts >= self.retry.max_attempts:
            HUB_DELIVERIES.labels(self.service, "dead").inc()
            log.error(
                "hub delivery %s to %s is dead after %d attempts: %s",
                delivery.id,
                _host(delivery.callback),
                attempts,
                outcome.error,
            )
            return {**done, "dead": True, "next_attempt_at": None, "last_error": outcome.error}
        HUB_DELIVERIES.labels(self.service, "retried").inc()
        retry_at = now + timedelta(seconds=self.retry.delay_s(attempts))
        return {**done, "next_attempt_at": retry_at, "last_error": outcome.error}

    async def _sleep_until_woken(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loop.wake.wait(), timeout=self.poll_interval_s)
        self._loop.wake.clear()


def _host(callback: str) -> str:
    """Name a callback in logs by host only: its path or query may carry a partner's token."""
    return urlsplit(callback).netloc or "?"

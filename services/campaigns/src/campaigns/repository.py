"""Every query of the campaigns service lives here.

The models read and write subscribers by the hundred thousand, so those queries are SQLAlchemy Core
on the table with only the columns they need, paged by key (``msisdn``) rather than by offset, and
the outputs go back as one executemany UPDATE per chunk: no ORM object is built per subscriber.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Row, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from campaigns.models import (
    CallContact,
    Campaign,
    CampaignMember,
    CampaignStep,
    ImportJob,
    Incident,
    IncidentCall,
    IncidentPerson,
    ModelDue,
    ModelRun,
    NetworkCellSite,
    PlaceSeen,
    Plan,
    Segment,
    Subscriber,
    SubscriberEvent,
)
from careloop_common.db import stage_insert

SUBSCRIBER: sa.Table = Subscriber.__table__  # type: ignore[attr-defined]
MODEL_DUE: sa.Table = ModelDue.__table__  # type: ignore[attr-defined]
SUBSCRIBER_EVENT: sa.Table = SubscriberEvent.__table__  # type: ignore[attr-defined]
NETWORK_CELL_SITE: sa.Table = NetworkCellSite.__table__  # type: ignore[attr-defined]

Rows = Sequence[Row[Any]]

# The columns the models read, in the order the rows of ``model_inputs_*`` carry them.
MODEL_INPUT_COLUMNS = (
    "msisdn",
    "plan_id",
    "join_date",
    "revenue_m1",
    "revenue_m2",
    "revenue_m3",
    "balance",
    "avg_daily_spend_3d",
    "top_ups_m1",
    "fee_queries_m1",
    "long_distance_calls_m1",
    "prefix_calls_m1",
    "minutes_m1",
    "sms_m1",
    "data_mb_m1",
    "long_distance_minutes_m1",
    "roaming_minutes_m1",
)
# The columns the models write, besides ``models_at``.
MODEL_OUTPUT_COLUMNS = (
    "lifecycle_stage",
    "value_tier",
    "fee_sensitivity",
    "recommended_plan_id",
    "plan_saving",
    "models_at",
)
# Bound parameters per statement stay well under every backend's limit (SQLite's is 32,766).
IN_LIST_MAX = 1_000


# --- the plan catalogue ---------------------------------------------------------------------------


async def plans(session: AsyncSession, *, active: bool | None = None) -> list[Plan]:
    """Return the catalogue's plans by id, all or only the active (or inactive) ones."""
    query = select(Plan).order_by(col(Plan.id))
    if active is not None:
        query = query.where(col(Plan.active) == active)
    return list(await session.scalars(query))


async def get_plan(session: AsyncSession, plan_id: str) -> Plan | None:
    """Return one plan."""
    return await session.get(Plan, plan_id)


async def add(session: AsyncSession, *rows: SQLModel) -> None:
    """Stage rows and flush them."""
    session.add_all(rows)
    await session.flush()


# --- subscribers, for the models ------------------------------------------------------------------


def _inputs_query() -> sa.Select[Any]:
    return sa.select(*(SUBSCRIBER.c[name] for name in MODEL_INPUT_COLUMNS))


async def model_inputs_after(session: AsyncSession, after: str, limit: int) -> Rows:
    """Return the model inputs of up to ``limit`` subscribers whose msisdn sorts after ``after``."""
    msisdn = SUBSCRIBER.c.msisdn
    result = await session.execute(_inputs_query().where(msisdn > after).order_by(msisdn).limit(limit))
    return cast(Rows, result.all())


async def model_inputs_of(session: AsyncSession, msisdns: Sequence[str]) -> Rows:
    """Return the model inputs of the given subscribers that exist, by msisdn."""
    rows: list[Row[Any]] = []
    msisdn = SUBSCRIBER.c.msisdn
    for start in range(0, len(msisdns), IN_LIST_MAX):
        batch = list(msisdns[start : start + IN_LIST_MAX])
        result = await session.execute(_inputs_query().where(msisdn.in_(batch)).order_by(msisdn))
        rows.extend(result.all())
    return rows


async def revenues_after(session: AsyncSession, after: str, limit: int) -> Rows:
    """Return (msisdn, revenue_m1, revenue_m2, revenue_m3) of up to ``limit`` subscribers after ``after``."""
    c = SUBSCRIBER.c
    result = await session.execute(
        sa.select(c.msisdn, c.revenue_m1, c.revenue_m2, c.revenue_m3)
        .where(c.msisdn > after)
        .order_by(c.msisdn)
        .limit(limit)
    )
    return cast(Rows, result.all())


async def write_model_outputs(session: AsyncSession, outputs: Sequence[Mapping[str, Any]]) -> None:
    """Store model outputs: each mapping holds ``msisdn`` and every one of ``MODEL_OUTPUT_COLUMNS``."""
    if not outputs:
        return
    c = SUBSCRIBER.c
    statement = (
        SUBSCRIBER.update()
        .where(c.msisdn == bindparam("key_msisdn"))
        .values({name: bindparam(f"new_{name}", type_=c[name].type) for name in MODEL_OUTPUT_COLUMNS})
    )
    parameters = [
        {"key_msisdn": row["msisdn"], **{f"new_{name}": row[name] for name in MODEL_OUTPUT_COLUMNS}}
        for row in outputs
    ]
    connection = await session.connection()
    await connection.execute(statement, parameters)


async def subscriber(session: AsyncSession, msisdn: str) -> Subscriber | None:
    """Return one subscriber."""
    return await session.get(Subscriber, msisdn)


# --- model runs -----------------------------------------------------------------------------------


async def latest_model_run(session: AsyncSession) -> ModelRun | None:
    """Return the last recorded run of the models."""
    rows = await session.scalars(select(ModelRun).order_by(col(ModelRun.id).desc()).limit(1))
    return rows.first()


# --- saved segments -------------------------------------------------------------------------------


async def segment_tree(session: AsyncSession, segment_id: str) -> dict[str, Any] | None:
    """Return a saved segment's condition tree, or None when there is no such segment."""
    segment = await session.get(Segment, segment_id)
    return None if segment is None else segment.conditions


async def get_segment(session: AsyncSession, segment_id: str) -> Segment | None:
    """Return one saved segment."""
    return await session.get(Segment, segment_id)


async def segment_named(session: AsyncSession, name: str) -> Segment | None:
    """Return the segment with this name, if one has it."""
    result = await session.scalars(select(Segment).where(col(Segment.name) == name).limit(1))
    return result.first()


async def segments_page(session: AsyncSession, limit: int, offset: int) -> tuple[list[Segment], int]:
    """Return saved segments by name."""
    rows = await session.scalars(
        select(Segment).order_by(col(Segment.name), col(Segment.id)).limit(limit).offset(offset)
    )
    total = await session.scalar(sa.select(sa.func.count()).select_from(Segment))
    return list(rows), int(total or 0)


async def count_subscribers(session: AsyncSession, condition: sa.ColumnElement[bool]) -> int:
    """Count the subscribers meeting a compiled segment."""
    total = await session.scalar(sa.select(sa.func.count()).select_from(Subscriber).where(condition))
    return int(total or 0)


async def sample_subscribers(
    session: AsyncSession, condition: sa.ColumnElement[bool], limit: int
) -> list[Subscriber]:
    """Return a sample of the subscribers meeting a compiled segment, spread over the whole of it:
    ordered by their keyed pseudonym, which shuffles numbers the same way every time (the lowest
    numbers would all be one range's, often the oldest customers')."""
    rows = await session.scalars(
        select(Subscriber)
        .where(condition)
        .order_by(col(Subscriber.customer_ref), col(Subscriber.msisdn))
        .limit(limit)
    )
    return list(rows)


# --- campaigns ------------------------------------------------------------------------------------

CAMPAIGN_STEP: sa.Table = CampaignStep.__table__  # type: ignore[attr-defined]


def add_campaign_step(
    session: AsyncSession,
    campaign_id: str,
    *,
    at: datetime,
    actor: str,
    kind: str,
    from_value: str | None = None,
    to_value: str | None = None,
    note: str | None = None,
) -> None:
    """Stage one step of a campaign's history as a plain row."""
    stage_insert(
        session,
        CAMPAIGN_STEP,
        {
            "campaign_id": campaign_id,
            "at": at,
            "actor": actor,
            "kind": kind,
            "from_value": from_value,
            "to_value": to_value,
            "note": note,
        },
    )


async def get_campaign(
    session: AsyncSession, campaign_id: str, *, for_update: bool = False
) -> Campaign | None:
    """Return a campaign by id (locked for the change where the database can)."""
    query = select(Campaign).where(col(Campaign.id) == campaign_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


async def campaigns_page(
    session: AsyncSession, *, status: str | None, kind: str | None, limit: int, offset: int
) -> tuple[Sequence[Campaign], int]:
    """Return a page of campaigns, newest first, and how many match in all."""
    conditions = [
        *([col(Campaign.status) == status] if status else []),
        *([col(Campaign.kind) == kind] if kind else []),
    ]
    total = await session.scalar(sa.select(sa.func.count()).select_from(Campaign).where(*conditions))
    rows = await session.execute(
        select(Campaign)
        .where(*conditions)
        .order_by(col(Campaign.created_at).desc(), col(Campaign.id))
        .limit(limit)
        .offset(offset)
    )
    return rows.scalars().all(), int(total or 0)


async def campaign_steps(session: AsyncSession, campaign_id: str) -> Sequence[CampaignStep]:
    """Return a campaign's history, oldest first."""
    rows = await session.execute(
        select(CampaignStep)
        .where(col(CampaignStep.campaign_id) == campaign_id)
        .order_by(col(CampaignStep.id))
    )
    return rows.scalars().all()


# --- running campaigns ----------------------------------------------------------------------------

MEMBER: sa.Table = CampaignMember.__table__  # type: ignore[attr-defined]
EVENTS: sa.Table = SubscriberEvent.__table__  # type: ignore[attr-defined]
CALL_CONTACT: sa.Table = CallContact.__table__  # type: ignore[attr-defined]
PLACE_SEEN: sa.Table = PlaceSeen.__table__  # type: ignore[attr-defined]
# What meeting a customer needs of the subscriber row.
CONTACT_COLUMNS = ("msisdn", "customer_ref", "language", "contact_sms", "contact_call")
# How far back a trigger's condition may look at a customer's events.
EVENT_MEMORY_DAYS = 3_650


async def audience_chunk(
    session: AsyncSession, audience: sa.ColumnElement[bool], *, after: str, limit: int
) -> Rows:
    """Return the next ``limit`` members of an audience after a number, by number."""
    query = (
        sa.select(*(SUBSCRIBER.c[name] for name in CONTACT_COLUMNS))
        .where(audience, SUBSCRIBER.c.msisdn > after)
        .order_by(SUBSCRIBER.c.msisdn)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def members_of(session: AsyncSession, campaign_id: str, msisdns: Sequence[str]) -> dict[str, Any]:
    """Return a campaign's members among these numbers (touches, last_at, arm, outcome), by number."""
    if not msisdns:
        return {}
    pending = pending_writes(session)
    if pending is not None and pending.covers(campaign_id, msisdns):
        return {
            m: SimpleNamespace(**state)
            for m in msisdns
            if (state := pending.members.get((campaign_id, m))) is not None
        }
    rows = await session.execute(
        sa.select(MEMBER.c.msisdn, MEMBER.c.touches, MEMBER.c.last_at, MEMBER.c.arm, MEMBER.c.outcome).where(
            MEMBER.c.campaign_id == campaign_id, MEMBER.c.msisdn.in_(list(msisdns))
        )
    )
    return {row.msisdn: row for row in rows}


async def upsert_members(session: AsyncSession, members: Sequence[Mapping[str, Any]]) -> None:
    """Record customers met: new ones as given, known ones touched again (one statement)."""
    if not members:
        return
    pending = pending_writes(session)
    if pending is not None and pending.covers(members[0]["campaign_id"], [m["msisdn"] for m in members]):
        for member in members:
            pending.meet(member)
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(MEMBER)
    statement = statement.on_conflict_do_update(
        index_elements=[MEMBER.c.campaign_id, MEMBER.c.msisdn],
        set_={
            "touches": MEMBER.c.touches + 1,
            "last_at": statement.excluded.last_at,
            "outcome": statement.excluded.outcome,
            "reason": None,
        },
    )
    await session.execute(statement, list(members))


async def due_campaigns(session: AsyncSession, now: datetime) -> list[str]:
    """Return the live batch campaigns whose next run is due, oldest first."""
    rows = await session.execute(
        sa.select(col(Campaign.id))
        .where(col(Campaign.status) == "running", col(Campaign.next_run_at) <= now)
        .order_by(col(Campaign.next_run_at))
    )
    return list(rows.scalars())


LIVE_EVENT_CAMPAIGNS = "campaigns.live_event_campaigns"


async def all_live_event_campaigns(session: AsyncSession) -> list[Campaign]:
    """Return every running event-triggered campaign (read once per session, as below)."""
    cached: list[Campaign] | None = session.info.get(LIVE_EVENT_CAMPAIGNS)
    if cached is None:
        rows = await session.execute(
            select(Campaign).where(col(Campaign.status) == "running", col(Campaign.trigger_kind) == "event")
        )
        cached = session.info[LIVE_EVENT_CAMPAIGNS] = list(rows.scalars())
    return cached


async def live_event_campaigns(session: AsyncSession, subject: str) -> list[Campaign]:
    """Return the running campaigns an event of this subject triggers.

    Read once per session: a consumer applying a batch of events in one transaction asks for
    every event, and the answer cannot change within the transaction that reads it.
    """
    return [c for c in await all_live_event_campaigns(session) if c.trigger.get("subject") == subject]


async def subscriber_row(session: AsyncSession, msisdn: str) -> Any:
    """Return one subscriber's whole row (what segment predicates read), or None."""
    return (await session.execute(sa.select(SUBSCRIBER).where(SUBSCRIBER.c.msisdn == msisdn))).first()


async def member_by_ref(session: AsyncSession, campaign_id: str, customer_ref: str) -> Any:
    """Return a campaign's member by the customer's pseudonym (what contact events carry)."""
    return (
        await session.execute(
            sa.select(MEMBER.c.msisdn, MEMBER.c.arm, MEMBER.c.outcome, MEMBER.c.answered_at).where(
                MEMBER.c.campaign_id == campaign_id, MEMBER.c.customer_ref == customer_ref
            )
        )
    ).first()


async def set_member_outcome(
    session: AsyncSession, campaign_id: str, msisdn: str, outcome: str, reason: str | None
) -> None:
    """Record what became of a member's contact."""
    await session.execute(
        sa.update(MEMBER)
        .where(MEMBER.c.campaign_id == campaign_id, MEMBER.c.msisdn == msisdn)
        .values(outcome=outcome, reason=reason)
    )


# --- monitoring and evaluation --------------------------------------------------------------------


async def member_counts(session: AsyncSession, campaign_id: str) -> list[tuple[str, str, str | None, int]]:
    """Return (arm, outcome, reason, members) for a campaign."""
    rows = await session.execute(
        sa.select(MEMBER.c.arm, MEMBER.c.outcome, MEMBER.c.reason, sa.func.count())
        .where(MEMBER.c.campaign_id == campaign_id)
        .group_by(MEMBER.c.arm, MEMBER.c.outcome, MEMBER.c.reason)
    )
    return [(arm, outcome, reason, int(n)) for arm, outcome, reason, n in rows]


async def conversions(
    session: AsyncSession, campaign_id: str, kind: str, *, absent: bool, now: datetime
) -> dict[str, tuple[int, int]]:
    """Return (members, converted) per arm: members with an event of ``kind`` in their window
    (or, with ``absent``, members whose window has closed without one)."""
    in_window = sa.exists().where(
        EVENTS.c.msisdn == MEMBER.c.msisdn,
        EVENTS.c.kind == kind,
        EVENTS.c.at >= MEMBER.c.first_at,
        EVENTS.c.at <= MEMBER.c.conversion_until,
    )
    converted = sa.and_(MEMBER.c.conversion_until <= now, sa.not_(in_window)) if absent else in_window
    counted = MEMBER.c.conversion_until <= now if absent else sa.true()
    rows = await session.execute(
        sa.select(
            MEMBER.c.arm,
            sa.func.count().filter(counted),
            sa.func.count().filter(converted),
        )
        .where(MEMBER.c.campaign_id == campaign_id)
        .group_by(MEMBER.c.arm)
    )
    return {arm: (int(members), int(won)) for arm, members, won in rows}


async def campaign_start(session: AsyncSession, campaign_id: str) -> datetime | None:
    """Return when a campaign met its first customer (None before it met anyone)."""
    query = sa.select(sa.func.min(MEMBER.c.first_at)).where(MEMBER.c.campaign_id == campaign_id)
    value = (await session.execute(query)).scalar()
    return value if isinstance(value, datetime) else None


def _event_between(kinds: sa.ColumnElement[bool], low: Any, high: Any) -> sa.Exists:
    """Return whether the member has an event of these kinds at or after low and before high."""
    return sa.exists().where(
        EVENTS.c.msisdn == MEMBER.c.msisdn, kinds, EVENTS.c.at >= low, EVENTS.c.at < high
    )


async def complaint_shares(
    session: AsyncSession, campaign_id: str, start: datetime, window: timedelta, now: datetime
) -> dict[str, tuple[int, int, int]]:
    """Return (members, complained before, complained after) per arm: members with a complaint in
    the window before the campaign started, and in the window after it (up to now)."""
    complaint = EVENTS.c.kind.like("complaint.%")
    before = _event_between(complaint, start - window, start)
    after = _event_between(complaint, start, min(start + window, now))
    rows = await session.execute(
        sa.select(
            MEMBER.c.arm, sa.func.count(), sa.func.count().filter(before), sa.func.count().filter(after)
        )
        .where(MEMBER.c.campaign_id == campaign_id)
        .group_by(MEMBER.c.arm)
    )
    return {arm: (int(n), int(b), int(a)) for arm, n, b, a in rows}


async def departures(session: AsyncSession, campaign_id: str, kind: str) -> dict[str, tuple[int, int]]:
    """Return (members, left) per arm: members with a departure event since they were met."""
    left = sa.exists().where(
        EVENTS.c.msisdn == MEMBER.c.msisdn, EVENTS.c.kind == kind, EVENTS.c.at >= MEMBER.c.first_at
    )
    rows = await session.execute(
        sa.select(MEMBER.c.arm, sa.func.count(), sa.func.count().filter(left))
        .where(MEMBER.c.campaign_id == campaign_id)
        .group_by(MEMBER.c.arm)
    )
    return {arm: (int(n), int(gone)) for arm, n, gone in rows}


async def answers(session: AsyncSession, campaign_id: str) -> list[tuple[str, int]]:
    """Return each distinct answer the treatment arm gave the campaign, with how many gave it."""
    rows = await session.execute(
        sa.select(MEMBER.c.answer, sa.func.count())
        .where(MEMBER.c.campaign_id == campaign_id, MEMBER.c.arm == "treatment", MEMBER.c.answer.is_not(None))
        .group_by(MEMBER.c.answer)
    )
    return [(str(answer), int(n)) for answer, n in rows]


async def set_member_answer(
    session: AsyncSession, campaign_id: str, msisdn: str, answer: str, at: datetime
) -> None:
    """Keep a member's reply to the campaign."""
    await session.execute(
        MEMBER.update()
        .where(MEMBER.c.campaign_id == campaign_id, MEMBER.c.msisdn == msisdn)
        .values(answer=answer, answered_at=at)
    )


async def contact_frequency(session: AsyncSession) -> dict[int, int]:
    """Return how many customers campaigns contacted n times (treatment touches, all campaigns)."""
    per_customer = (
        sa.select(MEMBER.c.msisdn, sa.func.sum(MEMBER.c.touches).label("touches"))
        .where(MEMBER.c.arm == "treatment")
        .group_by(MEMBER.c.msisdn)
        .subquery()
    )
    rows = await session.execute(
        sa.select(per_customer.c.touches, sa.func.count()).group_by(per_customer.c.touches)
    )
    return {int(touches): int(n) for touches, n in rows}


# --- the audience, kept from feeds ----------------------------------------------------------------


def _insert(session: AsyncSession, table: sa.Table) -> Any:
    """Return an INSERT that can take ON CONFLICT DO UPDATE on the session's database."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def subscriber_for_update(session: AsyncSession, msisdn: str) -> Subscriber | None:
    """Return one subscriber, locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    locked = locked_subscriber(session, msisdn)
    if locked is not None:
        return locked
    return await session.get(Subscriber, msisdn, with_for_update=True)


LOCKED_SUBSCRIBERS = "campaigns.locked_subscribers"


async def lock_subscribers(session: AsyncSession, msisdns: Sequence[str]) -> None:
    """Read and lock, in one query, the subscribers a batch of feed events is about (in number order,
    so two replicas locking overlapping batches cannot deadlock); later look-ups in the same
    transaction take them from here."""
    if not msisdns:
        return
    query = select(Subscriber).where(col(Subscriber.msisdn).in_(sorted(set(msisdns))))
    found = (await session.scalars(query.order_by(col(Subscriber.msisdn)).with_for_update())).all()
    locked: dict[str, Subscriber] = session.info.setdefault(LOCKED_SUBSCRIBERS, {})
    locked.update((subscriber.msisdn, subscriber) for subscriber in found)


async def write_locked_subscribers(session: AsyncSession) -> int:
    """Write what the transaction changed in the subscribers it locked, one executemany UPDATE per
    set of changed columns, and take them out of the unit of work (which would write them one
    UPDATE each); return how many were written. For the end of a batch: the objects are detached."""
    locked: dict[str, Subscriber] = session.info.get(LOCKED_SUBSCRIBERS, {})
    changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    written = []
    for subscriber in locked.values():
        state = sa.inspect(subscriber)
        if state.detached or not state.modified or subscriber in session.deleted:
            continue
        keys = tuple(sorted(state.committed_state))
        row = {_COLUMN_OF_ATTRIBUTE[key]: state.dict[key] for key in keys}
        row["_msisdn"] = subscriber.msisdn
        changes.setdefault(keys, []).append(row)
        written.append(subscriber)
    if not written:
        return 0
    connection = await session.connection()
    for rows in changes.values():
        await connection.execute(SUBSCRIBER.update().where(SUBSCRIBER.c.msisdn == bindparam("_msisdn")), rows)
    for subscriber in written:
        session.expunge(subscriber)
    return len(written)


def locked_subscriber(session: AsyncSession, msisdn: str) -> Subscriber | None:
    """Return a subscriber this transaction already read and locked, or None (not read: ask)."""
    locked: dict[str, Subscriber] = session.info.get(LOCKED_SUBSCRIBERS, {})
    return locked.get(msisdn)


SUBSCRIBER_ATTRIBUTES = tuple(
    (attr.key, attr.columns[0].name) for attr in sa.inspect(Subscriber).column_attrs
)
_ATTRIBUTE_OF_COLUMN = {column: key for key, column in SUBSCRIBER_ATTRIBUTES}
_COLUMN_OF_ATTRIBUTE = dict(SUBSCRIBER_ATTRIBUTES)


class Profile(Mapping[str, Any]):
    """A subscriber's columns by name, read from the object in memory when asked: a trigger's
    predicate reads a few of the profile's fifty-odd columns, once per feed event."""

    def __init__(self, subscriber: Subscriber) -> None:
        self._subscriber = subscriber

    def __getitem__(self, column: str) -> Any:
        return getattr(self._subscriber, _ATTRIBUTE_OF_COLUMN[column])

    def __iter__(self) -> Iterator[str]:
        return iter(_ATTRIBUTE_OF_COLUMN)

    def __len__(self) -> int:
        return len(_ATTRIBUTE_OF_COLUMN)


def profile_of(subscriber: Subscriber) -> Mapping[str, Any]:
    """Return a subscriber's columns as segment predicates read them, from the object in memory."""
    return Profile(subscriber)


async def add_subscriber_event(
    session: AsyncSession, msisdn: str, kind: str, at: datetime, detail: dict[str, object]
) -> None:
    """Record a past event of a subscriber (at the batch's end when the transaction collects writes)."""
    pending = pending_writes(session)
    if pending is not None:
        pending.events.append({"msisdn": msisdn, "kind": kind, "at": at, "detail": detail})
        return
    await session.execute(SUBSCRIBER_EVENT.insert().values(msisdn=msisdn, kind=kind, at=at, detail=detail))


@dataclass
class PendingWrites:
    """Rows a batch of feed events collects and writes at its end in a few statements, instead of a
    statement or more per event (the same transaction either way)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    due: dict[str, datetime] = field(default_factory=dict)
    calls: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # [calls, seconds, last_at]
    # The live triggered campaigns' members among the batch's subscribers, read once at its start
    # and kept here as the batch meets them; those it met are written at its end.
    member_campaigns: frozenset[str] = frozenset()
    member_numbers: frozenset[str] = frozenset()
    members: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    met: set[tuple[str, str]] = field(default_factory=set)
    # The stored past events of the batch's subscribers that its triggers can ask about (these
    # kinds, since then), read once at its start, newest first per number.
    recent: dict[str, list[Any]] = field(default_factory=dict)
    recent_numbers: frozenset[str] = frozenset()
    recent_kinds: frozenset[str] = frozenset()
    recent_since: datetime | None = None

    def recent_covers(self, msisdn: str, kinds: Sequence[str], since: datetime | None) -> bool:
        """Say whether the events read at the start answer this question about this customer."""
        return (
            self.recent_since is not None
            and msisdn in self.recent_numbers
            and bool(kinds)
            and self.recent_kinds.issuperset(kinds)
            and since is not None
            and since >= self.recent_since
        )

    def covers(self, campaign_id: str, msisdns: Sequence[str]) -> bool:
        """Say whether the members of this campaign among these numbers were read at the start."""
        return campaign_id in self.member_campaigns and all(m in self.member_numbers for m in msisdns)

    def meet(self, member: Mapping[str, Any]) -> None:
        """Record meeting a customer as upsert_members would: new as given, known touched again."""
        key = (str(member["campaign_id"]), str(member["msisdn"]))
        known = self.members.get(key)
        if known is None:
            self.members[key] = dict(member)
        else:
            known.update(
                touches=known["touches"] + 1,
                last_at=member["last_at"],
                outcome=member["outcome"],
                reason=None,
            )
        self.met.add(key)


async def read_members(session: AsyncSession, campaign_ids: Sequence[str], msisdns: Sequence[str]) -> None:
    """Read the members of these campaigns among these numbers into the batch's pending writes."""
    pending = pending_writes(session)
    if pending is None or not campaign_ids or not msisdns:
        return
    numbers = sorted(set(msisdns))
    rows = await session.execute(
        sa.select(MEMBER).where(MEMBER.c.campaign_id.in_(list(campaign_ids)), MEMBER.c.msisdn.in_(numbers))
    )
    pending.members.update(((row.campaign_id, row.msisdn), dict(row._mapping)) for row in rows)
    pending.member_campaigns = frozenset(campaign_ids)
    pending.member_numbers = frozenset(numbers)


async def read_recent_events(
    session: AsyncSession, msisdns: Sequence[str], kinds: Sequence[str], since: datetime
) -> None:
    """Read the past events of these kinds since then of these numbers, in one query, into the
    batch's pending writes (``recent_events`` answers from them): one query per batch, not per event."""
    pending = pending_writes(session)
    if pending is None or not msisdns or not kinds:
        return
    numbers = sorted(set(msisdns))
    query = (
        sa.select(EVENTS.c.msisdn, EVENTS.c.kind, EVENTS.c.at)
        .where(EVENTS.c.msisdn.in_(numbers), EVENTS.c.kind.in_(list(kinds)), EVENTS.c.at >= since)
        .order_by(EVENTS.c.msisdn, EVENTS.c.at.desc(), EVENTS.c.id.desc())
    )
    recent: dict[str, list[Any]] = {}
    for row in await session.execute(query):
        recent.setdefault(row.msisdn, []).append(row)
    pending.recent = recent
    pending.recent_kinds = frozenset(kinds)
    pending.recent_numbers = frozenset(numbers)
    pending.recent_since = since


async def _write_members(session: AsyncSession, pending: PendingWrites) -> None:
    """Write the members the batch met, as they stand at its end."""
    if not pending.met:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(MEMBER)
    statement = statement.on_conflict_do_update(
        index_elements=[MEMBER.c.campaign_id, MEMBER.c.msisdn],
        set_={
            "touches": statement.excluded.touches,
            "last_at": statement.excluded.last_at,
            "outcome": statement.excluded.outcome,
            "reason": statement.excluded.reason,
        },
    )
    # One executemany needs one shape: members read back carry every column, new ones only theirs.
    rows = [pending.members[key] for key in sorted(pending.met)]
    await session.execute(statement, [{c.name: row.get(c.name) for c in MEMBER.columns} for row in rows])


PENDING_WRITES = "campaigns.pending_writes"


def collect_writes(session: AsyncSession) -> None:
    """Make this transaction collect its past events and model marks until ``write_collected``."""
    session.info[PENDING_WRITES] = PendingWrites()


def pending_writes(session: AsyncSession) -> PendingWrites | None:
    """Return the writes this transaction collects, or None when it writes at once."""
    pending: PendingWrites | None = session.info.get(PENDING_WRITES)
    return pending


async def write_collected(session: AsyncSession) -> PendingWrites | None:
    """Write what the transaction collected (and stop collecting); return it."""
    pending: PendingWrites | None = session.info.pop(PENDING_WRITES, None)
    if pending is None:
        return None
    if pending.events:
        await session.execute(SUBSCRIBER_EVENT.insert(), pending.events)
    if pending.due:
        await mark_models_due(session, list(pending.due), min(pending.due.values()))
    await _write_members(session, pending)
    return pending


async def recent_events(
    session: AsyncSession,
    msisdn: str,
    limit: int,
    *,
    kinds: Sequence[str] = (),
    since: datetime | None = None,
) -> list[Any]:
    """Return a subscriber's latest past events (kind, at, detail), newest first, with those the
    transaction has collected but not written yet; only of ``kinds`` since ``since`` when given
    (what a trigger's conditions can ask about: fewer rows, no details to decode)."""
    pending = pending_writes(session)
    if pending is not None and pending.recent_covers(msisdn, kinds, since):
        wanted = set(kinds)
        read = pending.recent.get(msisdn, [])
        stored: list[Any] = [e for e in read if e.kind in wanted and e.at >= cast(datetime, since)][:limit]
    else:
        stored = await _stored_events(session, msisdn, limit, kinds=kinds, since=since)
    if pending is None or not pending.events:
        return stored
    mine = [PastEvent(e["kind"], e["at"], e["detail"]) for e in pending.events if e["msisdn"] == msisdn]
    return sorted(mine[::-1] + stored, key=lambda e: e.at, reverse=True)[:limit]


async def _stored_events(
    session: AsyncSession, msisdn: str, limit: int, *, kinds: Sequence[str], since: datetime | None
) -> list[Any]:
    """Return a subscriber's latest stored past events, newest first (see ``recent_events``)."""
    columns = (EVENTS.c.kind, EVENTS.c.at) if kinds else (EVENTS.c.kind, EVENTS.c.at, EVENTS.c.detail)
    query = sa.select(*columns).where(EVENTS.c.msisdn == msisdn)
    if kinds:
        query = query.where(EVENTS.c.kind.in_(list(kinds)))
    if since is not None:
        query = query.where(EVENTS.c.at >= since)
    query = query.order_by(EVENTS.c.at.desc(), EVENTS.c.id.desc()).limit(limit)
    return list((await session.execute(query)).all())


@dataclass(frozen=True)
class PastEvent:
    """A past event not written yet, read like a stored one."""

    kind: str
    at: datetime
    detail: dict[str, object]


# --- what the network feeds leave for major-event care ------------------------------------------


def add_place_seen(
    session: AsyncSession, msisdn: str, cell: str, lat: float, lng: float, *, roaming: bool, at: datetime
) -> None:
    """Stage a place a subscriber was seen at as a plain row."""
    # Appended by the thousand a second from the network feed: a plain row, written at the flush.
    stage_insert(
        session,
        PLACE_SEEN,
        {"msisdn": msisdn, "cell": cell, "lat": lat, "lng": lng, "roaming": roaming, "at": at},
    )


async def write_calls(session: AsyncSession, calls: dict[tuple[str, str], list[Any]]) -> None:
    """Add counted calls (calls, seconds, latest start per pair of numbers) to the call contacts."""
    if not calls:
        return
    table = CALL_CONTACT
    statement = _insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.msisdn, table.c.counterpart],
        set_={
            "calls": table.c.calls + statement.excluded.calls,
            "seconds": table.c.seconds + statement.excluded.seconds,
            "last_at": sa.case(
                (table.c.last_at < statement.excluded.last_at, statement.excluded.last_at),
                else_=table.c.last_at,
            ),
        },
    )
    rows = [
        {"msisdn": msisdn, "counterpart": counterpart, "calls": n, "seconds": seconds, "last_at": last}
        for (msisdn, counterpart), (n, seconds, last) in sorted(calls.items())
    ]
    await session.execute(statement, rows)


async def prune_places(session: AsyncSession, before: datetime) -> int:
    """Delete places seen before an instant; return how many."""
    result = await session.execute(sa.delete(PLACE_SEEN).where(PLACE_SEEN.c.at < before))
    return int(getattr(result, "rowcount", 0) or 0)


async def prune_calls(session: AsyncSession, before: datetime) -> int:
    """Delete the call counts of pairs of numbers that last spoke before an instant; return how many.

    Closest contacts are the people someone calls now: a pair silent for months is no longer one,
    and the counts would otherwise grow with every number anyone ever dialled.
    """
    result = await session.execute(sa.delete(CALL_CONTACT).where(CALL_CONTACT.c.last_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_models_due(session: AsyncSession, msisdns: Sequence[str], now: datetime) -> None:
    """Mark subscribers whose model inputs changed; a mark already there gets a new version."""
    if not msisdns:
        return
    pending = pending_writes(session)
    if pending is not None:
        for msisdn in msisdns:
            pending.due.setdefault(msisdn, now)
        return
    statement = _insert(session, MODEL_DUE)
    statement = statement.on_conflict_do_update(
        index_elements=[MODEL_DUE.c.msisdn], set_={"version": MODEL_DUE.c.version + 1}
    )
    await session.execute(statement, [{"msisdn": m, "version": 1, "since": now} for m in msisdns])


async def models_due(session: AsyncSession, limit: int) -> list[tuple[str, int]]:
    """Return up to ``limit`` marked subscribers with their mark's version, oldest marks first."""
    c = MODEL_DUE.c
    result = await session.execute(sa.select(c.msisdn, c.version).order_by(c.since, c.msisdn).limit(limit))
    return [(row[0], row[1]) for row in result.all()]


async def clear_models_due(session: AsyncSession, seen: Sequence[tuple[str, int]]) -> None:
    """Remove the marks a recompute has seen; a mark changed since keeps its subscriber due."""
    if not seen:
        return
    c = MODEL_DUE.c
    statement = MODEL_DUE.delete().where(c.msisdn == bindparam("key"), c.version == bindparam("seen"))
    connection = await session.connection()
    await connection.execute(statement, [{"key": msisdn, "seen": version} for msisdn, version in seen])


# --- bulk import ----------------------------------------------------------------------------------


async def upsert_subscribers(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]], update_columns: Sequence[str]
) -> None:
    """Insert subscribers, or update ``update_columns`` of those that exist, in one executemany."""
    if not rows:
        return
    statement = _insert(session, SUBSCRIBER)
    statement = statement.on_conflict_do_update(
        index_elements=[SUBSCRIBER.c.msisdn],
        set_={name: statement.excluded[name] for name in update_columns},
    )
    connection = await session.connection()
    await connection.execute(statement, list(rows))


async def get_import_job(session: AsyncSession, job_id: str) -> ImportJob | None:
    """Return one import job."""
    return await session.get(ImportJob, job_id)


async def update_import_job(session: AsyncSession, job_id: str, values: Mapping[str, Any]) -> None:
    """Set columns of an import job."""
    await session.execute(sa.update(ImportJob).where(col(ImportJob.id) == job_id).values(**values))


async def import_jobs_with_status(session: AsyncSession, status: str) -> list[ImportJob]:
    """Return the import jobs in a status."""
    return list(await session.scalars(select(ImportJob).where(col(ImportJob.status) == status)))


async def msisdn_by_ref(session: AsyncSession, customer_ref: str) -> str | None:
    """Return the number of the subscriber with this pseudonym (what other services name them by)."""
    query = sa.select(SUBSCRIBER.c.msisdn).where(SUBSCRIBER.c.customer_ref == customer_ref).limit(1)
    value = (await session.execute(query)).scalar()
    return None if value is None else str(value)


async def events_of_kind(session: AsyncSession, kind: str, since: datetime) -> Rows:
    """Return (msisdn, detail) of every subscriber event of a kind since a moment."""
    query = sa.select(EVENTS.c.msisdn, EVENTS.c.detail).where(EVENTS.c.kind == kind, EVENTS.c.at >= since)
    return cast(Rows, (await session.execute(query)).all())


# --- the cell-site registry -----------------------------------------------------------------------


async def upsert_cell_sites(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert cell sites, or replace the position, H3 cell, name and time of those that exist."""
    if not rows:
        return
    statement = _insert(session, NETWORK_CELL_SITE)
    statement = statement.on_conflict_do_update(
        index_elements=[NETWORK_CELL_SITE.c.cell_id],
        set_={name: statement.excluded[name] for name in ("lat", "lng", "cell", "name", "updated_at")},
    )
    connection = await session.connection()
    await connection.execute(statement, list(rows))


async def get_cell_site(session: AsyncSession, cell_id: str) -> NetworkCellSite | None:
    """Return one cell site."""
    return await session.get(NetworkCellSite, cell_id)


async def cell_sites_page(
    session: AsyncSession, limit: int, offset: int
) -> tuple[list[NetworkCellSite], int]:
    """Return a page of cell sites by id, and how many there are."""
    rows = await session.scalars(
        select(NetworkCellSite).order_by(col(NetworkCellSite.cell_id)).limit(limit).offset(offset)
    )
    total = await session.scalar(sa.select(sa.func.count()).select_from(NetworkCellSite))
    return list(rows), int(total or 0)


async def read_site_cells(session: AsyncSession, cell_ids: Sequence[str]) -> None:
    """Resolve a feed batch's network cell ids in one read, for ``site_cell`` (unknown ones too)."""
    found = await cells_of_sites(session, cell_ids)
    session.info[SITE_CELLS] = {cell_id: found.get(cell_id) for cell_id in cell_ids}


async def site_cell(session: AsyncSession, cell_id: str) -> str | None:
    """Return the H3 cell of a network cell id (None: not in the registry), from the batch's read if any."""
    known: dict[str, str | None] = session.info.setdefault(SITE_CELLS, {})
    if cell_id not in known:  # an event applied alone: read once, for the audience and incidents both
        known[cell_id] = (await cells_of_sites(session, [cell_id])).get(cell_id)
    return known[cell_id]


SITE_CELLS = "site_cells"


async def cells_of_sites(session: AsyncSession, cell_ids: Sequence[str]) -> dict[str, str]:
    """Return the H3 cell of each known cell id (unknown ids are left out), a chunk per query."""
    unique = sorted(set(cell_ids))
    found: dict[str, str] = {}
    for start in range(0, len(unique), IN_LIST_MAX):
        chunk = unique[start : start + IN_LIST_MAX]
        rows = await session.execute(
            sa.select(NETWORK_CELL_SITE.c.cell_id, NETWORK_CELL_SITE.c.cell).where(
                NETWORK_CELL_SITE.c.cell_id.in_(chunk)
            )
        )
        found.update({str(cell_id): str(cell) for cell_id, cell in rows.all()})
    return found


# --- major-event care: incidents ------------------------------------------------------------------


async def get_incident(
    session: AsyncSession, incident_id: str, *, for_update: bool = False
) -> Incident | None:
    """Return one incident (locked until the transaction ends with ``for_update``)."""
    return await session.get(Incident, incident_id, with_for_update=for_update)


async def incidents_with_status(session: AsyncSession, status: str) -> list[Incident]:
    """Return the incidents in a status."""
    return list((await session.scalars(sa.select(Incident).where(col(Incident.status) == status))).all())


async def incidents_page(
    session: AsyncSession, *, status: str | None, limit: int, offset: int
) -> tuple[list[Incident], int]:
    """Return a page of incidents (all, or those in a status), newest first, and the total."""
    where = [col(Incident.status) == status] if status is not None else []
    total = await session.scalar(sa.select(sa.func.count()).select_from(Incident).where(*where))
    rows = await session.scalars(
        sa.select(Incident)
        .where(*where)
        .order_by(col(Incident.created_at).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), int(total or 0)


async def stop_incident_rounds(session: AsyncSession, incident_id: str) -> None:
    """Cancel every planned next round of an incident's people."""
    await session.execute(
        sa.update(IncidentPerson)
        .where(col(IncidentPerson.incident_id) == incident_id)
        .values(next_round_at=None)
    )


async def places_in_box(
    session: AsyncSession, incident: Incident, until: datetime
) -> Sequence[Row[str, str, bool, datetime]]:
    """Return (msisdn, cell, roaming, at) of every place seen up to ``until`` in an incident's
    bounding box, by number then time."""
    in_box = (
        sa.select(col(PlaceSeen.msisdn), col(PlaceSeen.cell), col(PlaceSeen.roaming), col(PlaceSeen.at))
        .where(
            col(PlaceSeen.at) <= until,
            col(PlaceSeen.lat).between(incident.min_lat, incident.max_lat),
            col(PlaceSeen.lng).between(incident.min_lng, incident.max_lng),
        )
        .order_by(col(PlaceSeen.msisdn), col(PlaceSeen.at))
    )
    return (await session.execute(in_box)).all()


async def last_seen_before(
    session: AsyncSession, msisdns: Sequence[str], before: datetime
) -> Sequence[Row[str, datetime]]:
    """Return (msisdn, at) of the latest place each of these numbers was seen at before an instant."""
    last = await session.execute(
        sa.select(col(PlaceSeen.msisdn), sa.func.max(col(PlaceSeen.at)))
        .where(col(PlaceSeen.msisdn).in_(msisdns), col(PlaceSeen.at) < before)
        .group_by(col(PlaceSeen.msisdn))
    )
    return last.all()


async def closest_contacts(session: AsyncSession, msisdn: str, limit: int) -> list[str]:
    """Return a subscriber's closest contacts: most calls either way, then most seconds, then latest."""
    outgoing: Any = sa.select(
        col(CallContact.counterpart).label("party"),
        col(CallContact.calls),
        col(CallContact.seconds),
        col(CallContact.last_at),
    ).where(col(CallContact.msisdn) == msisdn)
    incoming: Any = sa.select(
        col(CallContact.msisdn).label("party"),
        col(CallContact.calls),
        col(CallContact.seconds),
        col(CallContact.last_at),
    ).where(col(CallContact.counterpart) == msisdn)
    both = sa.union_all(outgoing, incoming).subquery()
    ranked = (
        sa.select(both.c.party)
        .group_by(both.c.party)
        .order_by(
            sa.func.sum(both.c.calls).desc(),
            sa.func.sum(both.c.seconds).desc(),
            sa.func.max(both.c.last_at).desc(),
            both.c.party,
        )
        .limit(limit)
    )
    return [str(party) for party in (await session.scalars(ranked)).all()]


async def subscribers_by_msisdn(session: AsyncSession, msisdns: Sequence[str]) -> dict[str, Subscriber]:
    """Return the subscribers among these numbers, by number."""
    if not msisdns:
        return {}
    rows = await session.scalars(sa.select(Subscriber).where(col(Subscriber.msisdn).in_(msisdns)))
    return {row.msisdn: row for row in rows.all()}


async def incident_people_among(
    session: AsyncSession, incident_id: str, msisdns: Sequence[str]
) -> dict[str, IncidentPerson]:
    """Return an incident's people among these numbers, by number."""
    if not msisdns:
        return {}
    query = sa.select(IncidentPerson).where(
        col(IncidentPerson.incident_id) == incident_id, col(IncidentPerson.msisdn).in_(msisdns)
    )
    return {person.msisdn: person for person in (await session.scalars(query)).all()}


async def incident_person_for_update(
    session: AsyncSession, incident_id: str, msisdn: str
) -> IncidentPerson | None:
    """Return one of an incident's people, locked until the transaction ends."""
    return await session.get(IncidentPerson, (incident_id, msisdn), with_for_update=True)


async def incident_person_by_ref_for_update(
    session: AsyncSession, incident_id: str, customer_ref: str
) -> IncidentPerson | None:
    """Return one of an incident's people by pseudonym (what call results carry), locked."""
    return await session.scalar(
        sa.select(IncidentPerson)
        .where(
            col(IncidentPerson.incident_id) == incident_id, col(IncidentPerson.customer_ref) == customer_ref
        )
        .with_for_update()
    )


async def due_incident_rounds(
    session: AsyncSession, now: datetime, *, status: str, limit: int
) -> Sequence[Row[IncidentPerson, Incident]]:
    """Return up to ``limit`` (person, incident) whose next round is due, in incidents of a status,
    soonest first, each person locked."""
    return (
        await session.execute(
            sa.select(IncidentPerson, Incident)
            .join(Incident, col(Incident.id) == col(IncidentPerson.incident_id))
            .where(col(Incident.status) == status, col(IncidentPerson.next_round_at) <= now)
            .order_by(col(IncidentPerson.next_round_at))
            .limit(limit)
            .with_for_update(of=IncidentPerson, skip_locked=True)
        )
    ).all()


async def incident_call(
    session: AsyncSession, incident_id: str, msisdn: str, round_: int
) -> IncidentCall | None:
    """Return the call of one round to one of an incident's people."""
    return await session.scalar(
        sa.select(IncidentCall)
        .where(
            col(IncidentCall.incident_id) == incident_id,
            col(IncidentCall.msisdn) == msisdn,
            col(IncidentCall.round) == round_,
        )
        .limit(1)
    )


async def incident_people_page(
    session: AsyncSession,
    incident_id: str,
    *,
    outcome: str | None,
    role: str | None,
    limit: int,
    offset: int,
) -> tuple[list[IncidentPerson], int]:
    """Return a page of an incident's people (of an outcome and role when given) by role then
    number, and the total."""
    where = [col(IncidentPerson.incident_id) == incident_id]
    if outcome is not None:
        where.append(col(IncidentPerson.outcome) == outcome)
    if role is not None:
        where.append(col(IncidentPerson.role) == role)
    total = await session.scalar(sa.select(sa.func.count()).select_from(IncidentPerson).where(*where))
    rows = await session.scalars(
        sa.select(IncidentPerson)
        .where(*where)
        .order_by(col(IncidentPerson.role), col(IncidentPerson.msisdn))
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), int(total or 0)


async def incident_outcome_counts(session: AsyncSession, incident_id: str) -> dict[str, int]:
    """Return how many of an incident's people are at each outcome."""
    rows = await session.execute(
        sa.select(col(IncidentPerson.outcome), sa.func.count())
        .where(col(IncidentPerson.incident_id) == incident_id)
        .group_by(col(IncidentPerson.outcome))
    )
    return {str(outcome): int(n) for outcome, n in rows.all()}


async def all_incident_people(session: AsyncSession, incident_id: str) -> Sequence[IncidentPerson]:
    """Return every one of an incident's people."""
    return (
        await session.scalars(sa.select(IncidentPerson).where(col(IncidentPerson.incident_id) == incident_id))
    ).all()


async def incident_call_times(session: AsyncSession, incident_id: str) -> Sequence[datetime]:
    """Return when each of an incident's calls was placed."""
    return (
        await session.scalars(
            sa.select(col(IncidentCall.placed_at)).where(col(IncidentCall.incident_id) == incident_id)
        )
    ).all()

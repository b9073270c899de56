"""Every query of the complaints service lives here."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Table, case, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from careloop_common.db import stage_insert
from complaints.clocks import OPEN
from complaints.models import Complaint, HistoryEntry, RevisitAnswer


async def add(session: AsyncSession, complaint: Complaint) -> Complaint:
    """Stage a new complaint and flush it so constraint errors surface now."""
    session.add(complaint)
    await session.flush()
    return complaint


def _locked(query: Any, session: AsyncSession, *, skip: bool = False) -> Any:
    """Lock the rows a change reads first, where the database can (PostgreSQL).

    ``skip``: replicas claiming due work take disjoint rows instead of waiting for each other.
    SQLite has one writer at a time, which serialises the same work without a lock clause.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=skip)
    return query


def add_history(
    session: AsyncSession,
    complaint_id: str,
    *,
    at: datetime,
    actor: str,
    kind: str,
    from_value: str | None = None,
    to_value: str | None = None,
    reason: str | None = None,
    customer_visible: bool = False,
) -> None:
    """Stage one history step as a plain row (append-only, several per change: no ORM object)."""
    stage_insert(
        session,
        HISTORY_TABLE,
        {
            "complaint_id": complaint_id,
            "at": at,
            "actor": actor,
            "kind": kind,
            "from_value": from_value,
            "to_value": to_value,
            "reason": reason,
            "customer_visible": customer_visible,
        },
    )


HISTORY_TABLE: Table = HistoryEntry.__table__  # type: ignore[attr-defined]


async def get(
    session: AsyncSession, complaint_id: str, partner_id: str | None, *, for_update: bool = False
) -> Complaint | None:
    """Return one complaint, only if it belongs to the partner (when a partner asks).

    ``for_update`` locks it for a change, so a change and the scheduler never overwrite each other.
    """
    query = select(Complaint).where(col(Complaint.id) == complaint_id)
    if for_update:
        query = _locked(query, session)
    complaint = (await session.scalars(query)).first()
    if complaint is None or (partner_id is not None and complaint.partner_id != partner_id):
        return None
    return complaint


async def by_tracking_hash(session: AsyncSession, token_hash: str) -> Complaint | None:
    """Return the one complaint a tracking token names."""
    rows = await session.scalars(select(Complaint).where(col(Complaint.tracking_token_hash) == token_hash))
    return rows.first()


async def page(
    session: AsyncSession, partner_id: str | None, limit: int, offset: int, msisdn: str | None = None
) -> tuple[list[Complaint], int]:
    """Return complaints newest first, filtered to the partner's own and to one customer's number."""
    conditions: list[ColumnElement[bool]] = []
    if partner_id is not None:
        conditions.append(col(Complaint.partner_id) == partner_id)
    if msisdn is not None:
        conditions.append(col(Complaint.msisdn) == msisdn)
    query = select(Complaint).where(*conditions)
    count = select(func.count()).select_from(Complaint).where(*conditions)
    rows = await session.scalars(
        query.order_by(col(Complaint.created_at).desc(), col(Complaint.id)).limit(limit).offset(offset)
    )
    return list(rows), int(await session.scalar(count) or 0)


# --- TMF621 trouble tickets (complaints.tmf621) ----------------------------------------------------


@dataclass(frozen=True)
class TicketFilter:
    """What a TMF621 ticket list is narrowed to: the partner's own, a status, a severity, date ranges."""

    partner_id: str | None = None
    status: str | None = None
    severity: str | None = None
    created_gt: datetime | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    created_lte: datetime | None = None
    updated_gt: datetime | None = None
    updated_lt: datetime | None = None


# The columns a ticket list may be sorted by (TMF attribute name → column).
TICKET_SORTS = {"creationDate": col(Complaint.created_at), "lastUpdate": col(Complaint.updated_at)}


def _ticket_conditions(where: TicketFilter) -> list[ColumnElement[bool]]:
    """Return the SQL conditions a ticket filter stands for."""
    conditions: list[ColumnElement[bool]] = []
    if where.partner_id is not None:
        conditions.append(col(Complaint.partner_id) == where.partner_id)
    if where.status is not None:
        conditions.append(col(Complaint.status) == where.status)
    if where.severity is not None:
        conditions.append(_latest_value(HISTORY_SEVERITY) == where.severity)
    created, updated = col(Complaint.created_at), col(Complaint.updated_at)
    bounds = [
        (where.created_gt, created.__gt__),
        (where.created_gte, created.__ge__),
        (where.created_lt, created.__lt__),
        (where.created_lte, created.__le__),
        (where.updated_gt, updated.__gt__),
        (where.updated_lt, updated.__lt__),
    ]
    conditions.extend(compare(bound) for bound, compare in bounds if bound is not None)
    return conditions


HISTORY_SEVERITY = "severity"


def _latest_value(kind: str) -> ScalarSelect[str | None]:
    """The ``to_value`` of a complaint's latest history entry of one kind (a correlated subquery)."""
    latest = (
        select(func.max(col(HistoryEntry.id)))
        .where(col(HistoryEntry.complaint_id) == col(Complaint.id), col(HistoryEntry.kind) == kind)
        .correlate(Complaint)
        .scalar_subquery()
    )
    return select(col(HistoryEntry.to_value)).where(col(HistoryEntry.id) == latest).scalar_subquery()


async def ticket_page(
    session: AsyncSession, where: TicketFilter, *, sort: str, limit: int, offset: int
) -> tuple[list[Complaint], int]:
    """Return one page of complaints matching a TMF621 filter, sorted (``-``: descending), and the total."""
    conditions = _ticket_conditions(where)
    column = TICKET_SORTS[sort.removeprefix("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = await session.scalars(
        select(Complaint).where(*conditions).order_by(order, col(Complaint.id)).limit(limit).offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(Complaint).where(*conditions))
    return list(rows), int(total or 0)


async def get_for_update(
    session: AsyncSession, complaint_id: str, partner_id: str | None
) -> Complaint | None:
    """Return one complaint locked for this transaction (PostgreSQL), only if the partner may see it."""
    complaint = (
        await session.scalars(
            select(Complaint)
            .where(col(Complaint.id) == complaint_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if complaint is None or (partner_id is not None and complaint.partner_id != partner_id):
        return None
    return complaint


async def history_of(
    session: AsyncSession, complaint_ids: Sequence[str], kinds: Collection[str]
) -> dict[str, list[HistoryEntry]]:
    """Return the history entries of some kinds for each complaint, oldest first."""
    found: dict[str, list[HistoryEntry]] = {complaint_id: [] for complaint_id in complaint_ids}
    if not complaint_ids:
        return found
    rows = await session.scalars(
        select(HistoryEntry)
        .where(col(HistoryEntry.complaint_id).in_(complaint_ids), col(HistoryEntry.kind).in_(kinds))
        .order_by(col(HistoryEntry.at), col(HistoryEntry.id))
    )
    for entry in rows:
        found[entry.complaint_id].append(entry)
    return found


# Green channel first: urgent, then high (VIP, gold), then the rest.
_PRIORITY_RANK = case({"urgent": 0, "high": 1}, value=col(Complaint.priority), else_=2)


def _nearest_deadline() -> Any:
    """The earliest of a complaint's running deadlines (NULL while every clock is paused).

    Spelled as CASE, not LEAST/MIN: SQLite's scalar min() is NULL when any argument is.
    """
    first, update, resolution = (
        col(Complaint.first_response_due),
        col(Complaint.next_update_due),
        col(Complaint.resolution_due),
    )

    return case(
        (
            first.is_not(None)
            & (update.is_(None) | (first <= update))
            & (resolution.is_(None) | (first <= resolution)),
            first,
        ),
        (update.is_not(None) & (resolution.is_(None) | (update <= resolution)), update),
        else_=resolution,
    )


async def queue_page(
    session: AsyncSession,
    *,
    partner_id: str | None,
    queue: str | None,
    owner: str | None,
    escalated: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[Complaint], int]:
    """Return open complaints, green channel first, then by the nearest deadline (paused ones last)."""
    conditions: list[ColumnElement[bool]] = [col(Complaint.status).in_(sorted(OPEN))]
    if partner_id is not None:
        conditions.append(col(Complaint.partner_id) == partner_id)
    if queue is not None:
        conditions.append(col(Complaint.queue) == queue)
    if owner is not None:
        conditions.append(col(Complaint.owner) == owner)
    if escalated is not None:
        conditions.append(col(Complaint.escalated) == escalated)
    nearest = _nearest_deadline()
    query = (
        select(Complaint)
        .where(*conditions)
        .order_by(_PRIORITY_RANK, nearest.is_(None), nearest, col(Complaint.created_at), col(Complaint.id))
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(Complaint).where(*conditions)
    return list(await session.scalars(query)), int(await session.scalar(count) or 0)


async def history(
    session: AsyncSession, complaint_id: str, *, customer_only: bool, limit: int, offset: int
) -> tuple[list[HistoryEntry], int]:
    """Return a complaint's history oldest first (only what its customer may see, if asked)."""
    conditions: list[ColumnElement[bool]] = [col(HistoryEntry.complaint_id) == complaint_id]
    if customer_only:
        conditions.append(col(HistoryEntry.customer_visible).is_(True))
    query = (
        select(HistoryEntry)
        .where(*conditions)
        .order_by(col(HistoryEntry.at), col(HistoryEntry.id))
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(HistoryEntry).where(*conditions)
    return list(await session.scalars(query)), int(await session.scalar(count) or 0)


async def open_follow_ups_in_area(session: AsyncSession, area_id: str) -> Sequence[Complaint]:
    """Return (locked) the open complaints of an area that wait for engineering's answer."""
    query = select(Complaint).where(
        col(Complaint.area_id) == area_id,
        col(Complaint.status).in_(sorted(OPEN)),
        col(Complaint.follow_up).is_(True),
    )
    return (await session.scalars(_locked(query.order_by(col(Complaint.id)), session))).all()


async def claim_sla_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Complaint]:
    """Claim open complaints whose next warning or deadline has come (replicas take disjoint rows)."""
    query = (
        select(Complaint)
        .where(col(Complaint.sla_check_at) <= now, col(Complaint.status).in_(sorted(OPEN)))
        .order_by(col(Complaint.sla_check_at))
        .limit(limit)
    )
    return (await session.scalars(_locked(query, session, skip=True))).all()


async def claim_dispatch_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Complaint]:
    """Claim open complaints whose answer is due to go to their owner and has not gone yet."""
    query = (
        select(Complaint)
        .where(
            col(Complaint.dispatch_at) <= now,
            col(Complaint.dispatched_at).is_(None),
            col(Complaint.status).in_(sorted(OPEN)),
        )
        .order_by(col(Complaint.dispatch_at))
        .limit(limit)
    )
    return (await session.scalars(_locked(query, session, skip=True))).all()


async def claim_revisits_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Complaint]:
    """Claim closed complaints whose revisit is due and has not been asked."""
    query = (
        select(Complaint)
        .where(
            col(Complaint.revisit_due_at) <= now,
            col(Complaint.revisit_sent_at).is_(None),
            col(Complaint.status) == "closed",
        )
        .order_by(col(Complaint.revisit_due_at))
        .limit(limit)
    )
    return (await session.scalars(_locked(query, session, skip=True))).all()


async def revisit_answer(session: AsyncSession, complaint_id: str) -> RevisitAnswer | None:
    """Return the customer's revisit answer, if they gave one."""
    return await session.get(RevisitAnswer, complaint_id)


async def add_revisit_answer(session: AsyncSession, answer: RevisitAnswer) -> RevisitAnswer:
    """Store a revisit answer; flush so a second answer for the complaint conflicts now."""
    session.add(answer)
    await session.flush()
    return answer

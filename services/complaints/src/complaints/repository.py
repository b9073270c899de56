"""Every query of the complaints service lives here."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from complaints.models import Complaint, HistoryEntry


async def add(session: AsyncSession, complaint: Complaint) -> Complaint:
    """Stage a new complaint and flush it so constraint errors surface now."""
    session.add(complaint)
    await session.flush()
    return complaint


async def get(session: AsyncSession, complaint_id: str, partner_id: str | None) -> Complaint | None:
    """Return one complaint, only if it belongs to the partner (when a partner asks)."""
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None or (partner_id is not None and complaint.partner_id != partner_id):
        return None
    return complaint


async def by_tracking_hash(session: AsyncSession, token_hash: str) -> Complaint | None:
    """Return the one complaint a tracking token names."""
    rows = await session.scalars(select(Complaint).where(col(Complaint.tracking_token_hash) == token_hash))
    return rows.first()


async def page(
    session: AsyncSession, partner_id: str | None, limit: int, offset: int
) -> tuple[list[Complaint], int]:
    """Return complaints newest first, filtered to the partner's own when a partner asks."""
    query = select(Complaint)
    count = select(func.count()).select_from(Complaint)
    if partner_id is not None:
        query = query.where(col(Complaint.partner_id) == partner_id)
        count = count.where(col(Complaint.partner_id) == partner_id)
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

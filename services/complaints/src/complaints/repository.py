"""Every query of the complaints service lives here."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from complaints.models import Complaint


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

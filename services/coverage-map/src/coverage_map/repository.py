"""Every query of the coverage-map service lives here."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from coverage_map.models import Investigation, InvestigationComplaint

OPEN = "open"


async def open_investigation_for_area(session: AsyncSession, area_id: str) -> Investigation | None:
    """Return the area's open investigation, if any."""
    result = await session.scalars(
        select(Investigation)
        .where(col(Investigation.area_id) == area_id, col(Investigation.status) == OPEN)
        .limit(1)
    )
    return result.first()


async def complaint_link(session: AsyncSession, complaint_id: str) -> InvestigationComplaint | None:
    """Return the investigation link of a complaint, if it joined one already."""
    return await session.get(InvestigationComplaint, complaint_id)


async def add(session: AsyncSession, *rows: Investigation | InvestigationComplaint) -> None:
    """Stage rows and flush them."""
    session.add_all(rows)
    await session.flush()


async def get(session: AsyncSession, investigation_id: str) -> Investigation | None:
    """Return one investigation."""
    return await session.get(Investigation, investigation_id)


async def page(
    session: AsyncSession, status: str | None, limit: int, offset: int
) -> tuple[list[Investigation], int]:
    """Return investigations with the most complaints first."""
    query = select(Investigation)
    count = select(func.count()).select_from(Investigation)
    if status:
        query = query.where(col(Investigation.status) == status)
        count = count.where(col(Investigation.status) == status)
    rows = await session.scalars(
        query.order_by(col(Investigation.complaint_count).desc(), col(Investigation.opened_at))
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(await session.scalar(count) or 0)

"""Every query of the coverage-map service lives here."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from coverage_map.models import Area, AreaLevel, Investigation, InvestigationComplaint

OPEN = "open"
LEVEL_ORDER = ("none", "weak", "normal", "good")


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


async def add(session: AsyncSession, *rows: SQLModel) -> None:
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


async def get_area(session: AsyncSession, area_id: str) -> Area | None:
    """Return one area."""
    return await session.get(Area, area_id)


async def get_level(session: AsyncSession, area_id: str, technology: str, service: str) -> AreaLevel | None:
    """Return an area's level for one technology and service."""
    return await session.get(AreaLevel, (area_id, technology, service))


async def levels_of(session: AsyncSession, area_id: str) -> list[AreaLevel]:
    """Return every level recorded for an area."""
    rows = await session.scalars(
        select(AreaLevel)
        .where(col(AreaLevel.area_id) == area_id)
        .order_by(col(AreaLevel.technology), col(AreaLevel.service))
    )
    return list(rows)


async def worst_level(session: AsyncSession, area_id: str) -> str | None:
    """Return the lowest level recorded for an area, or None when nothing is known."""
    levels = {level.level for level in await levels_of(session, area_id)}
    return next((name for name in LEVEL_ORDER if name in levels), None)


async def customer_in_investigation(session: AsyncSession, investigation_id: str, customer_ref: str) -> bool:
    """Tell whether a customer already complained within an investigation."""
    found = await session.scalar(
        select(func.count())
        .select_from(InvestigationComplaint)
        .where(
            col(InvestigationComplaint.investigation_id) == investigation_id,
            col(InvestigationComplaint.customer_ref) == customer_ref,
        )
    )
    return bool(found)

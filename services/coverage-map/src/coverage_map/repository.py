"""Every query of the coverage-map service lives here."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from coverage_map.models import (
    Area,
    AreaLevel,
    AreaWording,
    District,
    ImprovementPlan,
    Investigation,
    InvestigationComplaint,
)

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


# --- assessments, plans, wording, districts --------------------------------------------------------

ACTIVE_PLAN = ("planned", "in_progress")
PUBLIC_PLAN = ("planned", "in_progress", "done")


async def current_investigation(session: AsyncSession, area_id: str) -> Investigation | None:
    """Return the area's investigation that is not closed yet (open or assessed), if any."""
    rows = await session.scalars(
        select(Investigation)
        .where(col(Investigation.area_id) == area_id, col(Investigation.status) != "closed")
        .order_by(col(Investigation.opened_at).desc())
        .limit(1)
    )
    return rows.first()


async def get_plan(session: AsyncSession, plan_id: str) -> ImprovementPlan | None:
    """Return one improvement plan."""
    return await session.get(ImprovementPlan, plan_id)


async def plans_of(session: AsyncSession, area_id: str) -> list[ImprovementPlan]:
    """Return an area's plans, newest first."""
    rows = await session.scalars(
        select(ImprovementPlan)
        .where(col(ImprovementPlan.area_id) == area_id)
        .order_by(col(ImprovementPlan.created_at).desc())
    )
    return list(rows)


async def relevant_plan(session: AsyncSession, area_id: str) -> ImprovementPlan | None:
    """Return the plan that shapes an area's answer: an active one, else the last one done."""
    plans = [p for p in await plans_of(session, area_id) if p.status != "cancelled"]
    active = [p for p in plans if p.status in ACTIVE_PLAN]
    if active:
        return min(active, key=lambda p: p.target_date)
    return plans[0] if plans else None


async def wording_of(session: AsyncSession, area_id: str) -> list[AreaWording]:
    """Return an area's wording in every language it has."""
    rows = await session.scalars(
        select(AreaWording).where(col(AreaWording.area_id) == area_id).order_by(col(AreaWording.language))
    )
    return list(rows)


async def get_wording(session: AsyncSession, area_id: str, language: str) -> AreaWording | None:
    """Return an area's wording in one language."""
    return await session.get(AreaWording, (area_id, language))


async def get_district(session: AsyncSession, district_id: str) -> District | None:
    """Return one district."""
    return await session.get(District, district_id)


async def open_investigations(session: AsyncSession, limit: int) -> list[Investigation]:
    """Return open investigations (the queue is ranked in Python: it is small and the score is not SQL)."""
    rows = await session.scalars(
        select(Investigation)
        .where(col(Investigation.status) == OPEN)
        .order_by(col(Investigation.opened_at))
        .limit(limit)
    )
    return list(rows)


async def worst_levels(session: AsyncSession, area_ids: list[str]) -> dict[str, str]:
    """Return the worst recorded level of each of several areas."""
    if not area_ids:
        return {}
    rows = await session.execute(
        select(AreaLevel.area_id, AreaLevel.level).where(col(AreaLevel.area_id).in_(area_ids))
    )
    worst: dict[str, str] = {}
    for area_id, level in rows.all():
        if area_id not in worst or LEVEL_ORDER.index(level) < LEVEL_ORDER.index(worst[area_id]):
            worst[area_id] = level
    return worst


async def districts(session: AsyncSession, district_ids: list[str]) -> dict[str, District]:
    """Return several districts by id."""
    if not district_ids:
        return {}
    rows = await session.scalars(select(District).where(col(District.id).in_(district_ids)))
    return {d.id: d for d in rows}


async def public_plans(
    session: AsyncSession, district_id: str | None, limit: int, offset: int
) -> tuple[list[tuple[ImprovementPlan, Area]], int]:
    """Return plans the public may see (not cancelled), soonest target first, with their areas."""
    query = (
        select(ImprovementPlan, Area)
        .join(Area, col(Area.id) == col(ImprovementPlan.area_id))
        .where(col(ImprovementPlan.status).in_(PUBLIC_PLAN))
    )
    if district_id:
        query = query.where(col(Area.district_id) == district_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(col(ImprovementPlan.target_date), col(ImprovementPlan.id)).limit(limit).offset(offset)
    )
    return [(row[0], row[1]) for row in rows], int(total or 0)

"""Every query of the coverage-map service lives here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table, case, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select

from coverage_map.models import (
    Area,
    AreaLevel,
    AreaWording,
    CellSite,
    District,
    ImportJob,
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


async def lock_area(session: AsyncSession, area_id: str) -> None:
    """Hold the area's row until the transaction ends, so work on its investigation goes one at a time.

    Replicas consume follow-ups of one area side by side: without this, two could each open an
    investigation, or both read complaint_count and write back the same increment (PostgreSQL;
    SQLite has one writer at a time anyway).
    """
    await session.get(Area, area_id, with_for_update=True, populate_existing=True)


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


# --- hot spots ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HotSpotFigures:
    """One area's or district's counts for a period, as the database aggregated them."""

    key: str
    district_id: str | None
    complaints: int
    customers: int
    high_value: int
    worst_rank: int | None
    open_investigation_id: str | None


def _in_district(district_id: str) -> ColumnElement[bool]:
    """Restrict facts to one district through its areas (indexed), not the unindexed fact column."""
    return col(InvestigationComplaint.area_id).in_(
        select(col(Area.id)).where(col(Area.district_id) == district_id)
    )


def _customers() -> ColumnElement[int]:
    """Count distinct customers; a complaint without a customer reference counts as its own customer."""
    ref = col(InvestigationComplaint.customer_ref)
    anonymous = func.sum(sa.case((ref.is_(None), 1), else_=0))
    return func.count(sa.distinct(ref)) + anonymous


def _high_value(classes: Sequence[str]) -> ColumnElement[int]:
    """Count distinct customers who complained in a high-value class (anonymous ones each count)."""
    ref = col(InvestigationComplaint.customer_ref)
    valued = col(InvestigationComplaint.customer_class).in_(list(classes))
    anonymous = func.sum(sa.case((sa.and_(ref.is_(None), valued), 1), else_=0))
    return func.count(sa.distinct(sa.case((valued, ref)))) + anonymous


def _worst_rank(group: str, key: ColumnElement[str]) -> ColumnElement[int]:
    """Return the correlated lowest level rank (0 none … 3 good; 4 when nothing is on record)."""
    rank = sa.case({name: index for index, name in enumerate(LEVEL_ORDER)}, value=col(AreaLevel.level))
    query = select(func.coalesce(func.min(rank), len(LEVEL_ORDER)))
    if group == "district":
        query = query.join(Area, col(Area.id) == col(AreaLevel.area_id)).where(col(Area.district_id) == key)
    else:
        query = query.where(col(AreaLevel.area_id) == key)
    return query.scalar_subquery()


def _district_of(group: str, key: ColumnElement[str]) -> ColumnElement[Any]:
    """Return the correlated district of an area (districts belong to none)."""
    if group == "district":
        return sa.null()
    return select(col(Area.district_id)).where(col(Area.id) == key).scalar_subquery()


def _open_investigation(group: str, key: ColumnElement[str]) -> ColumnElement[Any]:
    """Return the correlated id of an area's open investigation (districts have none of their own)."""
    if group == "district":
        return sa.null()
    return (
        select(func.min(col(Investigation.id)))
        .where(col(Investigation.area_id) == key, col(Investigation.status) == OPEN)
        .scalar_subquery()
    )


async def hotspot_figures(
    session: AsyncSession,
    *,
    group: str,
    by: str,
    since: datetime,
    until: datetime,
    limit: int,
    district_id: str | None,
    high_value_classes: Sequence[str],
) -> list[HotSpotFigures]:
    """Aggregate the complaint facts of a period per area or district and return the top ``limit``."""
    fact = InvestigationComplaint
    key = col(fact.district_id) if group == "district" else col(fact.area_id)
    conditions = [
        key.is_not(None),
        col(fact.requested_at) >= since,
        col(fact.requested_at) < until,
    ]
    if district_id is not None:
        conditions.append(_in_district(district_id))
    facts = (
        sa.select(
            key.label("key"),
            func.count().label("complaints"),
            _customers().label("customers"),
            _high_value(high_value_classes).label("high_value"),
        )
        .where(*conditions)
        .group_by(key)
        .subquery("facts")
    )
    # Districts, levels and investigations are looked up per group once the facts are counted:
    # reading them from the fact rows would cost a table lookup per complaint.
    worst = _worst_rank(group, facts.c.key).label("worst_rank")
    query = sa.select(
        facts,
        _district_of(group, facts.c.key).label("district_id"),
        worst,
        _open_investigation(group, facts.c.key).label("open_investigation_id"),
    )
    rows = await session.execute(query.order_by(*_hotspot_order(by, facts, worst)).limit(limit))
    return [
        HotSpotFigures(
            key=row.key,
            district_id=row.district_id,
            complaints=int(row.complaints),
            customers=int(row.customers),
            high_value=int(row.high_value),
            worst_rank=None if row.worst_rank >= len(LEVEL_ORDER) else int(row.worst_rank),
            open_investigation_id=row.open_investigation_id,
        )
        for row in rows
    ]


def _hotspot_order(by: str, facts: sa.Subquery, worst: sa.Label[int]) -> list[ColumnElement[Any]]:
    """Return the ranking order: the chosen figure first, complaints next, the id last so ties are stable."""
    figure = {
        "complaints": [facts.c.complaints.desc(), facts.c.customers.desc()],
        "customers": [facts.c.customers.desc(), facts.c.complaints.desc()],
        "high_value": [facts.c.high_value.desc(), facts.c.complaints.desc()],
        # Worst level on record first (none, weak, normal, good, then unknown), then complaints.
        "weak": [worst.asc(), facts.c.complaints.desc()],
    }[by]
    return [*figure, facts.c.key.asc()]


async def hotspot_weeks(
    session: AsyncSession,
    boundaries: Sequence[datetime],
    *,
    area_id: str | None,
    district_id: str | None,
) -> dict[int, tuple[int, int]]:
    """Count complaints and customers per week; week ``i`` spans boundaries[i] to boundaries[i + 1]."""
    fact = InvestigationComplaint
    at = col(fact.requested_at)
    # Bucketing by comparison with boundaries computed in Python reads the same on every dialect.
    last = len(boundaries) - 2
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = [
        (at < boundary, sa.literal_column(str(index))) for index, boundary in enumerate(boundaries[1:-1])
    ]
    week = sa.case(*whens, else_=sa.literal_column(str(last))) if whens else sa.literal_column(str(last))
    conditions = [at >= boundaries[0], at < boundaries[-1]]
    if area_id is not None:
        conditions.append(col(fact.area_id) == area_id)
    if district_id is not None:
        conditions.append(_in_district(district_id))
    ref = col(fact.customer_ref)
    facts = sa.select(week.label("week"), ref.label("ref")).where(*conditions).subquery("facts")
    # Grouping the subquery's column (not the CASE itself) keeps PostgreSQL from seeing two
    # differently numbered copies of the same expression.
    anonymous = func.sum(sa.case((facts.c.ref.is_(None), 1), else_=0))
    query = sa.select(facts.c.week, func.count(), func.count(sa.distinct(facts.c.ref)) + anonymous).group_by(
        facts.c.week
    )
    return {int(w): (int(n), int(c)) for w, n, c in await session.execute(query)}


# --- imports ----------------------------------------------------------------------------------------
# Bulk statements for imports: a million-row file cannot afford a SELECT per area, so these upsert
# many rows at once with ON CONFLICT (SQLite and PostgreSQL spell it alike).


LEVEL_UPDATES = ("level", "source", "source_ref", "observed_at", "recorded_by")
SITE_KEY = ("radio", "mcc", "net", "area", "cell")
SITE_UPDATES = ("lat", "lng", "range_m", "samples", "average_signal", "area_id", "import_id", "updated_at")


def _table(model: type[SQLModel]) -> Table:
    """Return a model's table."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _upsert(session: AsyncSession, model: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT of the session's dialect, which knows ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_table(model))


async def insert_missing_areas(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert areas that do not exist yet; leave existing ones as they are."""
    if rows:
        statement = _upsert(session, Area)
        await session.execute(statement.on_conflict_do_nothing(index_elements=["id"]), list(rows))


async def upsert_cell_sites(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert cell sites, or update the ones already known by (radio, mcc, net, area, cell)."""
    if rows:
        statement = _upsert(session, CellSite)
        statement = statement.on_conflict_do_update(
            index_elements=list(SITE_KEY), set_={name: statement.excluded[name] for name in SITE_UPDATES}
        )
        await session.execute(statement, list(rows))


async def upsert_predicted_levels(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]], *, source: str, ranks: Mapping[str, int]
) -> list[str]:
    """Write predicted levels unless a higher-ranked source holds the area; return the areas written.

    The same precedence as service.set_level, in SQL: a level is replaced only when its source
    ranks no higher than ``source`` (an import never overwrites a survey or a plan).
    """
    if not rows:
        return []
    table = _table(AreaLevel)
    statement = _upsert(session, AreaLevel)
    current_rank = case(dict(ranks), value=table.c.source, else_=0)
    statement = statement.on_conflict_do_update(
        index_elements=["area_id", "technology", "service"],
        set_={name: statement.excluded[name] for name in LEVEL_UPDATES},
        where=current_rank <= ranks[source],
    )
    result = await session.execute(statement.returning(table.c.area_id), list(rows))
    return list(result.scalars())


async def get_import_job(session: AsyncSession, job_id: str) -> ImportJob | None:
    """Return one import job."""
    return await session.get(ImportJob, job_id)


async def import_jobs_with_status(session: AsyncSession, status: str) -> list[ImportJob]:
    """Return the import jobs in one status."""
    rows = await session.scalars(select(ImportJob).where(col(ImportJob.status) == status))
    return list(rows)


async def update_import_job(session: AsyncSession, job_id: str, values: Mapping[str, Any]) -> None:
    """Set columns of one import job."""
    table = _table(ImportJob)
    await session.execute(update(table).where(table.c.id == job_id).values(**values))


async def page_import_jobs(session: AsyncSession, limit: int, offset: int) -> tuple[list[ImportJob], int]:
    """Return import jobs, newest first."""
    rows = await session.scalars(
        select(ImportJob)
        .order_by(col(ImportJob.started_at).desc(), col(ImportJob.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(await session.scalar(select(func.count()).select_from(ImportJob)) or 0)

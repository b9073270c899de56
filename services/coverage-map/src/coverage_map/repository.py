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


# --- imports ----------------------------------------------------------------------------------------
# Bulk statements for imports: a million-row file cannot afford a SELECT per area, so these upsert
# many rows at once with ON CONFLICT (SQLite and PostgreSQL spell it alike).

from collections.abc import Mapping, Sequence  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import Table, case, update  # noqa: E402
from sqlalchemy.dialects import postgresql, sqlite  # noqa: E402

from coverage_map.models import CellSite, ImportJob  # noqa: E402

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

"""Complaint analytics: counts, SLA compliance, first-contact resolution, time to close, revisits.

Every figure is aggregated by the database (GROUP BY, and a window function for the percentiles),
so a report over a million complaints sends back one row per group, never a row per complaint.
The SQL is the same on SQLite and PostgreSQL but for three expressions the two spell differently:
the symptoms list as rows, the Monday of a complaint's week, and the seconds between two instants.
The definitions of the figures are in docs/complaints.md, section *Analytics*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field
from sqlalchemy import Date, Table, Text, case, cast, exists, extract, func, literal_column, select, true
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, FromClause, Select
from sqlmodel import col

from complaints.clocks import CLOCKS, OPEN, Clock
from complaints.models import Complaint, RevisitAnswer

Dimension = Literal["category", "symptom", "channel", "brand", "region", "area", "week"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
PERCENTILES = (50, 90, 99)
COMPLAINT_TABLE: Table = Complaint.__table__  # type: ignore[attr-defined]


# --- what a report says ---------------------------------------------------------------------------


class ClockCompliance(BaseModel):
    """How one SLA clock fared over the complaints of a report."""

    breached: int = Field(description="complaints whose clock breached")
    compliance: float | None = Field(
        description="share of the complaints whose clock never breached (0 to 1); null when there are none"
    )


class SlaCompliance(BaseModel):
    """Each SLA clock's breaches and compliance."""

    first_response: ClockCompliance
    next_update: ClockCompliance
    resolution: ClockCompliance


class TimeToClose(BaseModel):
    """How long closed complaints took from filing to closing (nearest-rank percentiles, hours)."""

    closed: int = Field(description="closed complaints the percentiles are taken over")
    p50_hours: float | None = Field(description="median; null when none is closed")
    p90_hours: float | None
    p99_hours: float | None


class Figures(BaseModel):
    """The figures of a set of complaints (all of a report, one group, one handler's)."""

    complaints: int = Field(description="complaints filed in the period")
    open: int = Field(description="of them still open (acknowledged, inProgress, pending, held)")
    resolved: int = Field(description="resolved, closed ones included (they were resolved first)")
    closed: int
    first_contact_resolutions: int = Field(description="resolved at the first contact")
    fcr_rate: float | None = Field(
        description="first-contact resolutions ÷ complaints (0 to 1); null when there are none"
    )
    breached: int = Field(description="complaints with at least one clock breached")
    sla: SlaCompliance
    time_to_close: TimeToClose


class Group(Figures):
    """The figures of one group of a breakdown."""

    key: str | None = Field(
        description="the group: a category, symptom, channel, brand (lower case), region, area id or "
        "ISO week (2026-W49); null for complaints without one (no handset make, no area)"
    )


class HandlerFigures(Figures):
    """The figures of the complaints one handler owns."""

    owner: str = Field(description="who owns the complaints (user name, API key id, or portal)")


class Revisits(BaseModel):
    """What customers said when asked after closing."""

    answers: int = Field(description="revisit answers to complaints of the report")
    satisfied: int = Field(description="answers saying satisfied")
    satisfied_share: float | None = Field(
        description="satisfied ÷ answers that said satisfied or not (0 to 1); null when none did"
    )
    scored: int = Field(description="answers with a score")
    mean_score: float | None = Field(description="mean of the scores given; null when none was")


class Summary(Figures):
    """The figures of every complaint a report covers, and the revisits."""

    revisits: Revisits


# --- which complaints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Which complaints a report covers: filed in [start, end), of a region, a category, a partner."""

    start: datetime | None = None
    end: datetime | None = None
    region: str | None = None
    category: str | None = None
    partner_id: str | None = None

    @classmethod
    def for_days(
        cls,
        first: date | None,
        last: date | None,
        *,
        region: str | None = None,
        category: str | None = None,
        partner_id: str | None = None,
    ) -> Filters:
        """Cover complaints filed from the start of ``first`` to the end of ``last`` (UTC days, inclusive)."""
        start = datetime.combine(first, time.min, UTC) if first else None
        # The day after the last one; there is none after date.max, and nothing is filed then anyway.
        end = datetime.combine(last, time.min, UTC) + timedelta(days=1) if last and last < date.max else None
        return cls(start, end, region, category, partner_id)

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the WHERE conditions on ``complaint`` these filters make."""
        found: list[ColumnElement[bool]] = []
        if self.start is not None:
            found.append(col(Complaint.created_at) >= self.start)
        if self.end is not None:
            found.append(col(Complaint.created_at) < self.end)
        if self.region is not None:
            found.append(col(Complaint.region) == self.region)
        if self.category is not None:
            found.append(col(Complaint.category) == self.category)
        if self.partner_id is not None:
            found.append(col(Complaint.partner_id) == self.partner_id)
        return found


# --- the dialects' differences ---------------------------------------------------------------------


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _seconds_to_close(dialect: str) -> ColumnElement[Any]:
    """Return closed_at - created_at in seconds."""
    if dialect == "postgresql":
        return extract("epoch", col(Complaint.closed_at) - col(Complaint.created_at))
    # SQLite keeps instants as text; julianday() reads them as fractional days.
    return (func.julianday(col(Complaint.closed_at)) - func.julianday(col(Complaint.created_at))) * 86400.0


def _week_start(dialect: str) -> ColumnElement[Any]:
    """Return the Monday (UTC) of the week a complaint was filed in.

    The ISO label is made from it in Python: SQLite before 3.46 has no ISO week number. Constants
    are literal SQL, not parameters, so PostgreSQL sees the same expression in SELECT and GROUP BY.
    """
    if dialect == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), col(Complaint.created_at))
        return cast(func.date_trunc(literal_column("'week'"), utc), Date)
    # Back six days, then forward to the next Monday: a Monday stays itself.
    return func.date(col(Complaint.created_at), literal_column("'-6 days'"), literal_column("'weekday 1'"))


def week_label(monday: object) -> str:
    """Return the ISO week (``2026-W49``) of the Monday the database gave (a date or its text)."""
    year, week, _ = date.fromisoformat(str(monday)[:10]).isocalendar()
    return f"{year}-W{week:02d}"


# --- the figures in SQL ------------------------------------------------------------------------------


def breached(clock: Clock) -> ColumnElement[bool]:
    """Match complaints whose ``clock`` breached (``<clock>:breached`` among their ``sla_flags``)."""
    # The flags are a JSON list of plain strings. Its text, with the quotes around the flag, matches
    # exactly and the same way on both databases: SQLite keeps JSON as text, PostgreSQL's json keeps
    # the text as written (and jsonb's text form quotes strings too).
    return cast(col(Complaint.sla_flags), Text).contains(f'"{clock}:breached"', autoescape=True)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _figure_columns() -> list[ColumnElement[Any]]:
    """Return the aggregate columns every report counts, labelled as ``_figures`` reads them."""
    any_breach = breached(CLOCKS[0])
    for clock in CLOCKS[1:]:
        any_breach = any_breach | breached(clock)
    return [
        func.count().label("complaints"),
        _count_if(col(Complaint.status).in_(sorted(OPEN))).label("open"),
        _count_if(col(Complaint.resolved_at).is_not(None)).label("resolved"),
        _count_if(col(Complaint.closed_at).is_not(None)).label("closed"),
        _count_if(col(Complaint.first_contact_resolution) == true()).label("first_contact"),
        _count_if(any_breach).label("breached"),
        *(_count_if(breached(clock)).label(f"breached_{clock}") for clock in CLOCKS),
    ]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _figures(row: RowMapping, times: TimeToClose) -> dict[str, Any]:
    """Turn one aggregate row (``_figure_columns``) into the fields of ``Figures``."""
    complaints = int(row["complaints"])
    clocks = {
        clock: ClockCompliance(
            breached=int(row[f"breached_{clock}"]),
            compliance=_share(complaints - int(row[f"breached_{clock}"]), complaints),
        )
        for clock in CLOCKS
    }
    return {
        "complaints": complaints,
        "open": int(row["open"]),
        "resolved": int(row["resolved"]),
        "closed": int(row["closed"]),
        "first_contact_resolutions": int(row["first_contact"]),
        "fcr_rate": _share(int(row["first_contact"]), complaints),
        "breached": int(row["breached"]),
        "sla": SlaCompliance(**clocks),
        "time_to_close": times,
    }


NO_CLOSE_TIMES = TimeToClose(closed=0, p50_hours=None, p90_hours=None, p99_hours=None)


def _hours(seconds: Any) -> float | None:
    # PostgreSQL's extract() gives a Decimal, SQLite a float.
    return None if seconds is None else round(float(seconds) / 3600, 2)


async def _close_times(
    session: AsyncSession,
    key: ColumnElement[Any] | None,
    source: FromClause,
    conditions: Sequence[ColumnElement[bool]],
) -> dict[Any, TimeToClose]:
    """Return the time-to-close percentiles per group (under the key None when ``key`` is None).

    Nearest rank: the q-th percentile is the smallest time with at least q % of the times at or
    below it, i.e. the first row whose cume_dist() reaches q/100. The database sorts; one row per
    group comes back.
    """
    seconds = _seconds_to_close(_dialect(session))
    keys = [key.label("key")] if key is not None else []
    ranked = (
        select(
            *keys,
            seconds.label("seconds"),
            func.cume_dist().over(partition_by=key, order_by=seconds).label("reach"),
        )
        .select_from(source)
        .where(*conditions, col(Complaint.closed_at).is_not(None))
        .subquery("ranked")
    )
    picks = [
        func.min(case((ranked.c.reach >= q / 100, ranked.c.seconds))).label(f"p{q}") for q in PERCENTILES
    ]
    group = [ranked.c.key] if key is not None else []
    query = select(*group, func.count().label("closed"), *picks).group_by(*group)
    found = {}
    for row in (await session.execute(query)).mappings():
        if not row["closed"]:
            continue  # no GROUP BY: one row even when nothing is closed
        found[row["key"] if key is not None else None] = TimeToClose(
            closed=int(row["closed"]), **{f"p{q}_hours": _hours(row[f"p{q}"]) for q in PERCENTILES}
        )
    return found


# --- the reports ---------------------------------------------------------------------------------


async def summary(session: AsyncSession, filters: Filters) -> Summary:
    """Return the figures of every complaint the filters cover, and the revisits."""
    conditions = filters.conditions()
    row = (await session.execute(select(*_figure_columns()).where(*conditions))).mappings().one()
    times = await _close_times(session, None, COMPLAINT_TABLE, conditions)
    return Summary(
        **_figures(row, times.get(None, NO_CLOSE_TIMES)), revisits=await revisits(session, filters)
    )


async def revisits(session: AsyncSession, filters: Filters) -> Revisits:
    """Return what customers answered at the revisit, for complaints the filters cover."""
    query = (
        select(
            func.count().label("answers"),
            _count_if(col(RevisitAnswer.satisfied) == true()).label("satisfied"),
            func.count(col(RevisitAnswer.satisfied)).label("said"),
            func.coalesce(func.sum(col(RevisitAnswer.score)), 0).label("score_sum"),
            func.count(col(RevisitAnswer.score)).label("scored"),
        )
        .select_from(RevisitAnswer)
        .join(Complaint, col(Complaint.id) == col(RevisitAnswer.complaint_id))
        .where(*filters.conditions())
    )
    row = (await session.execute(query)).mappings().one()
    return Revisits(
        answers=int(row["answers"]),
        satisfied=int(row["satisfied"]),
        satisfied_share=_share(int(row["satisfied"]), int(row["said"])),
        scored=int(row["scored"]),
        mean_score=_share(int(row["score_sum"]), int(row["scored"])),
    )


@dataclass(frozen=True)
class _Grouping:
    """What a breakdown groups by, the rows it reads, and the conditions left to apply."""

    key: ColumnElement[Any]
    source: FromClause
    conditions: list[ColumnElement[bool]]


_COLUMN_KEYS: dict[str, ColumnElement[Any]] = {
    "category": COMPLAINT_TABLE.c.category,
    "channel": COMPLAINT_TABLE.c.channel,
    "region": COMPLAINT_TABLE.c.region,
    "area": COMPLAINT_TABLE.c.area_id,
}


def _grouping(by: Dimension, dialect: str, filters: Filters) -> _Grouping:
    """Return how to group complaints by one dimension."""
    table = COMPLAINT_TABLE
    if by in _COLUMN_KEYS:
        return _Grouping(_COLUMN_KEYS[by], table, filters.conditions())
    if by == "brand":
        # The make is typed in by hand: "Apple", "apple " and "APPLE" are one brand.
        return _Grouping(func.lower(func.trim(col(Complaint.handset_make))), table, filters.conditions())
    if by == "week":
        return _Grouping(_week_start(dialect), table, filters.conditions())
    return _symptom_grouping(dialect, filters)


def _symptom_grouping(dialect: str, filters: Filters) -> _Grouping:
    """Group complaints by symptom: once under each distinct symptom they list, even one listed twice.

    A function in FROM may read the complaint's columns (LATERAL is implied on PostgreSQL), so each
    complaint joins its own symptoms. PostgreSQL takes them DISTINCT in a LATERAL subquery; SQLite
    has no LATERAL, so there a symptom joins only at its first place in the list (``json_each``'s
    ``key``). Both beat DISTINCT over all (complaint, symptom) pairs joined back (on SQLite a quarter
    of the time at 100k rows); on PostgreSQL the LATERAL form took 60 % of the first-place test's.
    """
    if dialect == "postgresql":
        elements = func.json_array_elements_text(col(Complaint.symptoms)).table_valued(
            "value", joins_implicitly=True
        )
        distinct = select(elements.c.value).distinct().lateral("symptom_element")
        return _Grouping(distinct.c.value, COMPLAINT_TABLE.join(distinct, true()), filters.conditions())
    element, earlier = (
        func.json_each(col(Complaint.symptoms)).table_valued("value", "key", name=name, joins_implicitly=True)
        for name in ("symptom_element", "earlier_element")
    )
    repeated = (
        exists().select_from(earlier).where(earlier.c.value == element.c.value, earlier.c.key < element.c.key)
    )
    return _Grouping(
        element.c.value, COMPLAINT_TABLE.join(element, true()), [*filters.conditions(), ~repeated]
    )


def _grouped(grouping: _Grouping) -> Select[Any]:
    return (
        select(grouping.key.label("key"), *_figure_columns())
        .select_from(grouping.source)
        .where(*grouping.conditions)
        .group_by(grouping.key)
    )


def _key_text(by: Dimension, key: object) -> str | None:
    if key is None:
        return None
    return week_label(key) if by == "week" else str(key)


async def breakdown(session: AsyncSession, by: Dimension, filters: Filters) -> list[Group]:
    """Return the figures per group of one dimension: weeks in order, other groups largest first."""
    grouping = _grouping(by, _dialect(session), filters)
    rows = (await session.execute(_grouped(grouping))).mappings().all()
    times = await _close_times(session, grouping.key, grouping.source, grouping.conditions)
    groups = [
        Group(key=_key_text(by, row["key"]), **_figures(row, times.get(row["key"], NO_CLOSE_TIMES)))
        for row in rows
    ]
    if by == "week":
        return sorted(groups, key=lambda g: g.key or "")
    return sorted(groups, key=lambda g: (-g.complaints, g.key is None, g.key or ""))


async def handlers(session: AsyncSession, filters: Filters) -> list[HandlerFigures]:
    """Return the figures of each handler's complaints, busiest first."""
    table = COMPLAINT_TABLE
    grouping = _Grouping(COMPLAINT_TABLE.c.owner, table, filters.conditions())
    rows = (await session.execute(_grouped(grouping))).mappings().all()
    times = await _close_times(session, grouping.key, table, grouping.conditions)
    found = [
        HandlerFigures(owner=row["key"], **_figures(row, times.get(row["key"], NO_CLOSE_TIMES)))
        for row in rows
    ]
    return sorted(found, key=lambda h: (-h.complaints, h.owner))

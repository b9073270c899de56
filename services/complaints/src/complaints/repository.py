"""Every query of the complaints service lives here."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    ScalarSelect,
    Table,
    Text,
    case,
    cast,
    exists,
    extract,
    func,
    literal_column,
    true,
)
from sqlalchemy import select as sql_select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import FromClause, Select
from sqlmodel import col, select

from careloop_common.db import row_values, stage_insert
from complaints.clocks import CLOCKS, OPEN, Clock
from complaints.models import Complaint, HistoryEntry, RevisitAnswer
from complaints.schemas import Dimension


async def add(session: AsyncSession, complaint: Complaint) -> Complaint:
    """Insert a new complaint now (constraint errors surface here) and keep it in the session.

    A Core insert of the row, then the object joins the session as if it had been loaded: the
    ORM's unit of work cost more than the insert, and changes made to it afterwards in the same
    transaction (a TMF621 severity, notes) are still written at the next flush.
    """
    await session.execute(COMPLAINT_TABLE.insert(), row_values(complaint))
    make_transient_to_detached(complaint)
    session.add(complaint)
    return complaint


def stage(session: AsyncSession, complaint: Complaint) -> None:
    """Stage a new complaint's row for the session's commit, with the rows staged alongside it."""
    stage_insert(session, COMPLAINT_TABLE, row_values(complaint))


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
    session: AsyncSession,
    partner_id: str | None,
    limit: int,
    offset: int,
    msisdn: str | None = None,
    area_id: str | None = None,
) -> tuple[list[Complaint], int]:
    """Return complaints newest first, filtered to the partner's own, one customer's number and one
    coverage area."""
    conditions: list[ColumnElement[bool]] = []
    if partner_id is not None:
        conditions.append(col(Complaint.partner_id) == partner_id)
    if msisdn is not None:
        conditions.append(col(Complaint.msisdn) == msisdn)
    if area_id is not None:
        conditions.append(col(Complaint.area_id) == area_id)
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


# --- analytics reports (complaints.analytics) ------------------------------------------------------
#
# Every figure is counted by the database (GROUP BY, and the window function cume_dist() for the
# percentiles), so a report over a million complaints sends back one row per group, never a row per
# complaint. The SQL is the same on SQLite and PostgreSQL but for three expressions the two spell
# differently: the symptoms list as rows, the Monday of a complaint's week, and the seconds between
# two instants. These queries select columns and aggregates, not models, so they use SQLAlchemy's
# own select (sqlmodel's makes a one-column select a scalar select). What the counts mean (shares,
# hours, the order of groups) is complaints.analytics.

COMPLAINT_TABLE: Table = Complaint.__table__  # type: ignore[attr-defined]
# The nearest-rank percentiles of time to close every report gives.
CLOSE_PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class ReportFilter:
    """Which complaints a report covers: filed in [start, end), of a region, a category, a partner."""

    start: datetime | None = None
    end: datetime | None = None
    region: str | None = None
    category: str | None = None
    partner_id: str | None = None


@dataclass(frozen=True)
class CloseSeconds:
    """How long the closed complaints of a set took, from filing to closing."""

    closed: int
    percentiles: dict[int, float | None]  # CLOSE_PERCENTILES → seconds


@dataclass(frozen=True)
class FigureCounts:
    """What the database counted over a set of complaints (a whole report, one group, one owner)."""

    key: Any  # the group as the database gives it; None for a whole report or a group of "none"
    complaints: int
    open: int
    resolved: int
    closed: int
    first_contact: int
    breached: int  # at least one clock breached
    breached_by_clock: dict[Clock, int]
    close_seconds: CloseSeconds | None  # None when none is closed


@dataclass(frozen=True)
class RevisitCounts:
    """What the database counted over the revisit answers to a report's complaints."""

    answers: int
    satisfied: int
    said: int  # answers that said satisfied or not
    score_sum: int
    scored: int


def _report_conditions(where: ReportFilter) -> list[ColumnElement[bool]]:
    """Return the WHERE conditions on ``complaint`` a report filter makes."""
    found: list[ColumnElement[bool]] = []
    if where.start is not None:
        found.append(col(Complaint.created_at) >= where.start)
    if where.end is not None:
        found.append(col(Complaint.created_at) < where.end)
    if where.region is not None:
        found.append(col(Complaint.region) == where.region)
    if where.category is not None:
        found.append(col(Complaint.category) == where.category)
    if where.partner_id is not None:
        found.append(col(Complaint.partner_id) == where.partner_id)
    return found


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


def _clock_breached(clock: Clock) -> ColumnElement[bool]:
    """Match complaints whose ``clock`` breached (``<clock>:breached`` among their ``sla_flags``)."""
    # The flags are a JSON list of plain strings. Its text, with the quotes around the flag, matches
    # exactly and the same way on both databases: SQLite keeps JSON as text, PostgreSQL's json keeps
    # the text as written (and jsonb's text form quotes strings too).
    return cast(col(Complaint.sla_flags), Text).contains(f'"{clock}:breached"', autoescape=True)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _count_columns() -> list[ColumnElement[Any]]:
    """Return the aggregate columns every report counts, labelled as ``_figure_counts`` reads them."""
    any_breach = _clock_breached(CLOCKS[0])
    for clock in CLOCKS[1:]:
        any_breach = any_breach | _clock_breached(clock)
    return [
        func.count().label("complaints"),
        _count_if(col(Complaint.status).in_(sorted(OPEN))).label("open"),
        _count_if(col(Complaint.resolved_at).is_not(None)).label("resolved"),
        _count_if(col(Complaint.closed_at).is_not(None)).label("closed"),
        _count_if(col(Complaint.first_contact_resolution) == true()).label("first_contact"),
        _count_if(any_breach).label("breached"),
        *(_count_if(_clock_breached(clock)).label(f"breached_{clock}") for clock in CLOCKS),
    ]


def _figure_counts(row: RowMapping, key: Any, close_seconds: CloseSeconds | None) -> FigureCounts:
    """Read one row of ``_count_columns``."""
    return FigureCounts(
        key=key,
        complaints=int(row["complaints"]),
        open=int(row["open"]),
        resolved=int(row["resolved"]),
        closed=int(row["closed"]),
        first_contact=int(row["first_contact"]),
        breached=int(row["breached"]),
        breached_by_clock={clock: int(row[f"breached_{clock}"]) for clock in CLOCKS},
        close_seconds=close_seconds,
    )


def _seconds(value: Any) -> float | None:
    # PostgreSQL's extract() gives a Decimal, SQLite a float.
    return None if value is None else float(value)


async def _close_seconds(
    session: AsyncSession,
    key: ColumnElement[Any] | None,
    source: FromClause,
    conditions: Sequence[ColumnElement[bool]],
) -> dict[Any, CloseSeconds]:
    """Return the time-to-close percentiles per group (under the key None when ``key`` is None).

    Nearest rank: the q-th percentile is the smallest time with at least q % of the times at or
    below it, i.e. the first row whose cume_dist() reaches q/100. The database sorts; one row per
    group comes back. Groups with nothing closed are left out.
    """
    seconds = _seconds_to_close(_dialect(session))
    keys = [key.label("key")] if key is not None else []
    ranked = (
        sql_select(
            *keys,
            seconds.label("seconds"),
            func.cume_dist().over(partition_by=key, order_by=seconds).label("reach"),
        )
        .select_from(source)
        .where(*conditions, col(Complaint.closed_at).is_not(None))
        .subquery("ranked")
    )
    picks = [
        func.min(case((ranked.c.reach >= q / 100, ranked.c.seconds))).label(f"p{q}")
        for q in CLOSE_PERCENTILES
    ]
    group = [ranked.c.key] if key is not None else []
    query = sql_select(*group, func.count().label("closed"), *picks).group_by(*group)
    found = {}
    for row in (await session.execute(query)).mappings():
        if not row["closed"]:
            continue  # no GROUP BY: one row even when nothing is closed
        found[row["key"] if key is not None else None] = CloseSeconds(
            closed=int(row["closed"]), percentiles={q: _seconds(row[f"p{q}"]) for q in CLOSE_PERCENTILES}
        )
    return found


async def report_counts(session: AsyncSession, where: ReportFilter) -> FigureCounts:
    """Count every complaint a report covers (key None)."""
    conditions = _report_conditions(where)
    row = (await session.execute(sql_select(*_count_columns()).where(*conditions))).mappings().one()
    close_seconds = await _close_seconds(session, None, COMPLAINT_TABLE, conditions)
    return _figure_counts(row, None, close_seconds.get(None))


async def revisit_counts(session: AsyncSession, where: ReportFilter) -> RevisitCounts:
    """Count the revisit answers to the complaints a report covers, and their scores."""
    query = (
        sql_select(
            func.count().label("answers"),
            _count_if(col(RevisitAnswer.satisfied) == true()).label("satisfied"),
            func.count(col(RevisitAnswer.satisfied)).label("said"),
            func.coalesce(func.sum(col(RevisitAnswer.score)), 0).label("score_sum"),
            func.count(col(RevisitAnswer.score)).label("scored"),
        )
        .select_from(RevisitAnswer)
        .join(Complaint, col(Complaint.id) == col(RevisitAnswer.complaint_id))
        .where(*_report_conditions(where))
    )
    row = (await session.execute(query)).mappings().one()
    return RevisitCounts(
        answers=int(row["answers"]),
        satisfied=int(row["satisfied"]),
        said=int(row["said"]),
        score_sum=int(row["score_sum"]),
        scored=int(row["scored"]),
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


def _grouping(by: Dimension, dialect: str, where: ReportFilter) -> _Grouping:
    """Return how to group complaints by one dimension."""
    table = COMPLAINT_TABLE
    if by in _COLUMN_KEYS:
        return _Grouping(_COLUMN_KEYS[by], table, _report_conditions(where))
    if by == "brand":
        # The make is typed in by hand: "Apple", "apple " and "APPLE" are one brand.
        return _Grouping(func.lower(func.trim(col(Complaint.handset_make))), table, _report_conditions(where))
    if by == "week":
        return _Grouping(_week_start(dialect), table, _report_conditions(where))
    return _symptom_grouping(dialect, where)


def _symptom_grouping(dialect: str, where: ReportFilter) -> _Grouping:
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
        distinct = sql_select(elements.c.value).distinct().lateral("symptom_element")
        return _Grouping(distinct.c.value, COMPLAINT_TABLE.join(distinct, true()), _report_conditions(where))
    element, earlier = (
        func.json_each(col(Complaint.symptoms)).table_valued("value", "key", name=name, joins_implicitly=True)
        for name in ("symptom_element", "earlier_element")
    )
    repeated = (
        exists().select_from(earlier).where(earlier.c.value == element.c.value, earlier.c.key < element.c.key)
    )
    return _Grouping(
        element.c.value, COMPLAINT_TABLE.join(element, true()), [*_report_conditions(where), ~repeated]
    )


def _grouped_query(grouping: _Grouping) -> Select[Any]:
    return (
        sql_select(grouping.key.label("key"), *_count_columns())
        .select_from(grouping.source)
        .where(*grouping.conditions)
        .group_by(grouping.key)
    )


async def _counts_per_group(session: AsyncSession, grouping: _Grouping) -> list[FigureCounts]:
    """Count each group's complaints, in the order the database gives them."""
    rows = (await session.execute(_grouped_query(grouping))).mappings().all()
    close_seconds = await _close_seconds(session, grouping.key, grouping.source, grouping.conditions)
    return [_figure_counts(row, row["key"], close_seconds.get(row["key"])) for row in rows]


async def counts_by(session: AsyncSession, by: Dimension, where: ReportFilter) -> list[FigureCounts]:
    """Count the complaints a report covers per group of one dimension (a week's key is its Monday)."""
    return await _counts_per_group(session, _grouping(by, _dialect(session), where))


async def counts_by_owner(session: AsyncSession, where: ReportFilter) -> list[FigureCounts]:
    """Count the complaints a report covers per owner."""
    grouping = _Grouping(COMPLAINT_TABLE.c.owner, COMPLAINT_TABLE, _report_conditions(where))
    return await _counts_per_group(session, grouping)

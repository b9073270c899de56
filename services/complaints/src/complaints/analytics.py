"""Complaint analytics: counts, SLA compliance, first-contact resolution, time to close, revisits.

The database counts (``repository``, section *analytics reports*); this module says what the
counts mean: the period a report covers, shares and hours, how groups are named and ordered, and
the CSV export of a breakdown. The definitions of the figures are in docs/complaints.md, section
*Analytics*.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.errors import ProblemError
from complaints import repository
from complaints.clocks import CLOCKS
from complaints.repository import CloseSeconds, FigureCounts, ReportFilter
from complaints.schemas import (
    AppliedFilters,
    ClockCompliance,
    Dimension,
    Group,
    HandlerFigures,
    Revisits,
    SlaCompliance,
    Summary,
    TimeToClose,
)

# --- the period ----------------------------------------------------------------------------------------


def check_period(first: date | None, last: date | None) -> None:
    """Refuse a period that ends before it starts (the schema cannot compare two parameters)."""
    if first is not None and last is not None and first > last:
        raise ProblemError(
            422,
            "invalid-date-range",
            f"'from' ({first}) is after 'to' ({last}): the period would hold no day",
            field="query.from",
        )


def report_filter(
    first: date | None,
    last: date | None,
    *,
    region: str | None = None,
    category: str | None = None,
    partner_id: str | None = None,
) -> ReportFilter:
    """Cover complaints filed from the start of ``first`` to the end of ``last`` (UTC days, inclusive)."""
    start = datetime.combine(first, time.min, UTC) if first else None
    # The day after the last one; there is none after date.max, and nothing is filed then anyway.
    end = datetime.combine(last, time.min, UTC) + timedelta(days=1) if last and last < date.max else None
    return ReportFilter(start, end, region, category, partner_id)


# --- what the counts mean ------------------------------------------------------------------------------

NO_CLOSE_TIMES = TimeToClose(closed=0, p50_hours=None, p90_hours=None, p99_hours=None)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def time_to_close(close: CloseSeconds | None) -> TimeToClose:
    """Return the time-to-close percentiles in hours (two decimals); none closed when ``close`` is None."""
    if close is None:
        return NO_CLOSE_TIMES
    hours = {f"p{q}_hours": _hours(seconds) for q, seconds in close.percentiles.items()}
    return TimeToClose(closed=close.closed, **hours)


def _figures(counts: FigureCounts) -> dict[str, Any]:
    """Turn what the database counted into the fields of ``Figures``."""
    complaints = counts.complaints
    clocks = {
        clock: ClockCompliance(
            breached=counts.breached_by_clock[clock],
            compliance=_share(complaints - counts.breached_by_clock[clock], complaints),
        )
        for clock in CLOCKS
    }
    return {
        "complaints": complaints,
        "open": counts.open,
        "resolved": counts.resolved,
        "closed": counts.closed,
        "first_contact_resolutions": counts.first_contact,
        "fcr_rate": _share(counts.first_contact, complaints),
        "breached": counts.breached,
        "sla": SlaCompliance(**clocks),
        "time_to_close": time_to_close(counts.close_seconds),
    }


def week_label(monday: object) -> str:
    """Return the ISO week (``2026-W49``) of the Monday the database gave (a date or its text)."""
    year, week, _ = date.fromisoformat(str(monday)[:10]).isocalendar()
    return f"{year}-W{week:02d}"


def _key_text(by: Dimension, key: object) -> str | None:
    if key is None:
        return None
    return week_label(key) if by == "week" else str(key)


# --- the reports ---------------------------------------------------------------------------------------


async def summary(session: AsyncSession, where: ReportFilter) -> Summary:
    """Return the figures of every complaint the filter covers, and the revisits."""
    counts = await repository.report_counts(session, where)
    return Summary(**_figures(counts), revisits=await revisits(session, where))


async def revisits(session: AsyncSession, where: ReportFilter) -> Revisits:
    """Return what customers answered at the revisit, for complaints the filter covers."""
    counts = await repository.revisit_counts(session, where)
    return Revisits(
        answers=counts.answers,
        satisfied=counts.satisfied,
        satisfied_share=_share(counts.satisfied, counts.said),
        scored=counts.scored,
        mean_score=_share(counts.score_sum, counts.scored),
    )


async def breakdown(session: AsyncSession, by: Dimension, where: ReportFilter) -> list[Group]:
    """Return the figures per group of one dimension: weeks in order, other groups largest first."""
    found = await repository.counts_by(session, by, where)
    groups = [Group(key=_key_text(by, counts.key), **_figures(counts)) for counts in found]
    if by == "week":
        return sorted(groups, key=lambda g: g.key or "")
    return sorted(groups, key=lambda g: (-g.complaints, g.key is None, g.key or ""))


async def handlers(session: AsyncSession, where: ReportFilter) -> list[HandlerFigures]:
    """Return the figures of each handler's complaints, busiest first."""
    found = await repository.counts_by_owner(session, where)
    owners = [HandlerFigures(owner=counts.key, **_figures(counts)) for counts in found]
    return sorted(owners, key=lambda h: (-h.complaints, h.owner))


# --- CSV export of a breakdown -------------------------------------------------------------------------


def csv_columns(by: Dimension) -> list[str]:
    """Return the header of a breakdown's CSV: the group (named after the dimension), then the figures."""
    sla = [name for clock in CLOCKS for name in (f"breached_{clock}", f"compliance_{clock}")]
    return [
        by,
        *("complaints", "open", "resolved", "closed", "first_contact_resolutions", "fcr_rate", "breached"),
        *sla,
        *("p50_hours_to_close", "p90_hours_to_close", "p99_hours_to_close"),
    ]


def _cell(value: Any) -> str:
    # repr() of a float reads back as the same float; null is an empty cell.
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def csv_row(group: Group) -> list[str]:
    """Return one group as the cells ``csv_columns`` names."""
    sla = [
        cell
        for clock in CLOCKS
        for cell in (getattr(group.sla, clock).breached, getattr(group.sla, clock).compliance)
    ]
    times = group.time_to_close
    values = [
        group.key,
        *(group.complaints, group.open, group.resolved, group.closed),
        *(group.first_contact_resolutions, group.fcr_rate, group.breached),
        *sla,
        *(times.p50_hours, times.p90_hours, times.p99_hours),
    ]
    return [_cell(v) for v in values]


def breakdown_csv(by: Dimension, groups: list[Group]) -> str:
    """Render a breakdown as CSV text (RFC 4180: CRLF line ends, quoted where needed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(csv_columns(by))
    writer.writerows(csv_row(g) for g in groups)
    return out.getvalue()


def csv_filename(by: Dimension, applied: AppliedFilters) -> str:
    """Name the export after what it holds, e.g. ``complaints-by-week-2026-11-01-to-2026-11-30-HK.csv``."""
    parts = ["complaints", "by", by]
    if applied.from_ is not None:
        parts += ["from", applied.from_.isoformat()] if applied.to is None else [applied.from_.isoformat()]
    if applied.to is not None:
        parts += ["to", applied.to.isoformat()]
    parts += [p for p in (applied.region, applied.category) if p is not None]
    return "-".join(parts) + ".csv"

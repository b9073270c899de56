"""Analytics routes under /complaints/v1/reports: the summary, breakdowns (JSON and CSV), handlers.

Query parameters are ``Literal`` types, so the OpenAPI spells each one's values inline (an enum
``$ref`` in a parameter breaks the schemathesis contract test).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from careloop_common.app import SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.errors import PROBLEM_RESPONSES, ProblemError
from careloop_common.inputs import Limit, Offset
from complaints import reports
from complaints.clocks import CLOCKS
from complaints.reports import Dimension, Group, HandlerFigures, Summary

router = APIRouter(prefix="/complaints/v1/reports", tags=["reports"], responses=PROBLEM_RESPONSES)

# Supervisors hold complaints:read (careloop_common.auth.ROLE_SCOPES); partners see their own only.
Reader = Annotated[Principal, Depends(require_scopes("complaints:read"))]

RegionName = Literal["HK", "CN"]
CategoryName = Literal["coverage", "billing", "service", "value_added_service", "staff", "other"]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object) -> object:
    """Accept a day as the schema says it (RFC 3339 full-date text), not a number or a week date."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("a date in YYYY-MM-DD form, e.g. 2026-11-30")


Day = Annotated[date, BeforeValidator(_day)]
FromDay = Annotated[
    Day | None,
    Query(
        alias="from",
        description="first day (UTC) a complaint was filed on, included",
        examples=["2026-11-01"],
    ),
]
ToDay = Annotated[
    Day | None,
    Query(description="last day (UTC) a complaint was filed on, included", examples=["2026-11-30"]),
]
RegionQuery = Annotated[RegionName | None, Query(description="only complaints of this region")]
CategoryQuery = Annotated[CategoryName | None, Query(description="only complaints of this category")]
By = Annotated[Dimension, Query(description="what to group complaints by")]


class AppliedFilters(BaseModel):
    """The filters a report was made with."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(alias="from")
    to: date | None
    region: RegionName | None
    category: CategoryName | None


@dataclass(frozen=True)
class ReportScope:
    """Which complaints a report covers, as the query and as what the answer echoes."""

    filters: reports.Filters
    applied: AppliedFilters


async def report_scope(
    principal: Reader,
    from_: FromDay = None,
    to: ToDay = None,
    region: RegionQuery = None,
    category: CategoryQuery = None,
) -> ReportScope:
    """Read a report's filters (dependency); a period that ends before it starts is a 422 problem."""
    if from_ is not None and to is not None and from_ > to:
        raise ProblemError(
            422,
            "invalid-date-range",
            f"'from' ({from_}) is after 'to' ({to}): the period would hold no day",
            field="query.from",
        )
    return ReportScope(
        filters=reports.Filters.for_days(
            from_, to, region=region, category=category, partner_id=principal.partner_id
        ),
        applied=AppliedFilters(from_=from_, to=to, region=region, category=category),
    )


ScopeDep = Annotated[ReportScope, Depends(report_scope)]


class SummaryReport(Summary):
    """The figures of every complaint the filters cover."""

    filters: AppliedFilters


class BreakdownReport(BaseModel):
    """One page of a breakdown: weeks in order, other groups largest first."""

    by: Dimension
    filters: AppliedFilters
    items: list[Group]
    total: int = Field(description="groups in the whole breakdown")
    limit: int
    offset: int


class HandlersReport(BaseModel):
    """One page of handlers, busiest first."""

    filters: AppliedFilters
    items: list[HandlerFigures]
    total: int = Field(description="handlers in the whole report")
    limit: int
    offset: int


class CSVResponse(Response):
    """A CSV document (UTF-8)."""

    media_type = "text/csv"


@router.get("/summary", response_model=SummaryReport, summary="Complaint figures for a period")
async def get_summary(scope: ScopeDep, session: SessionDep) -> SummaryReport:
    """Return counts, SLA compliance, first-contact resolution, time to close and revisit satisfaction."""
    figures = await reports.summary(session, scope.filters)
    return SummaryReport(**figures.model_dump(), filters=scope.applied)


@router.get(
    "/breakdown", response_model=BreakdownReport, summary="Complaint figures grouped by one dimension"
)
async def get_breakdown(
    by: By, scope: ScopeDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> BreakdownReport:
    """Return the figures per category, symptom, channel, brand, region, area or ISO week."""
    groups = await reports.breakdown(session, by, scope.filters)
    return BreakdownReport(
        by=by,
        filters=scope.applied,
        items=groups[offset : offset + limit],
        total=len(groups),
        limit=limit,
        offset=offset,
    )


@router.get(
    "/breakdown.csv",
    response_class=CSVResponse,
    summary="Export a breakdown as CSV",
    responses={
        200: {
            "description": "every group, one row each, in the order of the JSON breakdown; "
            "sent as an attachment (Content-Disposition)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def get_breakdown_csv(by: By, scope: ScopeDep, session: SessionDep) -> CSVResponse:
    """Return a whole breakdown as a CSV file: the same figures as the JSON, no paging."""
    groups = await reports.breakdown(session, by, scope.filters)
    disposition = f'attachment; filename="{csv_filename(by, scope.applied)}"'
    return CSVResponse(breakdown_csv(by, groups), headers={"Content-Disposition": disposition})


@router.get("/handlers", response_model=HandlersReport, summary="Complaint figures per handler")
async def get_handlers(
    scope: ScopeDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> HandlersReport:
    """Return each owner's complaints, resolutions, closings, breaches, FCR rate and time to close."""
    found = await reports.handlers(session, scope.filters)
    return HandlersReport(
        filters=scope.applied,
        items=found[offset : offset + limit],
        total=len(found),
        limit=limit,
        offset=offset,
    )


# --- CSV ---------------------------------------------------------------------------------------------


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

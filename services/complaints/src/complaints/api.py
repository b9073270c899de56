"""Routes of the complaints service under /complaints/v1, analytics reports under /complaints/v1/reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common import idempotency
from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import PORTAL_SCOPE, Principal, require_scopes
from careloop_common.db import utcnow
from careloop_common.errors import PROBLEM_RESPONSES, NotFound, ProblemError
from careloop_common.inputs import Limit, Offset, PathId, to_e164
from complaints import analytics, repository, service
from complaints.answers import EXTRA, CoverageClient
from complaints.models import Complaint
from complaints.repository import ReportFilter
from complaints.schemas import (
    QUEUE,
    AppliedFilters,
    BreakdownReport,
    CategoryName,
    ComplaintCreate,
    ComplaintFiled,
    ComplaintPage,
    ComplaintPublic,
    CustomerView,
    Day,
    Dimension,
    HandlersReport,
    HistoryPage,
    HistoryPublic,
    PortalComplaintCreate,
    PortalReceipt,
    QueuePage,
    RegionName,
    RevisitCreate,
    RevisitPublic,
    StatusChange,
    SummaryReport,
    Transfer,
)
from complaints.settings import ComplaintsSettings

router = APIRouter(prefix="/complaints/v1", tags=["complaints"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("complaints:read"))]
Writer = Annotated[Principal, Depends(require_scopes("complaints:write"))]
Customer = Annotated[Principal, Depends(require_scopes(PORTAL_SCOPE))]


async def coverage_client(request: Request) -> CoverageClient | None:
    """Return the client intake asks coverage-map with (dependency)."""
    client: CoverageClient | None = request.app.state.platform.extras.get(EXTRA)
    return client


async def complaints_settings(request: Request) -> ComplaintsSettings:
    """Return the service's settings (dependency)."""
    settings: ComplaintsSettings = request.app.state.platform.settings
    return settings


Coverage = Annotated[CoverageClient | None, Depends(coverage_client)]
Settings = Annotated[ComplaintsSettings, Depends(complaints_settings)]


async def _complaint(
    session: AsyncSession, complaint_id: str, principal: Principal, *, for_update: bool
) -> Complaint:
    """Return a complaint the caller may see (partners: their own), or a 404 problem."""
    complaint = await repository.get(session, complaint_id, principal.partner_id, for_update=for_update)
    if complaint is None:
        raise NotFound("complaint", complaint_id)
    return complaint


@router.post("/complaints", status_code=201, response_model=ComplaintFiled, summary="File a complaint")
async def file_complaint(
    body: ComplaintCreate,
    request: Request,
    session: SessionDep,
    state: PlatformDep,
    coverage: Coverage,
    principal: Writer,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> JSONResponse:
    """File a complaint; the answer says what coverage-map knows of the place, or that engineers will look."""
    # Asked before the database is touched: no connection is held while coverage-map thinks.
    answer = await service.instant_answer(coverage, body)
    if idempotency_key:
        print_ = idempotency.fingerprint("POST", request.url.path, body.model_dump(mode="json"))
        prior = await idempotency.replay(session, principal.subject, idempotency_key, print_)
        if prior is not None:
            return JSONResponse(prior[1], status_code=prior[0])
    complaint, token = service.stage_filing(
        session, body, principal, state.source, state.settings.customer_ref_secret, answer=answer
    )
    # ComplaintFiled is ComplaintPublic plus the token: validated once, the token added to its JSON.
    out = ComplaintPublic.model_validate(complaint).model_dump(mode="json") | {"tracking_token": token}
    if idempotency_key:
        idempotency.remember(session, principal.subject, idempotency_key, print_, 201, out)
    # Filings arriving together share a transaction; each answers once its own rows are committed.
    await state.group_commit.commit(session)
    return JSONResponse(
        out, status_code=201, headers={"Location": f"{router.prefix}/complaints/{complaint.id}"}
    )


@router.get("/complaints/{complaint_id}", response_model=ComplaintPublic, summary="Get a complaint")
async def get_complaint(complaint_id: PathId, session: SessionDep, principal: Reader) -> ComplaintPublic:
    """Return one complaint (partners see only their own)."""
    complaint = await _complaint(session, complaint_id, principal, for_update=False)
    return ComplaintPublic.model_validate(complaint)


E164 = Annotated[
    str | None,
    Query(
        pattern=r"^\+[1-9][0-9]{3,14}$",
        examples=["+85291234567"],
        description="only this customer's complaints (E.164)",
    ),
]


AreaFilter = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9a-f]{15}$",
        examples=["8830e1d8c9fffff"],
        description="only complaints placed in this coverage area (an H3 cell, as coverage-map names it)",
    ),
]


@router.get("/complaints", response_model=ComplaintPage, summary="List complaints")
async def list_complaints(
    session: SessionDep,
    principal: Reader,
    msisdn: E164 = None,
    area_id: AreaFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ComplaintPage:
    """List complaints newest first: one customer's history by number, or one area's (partners see
    only their own)."""
    number = _valid_number(msisdn) if msisdn is not None else None
    items, total = await repository.page(
        session, principal.partner_id, limit, offset, msisdn=number, area_id=area_id
    )
    return ComplaintPage(
        items=[ComplaintPublic.model_validate(c) for c in items], total=total, limit=limit, offset=offset
    )


def _valid_number(msisdn: str) -> str:
    """Return a number as stored (E.164), or a problem: the pattern cannot tell a real number."""
    try:
        return to_e164(msisdn)
    except ValueError as exc:
        raise ProblemError(422, "invalid-msisdn", str(exc), field="msisdn") from exc


@router.post(
    "/complaints/{complaint_id}/status", response_model=ComplaintPublic, summary="Change a complaint's status"
)
async def change_status(
    complaint_id: PathId,
    body: StatusChange,
    session: SessionDep,
    state: PlatformDep,
    settings: Settings,
    principal: Writer,
) -> ComplaintPublic:
    """Move a complaint in its lifecycle (owner or supervisor); an illegal move is a 409 naming legal ones."""
    complaint = await _complaint(session, complaint_id, principal, for_update=True)
    service.change_status(
        session,
        complaint,
        body.status,
        by=principal,
        reason=body.reason,
        revisit_after=timedelta(days=settings.revisit_delay_days(complaint.category)),
        now=utcnow(),
        source=state.source,
    )
    return ComplaintPublic.model_validate(complaint)


@router.post(
    "/complaints/{complaint_id}/transfer", response_model=ComplaintPublic, summary="Hand a complaint over"
)
async def transfer_complaint(
    complaint_id: PathId, body: Transfer, session: SessionDep, state: PlatformDep, principal: Writer
) -> ComplaintPublic:
    """Give a complaint another owner (and queue), with the reason (owner or supervisor)."""
    complaint = await _complaint(session, complaint_id, principal, for_update=True)
    service.transfer(
        session,
        complaint,
        body.to_owner,
        by=principal,
        reason=body.reason,
        queue=body.queue,
        now=utcnow(),
        source=state.source,
    )
    return ComplaintPublic.model_validate(complaint)


@router.post(
    "/complaints/{complaint_id}/take", response_model=ComplaintPublic, summary="Take a queued complaint"
)
async def take_complaint(
    complaint_id: PathId, session: SessionDep, state: PlatformDep, principal: Writer
) -> ComplaintPublic:
    """Take a complaint waiting in its queue: the caller owns it to the end."""
    complaint = await _complaint(session, complaint_id, principal, for_update=True)
    service.take(session, complaint, by=principal, now=utcnow(), source=state.source)
    return ComplaintPublic.model_validate(complaint)


@router.get("/queue", response_model=QueuePage, summary="Work queue with SLA timers")
async def work_queue(
    session: SessionDep,
    principal: Reader,
    queue: Annotated[str | None, Query(pattern=QUEUE, description="one queue: coverage.HK.green")] = None,
    mine: Annotated[bool, Query(description="only complaints the caller owns")] = False,
    escalated: Annotated[bool | None, Query(description="only escalated (true) or not (false)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> QueuePage:
    """List open complaints, green channel first, then by the nearest deadline, with each clock."""
    items, total = await repository.queue_page(
        session,
        partner_id=principal.partner_id,
        queue=queue,
        owner=principal.subject if mine else None,
        escalated=escalated,
        limit=limit,
        offset=offset,
    )
    now = utcnow()
    return QueuePage(
        items=[service.queue_item(c, now) for c in items], total=total, limit=limit, offset=offset
    )


@router.get("/complaints/{complaint_id}/history", response_model=HistoryPage, summary="A complaint's history")
async def complaint_history(
    complaint_id: PathId, session: SessionDep, principal: Reader, limit: Limit = 100, offset: Offset = 0
) -> HistoryPage:
    """Return every change to a complaint, oldest first: who, when, what and why."""
    await _complaint(session, complaint_id, principal, for_update=False)
    items, total = await repository.history(
        session, complaint_id, customer_only=False, limit=limit, offset=offset
    )
    return HistoryPage(
        items=[HistoryPublic.model_validate(h) for h in items], total=total, limit=limit, offset=offset
    )


@router.post(
    "/complaints/{complaint_id}/revisit",
    status_code=201,
    response_model=RevisitPublic,
    summary="Record a revisit answer",
)
async def record_revisit(
    complaint_id: PathId, body: RevisitCreate, session: SessionDep, state: PlatformDep, principal: Writer
) -> RevisitPublic:
    """Record what the customer said when asked after closing how we did (once per complaint)."""
    complaint = await _complaint(session, complaint_id, principal, for_update=True)
    answer = await service.record_revisit(
        session,
        complaint,
        satisfied=body.satisfied,
        score=body.score,
        comment=body.comment,
        channel=body.channel,
        actor=principal.subject,
        now=utcnow(),
        source=state.source,
    )
    return RevisitPublic.model_validate(answer)


@router.post(
    "/portal/complaints",
    status_code=201,
    response_model=PortalReceipt,
    tags=["portal"],
    summary="File a complaint on the portal (no login)",
)
async def file_portal_complaint(
    body: PortalComplaintCreate,
    session: SessionDep,
    state: PlatformDep,
    coverage: Coverage,
    principal: Customer,
) -> PortalReceipt:
    """File a complaint as a customer; the answer holds the tracking token and anything known of the area."""
    answer = await service.instant_answer(coverage, body)
    # Portal complaints wait in the care team's queue; "portal" is who filed them, in the history.
    on_portal = principal.model_copy(update={"subject": "portal", "kind": "customer"})
    complaint, token = service.stage_filing(
        session, body, on_portal, state.source, state.settings.customer_ref_secret, answer=answer
    )
    await state.group_commit.commit(session)
    return PortalReceipt(
        reference=complaint.reference,
        status=complaint.status,
        created_at=complaint.created_at,
        tracking_token=token,
        answer_state=complaint.answer_state,
        answer_text=complaint.answer_text,
    )


@router.get(
    "/portal/complaint",
    response_model=CustomerView,
    tags=["portal"],
    summary="Follow my complaint (tracking token)",
)
async def track_complaint(session: SessionDep, principal: Customer) -> CustomerView:
    """Return the one complaint the caller's tracking token opens, with its steps so far."""
    token_hash = service.tracking_hash_of(principal)
    if token_hash is None:
        raise ProblemError(
            401,
            "unauthorized",
            "send the complaint's tracking token as 'Authorization: Bearer trk_…'",
            headers={"WWW-Authenticate": 'Bearer realm="careloop"'},
        )
    complaint = await repository.by_tracking_hash(session, token_hash)
    if complaint is None:
        raise NotFound("complaint for this tracking token", "…")
    steps, _ = await repository.history(session, complaint.id, customer_only=True, limit=500, offset=0)
    return service.customer_view(complaint, steps)


# --- analytics reports -------------------------------------------------------------------------------
#
# Their own router: the paths sit under /reports and the OpenAPI tags them "reports" alone.
# Query parameters are Literal types, so the OpenAPI spells each one's values inline (an enum $ref in
# a parameter breaks the schemathesis contract test). Supervisors hold complaints:read
# (careloop_common.auth.ROLE_SCOPES); partners see figures of their own complaints only.

reports_router = APIRouter(prefix="/complaints/v1/reports", tags=["reports"], responses=PROBLEM_RESPONSES)

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


@dataclass(frozen=True)
class ReportScope:
    """Which complaints a report covers, as the query and as what the answer echoes."""

    filters: ReportFilter
    applied: AppliedFilters


async def report_scope(
    principal: Reader,
    from_: FromDay = None,
    to: ToDay = None,
    region: RegionQuery = None,
    category: CategoryQuery = None,
) -> ReportScope:
    """Read a report's filters (dependency); a period that ends before it starts is a 422 problem."""
    analytics.check_period(from_, to)
    return ReportScope(
        filters=analytics.report_filter(
            from_, to, region=region, category=category, partner_id=principal.partner_id
        ),
        applied=AppliedFilters(from_=from_, to=to, region=region, category=category),
    )


ScopeDep = Annotated[ReportScope, Depends(report_scope)]


class CSVResponse(Response):
    """A CSV document (UTF-8)."""

    media_type = "text/csv"


@reports_router.get("/summary", response_model=SummaryReport, summary="Complaint figures for a period")
async def get_summary(scope: ScopeDep, session: SessionDep) -> SummaryReport:
    """Return counts, SLA compliance, first-contact resolution, time to close and revisit satisfaction."""
    figures = await analytics.summary(session, scope.filters)
    return SummaryReport(**figures.model_dump(), filters=scope.applied)


@reports_router.get(
    "/breakdown", response_model=BreakdownReport, summary="Complaint figures grouped by one dimension"
)
async def get_breakdown(
    by: By, scope: ScopeDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> BreakdownReport:
    """Return the figures per category, symptom, channel, brand, region, area or ISO week."""
    groups = await analytics.breakdown(session, by, scope.filters)
    return BreakdownReport(
        by=by,
        filters=scope.applied,
        items=groups[offset : offset + limit],
        total=len(groups),
        limit=limit,
        offset=offset,
    )


@reports_router.get(
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
    groups = await analytics.breakdown(session, by, scope.filters)
    disposition = f'attachment; filename="{analytics.csv_filename(by, scope.applied)}"'
    return CSVResponse(analytics.breakdown_csv(by, groups), headers={"Content-Disposition": disposition})


@reports_router.get("/handlers", response_model=HandlersReport, summary="Complaint figures per handler")
async def get_handlers(
    scope: ScopeDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> HandlersReport:
    """Return each owner's complaints, resolutions, closings, breaches, FCR rate and time to close."""
    found = await analytics.handlers(session, scope.filters)
    return HandlersReport(
        filters=scope.applied,
        items=found[offset : offset + limit],
        total=len(found),
        limit=limit,
        offset=offset,
    )

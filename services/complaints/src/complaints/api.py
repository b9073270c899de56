"""Routes of the complaints service under /complaints/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from careloop_common import idempotency
from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import PORTAL_SCOPE, Principal, require_scopes
from careloop_common.errors import PROBLEM_RESPONSES, NotFound, ProblemError
from careloop_common.inputs import Limit, Offset, PathId
from complaints import repository, service
from complaints.schemas import (
    ComplaintCreate,
    ComplaintFiled,
    ComplaintPage,
    ComplaintPublic,
    CustomerView,
    PortalComplaintCreate,
    PortalReceipt,
)

router = APIRouter(prefix="/complaints/v1", tags=["complaints"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("complaints:read"))]
Writer = Annotated[Principal, Depends(require_scopes("complaints:write"))]
Customer = Annotated[Principal, Depends(require_scopes(PORTAL_SCOPE))]


@router.post("/complaints", status_code=201, response_model=ComplaintFiled, summary="File a complaint")
async def file_complaint(
    body: ComplaintCreate,
    request: Request,
    session: SessionDep,
    state: PlatformDep,
    principal: Writer,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> JSONResponse:
    """File a complaint; with Follow Up ticked, engineering is asked to investigate the area."""
    if idempotency_key:
        print_ = idempotency.fingerprint("POST", request.url.path, body.model_dump(mode="json"))
        prior = await idempotency.replay(session, principal.subject, idempotency_key, print_)
        if prior is not None:
            return JSONResponse(prior[1], status_code=prior[0])
    complaint, token = await service.file_complaint(
        session, body, principal, state.source, state.settings.customer_ref_secret
    )
    public = ComplaintPublic.model_validate(complaint).model_dump()
    out = ComplaintFiled(**public, tracking_token=token).model_dump(mode="json")
    if idempotency_key:
        idempotency.remember(session, principal.subject, idempotency_key, print_, 201, out)
    return JSONResponse(
        out, status_code=201, headers={"Location": f"{router.prefix}/complaints/{complaint.id}"}
    )


@router.get("/complaints/{complaint_id}", response_model=ComplaintPublic, summary="Get a complaint")
async def get_complaint(complaint_id: PathId, session: SessionDep, principal: Reader) -> ComplaintPublic:
    """Return one complaint (partners see only their own)."""
    complaint = await repository.get(session, complaint_id, principal.partner_id)
    if complaint is None:
        raise NotFound("complaint", complaint_id)
    return ComplaintPublic.model_validate(complaint)


@router.get("/complaints", response_model=ComplaintPage, summary="List complaints")
async def list_complaints(
    session: SessionDep,
    principal: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ComplaintPage:
    """List complaints newest first (partners see only their own)."""
    items, total = await repository.page(session, principal.partner_id, limit, offset)
    return ComplaintPage(
        items=[ComplaintPublic.model_validate(c) for c in items], total=total, limit=limit, offset=offset
    )


@router.post(
    "/portal/complaints",
    status_code=201,
    response_model=PortalReceipt,
    tags=["portal"],
    summary="File a complaint on the portal (no login)",
)
async def file_portal_complaint(
    body: PortalComplaintCreate, session: SessionDep, state: PlatformDep, principal: Customer
) -> PortalReceipt:
    """File a complaint as a customer; the answer holds the tracking token that follows it."""
    # Portal complaints belong to the care team's queue, not to whoever holds a token.
    on_portal = principal.model_copy(update={"subject": "portal"})
    complaint, token = await service.file_complaint(
        session, body, on_portal, state.source, state.settings.customer_ref_secret
    )
    return PortalReceipt(
        reference=complaint.reference,
        status=complaint.status,
        created_at=complaint.created_at,
        tracking_token=token,
    )


@router.get(
    "/portal/complaint",
    response_model=CustomerView,
    tags=["portal"],
    summary="Follow my complaint (tracking token)",
)
async def track_complaint(session: SessionDep, principal: Customer) -> CustomerView:
    """Return the one complaint the caller's tracking token opens."""
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
    return service.customer_view(complaint)

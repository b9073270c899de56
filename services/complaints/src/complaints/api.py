"""Routes of the complaints service under /complaints/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from careloop_common import idempotency
from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.errors import PROBLEM_RESPONSES, NotFound
from careloop_common.inputs import Limit, Offset, PathId
from complaints import repository, service
from complaints.schemas import ComplaintCreate, ComplaintPage, ComplaintPublic

router = APIRouter(prefix="/complaints/v1", tags=["complaints"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("complaints:read"))]
Writer = Annotated[Principal, Depends(require_scopes("complaints:write"))]


@router.post("/complaints", status_code=201, response_model=ComplaintPublic, summary="File a complaint")
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
    complaint = await service.file_complaint(session, body, principal, state.source)
    out = ComplaintPublic.model_validate(complaint).model_dump(mode="json")
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

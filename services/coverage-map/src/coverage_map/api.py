"""Routes of the coverage-map service under /coverage/v1."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends

from careloop_common.app import SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.errors import PROBLEM_RESPONSES, NotFound
from careloop_common.inputs import Limit, Offset, PathId
from coverage_map import repository
from coverage_map.schemas import InvestigationPage, InvestigationPublic

router = APIRouter(prefix="/coverage/v1", tags=["coverage"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("coverage:read"))]


@router.get("/investigations", response_model=InvestigationPage, summary="List investigations")
async def list_investigations(
    session: SessionDep,
    _: Reader,
    status: Literal["open", "assessed", "closed"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InvestigationPage:
    """List investigations, most complained-about first."""
    items, total = await repository.page(session, status, limit, offset)
    return InvestigationPage(
        items=[InvestigationPublic.model_validate(i) for i in items], total=total, limit=limit, offset=offset
    )


@router.get(
    "/investigations/{investigation_id}", response_model=InvestigationPublic, summary="Get an investigation"
)
async def get_investigation(investigation_id: PathId, session: SessionDep, _: Reader) -> InvestigationPublic:
    """Return one investigation."""
    investigation = await repository.get(session, investigation_id)
    if investigation is None:
        raise NotFound("investigation", investigation_id)
    return InvestigationPublic.model_validate(investigation)

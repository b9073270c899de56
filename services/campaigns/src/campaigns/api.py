"""Routes of the campaigns service under /campaigns/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.convertors import StringConvertor, register_url_convertor

from campaigns import repository, segments, service
from campaigns.schemas import (
    SegmentCreate,
    SegmentPage,
    SegmentPreview,
    SegmentPreviewRequest,
    SegmentPublic,
    SegmentUpdate,
)
from campaigns.settings import CampaignsSettings
from careloop_common import idempotency
from careloop_common.app import SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import utcnow
from careloop_common.errors import PROBLEM_RESPONSES
from careloop_common.inputs import Limit, Offset, PathId

router = APIRouter(prefix="/campaigns/v1", tags=["campaigns"], responses=PROBLEM_RESPONSES)


class SegmentIdConvertor(StringConvertor):
    """A segment id in a path: any text but ``preview``, which names the preview route.

    Without it ``/segments/{segment_id}`` would also match ``/segments/preview``, and a 405 there
    would offer GET and PUT, which that path does not have.
    """

    regex = "(?!preview$)[^/]+"


register_url_convertor("segment_id", SegmentIdConvertor())
SEGMENT = "/segments/{segment_id:segment_id}"

Reader = Annotated[Principal, Depends(require_scopes("campaigns:read"))]
Writer = Annotated[Principal, Depends(require_scopes("campaigns:write"))]


async def campaigns_settings(request: Request) -> CampaignsSettings:
    """Return the service's settings (dependency)."""
    settings: CampaignsSettings = request.app.state.platform.settings
    return settings


Settings = Annotated[CampaignsSettings, Depends(campaigns_settings)]


# --- segments ---------------------------------------------------------------------------------------


@router.post(
    "/segments", status_code=201, response_model=SegmentPublic, tags=["segments"], summary="Save a segment"
)
async def create_segment(
    body: SegmentCreate,
    request: Request,
    session: SessionDep,
    principal: Writer,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> JSONResponse:
    """Save a named segment; its conditions are checked first (422 segment-invalid names each fault)."""
    if idempotency_key:
        asked = body.model_dump(mode="json", by_alias=True)
        print_ = idempotency.fingerprint("POST", request.url.path, asked)
        prior = await idempotency.replay(session, principal.subject, idempotency_key, print_)
        if prior is not None:
            return JSONResponse(prior[1], status_code=prior[0])
    segment = await service.create_segment(session, body, principal.subject)
    out = SegmentPublic.model_validate(segment).model_dump(mode="json", by_alias=True)
    if idempotency_key:
        idempotency.remember(session, principal.subject, idempotency_key, print_, 201, out)
    return JSONResponse(out, status_code=201, headers={"Location": f"{router.prefix}/segments/{segment.id}"})


@router.get("/segments", response_model=SegmentPage, tags=["segments"], summary="List segments")
async def list_segments(session: SessionDep, _: Reader, limit: Limit = 50, offset: Offset = 0) -> SegmentPage:
    """List saved segments by name."""
    items, total = await repository.segments_page(session, limit, offset)
    return SegmentPage(
        items=[SegmentPublic.model_validate(s) for s in items], total=total, limit=limit, offset=offset
    )


@router.get(SEGMENT, response_model=SegmentPublic, tags=["segments"], summary="Get a segment")
async def get_segment(segment_id: PathId, session: SessionDep, _: Reader) -> SegmentPublic:
    """Return one saved segment."""
    return SegmentPublic.model_validate(await service.saved_segment(session, segment_id))


@router.put(SEGMENT, response_model=SegmentPublic, tags=["segments"], summary="Edit a segment")
async def update_segment(
    segment_id: PathId, body: SegmentUpdate, session: SessionDep, principal: Writer
) -> SegmentPublic:
    """Replace a segment's name, description and conditions."""
    segment = await service.update_segment(session, segment_id, body, principal.subject)
    return SegmentPublic.model_validate(segment)


@router.post(
    "/segments/preview", response_model=SegmentPreview, tags=["segments"], summary="Preview a segment"
)
async def preview_segment(
    body: SegmentPreviewRequest, session: SessionDep, settings: Settings, _: Reader
) -> SegmentPreview:
    """Count who meets a tree or a saved segment today, with a sample whose numbers are masked."""
    as_of = segments.AsOf.at(utcnow(), settings.zone)
    return await service.preview(session, body, as_of)

"""Domain rules of the campaigns service."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import repository, segments
from campaigns.models import Segment
from campaigns.schemas import (
    SegmentCreate,
    SegmentMember,
    SegmentPreview,
    SegmentPreviewRequest,
    SegmentUpdate,
)
from careloop_common.db import utcnow
from careloop_common.errors import Conflict, NotFound


async def create_segment(session: AsyncSession, body: SegmentCreate, author: str) -> Segment:
    """Save a new segment under a name no other segment has."""
    await _refuse_taken_name(session, body.name, None)
    now = utcnow()
    segment = Segment(
        id=str(uuid.uuid4()),
        name=body.name,
        description=body.description,
        conditions=segments.as_json(body.conditions),
        created_by=author,
        updated_by=author,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, segment)
    return segment


async def update_segment(session: AsyncSession, segment_id: str, body: SegmentUpdate, author: str) -> Segment:
    """Replace a segment's name, description and conditions."""
    segment = await saved_segment(session, segment_id)
    await _refuse_taken_name(session, body.name, segment.id)
    segment.name = body.name
    segment.description = body.description
    segment.conditions = segments.as_json(body.conditions)
    segment.updated_by = author
    segment.updated_at = utcnow()
    await repository.add(session, segment)
    return segment


async def saved_segment(session: AsyncSession, segment_id: str) -> Segment:
    """Return a saved segment or raise a 404 problem."""
    segment = await repository.get_segment(session, segment_id)
    if segment is None:
        raise NotFound("segment", segment_id)
    return segment


async def _refuse_taken_name(session: AsyncSession, name: str, own_id: str | None) -> None:
    holder = await repository.segment_named(session, name)
    if holder is not None and holder.id != own_id:
        raise Conflict(f"a segment named {name!r} exists already", "segment-name-taken", segment_id=holder.id)


async def preview(
    session: AsyncSession, request: SegmentPreviewRequest, as_of: segments.AsOf
) -> SegmentPreview:
    """Count who meets a tree (or a saved segment's) at a moment, and show the first few, masked."""
    if request.conditions is not None:
        checked = segments.check(request.conditions)
    else:
        assert request.segment_id is not None
        checked = segments.parse((await saved_segment(session, request.segment_id)).conditions)
    condition = segments.where(checked, as_of)
    count = await repository.count_subscribers(session, condition)
    members = await repository.sample_subscribers(session, condition, request.sample_size) if count else []
    return SegmentPreview(
        count=count,
        sample=[
            SegmentMember(
                msisdn=mask_msisdn(m.msisdn),
                brand=m.brand,
                plan_id=m.plan_id,
                region=m.region,
                customer_class=m.customer_class,
                language=m.language,
                lifecycle_stage=m.lifecycle_stage,
                value_tier=m.value_tier,
            )
            for m in members
        ],
        today=as_of.today,
        now=as_of.now,
    )


def mask_msisdn(msisdn: str) -> str:
    """Show a number's last four digits only: enough to tell members apart, not to call them."""
    return "****" + msisdn[-4:]

"""Domain rules of the coverage-map service."""

from __future__ import annotations

import uuid

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.events.coverage import InvestigationOpenedV1
from careloop_common.outbox import publish_later
from coverage_map import repository
from coverage_map.models import Investigation, InvestigationComplaint

HIGH_VALUE_CLASSES = frozenset({"vip", "gold", "key_account"})


def area_of(lat: float, lng: float, resolution: int) -> str:
    """Return the H3 cell (the area id) containing a point."""
    return str(h3.latlng_to_cell(lat, lng, resolution))


async def record_follow_up(
    session: AsyncSession, request: FollowUpRequestedV1, *, resolution: int, source: str
) -> Investigation:
    """Open the area's investigation or join the open one; a complaint counts once."""
    area_id = area_of(request.lat, request.lng, resolution)
    investigation = await repository.open_investigation_for_area(session, area_id)
    if investigation is None:
        investigation = Investigation(
            id=str(uuid.uuid4()),
            area_id=area_id,
            status=repository.OPEN,
            complaint_count=0,
            high_value_count=0,
            symptom_counts={},
            first_complaint_at=request.requested_at,
            last_complaint_at=request.requested_at,
            opened_at=request.requested_at,
        )
        await repository.add(session, investigation)
        publish_later(
            session,
            InvestigationOpenedV1(
                investigation_id=investigation.id,
                area_id=area_id,
                complaint_id=request.complaint_id,
                opened_at=investigation.opened_at,
            ),
            source=source,
            subject=investigation.id,
        )
    if await repository.complaint_link(session, request.complaint_id) is not None:
        return investigation
    investigation.complaint_count += 1
    if request.customer_class in HIGH_VALUE_CLASSES:
        investigation.high_value_count += 1
    counts = dict(investigation.symptom_counts)
    for symptom in request.symptoms:
        counts[symptom] = counts.get(symptom, 0) + 1
    investigation.symptom_counts = counts
    investigation.first_complaint_at = min(investigation.first_complaint_at, request.requested_at)
    investigation.last_complaint_at = max(investigation.last_complaint_at, request.requested_at)
    await repository.add(
        session,
        investigation,
        InvestigationComplaint(
            complaint_id=request.complaint_id,
            investigation_id=investigation.id,
            reference=request.reference,
            requested_at=request.requested_at,
        ),
    )
    return investigation

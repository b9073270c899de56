"""Care that follows a coverage complaint: complaints become customers' past events (for segments
such as "complained about coverage in the last 180 days" and "no repeat complaint" goals), and a
completed coverage plan tells the past complainers of its area that the coverage is better now.

Complaints name the customer by pseudonym (``customer_ref``), never by number: the subscriber with
that pseudonym is looked up here. A complaint of a customer campaigns does not know is left out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import execution, repository
from careloop_common.events.complaints import ComplaintFiledV1
from careloop_common.events.coverage import PlanCompletedV1

log = logging.getLogger(__name__)

COVERAGE_COMPLAINT = "complaint.coverage"
# How far back a completed plan looks for the complainers of its area; a campaign's audience (the
# template's: a coverage complaint in the last 180 days) narrows it further.
COMPLAINERS_LOOKBACK = timedelta(days=365)


def complaint_kind(category: str) -> str:
    """Return the past-event kind a complaint of this category is recorded as."""
    return f"complaint.{category}"


async def record_complaint(session: AsyncSession, payload: ComplaintFiledV1) -> bool:
    """Record a filed complaint as its customer's past event; tell whether the customer is known."""
    if payload.customer_ref is None:
        return False
    msisdn = await repository.msisdn_by_ref(session, payload.customer_ref)
    if msisdn is None:
        return False
    detail: dict[str, object] = {"complaint_id": payload.complaint_id, "channel": payload.channel}
    if payload.lat is not None and payload.lng is not None:
        detail |= {"lat": payload.lat, "lng": payload.lng}
    if payload.area_id is not None:
        detail["area_id"] = payload.area_id
    await repository.add_subscriber_event(
        session, msisdn, complaint_kind(payload.category), payload.filed_at, detail
    )
    return True


def in_area(detail: Mapping[str, Any], area_id: str) -> bool:
    """Say whether a complaint's place lies in an area (an H3 cell of any resolution)."""
    if detail.get("area_id") == area_id:
        return True
    lat, lng = detail.get("lat"), detail.get("lng")
    if not isinstance(lat, int | float) or not isinstance(lng, int | float):
        return False
    return bool(h3.latlng_to_cell(float(lat), float(lng), h3.get_resolution(area_id)) == area_id)


def complainers_in(rows: Iterable[Any], area_id: str) -> list[str]:
    """Return the distinct numbers, in first-seen order, of the complaints (msisdn, detail) in an area."""
    seen: dict[str, None] = {}
    for msisdn, detail in rows:
        if isinstance(detail, Mapping) and in_area(detail, area_id):
            seen.setdefault(str(msisdn), None)
    return list(seen)


async def tell_area_improved(
    session: AsyncSession, payload: PlanCompletedV1, *, now: datetime, zone: ZoneInfo, source: str
) -> execution.Met:
    """Meet the area's past coverage complainers in every running campaign triggered by a completed
    plan (the coverage-improved notice), in the caller's transaction."""
    campaigns = await repository.live_event_campaigns(session, PlanCompletedV1.subject)
    if not campaigns or not h3.is_valid_cell(payload.area_id):
        return execution.Met()
    rows: Sequence[Any] = await repository.events_of_kind(
        session, COVERAGE_COMPLAINT, payload.completed_at - COMPLAINERS_LOOKBACK
    )
    complainers = complainers_in(rows, payload.area_id)
    met = await execution.fire_for(session, campaigns, complainers, now=now, zone=zone, source=source)
    log.info(
        "plan %s completed in %s: %d past complainers, %d told, %d held out",
        payload.plan_id,
        payload.area_id,
        len(complainers),
        met.targeted,
        met.held_out,
    )
    return met

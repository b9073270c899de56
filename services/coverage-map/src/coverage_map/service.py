"""Domain rules of the coverage-map service: areas and levels, investigations and their priority."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.db import utcnow
from careloop_common.errors import ProblemError
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.events.coverage import InvestigationOpenedV1
from careloop_common.outbox import publish_later
from coverage_map import repository
from coverage_map.models import Area, AreaLevel, Investigation, InvestigationComplaint

HIGH_VALUE_CLASSES = frozenset({"vip", "gold", "key_account"})
TECHNOLOGIES = ("2G", "3G", "4G", "5G")
SERVICES = ("voice", "data")
LEVELS = ("none", "weak", "normal", "good")
# A level from a survey or a finished plan outranks one predicted from imports: an import never
# overwrites what an engineer measured.
SOURCE_RANK = {"survey": 2, "plan": 2, "prediction": 1, "derived": 1}


@dataclass(frozen=True)
class Grid:
    """The H3 resolutions of areas and districts."""

    area_resolution: int
    district_resolution: int

    def area_of(self, lat: float, lng: float) -> str:
        """Return the area (H3 cell) containing a point; a 422 problem for impossible coordinates."""
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ProblemError(422, "validation-error", f"no such place: lat {lat}, lng {lng}")
        return str(h3.latlng_to_cell(lat, lng, self.area_resolution))

    def district_of(self, area_id: str) -> str:
        """Return the district (coarser parent cell) of an area."""
        return str(h3.cell_to_parent(area_id, self.district_resolution))

    def check_area(self, area_id: str) -> str:
        """Return a valid area id at this grid's resolution, or raise a 422 problem."""
        if not h3.is_valid_cell(area_id) or h3.get_resolution(area_id) != self.area_resolution:
            raise ProblemError(
                422,
                "validation-error",
                f"{area_id!r} is not an area id (an H3 cell at resolution {self.area_resolution})",
            )
        return area_id


def area_of(lat: float, lng: float, resolution: int) -> str:
    """Return the H3 cell (the area id) containing a point."""
    return str(h3.latlng_to_cell(lat, lng, resolution))


async def ensure_area(session: AsyncSession, grid: Grid, area_id: str) -> Area:
    """Return the area row, creating it (with its centre and district) on first use."""
    area = await repository.get_area(session, area_id)
    if area is None:
        lat, lng = h3.cell_to_latlng(area_id)
        area = Area(id=area_id, district_id=grid.district_of(area_id), lat=lat, lng=lng, created_at=utcnow())
        await repository.add(session, area)
    return area


async def set_level(
    session: AsyncSession,
    area_id: str,
    technology: str,
    service: str,
    level: str,
    *,
    source: str,
    source_ref: str | None,
    by: str,
    at: datetime | None = None,
) -> bool:
    """Record an area's level unless a more authoritative one is already there; return whether it changed."""
    current = await repository.get_level(session, area_id, technology, service)
    if current is not None and SOURCE_RANK[source] < SOURCE_RANK.get(current.source, 0):
        return False
    if current is None:
        current = AreaLevel(
            area_id=area_id,
            technology=technology,
            service=service,
            level=level,
            source=source,
            source_ref=source_ref,
            observed_at=at or utcnow(),
            recorded_by=by,
        )
        session.add(current)
        return True
    changed = current.level != level
    current.level, current.source, current.source_ref = level, source, source_ref
    current.observed_at, current.recorded_by = at or utcnow(), by
    return changed


# --- investigations -------------------------------------------------------------------------------

# Priority score (documented in docs/coverage.md): complaints matter most, then the customers
# behind them, high-value customers count three times, a known weak or no-signal level adds
# weight, and the score halves for every week since the last complaint.
PRIORITY_WEIGHTS = {"complaint": 1.0, "customer": 1.0, "high_value": 3.0}
LEVEL_WEIGHT = {"none": 4.0, "weak": 2.0, "normal": 0.0, "good": 0.0, None: 1.0}
SURVEY_TARGETS = ((20.0, timedelta(days=1)), (8.0, timedelta(days=2)), (0.0, timedelta(days=3)))


def priority_score(investigation: Investigation, worst_level: str | None, now: datetime) -> float:
    """Return how urgently engineering should survey an investigation's area."""
    base = (
        PRIORITY_WEIGHTS["complaint"] * investigation.complaint_count
        + PRIORITY_WEIGHTS["customer"] * investigation.customer_count
        + PRIORITY_WEIGHTS["high_value"] * investigation.high_value_count
        + LEVEL_WEIGHT.get(worst_level, 1.0)
    )
    weeks_quiet = max(0.0, (now - investigation.last_complaint_at).total_seconds() / (7 * 86_400))
    return round(float(base * 0.5**weeks_quiet), 2)


def survey_target(score: float, opened_at: datetime) -> datetime:
    """Return when the survey should be done: sooner for higher scores (1, 2 or 3 days)."""
    for threshold, within in SURVEY_TARGETS:
        if score >= threshold:
            return opened_at + within
    return opened_at + SURVEY_TARGETS[-1][1]


async def record_follow_up(
    session: AsyncSession, request: FollowUpRequestedV1, *, grid: Grid, source: str
) -> Investigation:
    """Open the area's investigation or join the open one; a complaint counts once."""
    area_id = grid.area_of(request.lat, request.lng)
    area = await ensure_area(session, grid, area_id)
    investigation = await repository.open_investigation_for_area(session, area_id)
    if investigation is None:
        investigation = Investigation(
            id=str(uuid.uuid4()),
            area_id=area_id,
            district_id=area.district_id,
            status=repository.OPEN,
            complaint_count=0,
            customer_count=0,
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
    new_customer = request.customer_ref is None or not await repository.customer_in_investigation(
        session, investigation.id, request.customer_ref
    )
    investigation.complaint_count += 1
    if new_customer:
        investigation.customer_count += 1
        if request.customer_class in HIGH_VALUE_CLASSES:
            investigation.high_value_count += 1
    counts = dict(investigation.symptom_counts)
    for symptom in request.symptoms:
        counts[symptom] = counts.get(symptom, 0) + 1
    investigation.symptom_counts = counts
    investigation.first_complaint_at = min(investigation.first_complaint_at, request.requested_at)
    investigation.last_complaint_at = max(investigation.last_complaint_at, request.requested_at)
    worst = await repository.worst_level(session, area_id)
    investigation.survey_due_at = survey_target(
        priority_score(investigation, worst, investigation.last_complaint_at), investigation.opened_at
    )
    await repository.add(
        session,
        investigation,
        InvestigationComplaint(
            complaint_id=request.complaint_id,
            investigation_id=investigation.id,
            reference=request.reference,
            requested_at=request.requested_at,
            area_id=area_id,
            district_id=area.district_id,
            customer_ref=request.customer_ref,
            customer_class=request.customer_class,
            symptoms=list(request.symptoms),
            network=request.network,
        ),
    )
    return investigation

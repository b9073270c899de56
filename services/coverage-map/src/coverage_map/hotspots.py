"""Hot spots: network analysis from the customer's side.

Where do customers complain, how many of them, how valuable are they, what coverage is on record
there, and how does it move week by week. Every figure is aggregated in the database from the
complaint fact table (``investigation_complaint``); this module adds the period rules, the week
calendar, the map geometry and the ranks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.db import utcnow
from careloop_common.errors import ProblemError
from coverage_map import repository
from coverage_map.service import HIGH_VALUE_CLASSES

Group = Literal["area", "district"]
RankBy = Literal["complaints", "customers", "high_value", "weak"]

DEFAULT_PERIOD = timedelta(days=30)
MAX_LIMIT = 500
DEFAULT_WEEKS = 8
MAX_WEEKS = 52
WEEK = timedelta(days=7)


def _invalid(detail: str) -> ProblemError:
    """Return the 422 problem for well-formed parameters that break a rule (a period running backwards)."""
    return ProblemError(422, "rule-violated", detail)


def as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; a time without an offset is taken as UTC."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:  # an offset that pushes year 1 or 9999 off the calendar
        raise _invalid(f"{value.isoformat()} cannot be expressed in UTC") from exc


@dataclass(frozen=True)
class Period:
    """A half-open span of time, since ≤ requested_at < until, in UTC."""

    since: datetime
    until: datetime


def period(since: datetime | None, until: datetime | None, now: datetime | None = None) -> Period:
    """Return the period asked for: by default the 30 days up to now; a 422 problem when it is empty."""
    end = as_utc(until) if until is not None else (now or utcnow())
    try:
        start = as_utc(since) if since is not None else end - DEFAULT_PERIOD
    except OverflowError as exc:
        raise _invalid("until is too early to count 30 days back from it; give since too") from exc
    if start >= end:
        raise _invalid(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return Period(start, end)


# --- ranking --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HotSpotQuery:
    """What to rank, by what, over which period, how many, and optionally within one district."""

    period: Period
    group: Group = "area"
    by: RankBy = "complaints"
    limit: int = 50
    district_id: str | None = None


@dataclass(frozen=True)
class HotSpot:
    """One ranked area or district with its figures for the period."""

    id: str
    district_id: str | None
    lat: float
    lng: float
    complaints: int
    customers: int
    high_value_customers: int
    worst_level: str | None
    open_investigation_id: str | None
    rank: int


def level_name(rank: int | None) -> str | None:
    """Return the level a rank stands for (0 none … 3 good); None when nothing is on record."""
    if rank is None or not 0 <= rank < len(repository.LEVEL_ORDER):
        return None
    return repository.LEVEL_ORDER[rank]


async def rank(session: AsyncSession, query: HotSpotQuery) -> list[HotSpot]:
    """Rank areas or districts for a period; the database does the counting, we add centres and ranks."""
    figures = await repository.hotspot_figures(
        session,
        group=query.group,
        by=query.by,
        since=query.period.since,
        until=query.period.until,
        limit=query.limit,
        district_id=query.district_id,
        high_value_classes=sorted(HIGH_VALUE_CLASSES),
    )
    spots = []
    for position, row in enumerate(figures, start=1):
        lat, lng = h3.cell_to_latlng(row.key)
        spots.append(
            HotSpot(
                id=row.key,
                district_id=row.district_id,
                lat=lat,
                lng=lng,
                complaints=row.complaints,
                customers=row.customers,
                high_value_customers=row.high_value,
                worst_level=level_name(row.worst_rank),
                open_investigation_id=row.open_investigation_id,
                rank=position,
            )
        )
    return spots


# --- trends ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendWeek:
    """One calendar week (Monday 00:00 UTC onwards) with its complaints and distinct customers."""

    week_start: datetime
    complaints: int
    customers: int


def week_boundaries(weeks: int, until: datetime) -> list[datetime]:
    """Return weeks + 1 Mondays 00:00 UTC: the last week is the one holding ``until``, whole."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise _invalid(f"weeks must be between 1 and {MAX_WEEKS}")
    day = as_utc(until).date()
    monday = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=day.weekday())
    try:
        return [monday + WEEK * (offset + 1) for offset in range(-weeks, 1)]
    except OverflowError as exc:
        raise _invalid("the weeks asked for run off the calendar; choose another until") from exc


async def trends(
    session: AsyncSession,
    *,
    weeks: int,
    until: datetime | None = None,
    area_id: str | None = None,
    district_id: str | None = None,
) -> list[TrendWeek]:
    """Return complaints and customers per week for an area, a district or the whole network."""
    if area_id is not None and district_id is not None:
        raise _invalid("give area_id or district_id, not both")
    boundaries = week_boundaries(weeks, until or utcnow())
    counted = await repository.hotspot_weeks(session, boundaries, area_id=area_id, district_id=district_id)
    # Weeks nobody complained in are absent from the query's answer: they are zeros, not gaps.
    return [TrendWeek(start, *counted.get(index, (0, 0))) for index, start in enumerate(boundaries[:-1])]


# --- map ------------------------------------------------------------------------------------------


def cell_ring(cell: str) -> list[list[float]]:
    """Return a cell's boundary as a closed GeoJSON ring: [lng, lat] pairs, counter-clockwise."""
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
    # RFC 7946 asks exterior rings to follow the right-hand rule; H3 already does, this keeps it so.
    if _signed_area(ring) < 0:
        ring.reverse()
    ring.append(list(ring[0]))
    return ring


def _signed_area(ring: list[list[float]]) -> float:
    """Return twice the signed planar area of an open ring (positive when counter-clockwise)."""
    pairs = zip(ring, ring[1:] + ring[:1], strict=True)
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs)


def feature(spot: HotSpot) -> dict[str, Any]:
    """Return a GeoJSON Feature for a hot spot: its cell as a Polygon, its figures as properties."""
    return {
        "type": "Feature",
        "id": spot.id,
        "geometry": {"type": "Polygon", "coordinates": [cell_ring(spot.id)]},
        "properties": asdict(spot),
    }


def feature_collection(spots: list[HotSpot]) -> dict[str, Any]:
    """Return ranked hot spots as a GeoJSON FeatureCollection, in rank order."""
    return {"type": "FeatureCollection", "features": [feature(spot) for spot in spots]}

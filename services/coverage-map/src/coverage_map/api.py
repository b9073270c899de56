"""Routes of the coverage-map service under /coverage/v1."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from careloop_common.app import SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.errors import PROBLEM_RESPONSES, NotFound
from coverage_map import repository
from coverage_map.schemas import InvestigationPage, InvestigationPublic

router = APIRouter(prefix="/coverage/v1", tags=["coverage"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("coverage:read"))]


@router.get("/investigations", response_model=InvestigationPage, summary="List investigations")
async def list_investigations(
    session: SessionDep,
    _: Reader,
    status: Literal["open", "assessed", "closed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> InvestigationPage:
    """List investigations, most complained-about first."""
    items, total = await repository.page(session, status, limit, offset)
    return InvestigationPage(
        items=[InvestigationPublic.model_validate(i) for i in items], total=total, limit=limit, offset=offset
    )


@router.get(
    "/investigations/{investigation_id}", response_model=InvestigationPublic, summary="Get an investigation"
)
async def get_investigation(investigation_id: str, session: SessionDep, _: Reader) -> InvestigationPublic:
    """Return one investigation."""
    investigation = await repository.get(session, investigation_id)
    if investigation is None:
        raise NotFound("investigation", investigation_id)
    return InvestigationPublic.model_validate(investigation)


# --- hot spots ------------------------------------------------------------------------------------
# Imports stay inside this section so that branches editing the rest of this file never collide.
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

from fastapi.responses import JSONResponse  # noqa: E402

from careloop_common.app import PlatformDep  # noqa: E402
from coverage_map import hotspots  # noqa: E402
from coverage_map.schemas import (  # noqa: E402
    HotSpotFeatureCollection,
    HotSpotPage,
    HotSpotPublic,
    HotSpotTrends,
    HotSpotTrendWeek,
)
from coverage_map.service import Grid  # noqa: E402
from coverage_map.settings import CoverageSettings  # noqa: E402


class GeoJSONResponse(JSONResponse):
    """JSON served as ``application/geo+json`` (RFC 7946), which map libraries recognise."""

    media_type = "application/geo+json"


def hotspot_grid(state: PlatformDep) -> Grid:
    """Return the H3 resolutions the running service counts areas and districts in."""
    settings = state.settings
    if not isinstance(settings, CoverageSettings):  # only when mounted in a foreign app
        settings = CoverageSettings()
    return Grid(settings.h3_resolution, settings.district_resolution)


GridDep = Annotated[Grid, Depends(hotspot_grid)]
SinceQuery = Annotated[
    datetime | None, Query(description="start of the period, inclusive (default: 30 days before until)")
]
UntilQuery = Annotated[
    datetime | None, Query(description="end of the period, exclusive (default: now); no offset means UTC")
]
DistrictQuery = Annotated[str | None, Query(max_length=16, description="only this district (an H3 cell)")]


async def hotspot_query(
    grid: GridDep,
    since: SinceQuery = None,
    until: UntilQuery = None,
    district_id: DistrictQuery = None,
    group: Annotated[hotspots.Group, Query(description="rank areas or districts")] = "area",
    by: Annotated[
        hotspots.RankBy,
        Query(description="complaints, distinct customers, high-value customers, or worst level on record"),
    ] = "complaints",
    limit: Annotated[int, Query(ge=1, le=hotspots.MAX_LIMIT)] = 50,
) -> hotspots.HotSpotQuery:
    """Read the ranking parameters the list and the map share."""
    return hotspots.HotSpotQuery(
        period=hotspots.period(since, until),
        group=group,
        by=by,
        limit=limit,
        district_id=None if district_id is None else hotspots.check_district(grid, district_id),
    )


HotSpotQueryDep = Annotated[hotspots.HotSpotQuery, Depends(hotspot_query)]


@router.get("/hotspots", response_model=HotSpotPage, summary="Rank hot spots")
async def list_hotspots(session: SessionDep, _: Reader, query: HotSpotQueryDep) -> HotSpotPage:
    """Rank areas or districts by what customers reported in a period."""
    spots = await hotspots.rank(session, query)
    return HotSpotPage(
        group=query.group,
        by=query.by,
        since=query.period.since,
        until=query.period.until,
        district_id=query.district_id,
        limit=query.limit,
        items=[HotSpotPublic.model_validate(spot) for spot in spots],
    )


@router.get("/hotspots/trends", response_model=HotSpotTrends, summary="Weekly complaint trend")
async def hotspot_trends(
    session: SessionDep,
    _: Reader,
    grid: GridDep,
    weeks: Annotated[int, Query(ge=1, le=hotspots.MAX_WEEKS)] = hotspots.DEFAULT_WEEKS,
    until: Annotated[datetime | None, Query(description="a moment in the last week (default: now)")] = None,
    area_id: Annotated[str | None, Query(max_length=16, description="only this area (an H3 cell)")] = None,
    district_id: DistrictQuery = None,
) -> HotSpotTrends:
    """Count complaints and customers per week (Monday UTC) for an area, a district or the network."""
    area = None if area_id is None else grid.check_area(area_id)
    district = None if district_id is None else hotspots.check_district(grid, district_id)
    weekly = await hotspots.trends(session, weeks=weeks, until=until, area_id=area, district_id=district)
    return HotSpotTrends(
        area_id=area, district_id=district, weeks=[HotSpotTrendWeek.model_validate(w) for w in weekly]
    )


@router.get(
    "/hotspots/geojson",
    response_model=HotSpotFeatureCollection,
    response_class=GeoJSONResponse,
    summary="Hot spots as GeoJSON",
)
async def hotspot_geojson(session: SessionDep, _: Reader, query: HotSpotQueryDep) -> dict[str, Any]:
    """Return the ranked hot spots as a GeoJSON FeatureCollection of H3 cell polygons, for maps."""
    return hotspots.feature_collection(await hotspots.rank(session, query))

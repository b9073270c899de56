"""Routes of the coverage-map service under /coverage/v1."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.app import PlatformDep, SessionDep, platform_of
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import utcnow
from careloop_common.errors import PROBLEM_RESPONSES, NotFound
from careloop_common.inputs import Limit, Offset, PathId, Timestamp
from coverage_map import hotspots, imports, repository, service
from coverage_map.models import ImportJob
from coverage_map.schemas import (
    AreaDetail,
    AssessmentCreate,
    AssessmentPublic,
    AssessmentResult,
    DistrictNames,
    DistrictPublic,
    HotSpotFeatureCollection,
    HotSpotPage,
    HotSpotPublic,
    HotSpotTrends,
    HotSpotTrendWeek,
    ImportJobPage,
    ImportJobPublic,
    ImportJobSummary,
    ImportRowError,
    InvestigationPage,
    InvestigationPublic,
    Language,
    LookupAnswer,
    PlanCreate,
    PlanPublic,
    PlanUpdate,
    PublicLookup,
    PublicPlanPage,
    Queue,
    WordingEdit,
    WordingPublic,
    WordingPublish,
)
from coverage_map.settings import CoverageSettings

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


# --- areas, assessments, plans, wording, lookups, the public view ---------------------------------

Writer = Annotated[Principal, Depends(require_scopes("coverage:write"))]
Anyone = Annotated[Principal, Depends(require_scopes())]
Lang = Annotated[Language, Query(description="zh-Hant, zh-Hans or en")]
Lat = Annotated[float, Query(ge=-90, le=90, examples=[22.2819])]
Lng = Annotated[float, Query(ge=-180, le=180, examples=[114.1582])]


async def grid(request: Request) -> service.Grid:
    """Return the service's H3 grid (dependency)."""
    settings: CoverageSettings = request.app.state.platform.settings
    return service.Grid(settings.h3_resolution, settings.district_resolution)


GridDep = Annotated[service.Grid, Depends(grid)]
# An H3 cell index as hex (a well-formed id that is not an area at this resolution is not found).
CELL_ID = r"^8[0-9a-f]{14}$"
AreaId = Annotated[str, Path(pattern=CELL_ID, description="an area: an H3 cell at the area resolution")]
DistrictId = Annotated[
    str, Path(pattern=CELL_ID, description="a district: an H3 cell at the district resolution")
]


class LookupCache:
    """Recent lookup answers on this replica, dropped on any write here and after a few seconds anyway."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._answers: dict[tuple[str, str, str], tuple[float, bytes, str]] = {}

    def get(self, key: tuple[str, str, str]) -> tuple[bytes, str] | None:
        """Return a cached body and its ETag, if fresh."""
        hit = self._answers.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1], hit[2]

    def put(self, key: tuple[str, str, str], body: bytes) -> str:
        """Keep an answer; return its ETag."""
        if len(self._answers) > 50_000:
            self._answers.clear()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        self._answers[key] = (time.monotonic() + self.ttl_s, body, etag)
        return etag

    def clear(self) -> None:
        """Forget every answer (after a write that may change them)."""
        self._answers.clear()


async def lookup_cache(request: Request) -> LookupCache:
    """Return this app's lookup cache (dependency)."""
    extras = request.app.state.platform.extras
    if "lookup_cache" not in extras:
        extras["lookup_cache"] = LookupCache(request.app.state.platform.settings.lookup_cache_s)
    cache: LookupCache = extras["lookup_cache"]
    return cache


Cache = Annotated[LookupCache, Depends(lookup_cache)]


async def _cached_answer(
    request: Request,
    cache: LookupCache,
    key: tuple[str, str, str],
    build: Callable[[AsyncSession], Awaitable[BaseModel]],
) -> Response:
    """Serve a lookup from the cache or build it; honour If-None-Match with a 304.

    The database session is opened only on a miss: lookups sit on the hot path of intake.
    """
    hit = cache.get(key)
    if hit is None:
        async with platform_of(request).sessions() as session:
            body = (await build(session)).model_dump_json().encode()
        etag = cache.put(key, body)
    else:
        body, etag = hit
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={int(cache.ttl_s)}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/lookup",
    response_model=LookupAnswer,
    tags=["lookup"],
    summary="Look up a place (front line)",
    responses={304: {"description": "not modified (If-None-Match)"}},
)
async def lookup(
    request: Request,
    geo: GridDep,
    cache: Cache,
    _: Reader,
    lat: Lat,
    lng: Lng,
    lang: Lang = "en",
) -> Response:
    """Answer for a point at once: level, open investigation, plan, published wording."""
    area = geo.area_of(lat, lng)
    return await _cached_answer(
        request, cache, ("staff", area, lang), lambda session: service.lookup(session, geo, area, lang)
    )


@router.get(
    "/areas/{area_id}/lookup",
    response_model=LookupAnswer,
    tags=["lookup"],
    summary="Look up an area (front line)",
    responses={304: {"description": "not modified (If-None-Match)"}},
)
async def lookup_area(
    area_id: AreaId,
    request: Request,
    geo: GridDep,
    cache: Cache,
    _: Reader,
    lang: Lang = "en",
) -> Response:
    """Answer for an area at once: level, open investigation, plan, published wording."""
    area = geo.check_area(area_id)
    return await _cached_answer(
        request, cache, ("staff", area, lang), lambda session: service.lookup(session, geo, area, lang)
    )


@router.get("/areas/{area_id}", response_model=AreaDetail, tags=["areas"], summary="Get an area")
async def get_area(
    area_id: AreaId, session: SessionDep, geo: GridDep, _: Reader, lang: Lang = "en"
) -> AreaDetail:
    """Return an area's levels, investigation, plans and wording."""
    return await service.area_detail(session, geo, area_id, lang)


@router.post(
    "/areas/{area_id}/assessments",
    status_code=201,
    response_model=AssessmentResult,
    tags=["areas"],
    summary="Record an assessment",
)
async def assess_area(
    area_id: AreaId,
    body: AssessmentCreate,
    session: SessionDep,
    state: PlatformDep,
    geo: GridDep,
    cache: Cache,
    who: Writer,
) -> AssessmentResult:
    """Record surveyed levels and findings (and optionally a plan); wording is drafted from them."""
    assessment, plan, drafts = await service.assess_area(session, geo, area_id, body, who, state.source)
    cache.clear()
    return AssessmentResult(
        assessment=AssessmentPublic.model_validate(assessment),
        plan=PlanPublic.model_validate(plan) if plan else None,
        wording=[WordingPublic.model_validate(w) for w in drafts],
    )


@router.post(
    "/areas/{area_id}/plans",
    status_code=201,
    response_model=PlanPublic,
    tags=["plans"],
    summary="Schedule a plan",
)
async def create_plan(
    area_id: AreaId,
    body: PlanCreate,
    session: SessionDep,
    state: PlatformDep,
    geo: GridDep,
    cache: Cache,
    who: Writer,
) -> PlanPublic:
    """Schedule an improvement plan for an area."""
    plan = await service.create_plan(session, geo, area_id, body, who, state.source)
    cache.clear()
    return PlanPublic.model_validate(plan)


@router.patch("/plans/{plan_id}", response_model=PlanPublic, tags=["plans"], summary="Move a plan on")
async def update_plan(
    plan_id: str,
    body: PlanUpdate,
    session: SessionDep,
    state: PlatformDep,
    geo: GridDep,
    cache: Cache,
    who: Writer,
) -> PlanPublic:
    """Start, finish, cancel or reschedule a plan; finishing it sets the area's levels."""
    plan = await service.update_plan(session, geo, plan_id, body, who, state.source)
    cache.clear()
    return PlanPublic.model_validate(plan)


@router.put(
    "/areas/{area_id}/wording/drafts/{language}",
    response_model=WordingPublic,
    tags=["wording"],
    summary="Edit the draft wording",
)
async def edit_wording(
    area_id: AreaId, language: Language, body: WordingEdit, session: SessionDep, geo: GridDep, who: Writer
) -> WordingPublic:
    """Replace the draft reply wording of an area in one language."""
    return WordingPublic.model_validate(
        await service.edit_wording(session, geo, area_id, language, body.text, who)
    )


@router.post(
    "/areas/{area_id}/wording/publish",
    response_model=list[WordingPublic],
    tags=["wording"],
    summary="Publish the wording",
)
async def publish_wording(
    area_id: AreaId,
    body: WordingPublish,
    session: SessionDep,
    state: PlatformDep,
    geo: GridDep,
    cache: Cache,
    who: Writer,
) -> list[WordingPublic]:
    """Publish drafts: from now on they answer the next complaint in the area."""
    rows = await service.publish_wording(
        session, geo, area_id, list(body.languages) if body.languages else None, who, state.source
    )
    cache.clear()
    return [WordingPublic.model_validate(w) for w in rows]


@router.get("/queue", response_model=Queue, tags=["investigations"], summary="Engineering queue")
async def engineering_queue(
    session: SessionDep, _: Reader, lang: Lang = "en", limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> Queue:
    """Open investigations, most urgent first, with the survey target time."""
    items, total = await service.queue(session, utcnow(), lang, limit)
    return Queue(items=items, total=total)


@router.put(
    "/districts/{district_id}", response_model=DistrictPublic, tags=["areas"], summary="Name a district"
)
async def name_district(
    district_id: DistrictId, body: DistrictNames, session: SessionDep, geo: GridDep, cache: Cache, _: Writer
) -> DistrictPublic:
    """Set a district's names (used in wording and the public view)."""
    district = await service.name_district(
        session, geo, district_id, {str(k): v for k, v in body.names.items()}
    )
    cache.clear()
    return DistrictPublic(id=district.id, names=district.names)


@router.get(
    "/public/lookup",
    response_model=PublicLookup,
    tags=["public"],
    summary="Coverage checker (public)",
    responses={304: {"description": "not modified (If-None-Match)"}},
)
async def public_lookup(
    request: Request,
    geo: GridDep,
    cache: Cache,
    _: Anyone,
    lat: Lat,
    lng: Lng,
    lang: Lang = "en",
) -> Response:
    """Coverage and any published plan for a place, for the portal: no customer data."""
    area = geo.area_of(lat, lng)
    return await _cached_answer(
        request,
        cache,
        ("public", area, lang),
        lambda session: service.public_lookup(session, geo, area, lang),
    )


@router.get(
    "/public/plans", response_model=PublicPlanPage, tags=["public"], summary="Published plans (public)"
)
async def public_plans(
    session: SessionDep,
    _: Anyone,
    lang: Lang = "en",
    district_id: Annotated[str | None, Query(pattern=CELL_ID)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PublicPlanPage:
    """What will be fixed where and when, soonest first."""
    items, total = await service.public_plans(session, district_id, lang, limit, offset)
    return PublicPlanPage(items=items, total=total, limit=limit, offset=offset)


# --- hot spots ------------------------------------------------------------------------------------
class GeoJSONResponse(JSONResponse):
    """JSON served as ``application/geo+json`` (RFC 7946), which map libraries recognise."""

    media_type = "application/geo+json"


SinceQuery = Annotated[
    Timestamp | None, Query(description="start of the period, inclusive (default: 30 days before until)")
]
UntilQuery = Annotated[
    Timestamp | None, Query(description="end of the period, exclusive (default: now); no offset means UTC")
]
DistrictQuery = Annotated[str | None, Query(pattern=CELL_ID, description="only this district (an H3 cell)")]


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
        district_id=None if district_id is None else grid.check_district(district_id),
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
    until: Annotated[Timestamp | None, Query(description="a moment in the last week (default: now)")] = None,
    area_id: Annotated[str | None, Query(pattern=CELL_ID, description="only this area (an H3 cell)")] = None,
    district_id: DistrictQuery = None,
) -> HotSpotTrends:
    """Count complaints and customers per week (Monday UTC) for an area, a district or the network."""
    area = None if area_id is None else grid.check_area(area_id)
    district = None if district_id is None else grid.check_district(district_id)
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


# --- imports ----------------------------------------------------------------------------------------


ImporterDep = Annotated[imports.Importer, Depends(imports.importer_of)]
Filename = Annotated[str | None, Query(max_length=300, description="the file's name, kept with the job")]


def _job_summary(job: ImportJob) -> ImportJobSummary:
    """Return an import's state and counters as the API shows them."""
    return ImportJobSummary.model_validate(job).model_copy(update={"failure": imports.failure_of(job)})


def _job_public(job: ImportJob) -> ImportJobPublic:
    """Return an import with its refused rows as the API shows it."""
    errors = [ImportRowError.model_validate(error) for error in imports.row_errors(job)]
    return ImportJobPublic(**_job_summary(job).model_dump(), errors=errors)


def _accepted(job: ImportJob, response: Response) -> ImportJobPublic:
    """Answer 202 with the job and where to follow it."""
    response.headers["Location"] = f"{router.prefix}/imports/{job.id}"
    return _job_public(job)


@router.post(
    "/cell-site-imports",
    status_code=202,
    response_model=ImportJobPublic,
    summary="Import cell sites (OpenCelliD CSV)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,"
            "updated,averageSignal; header optional; at most 512 MiB",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    responses={413: {"description": "file too large"}, 415: {"description": "not text/csv"}},
)
async def import_cell_sites(
    request: Request,
    response: Response,
    importer: ImporterDep,
    principal: Writer,
    filename: Filename = None,
) -> ImportJobPublic:
    """Accept a cell-site file and import it in the background; follow the job at Location."""
    job = await importer.accept_cell_sites(request, filename=filename, by=principal.subject)
    return _accepted(job, response)


@router.post(
    "/coverage-polygon-imports",
    status_code=202,
    response_model=ImportJobPublic,
    summary="Import coverage polygons (GeoJSON)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a FeatureCollection of Polygon/MultiPolygon features with properties "
            "technology, service (voice, data or absent for both) and level; at most 64 MiB",
            "content": {
                "application/geo+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
    responses={413: {"description": "file too large"}, 415: {"description": "not GeoJSON"}},
)
async def import_coverage_polygons(
    request: Request,
    response: Response,
    importer: ImporterDep,
    principal: Writer,
    filename: Filename = None,
) -> ImportJobPublic:
    """Accept a coverage-polygon file and import it in the background; follow the job at Location."""
    job = await importer.accept_coverage_polygons(request, filename=filename, by=principal.subject)
    return _accepted(job, response)


@router.get("/imports", response_model=ImportJobPage, summary="List imports")
async def list_imports(
    session: SessionDep,
    _: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ImportJobPage:
    """List imports, newest first."""
    jobs, total = await repository.page_import_jobs(session, limit, offset)
    return ImportJobPage(items=[_job_summary(job) for job in jobs], total=total, limit=limit, offset=offset)


@router.get("/imports/{import_id}", response_model=ImportJobPublic, summary="Get an import")
async def get_import(import_id: PathId, session: SessionDep, _: Reader) -> ImportJobPublic:
    """Return one import with its progress and refused rows."""
    job = await repository.get_import_job(session, import_id)
    if job is None:
        raise NotFound("import", import_id)
    return _job_public(job)

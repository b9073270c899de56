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


# --- imports ----------------------------------------------------------------------------------------

from fastapi import Request, Response  # noqa: E402

from coverage_map import imports  # noqa: E402
from coverage_map.models import ImportJob  # noqa: E402
from coverage_map.schemas import ImportJobPage, ImportJobPublic, ImportJobSummary, ImportRowError  # noqa: E402

ImportWriter = Annotated[Principal, Depends(require_scopes("coverage:write"))]
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
    "/imports/cell-sites",
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
    principal: ImportWriter,
    filename: Filename = None,
) -> ImportJobPublic:
    """Accept a cell-site file and import it in the background; follow the job at Location."""
    job = await importer.accept_cell_sites(request, filename=filename, by=principal.subject)
    return _accepted(job, response)


@router.post(
    "/imports/coverage-polygons",
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
    principal: ImportWriter,
    filename: Filename = None,
) -> ImportJobPublic:
    """Accept a coverage-polygon file and import it in the background; follow the job at Location."""
    job = await importer.accept_coverage_polygons(request, filename=filename, by=principal.subject)
    return _accepted(job, response)


@router.get("/imports", response_model=ImportJobPage, summary="List imports")
async def list_imports(
    session: SessionDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ImportJobPage:
    """List imports, newest first."""
    jobs, total = await repository.page_import_jobs(session, limit, offset)
    return ImportJobPage(items=[_job_summary(job) for job in jobs], total=total, limit=limit, offset=offset)


@router.get("/imports/{import_id}", response_model=ImportJobPublic, summary="Get an import")
async def get_import(import_id: str, session: SessionDep, _: Reader) -> ImportJobPublic:
    """Return one import with its progress and refused rows."""
    job = await repository.get_import_job(session, import_id)
    if job is None:
        raise NotFound("import", import_id)
    return _job_public(job)

"""Routes of the campaigns service under /campaigns/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import StringConvertor, register_url_convertor

from campaigns import audience, catalogue, cell_sites, execution, import_jobs, repository, segments, service
from campaigns.models import Campaign, Subscriber, SubscriberEvent
from campaigns.schemas import (
    CELL_ID,
    CELL_ID_MAX,
    E164,
    KIND,
    PLAN_ID,
    CampaignCounts,
    CampaignCreate,
    CampaignEdit,
    CampaignMove,
    CampaignPage,
    CampaignPublic,
    CampaignStepPublic,
    CellSiteBatch,
    CellSiteBatchResult,
    CellSitePage,
    CellSitePublic,
    Day,
    DaySpend,
    Evaluation,
    FeeSensitivityExplanation,
    FrequencyBucket,
    ImportJobPublic,
    ImportRowError,
    IndicatorPublic,
    LifecycleExplanation,
    PlanBillPublic,
    PlanPage,
    PlanPublic,
    PlanPut,
    RecomputeRequest,
    RecomputeResult,
    RunResult,
    SegmentCreate,
    SegmentPage,
    SegmentPreview,
    SegmentPreviewRequest,
    SegmentPublic,
    SegmentUpdate,
    StoredOutputs,
    SubscriberEventPublic,
    SubscriberModels,
    SubscriberPublic,
    SubscriberSummary,
    TariffExplanation,
    TemplatePublic,
    UsageMonth,
    ValueExplanation,
    Whereabouts,
)
from campaigns.settings import CampaignsSettings
from careloop_common import idempotency
from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import utcnow
from careloop_common.errors import PROBLEM_RESPONSES, NotFound, ProblemError
from careloop_common.events.campaigns import CAMPAIGN_STATUSES
from careloop_common.inputs import Limit, Offset, PathId

router = APIRouter(prefix="/campaigns/v1", tags=["campaigns"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("campaigns:read"))]
Writer = Annotated[Principal, Depends(require_scopes("campaigns:write"))]
CallCentre = Annotated[Principal, Depends(require_scopes("subscribers:read"))]


async def campaigns_settings(request: Request) -> CampaignsSettings:
    """Return the service's settings (dependency)."""
    settings: CampaignsSettings = request.app.state.platform.settings
    return settings


Settings = Annotated[CampaignsSettings, Depends(campaigns_settings)]
PlanId = Annotated[str, Path(pattern=PLAN_ID, description="the plan's id in the catalogue", examples=["S88"])]
MsisdnPath = Annotated[
    str, Path(pattern=E164, description="the subscriber's number in E.164", examples=["+85291234567"])
]
CellIdPath = Annotated[
    str,
    Path(
        pattern=CELL_ID,
        max_length=CELL_ID_MAX,
        description="the network's cell id: MCC-MNC-LAC/TAC/eNB-CI digits",
        examples=["460-00-1234567-12"],
    ),
]


# --- the plan catalogue ---------------------------------------------------------------------------


@router.get("/plans", response_model=PlanPage, tags=["models"], summary="List the plan catalogue")
async def list_plans(
    session: SessionDep,
    _: Reader,
    active: Annotated[bool | None, Query(description="only active (true) or retired (false) plans")] = None,
) -> PlanPage:
    """List the catalogue's plans by id."""
    plans = await repository.plans(session, active=active)
    return PlanPage(items=[PlanPublic.model_validate(plan) for plan in plans], total=len(plans))


@router.put(
    "/plans/{plan_id}",
    response_model=PlanPublic,
    tags=["models"],
    summary="Create or replace a plan",
    responses={201: {"description": "the plan was created", "model": PlanPublic}},
)
async def put_plan(
    plan_id: PlanId, body: PlanPut, session: SessionDep, response: Response, _: Writer
) -> PlanPublic:
    """Create or replace a plan's terms (tariff matching reads them at the next recompute)."""
    plan, created = await service.put_plan(session, plan_id, body.model_dump())
    if created:
        response.status_code = 201
    return PlanPublic.model_validate(plan)


# --- the cell-site registry -----------------------------------------------------------------------


@router.put(
    "/cell-sites",
    response_model=CellSiteBatchResult,
    tags=["incidents"],
    summary="Create or replace cell sites",
)
async def put_cell_sites(body: CellSiteBatch, session: SessionDep, _: Writer) -> CellSiteBatchResult:
    """Create or replace a batch of cell sites (network cell id → position), all or none."""
    return CellSiteBatchResult(upserted=await cell_sites.upsert(session, body.items, now=utcnow()))


@router.get("/cell-sites", response_model=CellSitePage, tags=["incidents"], summary="List cell sites")
async def list_cell_sites(
    session: SessionDep, _: Reader, limit: Limit = 50, offset: Offset = 0
) -> CellSitePage:
    """List the cell-site registry by cell id."""
    items, total = await repository.cell_sites_page(session, limit, offset)
    return CellSitePage(
        items=[CellSitePublic.model_validate(site) for site in items], total=total, limit=limit, offset=offset
    )


@router.get(
    "/cell-sites/{cell_id}", response_model=CellSitePublic, tags=["incidents"], summary="Get a cell site"
)
async def get_cell_site(cell_id: CellIdPath, session: SessionDep, _: Reader) -> CellSitePublic:
    """Return one cell site: its position and H3 cell."""
    site = await repository.get_cell_site(session, cell_id)
    if site is None:
        raise NotFound("cell site", cell_id)
    return CellSitePublic.model_validate(site)


# --- the models -----------------------------------------------------------------------------------


@router.post(
    "/models/recompute", response_model=RecomputeResult, tags=["models"], summary="Recompute the models"
)
async def recompute(
    platform: PlatformDep, _: Writer, body: Annotated[RecomputeRequest | None, Body()] = None
) -> RecomputeResult:
    """Recompute every model for all subscribers, or for the ones given; answer with counts."""
    # No request session: the run commits chunk by chunk through its own sessions.
    request = body or RecomputeRequest()
    summary = await service.recompute_models(platform.sessions, request.msisdns, request.as_of)
    assert summary.finished_at is not None
    return RecomputeResult(
        scope=summary.scope,
        as_of=summary.as_of,
        value_cutoff=summary.value_cutoff,
        cutoff_population=summary.cutoff_population,
        scored=summary.scored,
        top20=summary.top20,
        recommended=summary.recommended,
        stages=summary.stages,
        sensitivity={str(level): count for level, count in summary.sensitivity.items()},
        missing=summary.missing,
        started_at=summary.started_at,
        finished_at=summary.finished_at,
    )


@router.get(
    "/subscribers/{msisdn}/models",
    response_model=SubscriberModels,
    tags=["models"],
    summary="Explain a subscriber's model outputs",
)
async def subscriber_models(
    msisdn: MsisdnPath,
    session: SessionDep,
    _: Reader,
    as_of: Annotated[Day | None, Query(description="the day tenure is counted to; today when absent")] = None,
) -> SubscriberModels:
    """Return a subscriber's stored model outputs and why the models give what they give."""
    found = await service.explain(session, msisdn, as_of)
    return _explanation_public(found)


def _explanation_public(found: service.Explanation) -> SubscriberModels:
    """Shape an explanation for the API."""
    subscriber, params = found.subscriber, found.params
    return SubscriberModels(
        msisdn=subscriber.msisdn,
        as_of=found.as_of,
        up_to_date=found.up_to_date,
        stored=StoredOutputs.model_validate(subscriber, from_attributes=True),
        lifecycle=LifecycleExplanation(
            stage=found.stage,
            tenure_months=found.tenure_months,
            revenue=[subscriber.revenue_m1, subscriber.revenue_m2, subscriber.revenue_m3],
            revenue_trend=found.revenue_trend,
            acquisition_months=params.lifecycle.acquisition_months,
            growth_rise=params.lifecycle.growth_rise,
            decline_fall=params.lifecycle.decline_fall,
        ),
        value=ValueExplanation(
            tier=found.tier,
            mean_revenue=found.mean_revenue,
            value_cutoff=found.value_cutoff,
            cutoff_population=found.cutoff_population,
            top_share=params.value.top_share,
        ),
        fee_sensitivity=FeeSensitivityExplanation(
            level=found.fee_sensitivity,
            score=found.fee_score,
            indicators=[IndicatorPublic.model_validate(i, from_attributes=True) for i in found.indicators],
            level_cutoffs=list(params.fee.level_cutoffs),
        ),
        tariff=TariffExplanation(
            current_plan_id=subscriber.plan_id,
            current_bill=found.current_bill,
            recommended_plan_id=found.recommended_plan_id,
            plan_saving=found.plan_saving,
            min_saving=params.tariff.min_saving,
            bills=[PlanBillPublic.model_validate(b, from_attributes=True) for b in found.bills],
        ),
    )


# --- campaigns ------------------------------------------------------------------------------------

STATUS_PATTERN = "^(" + "|".join(CAMPAIGN_STATUSES) + ")$"
CampaignId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="the campaign's id")]


async def _campaign(session: AsyncSession, campaign_id: str, *, for_update: bool = False) -> Campaign:
    """Return a campaign or a 404 problem."""
    campaign = await repository.get_campaign(session, campaign_id, for_update=for_update)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    return campaign


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignPublic,
    tags=["campaigns"],
    summary="Draft a campaign",
)
async def create_campaign(
    body: CampaignCreate, session: SessionDep, state: PlatformDep, principal: Writer, response: Response
) -> CampaignPublic:
    """Record a new campaign as a draft: its audience, trigger, content and rules checked."""
    campaign = await service.create_campaign(
        session, body, by=principal.subject, now=utcnow(), source=state.source
    )
    response.headers["Location"] = f"{router.prefix}/campaigns/{campaign.id}"
    return CampaignPublic.model_validate(campaign)


@router.get("/campaigns", response_model=CampaignPage, tags=["campaigns"], summary="List campaigns")
async def list_campaigns(
    session: SessionDep,
    _: Reader,
    status: Annotated[
        str | None, Query(pattern=STATUS_PATTERN, description="only campaigns in this status")
    ] = None,
    kind: Annotated[str | None, Query(pattern=KIND, description="only campaigns of this kind")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> CampaignPage:
    """List campaigns, newest first."""
    rows, total = await repository.campaigns_page(
        session, status=status, kind=kind, limit=limit, offset=offset
    )
    return CampaignPage(items=[CampaignPublic.model_validate(c) for c in rows], total=total)


@router.get(
    "/campaigns/{campaign_id}", response_model=CampaignPublic, tags=["campaigns"], summary="Get a campaign"
)
async def get_campaign(campaign_id: CampaignId, session: SessionDep, _: Reader) -> CampaignPublic:
    """Return one campaign."""
    return CampaignPublic.model_validate(await _campaign(session, campaign_id))


@router.patch(
    "/campaigns/{campaign_id}", response_model=CampaignPublic, tags=["campaigns"], summary="Edit a draft"
)
async def edit_campaign(
    campaign_id: CampaignId, body: CampaignEdit, session: SessionDep, principal: Writer
) -> CampaignPublic:
    """Change a draft or rejected campaign; a submitted or approved one is locked (409)."""
    campaign = await _campaign(session, campaign_id, for_update=True)
    campaign = await service.edit_campaign(session, campaign, body, by=principal.subject, now=utcnow())
    return CampaignPublic.model_validate(campaign)


@router.post(
    "/campaigns/{campaign_id}/moves",
    response_model=CampaignPublic,
    tags=["campaigns"],
    summary="Move a campaign in its life",
)
async def move_campaign(
    campaign_id: CampaignId, body: CampaignMove, session: SessionDep, state: PlatformDep, principal: Reader
) -> CampaignPublic:
    """Submit, schedule, run, pause, complete (campaigns:write); approve or reject (campaigns:approve,
    not the author)."""
    campaign = await _campaign(session, campaign_id, for_update=True)
    campaign = await service.move_campaign(
        session, campaign, body, by=principal, now=utcnow(), source=state.source
    )
    return CampaignPublic.model_validate(campaign)


@router.get(
    "/campaigns/{campaign_id}/steps",
    response_model=list[CampaignStepPublic],
    tags=["campaigns"],
    summary="A campaign's history",
)
async def campaign_steps(campaign_id: CampaignId, session: SessionDep, _: Reader) -> list[CampaignStepPublic]:
    """Return who changed the campaign, when, and how, oldest first."""
    await _campaign(session, campaign_id)
    return [
        CampaignStepPublic.model_validate(s) for s in await repository.campaign_steps(session, campaign_id)
    ]


@router.post(
    "/campaigns/{campaign_id}/runs",
    response_model=RunResult,
    tags=["campaigns"],
    summary="Run a campaign over its audience now",
)
async def run_campaign(
    campaign_id: CampaignId, session: SessionDep, state: PlatformDep, settings: Settings, _: Writer
) -> RunResult:
    """Run a running campaign over its whole audience now (besides its schedule); answer with counts."""
    campaign = await _campaign(session, campaign_id)
    if campaign.status != "running":
        raise ProblemError(409, "campaign-not-running", f"a {campaign.status} campaign does not run")
    await session.commit()  # the run writes in its own transactions, chunk by chunk
    met = await execution.run_batch(
        state.sessions, campaign_id, now=utcnow(), zone=settings.zone, source=state.source
    )
    return RunResult(
        run=met.run, targeted=met.targeted, held_out=met.held_out, suppressed=dict(met.suppressed)
    )


@router.get(
    "/campaigns/{campaign_id}/counts",
    response_model=CampaignCounts,
    tags=["campaigns"],
    summary="A campaign's live counts",
)
async def campaign_counts(campaign_id: CampaignId, session: SessionDep, _: Reader) -> CampaignCounts:
    """Return who the campaign met (treatment, control), what became of the contacts, and conversions."""
    return await service.campaign_counts(session, await _campaign(session, campaign_id), utcnow())


@router.get(
    "/campaigns/{campaign_id}/evaluation",
    response_model=Evaluation,
    tags=["campaigns"],
    summary="Treatment against control",
)
async def campaign_evaluation(campaign_id: CampaignId, session: SessionDep, _: Reader) -> Evaluation:
    """Return conversion in treatment and control, the uplift and its 95 % interval."""
    return await service.evaluate(session, await _campaign(session, campaign_id), utcnow())


@router.get(
    "/contact-frequency",
    response_model=list[FrequencyBucket],
    tags=["campaigns"],
    summary="How often campaigns contact customers",
)
async def contact_frequency(session: SessionDep, _: Reader) -> list[FrequencyBucket]:
    """Return how many customers campaigns contacted 1, 2, … 9 and 10 or more times."""
    return service.frequency_buckets(await repository.contact_frequency(session))


@router.get(
    "/catalogue", response_model=list[TemplatePublic], tags=["campaigns"], summary="The care catalogue"
)
async def care_catalogue(_: Reader) -> list[TemplatePublic]:
    """Return the built-in care templates (the seeds' kinds and activities), each as a draft to start from."""
    return [
        TemplatePublic(
            id=t.id,
            kind=t.kind,
            kind_name=catalogue.KINDS[t.kind],
            name=t.name,
            notes=t.notes,
            draft=catalogue.as_draft(t.id),
        )
        for t in catalogue.TEMPLATES.values()
    ]


# --- the audience -------------------------------------------------------------------------------------


@router.get(
    "/subscribers/{msisdn}/summary",
    response_model=SubscriberSummary,
    tags=["audience"],
    summary="Get a subscriber's summary for the call centre",
)
async def get_subscriber_summary(msisdn: MsisdnPath, session: SessionDep, _: CallCentre) -> SubscriberSummary:
    """Return who a caller is: plan, class, consent, balance and the models' reading (screen pop)."""
    found = await audience.known_subscriber(session, msisdn)
    held = {name: getattr(found, name) for name in SubscriberSummary.model_fields if name != "models"}
    return SubscriberSummary(**held, models=StoredOutputs.model_validate(found, from_attributes=True))


@router.get(
    "/subscribers/{msisdn}",
    response_model=SubscriberPublic,
    tags=["audience"],
    summary="Get a subscriber's profile",
)
async def get_subscriber(msisdn: MsisdnPath, session: SessionDep, _: Reader) -> SubscriberPublic:
    """Return a subscriber's profile, usage, whereabouts (to the district) and latest past events."""
    found, events = await audience.profile(session, msisdn)
    return _subscriber_public(found, events)


def _subscriber_public(found: Subscriber, events: list[SubscriberEvent]) -> SubscriberPublic:
    """Shape a subscriber for the API: birthday without the year, place to the district, numbers masked."""
    return SubscriberPublic(
        msisdn=found.msisdn,
        customer_ref=found.customer_ref,
        brand=found.brand,
        plan_id=found.plan_id,
        region=found.region,
        time_zone=found.time_zone,
        language=found.language,
        join_date=found.join_date,
        birthday=found.birthday.strftime("--%m-%d") if found.birthday else None,
        customer_class=found.customer_class,
        contact_sms=found.contact_sms,
        contact_call=found.contact_call,
        balance=found.balance,
        balance_at=found.balance_at,
        daily_spend=[
            DaySpend(day=day, spend=spend)
            for day, spend in audience.spend_by_day(found.daily_spend, found.spend_through)
        ],
        avg_daily_spend_3d=found.avg_daily_spend_3d,
        last_payment_at=found.last_payment_at,
        points=found.points,
        points_expire_on=found.points_expire_on,
        usage=UsageMonth(
            period=found.bill_period,
            revenue=[found.revenue_m1, found.revenue_m2, found.revenue_m3],
            minutes=found.minutes_m1,
            sms=found.sms_m1,
            data_mb=found.data_mb_m1,
            long_distance_minutes=found.long_distance_minutes_m1,
            roaming_minutes=found.roaming_minutes_m1,
            long_distance_calls=found.long_distance_calls_m1,
            prefix_calls=found.prefix_calls_m1,
            fee_queries=found.fee_queries_m1,
            top_ups=found.top_ups_m1,
        ),
        whereabouts=Whereabouts(
            district=audience.district_of(found.cell),
            roaming=found.roaming,
            roaming_country=found.roaming_country,
            located_at=found.located_at,
        ),
        models=StoredOutputs.model_validate(found, from_attributes=True),
        recent_events=[
            SubscriberEventPublic(kind=e.kind, at=e.at, detail=audience.masked_detail(e.detail))
            for e in events
        ],
        profile_at=found.profile_at,
        created_at=found.created_at,
        updated_at=found.updated_at,
    )


# --- bulk imports -------------------------------------------------------------------------------------

ImportJobsDep = Annotated[import_jobs.ImportJobs, Depends(import_jobs.jobs_of)]


def _job_public(job: object) -> ImportJobPublic:
    """Shape an import job for the API."""
    public = ImportJobPublic.model_validate(job)
    return public.model_copy(
        update={"errors": [ImportRowError.model_validate(e) for e in getattr(job, "errors", [])]}
    )


@router.post(
    "/imports",
    status_code=202,
    response_model=ImportJobPublic,
    tags=["audience"],
    summary="Import subscribers from a CSV or Parquet file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the file as the multipart part named 'file': CSV (UTF-8, header row) or "
            "Parquet, with the columns of docs/campaigns.md (Audience); at most "
            "CAMPAIGNS_IMPORT_MAX_BYTES (2 GiB by default)",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "additionalProperties": False,
                    }
                }
            },
        }
    },
    responses={
        413: {"description": "the file is too large"},
        415: {"description": "not multipart/form-data"},
    },
)
async def start_import(
    request: Request, response: Response, jobs: ImportJobsDep, principal: Writer
) -> ImportJobPublic:
    """Accept a file of subscribers and import it in the background; follow the job at Location."""
    job = await jobs.accept(request, by=principal.subject)
    response.headers["Location"] = f"{router.prefix}/imports/{job.id}"
    return _job_public(job)


@router.get(
    "/imports/{import_id}", response_model=ImportJobPublic, tags=["audience"], summary="Get an import"
)
async def get_import(import_id: PathId, session: SessionDep, _: Reader) -> ImportJobPublic:
    """Return an import's progress, counts and the first values it refused."""
    job = await repository.get_import_job(session, import_id)
    if job is None:
        raise NotFound("import", import_id)
    return _job_public(job)


# --- segments ---------------------------------------------------------------------------------------


class SegmentIdConvertor(StringConvertor):
    """A segment id in a path: any text but ``preview``, which names the preview route.

    Without it ``/segments/{segment_id}`` would also match ``/segments/preview``, and a 405 there
    would offer GET and PUT, which that path does not have.
    """

    regex = "(?!preview$)[^/]+"


register_url_convertor("segment_id", SegmentIdConvertor())
SEGMENT = "/segments/{segment_id:segment_id}"


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

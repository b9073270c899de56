"""Routes of the campaigns service under /campaigns/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import catalogue, execution, repository, service
from campaigns.models import Campaign
from campaigns.schemas import (
    CAMPAIGN_STATUSES,
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
    Day,
    Evaluation,
    FeeSensitivityExplanation,
    FrequencyBucket,
    IndicatorPublic,
    LifecycleExplanation,
    PlanBillPublic,
    PlanPage,
    PlanPublic,
    PlanPut,
    RecomputeRequest,
    RecomputeResult,
    RunResult,
    StoredOutputs,
    SubscriberModels,
    TariffExplanation,
    TemplatePublic,
    ValueExplanation,
)
from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import utcnow
from careloop_common.errors import PROBLEM_RESPONSES, NotFound, ProblemError
from careloop_common.inputs import Limit, Offset

router = APIRouter(prefix="/campaigns/v1", tags=["campaigns"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("campaigns:read"))]
Writer = Annotated[Principal, Depends(require_scopes("campaigns:write"))]
PlanId = Annotated[str, Path(pattern=PLAN_ID, description="the plan's id in the catalogue", examples=["S88"])]
MsisdnPath = Annotated[
    str, Path(pattern=E164, description="the subscriber's number in E.164", examples=["+85291234567"])
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
    campaign_id: CampaignId, session: SessionDep, state: PlatformDep, _: Writer
) -> RunResult:
    """Run a running campaign over its whole audience now (besides its schedule); answer with counts."""
    campaign = await _campaign(session, campaign_id)
    if campaign.status != "running":
        raise ProblemError(409, "campaign-not-running", f"a {campaign.status} campaign does not run")
    await session.commit()  # the run writes in its own transactions, chunk by chunk
    met = await execution.run_batch(state.sessions, campaign_id, now=utcnow(), source=state.source)
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

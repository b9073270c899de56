"""Routes of the campaigns service under /campaigns/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from campaigns import repository, service
from campaigns.schemas import (
    E164,
    PLAN_ID,
    Day,
    FeeSensitivityExplanation,
    IndicatorPublic,
    LifecycleExplanation,
    PlanBillPublic,
    PlanPage,
    PlanPublic,
    PlanPut,
    RecomputeRequest,
    RecomputeResult,
    StoredOutputs,
    SubscriberModels,
    TariffExplanation,
    ValueExplanation,
)
from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.errors import PROBLEM_RESPONSES

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

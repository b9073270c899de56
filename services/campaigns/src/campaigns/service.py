"""Domain rules of the campaigns service.

The models (``campaigns.scoring``) are recomputed here: for everyone in two passes (the value-tier
cut-off over the whole population, then the models chunk by chunk), or for a few subscribers
against the cut-off the last run recorded. Each chunk is read, scored and written in its own short
transaction, so a run over millions of subscribers never holds SQLite's write lock for long.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import catalogue, lifecycle, repository, scoring, segments
from campaigns.models import LIFECYCLE_STAGES, Campaign, ModelRun, Plan, Segment, Subscriber
from campaigns.repository import MODEL_INPUT_COLUMNS
from campaigns.schemas import (
    ArmChurn,
    ArmComplaints,
    ArmResult,
    CampaignCounts,
    CampaignCreate,
    CampaignEdit,
    CampaignMove,
    Churn,
    ComplaintShares,
    Conversion,
    Evaluation,
    EventTrigger,
    FrequencyBucket,
    ScheduleTrigger,
    SegmentCreate,
    SegmentMember,
    SegmentPreview,
    SegmentPreviewRequest,
    SegmentUpdate,
    SurveyResult,
)
from campaigns.scoring import Catalogue, ModelOutputs, ModelParams, SubscriberColumns
from careloop_common.auth import Principal
from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.errors import Conflict, NotFound, ProblemError
from careloop_common.events.campaigns import CampaignStatusChangedV1
from careloop_common.outbox import publish_later

# Rows per chunk: big enough that numpy's per-call overhead vanishes, small enough that one
# chunk's transaction stays short and its rows (Python tuples) take tens of MB at most.
CHUNK_ROWS = 20_000
FEE_LEVELS = (1, 2, 3, 4)
NOT_NUMBERS = ("msisdn", "plan_id", "join_date")  # the model inputs that are not amounts or counts

# ── the plan catalogue ───────────────────────────────────────────────────────────────────────────


async def put_plan(session: AsyncSession, plan_id: str, terms: dict[str, Any]) -> tuple[Plan, bool]:
    """Create or replace a plan of the catalogue; tell whether it is new."""
    plan = await repository.get_plan(session, plan_id)
    created = plan is None
    if plan is None:
        plan = Plan(id=plan_id, updated_at=utcnow(), **terms)
    else:
        for name, value in terms.items():
            setattr(plan, name, value)
        plan.updated_at = utcnow()
    await repository.add(session, plan)
    return plan, created


# ── recomputing the models ───────────────────────────────────────────────────────────────────────


@dataclass
class RecomputeSummary:
    """What one recompute did, with counts of its outputs."""

    scope: Literal["all", "some"]
    as_of: date
    value_cutoff: float | None
    cutoff_population: int
    started_at: datetime
    finished_at: datetime | None = None
    scored: int = 0
    top20: int = 0
    recommended: int = 0
    stages: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIFECYCLE_STAGES, 0))
    sensitivity: dict[int, int] = field(default_factory=lambda: dict.fromkeys(FEE_LEVELS, 0))
    missing: list[str] = field(default_factory=list)

    def count(self, outputs: ModelOutputs) -> None:
        """Add one chunk's outputs to the counts."""
        self.scored += len(outputs)
        self.top20 += int(outputs.top_value.sum())
        self.recommended += int((outputs.recommended_plan != scoring.NO_PLAN).sum())
        stages = np.bincount(outputs.lifecycle_stage, minlength=len(LIFECYCLE_STAGES))
        for index, stage in enumerate(LIFECYCLE_STAGES):
            self.stages[stage] += int(stages[index])
        levels = np.bincount(outputs.fee_sensitivity, minlength=len(FEE_LEVELS) + 1)
        for level in FEE_LEVELS:
            self.sensitivity[level] += int(levels[level])


async def recompute_models(
    sessions: SessionFactory,
    msisdns: Sequence[str] | None = None,
    today: date | None = None,
    *,
    params: ModelParams = scoring.DEFAULT_PARAMS,
    chunk_rows: int = CHUNK_ROWS,
) -> RecomputeSummary:
    """Recompute every model for all subscribers, or for the given ones against the stored cut-off.

    A full run computes the value-tier cut-off over the whole population first; recomputing some
    subscribers reuses the cut-off of the last run (or computes one when there is none yet, or it
    stood on an empty population). Every run is recorded with the cut-off it applied.
    """
    started = utcnow()
    as_of = today or started.date()
    async with transaction(sessions) as session:
        catalogue = Catalogue.of(await repository.plans(session))
        last = None if msisdns is None else await repository.latest_model_run(session)
    if last is not None and last.cutoff_population > 0:
        cutoff, population = last.value_cutoff, last.cutoff_population
    else:
        cutoff, population = await population_value_cutoff(sessions, params.value, chunk_rows)
    summary = RecomputeSummary(
        scope="all" if msisdns is None else "some",
        as_of=as_of,
        value_cutoff=cutoff,
        cutoff_population=population,
        started_at=started,
    )
    if msisdns is None:
        await _score_everyone(sessions, catalogue, params, summary, chunk_rows)
    else:
        await _score_some(sessions, msisdns, catalogue, params, summary, chunk_rows)
    summary.finished_at = utcnow()
    async with transaction(sessions) as session:
        await repository.add(session, _run_record(summary))
    return summary


async def population_value_cutoff(
    sessions: SessionFactory, params: scoring.ValueParams, chunk_rows: int = CHUNK_ROWS
) -> tuple[float | None, int]:
    """Compute the value-tier cut-off over every subscriber; return it with the population's size."""
    means: list[scoring.FloatArray] = []
    after = ""
    while True:
        async with transaction(sessions) as session:
            rows = await repository.revenues_after(session, after, chunk_rows)
        if not rows:
            break
        _, m1, m2, m3 = (np.array(values, dtype=np.float64) for values in zip(*rows, strict=True))
        means.append(scoring.mean_revenue(m1, m2, m3))
        after = rows[-1][0]
    population = np.concatenate(means) if means else np.empty(0)
    return scoring.value_cutoff(population, params), len(population)


async def _score_everyone(
    sessions: SessionFactory,
    catalogue: Catalogue,
    params: ModelParams,
    summary: RecomputeSummary,
    chunk_rows: int,
) -> None:
    """Score every subscriber, a chunk per transaction, paging by msisdn."""
    after = ""
    while True:
        async with transaction(sessions) as session:
            rows = await repository.model_inputs_after(session, after, chunk_rows)
            await _score_and_store(session, rows, catalogue, params, summary)
        if len(rows) < chunk_rows:
            return
        after = rows[-1][0]


async def _score_some(
    sessions: SessionFactory,
    msisdns: Sequence[str],
    catalogue: Catalogue,
    params: ModelParams,
    summary: RecomputeSummary,
    chunk_rows: int,
) -> None:
    """Score the given subscribers, a chunk per transaction; note those that do not exist."""
    wanted = sorted(set(msisdns))
    found: set[str] = set()
    for start in range(0, len(wanted), chunk_rows):
        async with transaction(sessions) as session:
            rows = await repository.model_inputs_of(session, wanted[start : start + chunk_rows])
            await _score_and_store(session, rows, catalogue, params, summary)
        found.update(row[0] for row in rows)
    summary.missing = [msisdn for msisdn in wanted if msisdn not in found]


async def _score_and_store(
    session: AsyncSession,
    rows: Sequence[Row[Any]],
    catalogue: Catalogue,
    params: ModelParams,
    summary: RecomputeSummary,
) -> None:
    """Run the models on one chunk of rows, write their outputs back and count them."""
    if not rows:
        return
    outputs = scoring.score(
        columns_of(rows, catalogue), catalogue, summary.value_cutoff, summary.as_of, params
    )
    await repository.write_model_outputs(session, output_rows(rows, outputs, catalogue, utcnow()))
    summary.count(outputs)


def _run_record(summary: RecomputeSummary) -> ModelRun:
    assert summary.finished_at is not None
    return ModelRun(
        scope=summary.scope,
        as_of=summary.as_of,
        value_cutoff=summary.value_cutoff,
        cutoff_population=summary.cutoff_population,
        scored=summary.scored,
        recommended=summary.recommended,
        started_at=summary.started_at,
        finished_at=summary.finished_at,
    )


def columns_of(
    rows: Sequence[Row[Any]] | Sequence[tuple[Any, ...]], catalogue: Catalogue
) -> SubscriberColumns:
    """Turn rows of ``MODEL_INPUT_COLUMNS`` into the column arrays the models read."""
    if rows:
        by_name = dict(zip(MODEL_INPUT_COLUMNS, zip(*rows, strict=True), strict=True))
    else:
        by_name = dict.fromkeys(MODEL_INPUT_COLUMNS, ())

    def numbers(name: str) -> scoring.FloatArray:
        return np.array(by_name[name], dtype=np.float64)

    return SubscriberColumns(
        join_date=np.array(by_name["join_date"], dtype="datetime64[D]"),
        plan_index=catalogue.index_of(by_name["plan_id"]),
        **{name: numbers(name) for name in MODEL_INPUT_COLUMNS if name not in NOT_NUMBERS},
    )


def output_rows(
    rows: Sequence[Row[Any]], outputs: ModelOutputs, catalogue: Catalogue, now: datetime
) -> list[dict[str, Any]]:
    """Pair each subscriber with its outputs as the stored column values (names, tiers, plan ids)."""
    stages = np.array(LIFECYCLE_STAGES, dtype=object)[outputs.lifecycle_stage]
    tiers = np.where(outputs.top_value, scoring.TOP20, scoring.REST)
    plan_ids = np.array([*catalogue.ids, None], dtype=object)[outputs.recommended_plan]  # -1: None
    savings = np.round(outputs.plan_saving, 2)  # money with two decimals of meaning
    return [
        {
            "msisdn": row[0],
            "lifecycle_stage": stage,
            "value_tier": tier,
            "fee_sensitivity": level,
            "recommended_plan_id": plan_id,
            "plan_saving": None if math.isnan(saving) else saving,
            "models_at": now,
        }
        for row, stage, tier, level, plan_id, saving in zip(
            rows,
            stages.tolist(),
            tiers.tolist(),
            outputs.fee_sensitivity.tolist(),
            plan_ids.tolist(),
            savings.tolist(),
            strict=True,
        )
    ]


# ── explaining one subscriber's outputs ──────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PlanBill:
    """A subscriber's simulated monthly bill under one plan."""

    plan_id: str
    name: str
    active: bool
    current: bool
    bill: float


@dataclass(frozen=True)
class Indicator:
    """One fee-sensitivity indicator for one subscriber."""

    name: str
    signal: float
    weight: float
    contribution: float


@dataclass(frozen=True)
class Explanation:
    """One subscriber's stored model outputs and what the models give on their data now, and why."""

    subscriber: Subscriber
    as_of: date
    params: ModelParams
    tenure_months: int
    revenue_trend: float | None
    stage: str
    mean_revenue: float
    value_cutoff: float | None
    cutoff_population: int
    tier: str | None  # None until a run has given the population's cut-off
    indicators: list[Indicator]
    fee_score: float
    fee_sensitivity: int
    bills: list[PlanBill]
    current_bill: float | None
    recommended_plan_id: str | None
    plan_saving: float | None

    @property
    def up_to_date(self) -> bool:
        """Tell whether the stored outputs are what the models give now."""
        stored = self.subscriber
        return (
            stored.models_at is not None
            and stored.lifecycle_stage == self.stage
            and (self.tier is None or stored.value_tier == self.tier)
            and stored.fee_sensitivity == self.fee_sensitivity
            and stored.recommended_plan_id == self.recommended_plan_id
            and _same_money(stored.plan_saving, self.plan_saving)
        )


def _same_money(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 0.005)


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 2)


async def explain(
    session: AsyncSession,
    msisdn: str,
    today: date | None = None,
    params: ModelParams = scoring.DEFAULT_PARAMS,
) -> Explanation:
    """Run every model on one subscriber and say why each output is what it is."""
    found = await repository.subscriber(session, msisdn)
    if found is None:
        raise NotFound("subscriber", msisdn)
    plans = await repository.plans(session)
    catalogue = Catalogue.of(plans)
    last = await repository.latest_model_run(session)
    as_of = today or utcnow().date()
    columns = columns_of([tuple(getattr(found, name) for name in MODEL_INPUT_COLUMNS)], catalogue)
    outputs = scoring.score(columns, catalogue, last.value_cutoff if last else None, as_of, params)
    signals = scoring.fee_signals(columns, catalogue.fee_of(columns.plan_index), params.fee)
    contributions = scoring.fee_contributions(signals, params.fee)
    weights = params.fee.weights()
    match = scoring.match_tariffs(columns, catalogue, params.tariff)
    bills = scoring.simulate_bills(scoring.Usage.of(columns), catalogue)[0]
    names = {plan.id: plan.name for plan in plans}
    trend = float(scoring.revenue_trend(columns.revenue_m1, columns.revenue_m2, columns.revenue_m3)[0])
    recommended = int(outputs.recommended_plan[0])
    return Explanation(
        subscriber=found,
        as_of=as_of,
        params=params,
        tenure_months=int(scoring.tenure_months(columns.join_date, as_of)[0]),
        revenue_trend=None if math.isnan(trend) else round(trend, 4),
        stage=LIFECYCLE_STAGES[int(outputs.lifecycle_stage[0])],
        mean_revenue=round(
            float(scoring.mean_revenue(columns.revenue_m1, columns.revenue_m2, columns.revenue_m3)[0]), 2
        ),
        value_cutoff=last.value_cutoff if last else None,
        cutoff_population=last.cutoff_population if last else 0,
        tier=_tier(bool(outputs.top_value[0])) if last else None,
        indicators=[
            Indicator(
                name=name,
                signal=round(float(signals[name][0]), 4),
                weight=weights[name],
                contribution=round(float(contributions[name][0]), 2),
            )
            for name in scoring.FEE_INDICATORS
        ],
        fee_score=round(float(outputs.fee_score[0]), 2),
        fee_sensitivity=int(outputs.fee_sensitivity[0]),
        bills=[
            PlanBill(
                plan_id=plan_id,
                name=names[plan_id],
                active=bool(catalogue.active[i]),
                current=plan_id == found.plan_id,
                bill=round(float(bills[i]), 2),
            )
            for i, plan_id in enumerate(catalogue.ids)
        ],
        current_bill=_finite_or_none(float(match.current_bill[0])),
        recommended_plan_id=None if recommended == scoring.NO_PLAN else catalogue.ids[recommended],
        plan_saving=_finite_or_none(float(outputs.plan_saving[0])),
    )


def _tier(top: bool) -> str:
    return scoring.TOP20 if top else scoring.REST


# ── campaigns: drafting, approval and the moves of their life ──────────────────────────────────────

SOURCE = "/careloop/campaigns"


async def create_campaign(
    session: AsyncSession, data: CampaignCreate, *, by: str, now: datetime, source: str = SOURCE
) -> Campaign:
    """Record a new campaign as a draft, its rules checked."""
    check_campaign(data, now)
    campaign = Campaign(
        id=str(uuid.uuid4()),
        status="draft",
        author=by,
        trigger_kind=data.trigger.type,
        created_at=now,
        updated_at=now,
        **_stored_fields(data),
    )
    await repository.add(session, campaign)
    repository.add_campaign_step(session, campaign.id, at=now, actor=by, kind="created", to_value="draft")
    _announce(session, campaign, None, by=by, now=now, source=source)
    await session.flush()
    return campaign


async def edit_campaign(
    session: AsyncSession, campaign: Campaign, edit: CampaignEdit, *, by: str, now: datetime
) -> Campaign:
    """Change a draft (or rejected) campaign; what was submitted or approved is locked."""
    lifecycle.check_editable(campaign.status)
    changes = edit.model_dump(exclude_unset=True)
    merged = CampaignCreate.model_validate(
        {**CampaignCreate.model_validate(campaign, from_attributes=True).model_dump(), **changes}
    )
    check_campaign(merged, now)
    for name, value in _stored_fields(merged).items():
        setattr(campaign, name, value)
    campaign.trigger_kind = merged.trigger.type
    campaign.updated_at = now
    repository.add_campaign_step(
        session, campaign.id, at=now, actor=by, kind="edited", note=", ".join(sorted(changes))[:1000] or None
    )
    await session.flush()
    return campaign


async def move_campaign(
    session: AsyncSession,
    campaign: Campaign,
    move: CampaignMove,
    *,
    by: Principal,
    now: datetime,
    source: str = SOURCE,
) -> Campaign:
    """Move a campaign in its life: four eyes on approval, and approval dropped when it goes back."""
    before = campaign.status
    lifecycle.check_transition(before, move.status)
    # Supervisors approve (campaigns:approve); marketers draft, submit and run (campaigns:write).
    needed = "campaigns:approve" if move.status in lifecycle.APPROVAL_MOVES else "campaigns:write"
    if not by.has_scope(needed):
        raise ProblemError(403, "forbidden", f"moving a campaign to {move.status} needs the {needed} scope")
    if move.status in lifecycle.APPROVAL_MOVES:
        lifecycle.check_approver(campaign.author, by.subject)
    if move.status == "approved":
        campaign.approver, campaign.approved_at = by.subject, now
    elif move.status in ("draft", "rejected"):
        campaign.approver = campaign.approved_at = None
    if move.status in ("scheduled", "running"):
        check_window(campaign, now)
        campaign.next_run_at = first_run(campaign, now)
    elif move.status in ("paused", "completed", "cancelled"):
        campaign.next_run_at = None
    campaign.status = move.status
    campaign.updated_at = now
    repository.add_campaign_step(
        session,
        campaign.id,
        at=now,
        actor=by.subject,
        kind="status",
        from_value=before,
        to_value=move.status,
        note=move.note,
    )
    _announce(session, campaign, before, by=by.subject, now=now, source=source)
    await session.flush()
    return campaign


def check_campaign(data: CampaignCreate, now: datetime) -> None:
    """Check what a schema cannot: the kind, the audience tree, the schedule, the time window."""
    if catalogue.template(data.kind) is None:
        raise ProblemError(
            422,
            "unknown-kind",
            f"no care template {data.kind!r}",
            field="kind",
            known=sorted(catalogue.TEMPLATES),
        )
    if data.audience is not None and data.segment_id is not None:
        raise ProblemError(
            422, "rule-violated", "give an audience or a segment_id, not both", field="audience"
        )
    if data.audience is not None:
        segments.parse(data.audience, root="audience")
    trigger = data.trigger
    if isinstance(trigger, EventTrigger) and trigger.condition is not None:
        segments.parse(trigger.condition, root="trigger.condition")
    if isinstance(trigger, ScheduleTrigger):
        lifecycle.next_cron_fire(trigger.cron, trigger.time_zone, now)
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise ProblemError(422, "rule-violated", "ends_at must be after starts_at", field="ends_at")


def check_window(campaign: Campaign, now: datetime) -> None:
    """Refuse to start a campaign whose end has passed."""
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise ProblemError(409, "campaign-ended", "the campaign's end has passed; edit its dates in a draft")


def first_run(campaign: Campaign, now: datetime) -> datetime | None:
    """Return when a batch campaign first runs once started (None for event-triggered ones)."""
    trigger = campaign.trigger
    start = max(now, campaign.starts_at or now)
    if trigger.get("type") == "schedule":
        return lifecycle.next_cron_fire(
            str(trigger["cron"]), str(trigger.get("time_zone", "Asia/Hong_Kong")), start
        )
    if trigger.get("type") == "once":
        at = trigger.get("at")
        return max(start, datetime.fromisoformat(str(at))) if at else start
    return None


def _stored_fields(data: CampaignCreate) -> dict[str, Any]:
    """Return a campaign's fields as its row stores them (trees and triggers as JSON)."""
    dumped = data.model_dump(mode="json", exclude={"starts_at", "ends_at"})
    return {**dumped, "starts_at": data.starts_at, "ends_at": data.ends_at}


def _announce(
    session: AsyncSession, campaign: Campaign, before: str | None, *, by: str, now: datetime, source: str
) -> None:
    publish_later(
        session,
        CampaignStatusChangedV1(
            campaign_id=campaign.id,
            kind=campaign.kind,
            from_status=before,
            to_status=campaign.status,
            actor=by,
            at=now,
        ),
        source=source,
        subject=campaign.id,
    )


# ── monitoring and evaluation ───────────────────────────────────────────────────────────────────────

# The past event a customer's leaving is recorded as (audience.py records it from the CRM feed).
SUBSCRIBER_LEFT = "subscriber.left"
Z_95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval


async def campaign_counts(session: AsyncSession, campaign: Campaign, now: datetime) -> CampaignCounts:
    """Return a campaign's live counts."""
    targeted = held_out = 0
    by_outcome: dict[str, int] = {}
    suppressed: dict[str, int] = {}
    for arm, outcome, reason, n in await repository.member_counts(session, campaign.id):
        if arm == "control":
            held_out += n
            continue
        targeted += n
        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
        if outcome == "suppressed":
            suppressed[reason or "unknown"] = suppressed.get(reason or "unknown", 0) + n
    converted = None
    if campaign.conversion:
        goal = Conversion.model_validate(campaign.conversion)
        arms = await repository.conversions(session, campaign.id, goal.event, absent=goal.absent, now=now)
        converted = arms.get("treatment", (0, 0))[1]
    return CampaignCounts(
        targeted=targeted,
        held_out=held_out,
        by_outcome=by_outcome,
        suppressed=suppressed,
        converted=converted,
    )


async def evaluate(session: AsyncSession, campaign: Campaign, now: datetime) -> Evaluation:
    """Compare conversion in treatment and control: uplift with a 95 % interval (normal approximation)."""
    if not campaign.conversion:
        raise ProblemError(409, "no-conversion-goal", "the campaign has no conversion goal to evaluate")
    goal = Conversion.model_validate(campaign.conversion)
    arms = await repository.conversions(session, campaign.id, goal.event, absent=goal.absent, now=now)
    treatment, control = (_arm(*arms.get(name, (0, 0))) for name in ("treatment", "control"))
    uplift = low = high = None
    if treatment.rate is not None and control.rate is not None:
        uplift = treatment.rate - control.rate
        spread = Z_95 * math.sqrt(
            treatment.rate * (1 - treatment.rate) / treatment.members
            + control.rate * (1 - control.rate) / control.members
        )
        low, high = uplift - spread, uplift + spread
    return Evaluation(
        conversion=goal,
        treatment=treatment,
        control=control,
        uplift=uplift,
        uplift_low=low,
        uplift_high=high,
        significant=None if low is None or high is None else (low > 0 or high < 0),
        complaints=await _complaint_shares(session, campaign.id, goal.within_days, now),
        churn=await _churn(session, campaign.id),
        survey=survey_result(await repository.answers(session, campaign.id)),
    )


def _arm(members: int, converted: int) -> ArmResult:
    return ArmResult(members=members, converted=converted, rate=converted / members if members else None)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def _complaint_shares(
    session: AsyncSession, campaign_id: str, window_days: int, now: datetime
) -> ComplaintShares:
    """Return each arm's complaint share in the goal's window before and after the campaign started."""
    start = await repository.campaign_start(session, campaign_id)
    arms = (
        await repository.complaint_shares(session, campaign_id, start, timedelta(days=window_days), now)
        if start is not None
        else {}
    )

    def arm(name: str) -> ArmComplaints:
        members, before, after = arms.get(name, (0, 0, 0))
        return ArmComplaints(members=members, before=_share(before, members), after=_share(after, members))

    return ComplaintShares(
        window_days=window_days, started_at=start, treatment=arm("treatment"), control=arm("control")
    )


async def _churn(session: AsyncSession, campaign_id: str) -> Churn:
    """Return each arm's members who left the operator since they were met."""
    arms = await repository.departures(session, campaign_id, SUBSCRIBER_LEFT)

    def arm(name: str) -> ArmChurn:
        members, left = arms.get(name, (0, 0))
        return ArmChurn(members=members, left=left, rate=_share(left, members))

    return Churn(treatment=arm("treatment"), control=arm("control"))


def survey_result(answers: list[tuple[str, int]]) -> SurveyResult:
    """Sort SMS answers into satisfied ("1…"), dissatisfied ("2…") and other, as the survey asks."""
    satisfied = sum(n for answer, n in answers if answer.startswith("1"))
    dissatisfied = sum(n for answer, n in answers if answer.startswith("2"))
    answered = sum(n for _, n in answers)
    return SurveyResult(
        answered=answered,
        satisfied=satisfied,
        dissatisfied=dissatisfied,
        other=answered - satisfied - dissatisfied,
        satisfaction=_share(satisfied, satisfied + dissatisfied),
    )


def frequency_buckets(counts: dict[int, int], top: int = 10) -> list[FrequencyBucket]:
    """Fold per-count customer numbers into buckets 1 … top-1 and top+ (the seeds' 10+)."""
    buckets = [FrequencyBucket(touches=str(n), customers=counts.get(n, 0)) for n in range(1, top)]
    beyond = sum(customers for touches, customers in counts.items() if touches >= top)
    return [*buckets, FrequencyBucket(touches=f"{top}+", customers=beyond)]


# ── saved segments and their preview ─────────────────────────────────────────────────────────────


async def create_segment(session: AsyncSession, body: SegmentCreate, author: str) -> Segment:
    """Save a new segment under a name no other segment has."""
    await _refuse_taken_name(session, body.name, None)
    now = utcnow()
    segment = Segment(
        id=str(uuid.uuid4()),
        name=body.name,
        description=body.description,
        conditions=segments.as_json(body.conditions),
        created_by=author,
        updated_by=author,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, segment)
    return segment


async def update_segment(session: AsyncSession, segment_id: str, body: SegmentUpdate, author: str) -> Segment:
    """Replace a segment's name, description and conditions."""
    segment = await saved_segment(session, segment_id)
    await _refuse_taken_name(session, body.name, segment.id)
    segment.name = body.name
    segment.description = body.description
    segment.conditions = segments.as_json(body.conditions)
    segment.updated_by = author
    segment.updated_at = utcnow()
    await repository.add(session, segment)
    return segment


async def saved_segment(session: AsyncSession, segment_id: str) -> Segment:
    """Return a saved segment or raise a 404 problem."""
    segment = await repository.get_segment(session, segment_id)
    if segment is None:
        raise NotFound("segment", segment_id)
    return segment


async def _refuse_taken_name(session: AsyncSession, name: str, own_id: str | None) -> None:
    holder = await repository.segment_named(session, name)
    if holder is not None and holder.id != own_id:
        raise Conflict(f"a segment named {name!r} exists already", "segment-name-taken", segment_id=holder.id)


async def preview(
    session: AsyncSession, request: SegmentPreviewRequest, as_of: segments.AsOf
) -> SegmentPreview:
    """Count who meets a tree (or a saved segment's) at a moment, and show a few of them, masked."""
    if request.conditions is not None:
        checked = segments.check(request.conditions)
    else:
        assert request.segment_id is not None
        checked = segments.parse((await saved_segment(session, request.segment_id)).conditions)
    condition = segments.where(checked, as_of)
    count = await repository.count_subscribers(session, condition)
    members = await repository.sample_subscribers(session, condition, request.sample_size) if count else []
    return SegmentPreview(
        count=count,
        sample=[
            SegmentMember(
                msisdn=mask_msisdn(m.msisdn),
                brand=m.brand,
                plan_id=m.plan_id,
                region=m.region,
                customer_class=m.customer_class,
                language=m.language,
                lifecycle_stage=m.lifecycle_stage,
                value_tier=m.value_tier,
            )
            for m in members
        ],
        today=as_of.today,
        now=as_of.now,
    )


def mask_msisdn(msisdn: str) -> str:
    """Show a number's last four digits only: enough to tell members apart, not to call them."""
    return "****" + msisdn[-4:]

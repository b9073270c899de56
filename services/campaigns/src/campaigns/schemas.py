"""Request and response models of the campaigns API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from campaigns.segments import Condition, SegmentTree
from careloop_common.errors import ProblemError
from careloop_common.events.campaigns import CAMPAIGN_STATUSES, TRIGGER_SUBJECTS
from careloop_common.events.feeds import NETWORK_CELL_ID
from careloop_common.inputs import NO_NUL, WHOLE, Timestamp

# A plan id as the catalogue keys it (the column holds 32 characters; PostgreSQL refuses more).
PLAN_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
# A subscriber's number as stored: E.164, a plus and up to 15 digits.
E164 = r"^\+[1-9][0-9]{3,14}$"
MAX_RECOMPUTE_MSISDNS = 10_000
# A network cell id (an ECGI, a CGI, an NR CGI): the feeds' own definition, 31 characters at most.
CELL_ID = NETWORK_CELL_ID
CELL_ID_MAX = 31
MAX_CELL_SITES_PER_PUT = 5_000


def _day(value: object) -> object:
    """Take a day as RFC 3339 writes it (2026-12-15): not a number, not another ISO 8601 form."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)  # a ValueError (2026-13-01) is a validation error
    raise ValueError("a day in RFC 3339 form, e.g. 2026-12-15")


# Numbers are strict about type ("3" and true are not numbers), as the schema says they are.
Money = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False, strict=True)]
Rate = Annotated[
    float,
    Field(ge=0, le=10_000, allow_inf_nan=False, strict=True, description="per unit beyond the allowance"),
]
Allowance = Annotated[float, Field(ge=0, le=1_000_000_000, allow_inf_nan=False, strict=True)]
SmsAllowance = Annotated[int, Field(ge=0, le=2**31 - 1), WHOLE]
Msisdn = Annotated[str, StringConstraints(pattern=E164), Field(examples=["+85291234567"])]
Day = Annotated[date, BeforeValidator(_day)]
"""A calendar day: RFC 3339 text (``2026-12-15``) only."""


# ── the plan catalogue ───────────────────────────────────────────────────────────────────────────


class PlanPut(BaseModel):
    """A plan's terms: its fee, what it includes, and what usage beyond costs."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
    monthly_fee: Money
    included_minutes: Allowance = 0.0
    included_sms: SmsAllowance = 0
    included_data_mb: Allowance = 0.0
    per_minute: Rate = 0.0
    per_sms: Rate = 0.0
    per_mb: Rate = 0.0
    long_distance_per_minute: Rate = Field(default=0.0, description="surcharge on every long-distance minute")
    roaming_per_minute: Rate = Field(default=0.0, description="surcharge on every roaming minute")
    active: bool = Field(default=True, strict=True, description="only active plans are recommended")


class PlanPublic(PlanPut):
    """A plan of the catalogue."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    updated_at: datetime


class PlanPage(BaseModel):
    """The plan catalogue."""

    items: list[PlanPublic]
    total: int


# ── recomputing the models ───────────────────────────────────────────────────────────────────────


class RecomputeRequest(BaseModel):
    """What to recompute: everyone (no ``msisdns``) or only the given subscribers."""

    model_config = ConfigDict(extra="forbid")

    msisdns: list[Msisdn] | None = Field(
        default=None,
        max_length=MAX_RECOMPUTE_MSISDNS,
        description="only these subscribers, against the value cut-off of the last run; all when absent",
    )
    as_of: Day | None = Field(
        default=None, description="the day tenure is counted to; today (UTC) when absent"
    )


class RecomputeResult(BaseModel):
    """What a recompute did, with counts of its outputs."""

    scope: Literal["all", "some"]
    as_of: date
    value_cutoff: float | None = Field(description="mean monthly revenue from which a subscriber is top20")
    cutoff_population: int = Field(description="how many subscribers the cut-off was computed over")
    scored: int
    top20: int
    recommended: int = Field(description="subscribers with a cheaper plan to recommend")
    stages: dict[str, int] = Field(description="scored subscribers per life-cycle stage")
    sensitivity: dict[str, int] = Field(description="scored subscribers per fee-sensitivity level, 1 … 4")
    missing: list[str] = Field(description="requested numbers that are not subscribers")
    started_at: datetime
    finished_at: datetime


# ── one subscriber's outputs, explained ──────────────────────────────────────────────────────────


class StoredOutputs(BaseModel):
    """The model outputs as stored on the subscriber (what segments select on)."""

    lifecycle_stage: str | None
    value_tier: str | None
    fee_sensitivity: int | None
    recommended_plan_id: str | None
    plan_saving: float | None
    models_at: datetime | None


class LifecycleExplanation(BaseModel):
    """The life-cycle stage and the tenure and revenue trend it follows from."""

    stage: str
    tenure_months: int = Field(description="whole calendar months since joining")
    revenue: list[float] = Field(description="revenue of the last three complete months, latest first")
    revenue_trend: float | None = Field(
        description="last month against the mean of the two before (0.1 = 10% up); null without a base"
    )
    acquisition_months: int
    growth_rise: float
    decline_fall: float


class ValueExplanation(BaseModel):
    """The value tier and the population cut-off it is measured against."""

    tier: str | None = Field(description="null until a run has computed the population's cut-off")
    mean_revenue: float
    value_cutoff: float | None
    cutoff_population: int
    top_share: float


class IndicatorPublic(BaseModel):
    """One fee-sensitivity indicator: its signal (0 to 1), weight and points."""

    name: str
    signal: float
    weight: float
    contribution: float


class FeeSensitivityExplanation(BaseModel):
    """The fee-sensitivity level, its score and each indicator's part in it."""

    level: int
    score: float
    indicators: list[IndicatorPublic]
    level_cutoffs: list[float] = Field(description="scores from which levels 2, 3 and 4 start")


class PlanBillPublic(BaseModel):
    """The subscriber's simulated monthly bill under one plan."""

    plan_id: str
    name: str
    active: bool
    current: bool
    bill: float


class TariffExplanation(BaseModel):
    """The tariff-matching outcome and the simulated bill under every plan."""

    current_plan_id: str
    current_bill: float | None = Field(description="null when the current plan is not in the catalogue")
    recommended_plan_id: str | None
    plan_saving: float | None
    min_saving: float
    bills: list[PlanBillPublic]


class SubscriberModels(BaseModel):
    """A subscriber's stored model outputs and what the models give on their data now, explained."""

    msisdn: str
    as_of: date
    up_to_date: bool = Field(description="whether the stored outputs are what the models give now")
    stored: StoredOutputs
    lifecycle: LifecycleExplanation
    value: ValueExplanation
    fee_sensitivity: FeeSensitivityExplanation
    tariff: TariffExplanation


# ── campaigns ────────────────────────────────────────────────────────────────────────────────────

LANGUAGES = ("zh-Hant", "zh-Hans", "en")
KIND = r"^[a-z][a-z0-9_]{1,47}$"
EVENT_KIND = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
SEGMENT_ID = r"^[A-Za-z0-9-]{1,36}$"
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=NO_NUL)]
# A segment condition tree (see segments.py and docs/segments.md); checked by the service.
Tree = dict[str, Any]


class EventTrigger(BaseModel):
    """Fire for a customer when one of their events arrives and the condition holds after it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["event"]
    subject: Literal[TRIGGER_SUBJECTS]  # type: ignore[valid-type]
    condition: Tree | None = Field(default=None, description="a segment tree over the updated profile")
    once_per_days: Annotated[int, Field(ge=0, le=365), WHOLE] = Field(
        default=0, description="fire at most once in so many days per customer (0: per the contact rules)"
    )


class ScheduleTrigger(BaseModel):
    """Run over the whole audience on a cron schedule, in a time zone."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["schedule"]
    cron: Annotated[str, StringConstraints(min_length=9, max_length=100, pattern=r"^[0-9*,/ A-Za-z?LW#-]+$")]
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)] = (
        "Asia/Hong_Kong"
    )


class OnceTrigger(BaseModel):
    """Run over the whole audience once, at a moment (or as soon as the campaign runs)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["once"]
    at: Timestamp | None = None


Trigger = Annotated[EventTrigger | ScheduleTrigger | OnceTrigger, Field(discriminator="type")]


class Conversion(BaseModel):
    """What counts as the campaign working for a customer: an event of theirs within N days."""

    model_config = ConfigDict(extra="forbid")

    event: Annotated[str, StringConstraints(min_length=1, max_length=48, pattern=EVENT_KIND)] = Field(
        examples=["plan.changed", "call.prefix", "payment.received"]
    )
    within_days: Annotated[int, Field(ge=1, le=365), WHOLE] = 30
    absent: bool = Field(
        default=False, description="converted when no such event follows (e.g. no repeat complaint)"
    )


class CampaignFields(BaseModel):
    """What a campaign is: shared by create, edit and the answers."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    goal: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=NO_NUL)]
    kind: Annotated[str, StringConstraints(pattern=KIND)] = Field(
        description="a care catalogue template's id"
    )
    audience: Tree | None = Field(default=None, description="a segment tree; or name a saved segment")
    segment_id: Annotated[str, StringConstraints(pattern=SEGMENT_ID)] | None = None
    trigger: Trigger
    channel: Literal["sms", "voice_call"] = "sms"
    content: dict[Literal[LANGUAGES], Text] = Field(  # type: ignore[valid-type]
        min_length=1, description="the message by language; customers get theirs, else the first given"
    )
    priority: Annotated[int, Field(ge=1, le=9), WHOLE] = 5
    cap_per_customer: Annotated[int, Field(ge=1, le=20), WHOLE] = Field(
        default=1, description="contacts per customer over the campaign's life"
    )
    min_gap_days: Annotated[int, Field(ge=0, le=365), WHOLE] = Field(
        default=0, description="days between two contacts of the same customer"
    )
    control_share: Annotated[float, Field(ge=0, le=0.5, strict=True, allow_inf_nan=False)] = Field(
        default=0.0, description="share of the audience held out as control (deterministic per customer)"
    )
    conversion: Conversion | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None


class CampaignCreate(CampaignFields):
    """A new campaign (a draft)."""


class CampaignEdit(BaseModel):
    """Fields to change in a draft or rejected campaign (merge: what is not given stays)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)] | None = None
    goal: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=NO_NUL)] | None = None
    audience: Tree | None = None
    segment_id: Annotated[str, StringConstraints(pattern=SEGMENT_ID)] | None = None
    trigger: Trigger | None = None
    channel: Literal["sms", "voice_call"] | None = None
    content: dict[Literal[LANGUAGES], Text] | None = Field(default=None, min_length=1)  # type: ignore[valid-type]
    priority: Annotated[int, Field(ge=1, le=9), WHOLE] | None = None
    cap_per_customer: Annotated[int, Field(ge=1, le=20), WHOLE] | None = None
    min_gap_days: Annotated[int, Field(ge=0, le=365), WHOLE] | None = None
    control_share: Annotated[float, Field(ge=0, le=0.5, strict=True, allow_inf_nan=False)] | None = None
    conversion: Conversion | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None


class CampaignMove(BaseModel):
    """A move in the campaign's life (approve, reject, schedule, run, pause, complete …)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal[CAMPAIGN_STATUSES]  # type: ignore[valid-type]
    note: Annotated[str, StringConstraints(max_length=1000, pattern=NO_NUL)] | None = None


class CampaignPublic(CampaignFields):
    """A campaign and where it is in its life."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    status: str
    author: str
    approver: str | None
    approved_at: datetime | None
    next_run_at: datetime | None
    runs: int


# ── the audience ─────────────────────────────────────────────────────────────────────────────────


class UsageMonth(BaseModel):
    """What the last complete month's bill counted."""

    period: str | None = Field(description="the month billed, YYYY-MM; null before the first bill")
    revenue: list[float] = Field(description="revenue of the last three billed months, latest first")
    minutes: float
    sms: int
    data_mb: float
    long_distance_minutes: float
    roaming_minutes: float
    long_distance_calls: int
    prefix_calls: int = Field(description="long-distance calls dialled with the cheap prefix")
    fee_queries: int
    top_ups: int


class DaySpend(BaseModel):
    """What the subscriber spent on one day."""

    day: date
    spend: float


class Whereabouts(BaseModel):
    """Where the network last saw the subscriber, to the district (not the cell)."""

    district: str | None = Field(description="H3 cell at resolution 6 (about 36 km²) holding the last cell")
    roaming: bool
    roaming_country: str | None
    located_at: datetime | None


class SubscriberEventPublic(BaseModel):
    """A past event of the subscriber; called numbers are masked."""

    kind: str
    at: datetime
    detail: dict[str, object]


class SubscriberPublic(BaseModel):
    """A subscriber's profile as campaigns holds it: masked where a marketer needs no more."""

    msisdn: str
    customer_ref: str
    brand: str
    plan_id: str
    region: str
    time_zone: str
    language: str
    join_date: date
    birthday: str | None = Field(description="month and day only (--MM-DD): enough for a greeting")
    customer_class: str
    contact_sms: bool
    contact_call: bool
    balance: float
    balance_at: datetime | None
    daily_spend: list[DaySpend] = Field(description="the last seven days held, oldest first")
    avg_daily_spend_3d: float
    last_payment_at: datetime | None
    points: int
    points_expire_on: date | None
    usage: UsageMonth
    whereabouts: Whereabouts
    models: StoredOutputs
    recent_events: list[SubscriberEventPublic] = Field(description="the latest past events, newest first")
    profile_at: datetime | None = Field(description="when the profile held was current at the CRM")
    created_at: datetime
    updated_at: datetime


class SubscriberSummary(BaseModel):
    """What the call centre's screen pop shows of a subscriber: who they are, their plan, class,
    consent, balance and the models' reading; no usage, places or past events."""

    msisdn: str
    brand: str
    plan_id: str
    region: str
    language: str
    join_date: date
    customer_class: str
    contact_sms: bool
    contact_call: bool
    balance: float
    models: StoredOutputs


class CampaignPage(BaseModel):
    """A page of campaigns, newest first."""

    items: list[CampaignPublic]
    total: int


class CampaignStepPublic(BaseModel):
    """One change of a campaign."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    kind: str
    from_value: str | None
    to_value: str | None
    note: str | None


class RunResult(BaseModel):
    """What a batch run did with the customers it met."""

    run: int
    targeted: int
    held_out: int
    suppressed: dict[str, int] = Field(description="customers the campaign's own rules skipped, by reason")


class CampaignCounts(BaseModel):
    """A campaign's live counts: who it met and what became of each contact."""

    targeted: int = Field(description="customers in the treatment arm")
    held_out: int = Field(description="customers in the control arm")
    by_outcome: dict[str, int] = Field(description="treatment members by their contact's latest news")
    suppressed: dict[str, int] = Field(description="contacts the gateway suppressed, by reason")
    converted: int | None = Field(description="treatment members who converted (None: no goal set)")


class ArmResult(BaseModel):
    """One arm's conversions."""

    members: int
    converted: int
    rate: float | None


class ArmComplaints(BaseModel):
    """One arm's share of members who complained, before and after the campaign started."""

    members: int
    before: float | None = Field(description="share with a complaint in the window before the start")
    after: float | None = Field(description="share with a complaint in the window after it (so far)")


class ComplaintShares(BaseModel):
    """Complaint share before and after, per arm: did care make customers complain less?"""

    window_days: int
    started_at: datetime | None = Field(description="when the campaign met its first customer")
    treatment: ArmComplaints
    control: ArmComplaints


class ArmChurn(BaseModel):
    """One arm's members who left the operator since they were met."""

    members: int
    left: int
    rate: float | None


class Churn(BaseModel):
    """Churn of the targeted (treatment) against the not targeted (control)."""

    treatment: ArmChurn
    control: ArmChurn


class SurveyResult(BaseModel):
    """What the treatment arm answered by SMS: "1…" satisfied, "2…" not, anything else other."""

    answered: int
    satisfied: int
    dissatisfied: int
    other: int
    satisfaction: float | None = Field(description="satisfied / (satisfied + dissatisfied)")


class Evaluation(BaseModel):
    """Treatment against control: conversion, uplift and its confidence interval; complaint share
    before and after, churn, and survey satisfaction."""

    conversion: Conversion
    treatment: ArmResult
    control: ArmResult
    uplift: float | None = Field(description="treatment rate minus control rate")
    confidence: float = 0.95
    uplift_low: float | None
    uplift_high: float | None
    significant: bool | None = Field(description="whether the interval excludes zero")
    complaints: ComplaintShares
    churn: Churn
    survey: SurveyResult


class FrequencyBucket(BaseModel):
    """How many customers campaigns contacted so many times."""

    touches: str = Field(examples=["1", "2", "10+"])
    customers: int


class TemplatePublic(BaseModel):
    """A built-in care template: a campaign to draft from (its ``draft`` is a ready POST body)."""

    id: str
    kind: str
    kind_name: str
    name: str
    notes: str
    draft: dict[str, Any]


class ImportRowError(BaseModel):
    """A refused value: the data row (1 = the first row after the header), its column and why."""

    row: int
    field: str = Field(description="the column; empty when the whole line is unreadable")
    reason: str


class ImportJobPublic(BaseModel):
    """A bulk import of subscribers: its progress, its counts and the first values it refused."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str | None
    format: Literal["csv", "parquet"]
    status: Literal["running", "done", "failed"]
    failure: str | None = Field(description="why the import failed, when it did")
    progress: float = Field(description="share of the file read, 0 to 1")
    bytes_total: int
    rows_total: int | None = Field(description="rows in the file, where the format says (Parquet)")
    rows_read: int
    rows_imported: int
    rows_rejected: int = Field(description="every refused row counts; the first 1000 refusals are listed")
    errors: list[ImportRowError]
    models_scored: int | None = Field(description="subscribers the models were recomputed for at the end")
    created_by: str
    started_at: datetime
    finished_at: datetime | None


# --- segments ---------------------------------------------------------------------------------------

SegmentName = Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=128)]
Description = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=2000)]
SegmentId = Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=64)]

# The seeds' segments (DOMAIN.md section 2), as examples in the OpenAPI document.
LOW_BALANCE: JsonDict = {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}}
BIRTHDAY_THIS_WEEK: JsonDict = {"field": "birthday", "op": "within_days", "value": 7}
COVERAGE_COMPLAINERS: JsonDict = {"event": "complaint.coverage", "within_days": 180}
TOP_VALUE: JsonDict = {"field": "value_tier", "op": "=", "value": "top20"}
EXAMPLE_SEGMENT: JsonDict = {
    "name": "Balance below three days' spend",
    "description": "Dynamic balance reminder: remind before the line is suspended for arrears",
    "conditions": {"all": [LOW_BALANCE, {"field": "contact_sms", "op": "=", "value": True}]},
}


class SegmentCreate(BaseModel):
    """A segment to save: a name no other segment has, what it is for, and its conditions."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_SEGMENT]})

    name: SegmentName
    description: Description | None = None
    conditions: SegmentTree = Field(description="the condition tree (docs/segments.md)")


class SegmentUpdate(SegmentCreate):
    """A segment's new name, description and conditions: PUT replaces all three."""


class SegmentPublic(BaseModel):
    """A saved segment."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None
    conditions: Condition
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class SegmentPage(BaseModel):
    """One page of segments, by name."""

    items: list[SegmentPublic]
    total: int
    limit: int
    offset: int


class SegmentPreviewRequest(BaseModel):
    """What to preview: a tree not saved yet, or a saved segment; and how many members to show."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["conditions"]}, {"required": ["segment_id"]}],
            "examples": [
                {"conditions": {"any": [BIRTHDAY_THIS_WEEK, COVERAGE_COMPLAINERS]}, "sample_size": 5},
                {"conditions": TOP_VALUE},
            ],
        },
    )

    conditions: SegmentTree | None = Field(default=None, description="a condition tree (docs/segments.md)")
    segment_id: SegmentId | None = Field(default=None, description="a saved segment instead of a tree")
    sample_size: Annotated[int, Field(ge=0, le=50), WHOLE] = Field(
        default=10, description="how many members to show"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SegmentPreviewRequest:
        """Take exactly one of a tree and a saved segment, and not as null."""
        given = {"conditions", "segment_id"} & self.model_fields_set
        if len(given) != 1 or (self.conditions is None and self.segment_id is None):
            raise ProblemError(
                422, "segment-preview-source", "give either conditions or segment_id (exactly one of them)"
            )
        return self


class SegmentMember(BaseModel):
    """A subscriber in a preview: the number masked to its last four digits, and a few profile fields."""

    msisdn: str = Field(description="masked: the last four digits only", examples=["****4567"])
    brand: str
    plan_id: str
    region: str
    customer_class: str
    language: str
    lifecycle_stage: str | None
    value_tier: str | None


class SegmentPreview(BaseModel):
    """How many subscribers meet a segment now, and a few of them (a stable spread over the segment)."""

    count: int
    sample: list[SegmentMember]
    today: date = Field(description="the day the day windows counted from (the operator's calendar)")
    now: datetime = Field(description="the instant the event windows counted back from")


# ── the cell-site registry ───────────────────────────────────────────────────────────────────────

CellId = Annotated[
    str,
    StringConstraints(pattern=CELL_ID, max_length=CELL_ID_MAX),
    Field(description="the network's cell id: MCC-MNC-LAC/TAC/eNB-CI digits", examples=["460-00-1234567-12"]),
]


class CellSitePut(BaseModel):
    """A network cell and where it is."""

    model_config = ConfigDict(extra="forbid")

    cell_id: CellId
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)]
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)] | None = None


class CellSiteBatch(BaseModel):
    """Cell sites to create or replace, all or none."""

    model_config = ConfigDict(extra="forbid")

    items: list[CellSitePut] = Field(min_length=1, max_length=MAX_CELL_SITES_PER_PUT)


class CellSiteBatchResult(BaseModel):
    """How many cell sites a batch created or replaced."""

    upserted: int


class CellSitePublic(CellSitePut):
    """A cell site of the registry, with the H3 cell (resolution 8) its position falls in."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    cell: str = Field(description="the H3 cell at resolution 8 of the position")
    updated_at: datetime


class CellSitePage(BaseModel):
    """A page of the cell-site registry, by cell id."""

    items: list[CellSitePublic]
    total: int
    limit: int
    offset: int

"""Request and response models of the campaigns API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from careloop_common.inputs import NO_NUL

# A plan id as the catalogue keys it (the column holds 32 characters; PostgreSQL refuses more).
PLAN_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
# A subscriber's number as stored: E.164, a plus and up to 15 digits.
E164 = r"^\+[1-9][0-9]{3,14}$"
MAX_RECOMPUTE_MSISDNS = 10_000


def _whole(value: object) -> object:
    """Take a JSON integer as JSON Schema means it (``3`` or ``3.0``), never a string or a boolean."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a whole number")
    return value


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
SmsAllowance = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_whole)]
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

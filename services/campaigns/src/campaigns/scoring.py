"""The care campaigns' models: life-cycle stage, value tier, fee sensitivity and tariff matching.

Pure functions over column arrays (numpy, one element per subscriber) with no I/O: the service
reads subscribers in chunks, scores each chunk here and writes the outputs back. Every threshold
and weight is a field of a frozen parameter dataclass whose default is the documented number
(docs/campaigns.md, "Models", says why each one is what it is).

The value tier is the one model that needs the whole population: its cut-off is computed once over
every subscriber (``value_cutoff``) and then applied chunk by chunk (``top_value``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from campaigns.models import LIFECYCLE_STAGES, VALUE_TIERS

Column = npt.NDArray[Any]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SmallIntArray = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]

ACQUISITION, GROWTH, MATURITY, DECLINE = (
    LIFECYCLE_STAGES.index(stage) for stage in ("acquisition", "growth", "maturity", "decline")
)
TOP20, REST = VALUE_TIERS
NO_PLAN = -1
FEE_INDICATORS = ("fee_queries", "top_ups", "long_distance_without_prefix", "overspend", "low_balance")


# ── parameters ───────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class LifecycleParams:
    """Thresholds of the life-cycle stage (tenure first, then the revenue trend)."""

    acquisition_months: int = 6  # whole months of tenure below which a customer is still being won
    growth_rise: float = 0.10  # last month above the two before by more than this share: growth
    decline_fall: float = 0.20  # last month below the two before by more than this share: decline


@dataclass(frozen=True)
class ValueParams:
    """Share of the population, by mean revenue over three months, that forms the top tier."""

    top_share: float = 0.20

    def __post_init__(self) -> None:
        if not 0 < self.top_share <= 1:
            raise ValueError("top_share must be in (0, 1]")


@dataclass(frozen=True)
class FeeSensitivityParams:
    """Weights of the fee-sensitivity indicators (they add up to the 0 to 100 score) and level cut-offs.

    Each indicator is a signal from 0 to 1; its contribution is signal times weight.
    """

    fee_queries_weight: float = 30.0
    fee_queries_full: float = 3.0  # manual fee queries in a month at which the signal is full
    top_ups_weight: float = 15.0
    top_ups_full: float = 4.0  # top-ups in a month at which the signal is full
    long_distance_weight: float = 15.0  # signal: share of long-distance calls dialled without the prefix
    overspend_weight: float = 20.0
    overspend_full: float = 1.0  # spend above the plan fee, as a share of the fee, for a full signal
    low_balance_weight: float = 20.0
    low_balance_days: float = 3.0  # the balance covers fewer days of spend than this (Y = 3·X)
    level_cutoffs: tuple[float, float, float] = (25.0, 50.0, 75.0)  # score from which level 2, 3, 4 start

    def __post_init__(self) -> None:
        if list(self.level_cutoffs) != sorted(self.level_cutoffs):
            raise ValueError("level_cutoffs must be ascending")
        if min(self.fee_queries_full, self.top_ups_full, self.overspend_full, self.low_balance_days) <= 0:
            raise ValueError("saturation points must be positive")

    def weights(self) -> dict[str, float]:
        """Return each indicator's weight by name."""
        return {
            "fee_queries": self.fee_queries_weight,
            "top_ups": self.top_ups_weight,
            "long_distance_without_prefix": self.long_distance_weight,
            "overspend": self.overspend_weight,
            "low_balance": self.low_balance_weight,
        }


@dataclass(frozen=True)
class TariffParams:
    """When a cheaper plan is worth recommending."""

    min_saving: float = 5.0  # per month; below this a plan change is not worth the customer's trouble


@dataclass(frozen=True)
class ModelParams:
    """Every model's parameters."""

    lifecycle: LifecycleParams = field(default_factory=LifecycleParams)
    value: ValueParams = field(default_factory=ValueParams)
    fee: FeeSensitivityParams = field(default_factory=FeeSensitivityParams)
    tariff: TariffParams = field(default_factory=TariffParams)


DEFAULT_PARAMS = ModelParams()


# ── inputs ───────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class SubscriberColumns:
    """The model inputs of some subscribers, one array per column, all of the same length.

    Counts and amounts may have any numeric dtype; ``join_date`` is ``datetime64[D]``;
    ``plan_index`` is the position of each subscriber's current plan in the ``Catalogue`` the
    columns are scored against, ``NO_PLAN`` (-1) when the plan is not in it.
    """

    join_date: Column
    revenue_m1: Column
    revenue_m2: Column
    revenue_m3: Column
    balance: Column
    avg_daily_spend_3d: Column
    top_ups_m1: Column
    fee_queries_m1: Column
    long_distance_calls_m1: Column
    prefix_calls_m1: Column
    minutes_m1: Column
    sms_m1: Column
    data_mb_m1: Column
    long_distance_minutes_m1: Column
    roaming_minutes_m1: Column
    plan_index: Column

    def __len__(self) -> int:
        return len(self.plan_index)

    def rows(self, start: int, stop: int) -> SubscriberColumns:
        """Return the columns of rows ``start`` to ``stop`` (views, no copy)."""
        return SubscriberColumns(**{name: value[start:stop] for name, value in vars(self).items()})


class PlanTerms(Protocol):
    """What the tariff simulation reads from a plan (a ``Plan`` row has it; read-only is enough)."""

    @property
    def id(self) -> str: ...

    @property
    def monthly_fee(self) -> float: ...

    @property
    def included_minutes(self) -> float: ...

    @property
    def included_sms(self) -> int: ...

    @property
    def included_data_mb(self) -> float: ...

    @property
    def per_minute(self) -> float: ...

    @property
    def per_sms(self) -> float: ...

    @property
    def per_mb(self) -> float: ...

    @property
    def long_distance_per_minute(self) -> float: ...

    @property
    def roaming_per_minute(self) -> float: ...

    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class Catalogue:
    """The plan catalogue as arrays, one element per plan, plans ordered by id."""

    ids: tuple[str, ...]
    monthly_fee: FloatArray
    included_minutes: FloatArray
    included_sms: FloatArray
    included_data_mb: FloatArray
    per_minute: FloatArray
    per_sms: FloatArray
    per_mb: FloatArray
    long_distance_per_minute: FloatArray
    roaming_per_minute: FloatArray
    active: BoolArray

    @classmethod
    def of(cls, plans: Iterable[PlanTerms]) -> Catalogue:
        """Build the catalogue from plans, ordered by id: a tie between two plans goes to the smaller id."""
        listed = sorted(plans, key=lambda plan: plan.id)

        def column(name: str) -> FloatArray:
            return np.array([float(getattr(plan, name)) for plan in listed], dtype=np.float64)

        return cls(
            ids=tuple(plan.id for plan in listed),
            monthly_fee=column("monthly_fee"),
            included_minutes=column("included_minutes"),
            included_sms=column("included_sms"),
            included_data_mb=column("included_data_mb"),
            per_minute=column("per_minute"),
            per_sms=column("per_sms"),
            per_mb=column("per_mb"),
            long_distance_per_minute=column("long_distance_per_minute"),
            roaming_per_minute=column("roaming_per_minute"),
            active=np.array([bool(plan.active) for plan in listed], dtype=np.bool_),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, plan_ids: Sequence[str]) -> IntArray:
        """Return each plan id's position in the catalogue, ``NO_PLAN`` for ids it does not hold."""
        position = {plan_id: i for i, plan_id in enumerate(self.ids)}
        return np.fromiter((position.get(p, NO_PLAN) for p in plan_ids), dtype=np.int64, count=len(plan_ids))

    def fee_of(self, plan_index: Column) -> FloatArray:
        """Return the monthly fee of each subscriber's current plan, NaN where it is not in the catalogue."""
        fees = np.append(self.monthly_fee, np.nan)  # index -1 reads the NaN
        picked: FloatArray = fees[np.asarray(plan_index)]
        return picked


# ── life-cycle stage ─────────────────────────────────────────────────────────────────────────────


def tenure_months(join_date: Column, today: date) -> IntArray:
    """Count the whole calendar months from each join date to ``today`` (negative for future dates)."""
    join_month = join_date.astype("datetime64[M]")
    join_day = (join_date - join_month.astype("datetime64[D]")).astype(np.int64)  # day of month - 1
    today_m = np.datetime64(today, "M")
    today_day = (np.datetime64(today, "D") - today_m.astype("datetime64[D]")).astype(np.int64)
    months = (today_m - join_month).astype(np.int64)
    # The month in progress counts only once its day of the month is reached.
    whole: IntArray = months - (today_day < join_day)
    return whole


def revenue_trend(revenue_m1: Column, revenue_m2: Column, revenue_m3: Column) -> FloatArray:
    """Return last month's revenue against the mean of the two before, as a share (+0.1 = 10% up).

    NaN where the two months before had no revenue: no base to compare against.
    """
    base = (np.asarray(revenue_m2, dtype=np.float64) + revenue_m3) / 2.0
    trend = np.full(base.shape, np.nan)
    np.divide(revenue_m1 - base, base, out=trend, where=base > 0)
    return trend


def lifecycle_stages(
    columns: SubscriberColumns, today: date, params: LifecycleParams = LifecycleParams()
) -> SmallIntArray:
    """Return each subscriber's life-cycle stage as an index into ``LIFECYCLE_STAGES``.

    Tenure below ``acquisition_months``: acquisition. Otherwise the revenue trend decides: falling
    by more than ``decline_fall``, or no revenue at all for three months: decline; rising by more
    than ``growth_rise``, or revenue starting after two months without: growth; else maturity.
    """
    m1 = np.asarray(columns.revenue_m1, dtype=np.float64)
    trend = revenue_trend(m1, columns.revenue_m2, columns.revenue_m3)
    no_base = np.isnan(trend)
    stage = np.full(len(columns), MATURITY, dtype=np.int8)
    # Assigned from the weakest rule to the strongest, so the strongest has the last word.
    stage[(trend > params.growth_rise) | (no_base & (m1 > 0))] = GROWTH
    stage[(trend < -params.decline_fall) | (no_base & (m1 <= 0))] = DECLINE
    stage[tenure_months(columns.join_date, today) < params.acquisition_months] = ACQUISITION
    return stage


# ── value tier ───────────────────────────────────────────────────────────────────────────────────


def mean_revenue(revenue_m1: Column, revenue_m2: Column, revenue_m3: Column) -> FloatArray:
    """Return the mean revenue of the last three complete months."""
    total: FloatArray = np.asarray(revenue_m1, dtype=np.float64) + revenue_m2 + revenue_m3
    return total / 3.0


def top_count(population: int, top_share: float) -> int:
    """Return how many subscribers the top tier aims at: the share of the population, rounded up."""
    # The small tolerance keeps 0.2 * 10 at 2: in floating point it is 2.0000000000000004 for some sizes.
    return min(population, math.ceil(top_share * population - 1e-9))


def value_cutoff(mean_revenues: Column, params: ValueParams = ValueParams()) -> float | None:
    """Return the population's top-tier cut-off: the mean revenue of its k-th best subscriber.

    k is ``top_share`` of the population rounded up. None for an empty population.
    """
    values = np.asarray(mean_revenues, dtype=np.float64)
    k = top_count(len(values), params.top_share)
    if k == 0:
        return None
    return float(np.partition(values, len(values) - k)[len(values) - k])


def top_value(mean_revenues: Column, cutoff: float | None) -> BoolArray:
    """Tell which subscribers are in the top tier: mean revenue at or above the cut-off, and above zero.

    Everyone tied at the cut-off is in (no arbitrary split between equal customers), so the tier
    can hold a little more than its share; a customer bringing no revenue is never top value.
    """
    values = np.asarray(mean_revenues, dtype=np.float64)
    if cutoff is None:
        return np.zeros(values.shape, dtype=np.bool_)
    return (values >= cutoff) & (values > 0)


# ── fee sensitivity ──────────────────────────────────────────────────────────────────────────────


def _saturating(count: Column, full: float) -> FloatArray:
    """Return count / full, clipped to 0..1."""
    return np.clip(np.asarray(count, dtype=np.float64) / full, 0.0, 1.0)


def _ratio_or_zero(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def fee_signals(
    columns: SubscriberColumns, plan_fee: Column, params: FeeSensitivityParams = FeeSensitivityParams()
) -> dict[str, FloatArray]:
    """Return each fee-sensitivity indicator's signal (0..1) by name, one array each.

    ``plan_fee`` is the monthly fee of each subscriber's current plan (NaN: unknown).
    """
    long_distance = np.asarray(columns.long_distance_calls_m1, dtype=np.float64)
    unprefixed = np.clip(long_distance - columns.prefix_calls_m1, 0.0, None)
    fee = np.nan_to_num(np.asarray(plan_fee, dtype=np.float64), nan=0.0)
    overspend = _ratio_or_zero(np.asarray(columns.revenue_m1, dtype=np.float64) - fee, fee)
    daily_spend = np.asarray(columns.avg_daily_spend_3d, dtype=np.float64)
    days_covered = _ratio_or_zero(
        np.clip(np.asarray(columns.balance, dtype=np.float64), 0.0, None), daily_spend
    )
    low_balance = np.where(daily_spend > 0, 1.0 - days_covered / params.low_balance_days, 0.0)
    return {
        "fee_queries": _saturating(columns.fee_queries_m1, params.fee_queries_full),
        "top_ups": _saturating(columns.top_ups_m1, params.top_ups_full),
        "long_distance_without_prefix": np.clip(_ratio_or_zero(unprefixed, long_distance), 0.0, 1.0),
        "overspend": np.clip(overspend / params.overspend_full, 0.0, 1.0),
        "low_balance": np.clip(low_balance, 0.0, 1.0),
    }


def fee_contributions(
    signals: dict[str, FloatArray], params: FeeSensitivityParams = FeeSensitivityParams()
) -> dict[str, FloatArray]:
    """Return each indicator's points towards the score: its signal times its weight."""
    weights = params.weights()
    return {name: signals[name] * weights[name] for name in FEE_INDICATORS}


def fee_score(contributions: dict[str, FloatArray]) -> FloatArray:
    """Return the fee-sensitivity score: the sum of the indicators' contributions."""
    parts = iter(contributions.values())
    score = np.array(next(parts), dtype=np.float64)
    for part in parts:
        score += part
    return score


def fee_levels(score: Column, params: FeeSensitivityParams = FeeSensitivityParams()) -> SmallIntArray:
    """Return the sensitivity level 1 (low) … 4 (high): a cut-off reached moves the score up a level."""
    cutoffs = np.asarray(params.level_cutoffs, dtype=np.float64)
    return (np.searchsorted(cutoffs, score, side="right") + 1).astype(np.int8)


# ── tariff matching ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Usage:
    """One month's usage as float arrays, negatives read as zero."""

    minutes: FloatArray
    sms: FloatArray
    data_mb: FloatArray
    long_distance_minutes: FloatArray
    roaming_minutes: FloatArray

    @classmethod
    def of(cls, columns: SubscriberColumns) -> Usage:
        """Take the usage columns of subscribers."""

        def clean(values: Column) -> FloatArray:
            return np.maximum(np.asarray(values, dtype=np.float64), 0.0)

        return cls(
            minutes=clean(columns.minutes_m1),
            sms=clean(columns.sms_m1),
            data_mb=clean(columns.data_mb_m1),
            long_distance_minutes=clean(columns.long_distance_minutes_m1),
            roaming_minutes=clean(columns.roaming_minutes_m1),
        )


def _add_overage(
    bill: FloatArray, used: FloatArray, included: float, rate: float, scratch: FloatArray
) -> None:
    """Add (used - included, at least 0) * rate to ``bill`` in place."""
    if rate == 0:
        return
    np.subtract(used, included, out=scratch)
    np.maximum(scratch, 0.0, out=scratch)
    scratch *= rate
    bill += scratch


def plan_bill(usage: Usage, catalogue: Catalogue, plan: int) -> FloatArray:
    """Simulate each subscriber's monthly bill under one plan of the catalogue.

    The fee, plus overage beyond the included minutes, SMS and data at the plan's rates, plus
    every long-distance and roaming minute at the plan's surcharge for them (those minutes also
    count against the included minutes, as airtime).
    """
    c, p = catalogue, plan
    bill = np.full(usage.minutes.shape, c.monthly_fee[p], dtype=np.float64)
    scratch = np.empty_like(bill)
    _add_overage(bill, usage.minutes, float(c.included_minutes[p]), float(c.per_minute[p]), scratch)
    _add_overage(bill, usage.sms, float(c.included_sms[p]), float(c.per_sms[p]), scratch)
    _add_overage(bill, usage.data_mb, float(c.included_data_mb[p]), float(c.per_mb[p]), scratch)
    _add_overage(bill, usage.long_distance_minutes, 0.0, float(c.long_distance_per_minute[p]), scratch)
    _add_overage(bill, usage.roaming_minutes, 0.0, float(c.roaming_per_minute[p]), scratch)
    return bill


def simulate_bills(usage: Usage, catalogue: Catalogue) -> FloatArray:
    """Return every subscriber's bill under every plan: shape (subscribers, plans)."""
    bills = np.empty((len(usage.minutes), len(catalogue)), dtype=np.float64)
    for plan in range(len(catalogue)):
        bills[:, plan] = plan_bill(usage, catalogue, plan)
    return bills


@dataclass(frozen=True)
class TariffMatch:
    """The outcome of the tariff-matching model for some subscribers."""

    current_bill: FloatArray  # under their current plan; NaN where it is not in the catalogue
    best_plan: IntArray  # the cheapest active plan; NO_PLAN when none is active
    best_bill: FloatArray  # its bill; +inf when no plan is active
    recommended_plan: IntArray  # NO_PLAN: no recommendation
    saving: FloatArray  # current bill - recommended plan's bill; NaN without a recommendation


def match_tariffs(
    columns: SubscriberColumns, catalogue: Catalogue, params: TariffParams = TariffParams()
) -> TariffMatch:
    """Find each subscriber's cheapest active plan and recommend it when it saves enough.

    Bills are simulated one plan at a time, keeping only the running cheapest, so memory grows
    with the subscribers and not with subscribers times plans. Ties go to the plan listed first.
    No recommendation when the current plan is not in the catalogue (nothing to compare),
    is itself the cheapest, or the saving is below ``min_saving``.
    """
    usage = Usage.of(columns)
    n = len(columns)
    plan_index = np.asarray(columns.plan_index)
    current_bill = np.full(n, np.nan)
    best_bill = np.full(n, np.inf)
    best_plan = np.full(n, NO_PLAN, dtype=np.int64)
    for plan in range(len(catalogue)):
        on_plan = plan_index == plan
        active = bool(catalogue.active[plan])
        if not active and not on_plan.any():
            continue  # a retired plan only matters to those still on it
        bill = plan_bill(usage, catalogue, plan)
        np.copyto(current_bill, bill, where=on_plan)
        if active:
            cheaper = bill < best_bill
            np.copyto(best_bill, bill, where=cheaper)
            best_plan[cheaper] = plan
    with np.errstate(invalid="ignore"):  # inf - inf and NaN comparisons: no recommendation
        saving = current_bill - best_bill
        recommend = (best_plan != NO_PLAN) & (best_plan != plan_index) & (saving >= params.min_saving)
    return TariffMatch(
        current_bill=current_bill,
        best_plan=best_plan,
        best_bill=best_bill,
        recommended_plan=np.where(recommend, best_plan, NO_PLAN),
        saving=np.where(recommend, saving, np.nan),
    )


# ── all models at once ───────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ModelOutputs:
    """Every model's output for some subscribers, one array each."""

    lifecycle_stage: SmallIntArray  # index into LIFECYCLE_STAGES
    top_value: BoolArray
    fee_score: FloatArray
    fee_sensitivity: SmallIntArray  # 1 … 4
    recommended_plan: IntArray  # index into the catalogue, NO_PLAN for none
    plan_saving: FloatArray  # NaN for none

    def __len__(self) -> int:
        return len(self.lifecycle_stage)


def score(
    columns: SubscriberColumns,
    catalogue: Catalogue,
    cutoff: float | None,
    today: date,
    params: ModelParams = DEFAULT_PARAMS,
) -> ModelOutputs:
    """Run every model on some subscribers, with the population's value cut-off given."""
    contributions = fee_contributions(fee_signals(columns, catalogue.fee_of(columns.plan_index), params.fee))
    points = fee_score(contributions)
    tariff = match_tariffs(columns, catalogue, params.tariff)
    return ModelOutputs(
        lifecycle_stage=lifecycle_stages(columns, today, params.lifecycle),
        top_value=top_value(mean_revenue(columns.revenue_m1, columns.revenue_m2, columns.revenue_m3), cutoff),
        fee_score=points,
        fee_sensitivity=fee_levels(points, params.fee),
        recommended_plan=tariff.recommended_plan,
        plan_saving=tariff.saving,
    )


def score_population(
    columns: SubscriberColumns,
    catalogue: Catalogue,
    today: date,
    params: ModelParams = DEFAULT_PARAMS,
    chunk_rows: int = 250_000,
) -> tuple[float | None, list[ModelOutputs]]:
    """Score a whole population held in memory: its value cut-off first, then chunk by chunk.

    Chunks bound the temporaries (a dozen float arrays of ``chunk_rows``) whatever the population.
    """
    means = mean_revenue(columns.revenue_m1, columns.revenue_m2, columns.revenue_m3)
    cutoff = value_cutoff(means, params.value)
    del means
    outputs = [
        score(columns.rows(start, start + chunk_rows), catalogue, cutoff, today, params)
        for start in range(0, len(columns), chunk_rows)
    ]
    return cutoff, outputs

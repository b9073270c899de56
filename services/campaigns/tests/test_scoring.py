"""The models on small hand-checked data: each expected value is worked out in the comment beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pytest

from campaigns import scoring
from campaigns.models import LIFECYCLE_STAGES
from campaigns.scoring import (
    NO_PLAN,
    Catalogue,
    FeeSensitivityParams,
    LifecycleParams,
    ModelParams,
    SubscriberColumns,
    TariffParams,
    ValueParams,
)

TODAY = date(2026, 12, 15)
LONG_AGO = "2020-01-01"


def columns(n: int, **given: Any) -> SubscriberColumns:
    """Build n subscribers' columns: zero usage and revenue, joined long ago, not on a known plan."""
    values: dict[str, Any] = {name: np.zeros(n) for name in SubscriberColumns.__dataclass_fields__}
    values["join_date"] = np.full(n, LONG_AGO, dtype="datetime64[D]")
    values["plan_index"] = np.full(n, NO_PLAN)
    for name, value in given.items():
        dtype = "datetime64[D]" if name == "join_date" else None
        values[name] = np.array(value, dtype=dtype)
    return SubscriberColumns(**values)


def stage_names(codes: np.ndarray[Any, Any]) -> list[str]:
    return [LIFECYCLE_STAGES[int(code)] for code in codes]


# ── life-cycle stage ─────────────────────────────────────────────────────────────────────────────


def test_tenure_counts_whole_calendar_months() -> None:
    joined = ["2026-06-15", "2026-06-16", "2026-01-31", "2027-01-01", "2016-12-15"]
    # 2026-06-15 → 2026-12-15: six months to the day. One day later: only five are complete.
    # 2026-01-31 → 2026-12-15: eleven months by the calendar, the 31st not reached: 10.
    # A future join date (a data error) reads as negative tenure; ten years are 120 months.
    assert scoring.tenure_months(np.array(joined, dtype="datetime64[D]"), TODAY).tolist() == [
        6,
        5,
        10,
        -1,
        120,
    ]


def test_tenure_at_the_end_of_a_short_month() -> None:
    # Joined 31 January; on 28 February the 31st has not come: 0 whole months; on 1 March, 1.
    joined = np.array(["2026-01-31"], dtype="datetime64[D]")
    assert scoring.tenure_months(joined, date(2026, 2, 28)).tolist() == [0]
    assert scoring.tenure_months(joined, date(2026, 3, 1)).tolist() == [1]


def test_lifecycle_stages_follow_tenure_then_the_revenue_trend() -> None:
    cols = columns(
        9,
        join_date=[
            "2026-07-01",  # 5 months: acquisition, although its revenue falls
            "2026-06-15",  # 6 months to the day: past acquisition; flat revenue: maturity
            LONG_AGO,
            LONG_AGO,
            LONG_AGO,
            LONG_AGO,
            LONG_AGO,
            LONG_AGO,
            LONG_AGO,
        ],
        revenue_m1=[10, 100, 111, 110, 80, 79, 0, 25, 100],
        revenue_m2=[100, 100, 100, 100, 100, 100, 0, 0, 120],
        revenue_m3=[100, 100, 100, 100, 100, 100, 0, 0, 80],
    )
    assert stage_names(scoring.lifecycle_stages(cols, TODAY)) == [
        "acquisition",
        "maturity",
        "growth",  # (111 - 100) / 100 = +11% > +10%
        "maturity",  # +10% exactly is not more than 10%
        "maturity",  # -20% exactly is not more than 20%
        "decline",  # -21%
        "decline",  # no revenue for three months: dormant
        "growth",  # revenue started after two months without
        "maturity",  # m1 100 against the mean of 120 and 80 = 100: flat
    ]


def test_lifecycle_thresholds_are_parameters() -> None:
    cols = columns(1, revenue_m1=[95], revenue_m2=[100], revenue_m3=[100], join_date=["2026-03-01"])
    # -5%, nine months of tenure: maturity by default; decline from -4%; acquisition below 12 months.
    assert stage_names(scoring.lifecycle_stages(cols, TODAY)) == ["maturity"]
    assert stage_names(scoring.lifecycle_stages(cols, TODAY, LifecycleParams(decline_fall=0.04))) == [
        "decline"
    ]
    assert stage_names(scoring.lifecycle_stages(cols, TODAY, LifecycleParams(acquisition_months=12))) == [
        "acquisition"
    ]


def test_revenue_trend_has_no_value_without_a_base() -> None:
    trend = scoring.revenue_trend(np.array([30.0, 5.0]), np.array([20.0, 0.0]), np.array([40.0, 0.0]))
    assert trend[0] == 0.0  # 30 against (20 + 40) / 2 = 30
    assert np.isnan(trend[1])


# ── value tier ───────────────────────────────────────────────────────────────────────────────────


def test_value_cutoff_is_the_kth_best_mean_revenue() -> None:
    means = np.array([10.0, 80, 30, 50, 90, 20, 70, 40, 60, 100])
    # 20% of 10 = 2 subscribers: the cut-off is the second best, 90.
    assert scoring.value_cutoff(means) == 90.0
    assert scoring.top_value(means, 90.0).tolist() == [
        v >= 90 for v in [10, 80, 30, 50, 90, 20, 70, 40, 60, 100]
    ]
    # 20% of 7 = 1.4, rounded up to 2: the second best of these seven is 6.
    assert scoring.value_cutoff(np.array([1.0, 7, 2, 6, 3, 5, 4])) == 6.0
    # A third of 10 rounds up to 4: the fourth best is 70.
    assert scoring.value_cutoff(means, ValueParams(top_share=1 / 3)) == 70.0


def test_everyone_tied_at_the_cutoff_is_in_the_top_tier() -> None:
    means = np.array([100.0, 90, 90, 90, 10, 10, 10, 10, 10, 10])
    # Two are aimed at; the second best is 90, shared by three: all four of 100, 90, 90, 90 are top.
    cutoff = scoring.value_cutoff(means)
    assert cutoff == 90.0
    assert scoring.top_value(means, cutoff).sum() == 4


def test_no_revenue_is_never_top_value() -> None:
    means = np.zeros(10)
    means[0] = 5.0
    # The cut-off (second best) is 0: only the one subscriber with revenue is top.
    cutoff = scoring.value_cutoff(means)
    assert cutoff == 0.0
    assert scoring.top_value(means, cutoff).tolist() == [True] + [False] * 9


def test_an_empty_population_has_no_cutoff_and_no_top_tier() -> None:
    assert scoring.value_cutoff(np.empty(0)) is None
    assert scoring.top_value(np.array([50.0]), None).tolist() == [False]


def test_mean_revenue_is_over_three_months() -> None:
    assert scoring.mean_revenue(np.array([30.0]), np.array([60.0]), np.array([0.0])).tolist() == [30.0]


# ── fee sensitivity ──────────────────────────────────────────────────────────────────────────────


def fee_outcome(
    cols: SubscriberColumns, plan_fee: list[float], params: FeeSensitivityParams | None = None
) -> Any:
    params = params or FeeSensitivityParams()
    signals = scoring.fee_signals(cols, np.array(plan_fee), params)
    contributions = scoring.fee_contributions(signals, params)
    score = scoring.fee_score(contributions)
    return signals, contributions, score, scoring.fee_levels(score, params)


def test_fee_sensitivity_adds_weighted_indicators() -> None:
    cols = columns(
        1,
        fee_queries_m1=[2],
        top_ups_m1=[2],
        long_distance_calls_m1=[10],
        prefix_calls_m1=[4],
        revenue_m1=[150],
        balance=[3],
        avg_daily_spend_3d=[2],
    )
    signals, contributions, score, level = fee_outcome(cols, [100.0])
    assert signals["fee_queries"][0] == pytest.approx(2 / 3)  # 2 of the 3 queries that saturate
    assert signals["top_ups"][0] == 0.5  # 2 of 4
    assert signals["long_distance_without_prefix"][0] == 0.6  # 6 of 10 calls without the prefix
    assert signals["overspend"][0] == 0.5  # spent 150 on a fee of 100: 50% above, full at 100%
    assert signals["low_balance"][0] == 0.5  # balance 3 covers 1.5 days of 2 a day; low below 3 days
    assert {name: round(float(value[0]), 6) for name, value in contributions.items()} == {
        "fee_queries": 20.0,  # * 30
        "top_ups": 7.5,  # * 15
        "long_distance_without_prefix": 9.0,  # * 15
        "overspend": 10.0,  # * 20
        "low_balance": 10.0,  # * 20
    }
    assert score[0] == pytest.approx(56.5)
    assert level.tolist() == [3]  # 50 ≤ 56.5 < 75


def test_fee_levels_start_at_their_cutoffs() -> None:
    cols = columns(
        5,
        fee_queries_m1=[0, 3, 3, 3, 9],
        top_ups_m1=[0, 0, 4, 4, 9],
        long_distance_calls_m1=[0, 0, 0, 4, 4],
        revenue_m1=[0, 0, 0, 175, 400],
    )
    _, _, score, level = fee_outcome(cols, [100.0] * 5)
    # 0; 30 (queries); 30 + 15 (top-ups) = 45; 45 + 15 (long distance) + 0.75 * 20 (overspend) = 75;
    # every signal full but the balance (no daily spend): 80.
    assert score.tolist() == [0.0, 30.0, 45.0, 75.0, 80.0]
    assert level.tolist() == [1, 2, 2, 4, 4]
    # Scores exactly on each cut-off start that level.
    assert scoring.fee_levels(np.array([24.99, 25.0, 50.0, 74.99, 75.0])).tolist() == [1, 2, 3, 3, 4]


def test_fee_indicators_without_their_inputs_signal_nothing() -> None:
    # No long-distance calls, an unknown plan fee (NaN) or a free plan, no daily spend: all zero.
    cols = columns(2, revenue_m1=[80, 80], balance=[0, 0])
    signals, _, score, level = fee_outcome(cols, [float("nan"), 0.0])
    assert all(values.tolist() == [0.0, 0.0] for values in signals.values())
    assert score.tolist() == [0.0, 0.0]
    assert level.tolist() == [1, 1]


def test_a_negative_balance_is_a_low_balance_and_odd_counts_are_clipped() -> None:
    # Balance -5 covers no day at all: full signal. More prefix calls than long-distance calls
    # (feeds counting differently) reads as none without the prefix, not a negative share.
    cols = columns(1, balance=[-5], avg_daily_spend_3d=[1], long_distance_calls_m1=[2], prefix_calls_m1=[3])
    signals, _, score, _ = fee_outcome(cols, [50.0])
    assert signals["low_balance"].tolist() == [1.0]
    assert signals["long_distance_without_prefix"].tolist() == [0.0]
    assert score.tolist() == [20.0]


def test_fee_weights_and_cutoffs_are_parameters() -> None:
    cols = columns(1, fee_queries_m1=[3])
    params = FeeSensitivityParams(fee_queries_weight=60.0, level_cutoffs=(10.0, 20.0, 50.0))
    _, _, score, level = fee_outcome(cols, [0.0], params)
    assert score.tolist() == [60.0]
    assert level.tolist() == [4]
    with pytest.raises(ValueError, match="ascending"):
        FeeSensitivityParams(level_cutoffs=(50.0, 25.0, 75.0))


# ── tariff matching ──────────────────────────────────────────────────────────────────────────────


@dataclass
class PlanRow:
    id: str
    monthly_fee: float
    included_minutes: float = 0.0
    included_sms: int = 0
    included_data_mb: float = 0.0
    per_minute: float = 0.0
    per_sms: float = 0.0
    per_mb: float = 0.0
    long_distance_per_minute: float = 0.0
    roaming_per_minute: float = 0.0
    active: bool = True


CATALOGUE = Catalogue.of(
    [
        # Given out of order: the catalogue sorts by id (B, L, S, X).
        PlanRow("S", 30, 100, 50, 500, 0.25, 0.1, 0.05, long_distance_per_minute=0.2, roaming_per_minute=1.0),
        PlanRow(
            "L", 60, 500, 200, 3000, 0.15, 0.1, 0.02, long_distance_per_minute=0.1, roaming_per_minute=0.8
        ),
        PlanRow(
            "X",
            20,
            0,
            0,
            0,
            0.3,
            0.1,
            0.1,
            long_distance_per_minute=0.3,
            roaming_per_minute=1.0,
            active=False,
        ),
        PlanRow("B", 10, per_minute=0.5),
    ]
)
B, L, S, X = range(4)


def test_catalogue_is_ordered_by_id_and_finds_plans() -> None:
    assert CATALOGUE.ids == ("B", "L", "S", "X")
    assert CATALOGUE.index_of(["S", "nope", "X"]).tolist() == [S, NO_PLAN, X]
    assert np.isnan(CATALOGUE.fee_of(np.array([NO_PLAN]))[0])
    assert CATALOGUE.fee_of(np.array([L, S])).tolist() == [60.0, 30.0]


def test_a_bill_is_the_fee_plus_overage_plus_surcharges() -> None:
    cols = columns(
        2,
        minutes_m1=[400, 0],
        sms_m1=[100, 0],
        data_mb_m1=[2000, 0],
        long_distance_minutes_m1=[50, 0],
        roaming_minutes_m1=[10, 0],
    )
    bills = scoring.simulate_bills(scoring.Usage.of(cols), CATALOGUE)
    # S: 30 + 300 min * 0.25 + 50 SMS * 0.1 + 1500 MB * 0.05 + 50 LD * 0.2 + 10 roaming * 1.0
    #    = 30 + 75 + 5 + 75 + 10 + 10 = 205
    # L: 60 + 0 + 0 + 0 + 50 * 0.1 + 10 * 0.8 = 73
    # X: 20 + 400 * 0.3 + 100 * 0.1 + 2000 * 0.1 + 50 * 0.3 + 10 * 1.0 = 375
    # B: 10 + 400 * 0.5 = 210 (no other rates)
    assert bills[0].round(6).tolist() == [210.0, 73.0, 205.0, 375.0]
    # No usage at all: every plan costs its fee.
    assert bills[1].tolist() == [10.0, 60.0, 30.0, 20.0]


def test_the_cheapest_active_plan_is_recommended_when_it_saves_enough() -> None:
    cols = columns(
        6,
        plan_index=[S, L, S, X, NO_PLAN, L],
        minutes_m1=[400, 20, 100, 10, 400, 105],
        data_mb_m1=[2000, 0, 500, 0, 2000, 0],
        sms_m1=[100, 0, 50, 0, 0, 60],
    )
    match = scoring.match_tariffs(cols, CATALOGUE)
    # 0: on S: 30 + 300 * 0.25 + 50 * 0.1 + 1500 * 0.05 = 185; L = 60; B = 10 + 200 = 210: L saves 125.
    # 1: on L (60); B = 10 + 20 * 0.5 = 20 is cheapest: saves 40.
    # 2: on S exactly at its allowances: 30; B = 10 + 50 = 60; L = 60: S is already cheapest.
    # 3: on retired X: 20 + 3 = 23; the cheapest active is B at 10 + 5 = 15: saves 8.
    # 4: on a plan not in the catalogue: nothing to compare, no recommendation.
    # 5: on L (60); S = 30 + 5 * 0.25 + 10 * 0.1 = 32.25; B = 10 + 52.5 = 62.5: S saves 27.75.
    assert match.current_bill[[0, 1, 2, 3, 5]].round(6).tolist() == [185.0, 60.0, 30.0, 23.0, 60.0]
    assert np.isnan(match.current_bill[4])
    assert match.recommended_plan.tolist() == [L, B, NO_PLAN, B, NO_PLAN, S]
    assert match.saving[[0, 1, 3, 5]].round(6).tolist() == [125.0, 40.0, 8.0, 27.75]
    assert np.isnan(match.saving[[2, 4]]).all()
    # The retired plan X (23 for the one on it, 20 for those without usage) is never the best.
    assert X not in match.best_plan.tolist()


def test_a_saving_below_the_threshold_is_not_worth_a_recommendation() -> None:
    cols = columns(2, plan_index=[L, L], minutes_m1=[196, 194])
    # S: 30 + 96 * 0.25 = 54 (saves 6) and 30 + 94 * 0.25 = 53.5 (saves 6.5); B = 10 + 98 / 97: dearer.
    assert scoring.match_tariffs(cols, CATALOGUE).recommended_plan.tolist() == [S, S]
    # With 6.5 as the minimum, only the second saves enough: a saving of exactly the minimum counts.
    match = scoring.match_tariffs(cols, CATALOGUE, TariffParams(min_saving=6.5))
    assert match.recommended_plan.tolist() == [NO_PLAN, S]
    assert match.saving[1] == 6.5


def test_ties_go_to_the_plan_first_by_id() -> None:
    twins = Catalogue.of([PlanRow("Q2", 40), PlanRow("Q1", 40), PlanRow("DEAR", 90)])
    cols = columns(1, plan_index=[twins.ids.index("DEAR")])
    match = scoring.match_tariffs(cols, twins)
    assert twins.ids[int(match.recommended_plan[0])] == "Q1"
    assert match.saving.tolist() == [50.0]


def test_an_empty_catalogue_recommends_nothing() -> None:
    empty = Catalogue.of([])
    cols = columns(2, minutes_m1=[100, 0], plan_index=[NO_PLAN, NO_PLAN])
    match = scoring.match_tariffs(cols, empty)
    assert match.recommended_plan.tolist() == [NO_PLAN, NO_PLAN]
    assert np.isnan(match.saving).all()
    assert scoring.simulate_bills(scoring.Usage.of(cols), empty).shape == (2, 0)


def test_no_usage_is_billed_the_fee_and_negative_usage_reads_as_none() -> None:
    cols = columns(2, plan_index=[L, L], minutes_m1=[0, -300])
    match = scoring.match_tariffs(cols, CATALOGUE)
    # Both pay L's 60; B costs its fee of 10: saves 50 (negative minutes do not lower any bill).
    assert match.current_bill.tolist() == [60.0, 60.0]
    assert match.recommended_plan.tolist() == [B, B]
    assert match.saving.tolist() == [50.0, 50.0]


# ── all models at once ───────────────────────────────────────────────────────────────────────────


def test_scoring_in_chunks_gives_what_scoring_at_once_gives() -> None:
    rng = np.random.default_rng(7)
    n = 50
    cols = columns(
        n,
        join_date=np.datetime64("2015-01-01") + rng.integers(0, 4000, n),
        revenue_m1=rng.uniform(0, 200, n).round(2),
        revenue_m2=rng.uniform(0, 200, n).round(2),
        revenue_m3=rng.uniform(0, 200, n).round(2),
        minutes_m1=rng.uniform(0, 800, n),
        data_mb_m1=rng.uniform(0, 5000, n),
        fee_queries_m1=rng.integers(0, 5, n),
        plan_index=rng.integers(-1, 4, n),
    )
    whole_cutoff = scoring.value_cutoff(
        scoring.mean_revenue(cols.revenue_m1, cols.revenue_m2, cols.revenue_m3)
    )
    whole = scoring.score(cols, CATALOGUE, whole_cutoff, TODAY)
    cutoff, parts = scoring.score_population(cols, CATALOGUE, TODAY, chunk_rows=7)
    assert cutoff == whole_cutoff
    assert len(parts) == 8  # 7 * 7 + 1
    assert int(np.concatenate([p.top_value for p in parts]).sum()) == 10  # 20% of 50, no ties in random cents
    for name in ("lifecycle_stage", "top_value", "fee_sensitivity", "recommended_plan"):
        assert np.concatenate([getattr(p, name) for p in parts]).tolist() == getattr(whole, name).tolist(), (
            name
        )
    np.testing.assert_array_equal(np.concatenate([p.plan_saving for p in parts]), whole.plan_saving)


def test_model_params_default_to_the_documented_numbers() -> None:
    params = ModelParams()
    assert (
        params.lifecycle.acquisition_months,
        params.lifecycle.growth_rise,
        params.lifecycle.decline_fall,
    ) == (
        6,
        0.10,
        0.20,
    )
    assert params.value.top_share == 0.20
    assert params.fee.weights() == {
        "fee_queries": 30.0,
        "top_ups": 15.0,
        "long_distance_without_prefix": 15.0,
        "overspend": 20.0,
        "low_balance": 20.0,
    }
    assert sum(params.fee.weights().values()) == 100.0  # the score runs from 0 to 100
    assert params.fee.level_cutoffs == (25.0, 50.0, 75.0)
    assert params.tariff.min_saving == 5.0

"""Recomputing the models on a real database: chunked reads by key, executemany writes, the stored cut-off.

The audience of ``campaign_data`` (today 2026-12-15), worked out by hand:

| msisdn | plan  | stage                     | mean | fee score: level     | bills BASIC, PLUS, OLD: advice |
|--------|-------|---------------------------|------|----------------------|--------------------------------|
| …0001  | BASIC | maturity (200 vs 200)     | 200  | 30 + 15 + 20 = 65: 3 | 205, 73, 375: PLUS saves 132   |
| …0002  | PLUS  | acquisition (5 months)    | 60   | 0: 1                 | 30, 60, 46: BASIC saves 30     |
| …0003  | BASIC | decline (30 vs 50: -40%)  | 43.3 | 7.5 + 16.67: 1       | 30, 60, …: already cheapest    |
| …0004  | OLD   | growth (23 vs 20: +15%)   | 21   | 10 + 3 = 13: 1       | 30, 60, 23: none cheaper       |
| …0005  | GONE  | decline (no revenue)      | 0    | 30 + 15 + 20 = 65: 3 | not in the catalogue: none     |
| …0006  | PLUS  | maturity (6 mo; 60 vs 57) | 58   | 30+15+15+20 = 80: 4  | 56, 60, …: saves 4 < 5: none   |

Value: 20% of 6 rounds up to 2; the second best mean is 60, so 0001 and 0002 are top20.
"""

from __future__ import annotations

from typing import Any

import pytest
from campaign_data import TODAY, Campaigns, audience, catalogue_rows, store
from sqlmodel import col, select

from campaigns import repository, service
from campaigns.models import ModelRun, Subscriber
from careloop_common.db import transaction, utcnow

EXPECTED: dict[str, tuple[str, str, int, str | None, float | None]] = {
    "+8613900000001": ("maturity", "top20", 3, "PLUS", 132.0),
    "+8613900000002": ("acquisition", "top20", 1, "BASIC", 30.0),
    "+8613900000003": ("decline", "rest", 1, None, None),
    "+8613900000004": ("growth", "rest", 1, None, None),
    "+8613900000005": ("decline", "rest", 3, None, None),
    "+8613900000006": ("maturity", "rest", 4, None, None),
}


async def outputs(campaigns: Campaigns) -> dict[str, tuple[Any, ...]]:
    async with transaction(campaigns.sessions) as session:
        rows = await session.scalars(select(Subscriber).order_by(col(Subscriber.msisdn)))
        return {
            s.msisdn: (
                s.lifecycle_stage,
                s.value_tier,
                s.fee_sensitivity,
                s.recommended_plan_id,
                s.plan_saving,
            )
            for s in rows
        }


async def runs(campaigns: Campaigns) -> list[ModelRun]:
    async with transaction(campaigns.sessions) as session:
        return list(await session.scalars(select(ModelRun).order_by(col(ModelRun.id))))


@pytest.mark.parametrize("chunk_rows", [2, 1000])
async def test_full_recompute_stores_every_model_output(campaigns: Campaigns, chunk_rows: int) -> None:
    await store(campaigns.sessions, [*catalogue_rows(), *audience()])
    before = utcnow()

    summary = await service.recompute_models(campaigns.sessions, today=TODAY, chunk_rows=chunk_rows)

    assert await outputs(campaigns) == EXPECTED
    assert (summary.scope, summary.scored, summary.top20, summary.recommended) == ("all", 6, 2, 2)
    assert (summary.value_cutoff, summary.cutoff_population) == (60.0, 6)
    assert summary.stages == {"acquisition": 1, "growth": 1, "maturity": 2, "decline": 2}
    assert summary.sensitivity == {1: 3, 2: 0, 3: 2, 4: 1}
    [run] = await runs(campaigns)
    assert (run.scope, run.as_of, run.value_cutoff, run.cutoff_population, run.scored, run.recommended) == (
        "all",
        TODAY,
        60.0,
        6,
        6,
        2,
    )
    async with transaction(campaigns.sessions) as session:
        stamps = {s.models_at for s in await session.scalars(select(Subscriber))}
    assert all(stamp is not None and stamp >= before for stamp in stamps)


async def test_recomputing_some_subscribers_keeps_the_stored_cutoff(campaigns: Campaigns) -> None:
    await store(campaigns.sessions, [*catalogue_rows(), *audience()])
    await service.recompute_models(campaigns.sessions, today=TODAY)
    async with transaction(campaigns.sessions) as session:
        grown = await repository.subscriber(session, "+8613900000004")
        assert grown is not None
        grown.revenue_m1 = grown.revenue_m2 = grown.revenue_m3 = 100.0

    # Only 0002 is recomputed: against the stored cut-off (60) its mean of 60 stays top20, although
    # a fresh cut-off (second best of 200, 100, 60, …) would now be 100. 0004 is not touched.
    summary = await service.recompute_models(
        campaigns.sessions, ["+8613900000002", "+8613900000002", "+8613999999999"], today=TODAY
    )
    assert (summary.scope, summary.scored, summary.value_cutoff, summary.cutoff_population) == (
        "some",
        1,
        60.0,
        6,
    )
    assert summary.missing == ["+8613999999999"]
    after_some = await outputs(campaigns)
    assert after_some["+8613900000002"][1] == "top20"
    assert after_some["+8613900000004"] == EXPECTED["+8613900000004"]

    # A full run takes the new cut-off: 0004 (mean 100) is top20, 0002 (60) no longer is.
    summary = await service.recompute_models(campaigns.sessions, today=TODAY)
    assert (summary.value_cutoff, summary.top20) == (100.0, 2)
    after_all = await outputs(campaigns)
    assert after_all["+8613900000002"][1] == "rest"
    assert after_all["+8613900000004"][:2] == ("maturity", "top20")  # 100 vs 100: flat
    assert [run.scope for run in await runs(campaigns)] == ["all", "some", "all"]


async def test_recomputing_some_without_a_previous_run_computes_the_cutoff(campaigns: Campaigns) -> None:
    await store(campaigns.sessions, [*catalogue_rows(), *audience()])
    summary = await service.recompute_models(campaigns.sessions, ["+8613900000001"], today=TODAY)
    assert (summary.value_cutoff, summary.cutoff_population, summary.top20) == (60.0, 6, 1)
    assert (await outputs(campaigns))["+8613900000001"] == EXPECTED["+8613900000001"]
    assert (await outputs(campaigns))["+8613900000002"] == (None, None, None, None, None)


async def test_an_empty_audience_and_catalogue_recompute_to_nothing(campaigns: Campaigns) -> None:
    summary = await service.recompute_models(campaigns.sessions, today=TODAY)
    assert (summary.scored, summary.top20, summary.recommended) == (0, 0, 0)
    assert (summary.value_cutoff, summary.cutoff_population) == (None, 0)
    assert len(await runs(campaigns)) == 1


async def test_without_a_catalogue_nothing_is_recommended(campaigns: Campaigns) -> None:
    await store(campaigns.sessions, audience())
    summary = await service.recompute_models(campaigns.sessions, today=TODAY)
    assert summary.recommended == 0
    stored = await outputs(campaigns)
    assert all(values[3:] == (None, None) for values in stored.values())
    # With no plan fee known, 0001 loses its overspend points: 30 + 15 = 45 → level 2.
    assert stored["+8613900000001"][2] == 2


async def test_inputs_are_read_by_key_in_chunks_and_outputs_written_back(campaigns: Campaigns) -> None:
    await store(campaigns.sessions, audience())
    async with transaction(campaigns.sessions) as session:
        first = await repository.model_inputs_after(session, "", 4)
        rest = await repository.model_inputs_after(session, first[-1][0], 4)
        some = await repository.model_inputs_of(session, ["+8613900000006", "+8613900000003", "+1555"])
        revenues = await repository.revenues_after(session, "+8613900000004", 10)
    assert [row[0] for row in first] == [f"+861390000000{i}" for i in (1, 2, 3, 4)]
    assert [row[0] for row in rest] == ["+8613900000005", "+8613900000006"]
    assert [row[0] for row in some] == ["+8613900000003", "+8613900000006"]
    assert dict(zip(repository.MODEL_INPUT_COLUMNS, first[0], strict=True))["data_mb_m1"] == 2000.0
    assert [tuple(row) for row in revenues] == [
        ("+8613900000005", 0.0, 0.0, 0.0),
        ("+8613900000006", 60.0, 60.0, 54.0),
    ]

    now = utcnow()
    async with transaction(campaigns.sessions) as session:
        await repository.write_model_outputs(
            session,
            [
                {
                    "msisdn": "+8613900000003",
                    "lifecycle_stage": "growth",
                    "value_tier": "top20",
                    "fee_sensitivity": 2,
                    "recommended_plan_id": "PLUS",
                    "plan_saving": 12.5,
                    "models_at": now,
                },
                {
                    "msisdn": "+8613900000006",
                    "lifecycle_stage": "decline",
                    "value_tier": "rest",
                    "fee_sensitivity": 4,
                    "recommended_plan_id": None,
                    "plan_saving": None,
                    "models_at": now,
                },
            ],
        )
    stored = await outputs(campaigns)
    assert stored["+8613900000003"] == ("growth", "top20", 2, "PLUS", 12.5)
    assert stored["+8613900000006"] == ("decline", "rest", 4, None, None)
    assert stored["+8613900000001"] == (None, None, None, None, None)
    async with transaction(campaigns.sessions) as session:
        written = await repository.subscriber(session, "+8613900000003")
    assert written is not None
    assert written.models_at == now

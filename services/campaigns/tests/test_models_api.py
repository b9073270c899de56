"""The models through the API: the plan catalogue, recomputing, and one subscriber's outputs explained.

The audience and its hand-worked outputs are those of ``test_models_service.py``'s table.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from campaign_data import PLANS, Campaigns, audience, reading, store, writing

from campaigns import repository
from careloop_common.db import transaction
from careloop_common.testing import auth_headers

AS_OF = "2026-12-15"
FIRST = "+8613900000001"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:careloop:problem:{slug}"
    return body


async def put_catalogue(client: httpx.AsyncClient) -> None:
    for plan_id, terms in PLANS.items():
        response = await client.put(f"/campaigns/v1/plans/{plan_id}", json=terms, headers=writing())
        assert response.status_code == 201, response.text


async def test_plans_are_created_replaced_and_listed(campaigns: Campaigns) -> None:
    client = campaigns.client
    await put_catalogue(client)
    changed = {**PLANS["PLUS"], "monthly_fee": 58.0, "active": False}

    replaced = await client.put("/campaigns/v1/plans/PLUS", json=changed, headers=writing())

    assert replaced.status_code == 200
    assert {k: replaced.json()[k] for k in ("id", "monthly_fee", "active")} == {
        "id": "PLUS",
        "monthly_fee": 58.0,
        "active": False,
    }
    listed = (await client.get("/campaigns/v1/plans", headers=reading())).json()
    assert [plan["id"] for plan in listed["items"]] == ["BASIC", "OLD", "PLUS"]
    assert listed["total"] == 3
    assert listed["items"][0] == {
        **PLANS["BASIC"],
        "id": "BASIC",
        "updated_at": listed["items"][0]["updated_at"],
    }
    active = (await client.get("/campaigns/v1/plans", params={"active": "true"}, headers=reading())).json()
    assert [plan["id"] for plan in active["items"]] == ["BASIC"]


@pytest.mark.parametrize(
    ("plan_id", "body"),
    [
        ("BASIC", {**PLANS["BASIC"], "monthly_fee": -1}),
        ("BASIC", {**PLANS["BASIC"], "per_minute": 1e308}),
        ("BASIC", {**PLANS["BASIC"], "included_sms": 2**31}),
        ("BASIC", {**PLANS["BASIC"], "name": ""}),
        ("BASIC", {**PLANS["BASIC"], "name": "a\x00b"}),
        ("BASIC", {**PLANS["BASIC"], "free_minutes": 100}),
        ("BASIC", {"name": "no fee"}),
        ("X" * 33, PLANS["BASIC"]),
        ("-dash-first", PLANS["BASIC"]),
    ],
)
async def test_bad_plans_are_refused_with_a_problem(campaigns: Campaigns, plan_id: str, body: Any) -> None:
    response = await campaigns.client.put(f"/campaigns/v1/plans/{plan_id}", json=body, headers=writing())
    assert_problem(response, 422, "validation-error")
    listed = await campaigns.client.get("/campaigns/v1/plans", headers=reading())
    assert listed.json()["total"] == 0


async def test_a_fee_that_is_not_a_number_is_refused(campaigns: Campaigns) -> None:
    body = '{"name": "nan", "monthly_fee": NaN}'
    headers = {**writing(), "Content-Type": "application/json"}
    response = await campaigns.client.put("/campaigns/v1/plans/N", content=body, headers=headers)
    assert_problem(response, 422, "validation-error")


async def test_scopes_are_checked(campaigns: Campaigns) -> None:
    client = campaigns.client
    body = PLANS["BASIC"]
    assert_problem(await client.put("/campaigns/v1/plans/B", json=body, headers=reading()), 403, "forbidden")
    assert_problem(await client.post("/campaigns/v1/models/recompute", headers=reading()), 403, "forbidden")
    assert_problem(await client.get("/campaigns/v1/plans"), 401, "unauthorized")
    other = auth_headers("complaints:read")
    assert_problem(
        await client.get(f"/campaigns/v1/subscribers/{FIRST}/models", headers=other), 403, "forbidden"
    )


async def test_recompute_answers_with_counts(campaigns: Campaigns) -> None:
    client = campaigns.client
    await put_catalogue(client)
    await store(campaigns.sessions, audience())

    response = await client.post("/campaigns/v1/models/recompute", json={"as_of": AS_OF}, headers=writing())

    assert response.status_code == 200, response.text
    result = response.json()
    assert {k: result[k] for k in ("scope", "as_of", "value_cutoff", "cutoff_population", "scored")} == {
        "scope": "all",
        "as_of": AS_OF,
        "value_cutoff": 60.0,
        "cutoff_population": 6,
        "scored": 6,
    }
    assert (result["top20"], result["recommended"]) == (2, 2)
    assert result["stages"] == {"acquisition": 1, "growth": 1, "maturity": 2, "decline": 2}
    assert result["sensitivity"] == {"1": 3, "2": 0, "3": 2, "4": 1}
    assert result["missing"] == []

    some = await client.post(
        "/campaigns/v1/models/recompute",
        json={"msisdns": [FIRST, "+8613911112222"], "as_of": AS_OF},
        headers=writing(),
    )
    assert some.status_code == 200, some.text
    assert {k: some.json()[k] for k in ("scope", "scored", "top20", "recommended", "missing")} == {
        "scope": "some",
        "scored": 1,
        "top20": 1,
        "recommended": 1,
        "missing": ["+8613911112222"],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"msisdns": ["13900000001"]},  # not E.164
        {"msisdns": ["+86139000000011234"]},  # 17 digits
        {"msisdns": ["+8613900000001"] * 10_001},
        {"as_of": "yesterday"},
        {"everyone": True},
        [],
    ],
)
async def test_bad_recompute_requests_are_refused(campaigns: Campaigns, body: Any) -> None:
    response = await campaigns.client.post("/campaigns/v1/models/recompute", json=body, headers=writing())
    assert_problem(response, 422, "validation-error")


async def test_a_recompute_without_a_body_recomputes_everyone(campaigns: Campaigns) -> None:
    await store(campaigns.sessions, audience())
    response = await campaigns.client.post("/campaigns/v1/models/recompute", headers=writing())
    assert response.status_code == 200, response.text
    assert (response.json()["scope"], response.json()["scored"]) == ("all", 6)


async def test_a_subscribers_outputs_are_explained(campaigns: Campaigns) -> None:
    client = campaigns.client
    await put_catalogue(client)
    await store(campaigns.sessions, audience())
    recomputed = await client.post("/campaigns/v1/models/recompute", json={"as_of": AS_OF}, headers=writing())
    assert recomputed.status_code == 200

    response = await client.get(f"/campaigns/v1/subscribers/{FIRST}/models?as_of={AS_OF}", headers=reading())

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["msisdn"], body["as_of"], body["up_to_date"]) == (FIRST, AS_OF, True)
    stored = body["stored"]
    assert {k: v for k, v in stored.items() if k != "models_at"} == {
        "lifecycle_stage": "maturity",
        "value_tier": "top20",
        "fee_sensitivity": 3,
        "recommended_plan_id": "PLUS",
        "plan_saving": 132.0,
    }
    assert stored["models_at"] is not None
    # Joined 2020-03-01: 6 years and 9 months to 2026-12-15. 200 against (190 + 210) / 2: flat.
    assert body["lifecycle"] == {
        "stage": "maturity",
        "tenure_months": 81,
        "revenue": [200.0, 190.0, 210.0],
        "revenue_trend": 0.0,
        "acquisition_months": 6,
        "growth_rise": 0.1,
        "decline_fall": 0.2,
    }
    assert body["value"] == {
        "tier": "top20",
        "mean_revenue": 200.0,
        "value_cutoff": 60.0,
        "cutoff_population": 6,
        "top_share": 0.2,
    }
    # 3 fee queries (full), 10 of 10 long-distance calls without the prefix (full), 200 spent on a
    # fee of 30 (far more than double: full), a balance of 100 at 5 a day (20 days: not low).
    assert body["fee_sensitivity"] == {
        "level": 3,
        "score": 65.0,
        "indicators": [
            {"name": "fee_queries", "signal": 1.0, "weight": 30.0, "contribution": 30.0},
            {"name": "top_ups", "signal": 0.0, "weight": 15.0, "contribution": 0.0},
            {"name": "long_distance_without_prefix", "signal": 1.0, "weight": 15.0, "contribution": 15.0},
            {"name": "overspend", "signal": 1.0, "weight": 20.0, "contribution": 20.0},
            {"name": "low_balance", "signal": 0.0, "weight": 20.0, "contribution": 0.0},
        ],
        "level_cutoffs": [25.0, 50.0, 75.0],
    }
    # BASIC 30 + 75 + 5 + 75 + 10 + 10 = 205; PLUS 60 + 5 + 8 = 73; OLD 20 + 120 + 10 + 200 + 15 + 10 = 375.
    assert body["tariff"] == {
        "current_plan_id": "BASIC",
        "current_bill": 205.0,
        "recommended_plan_id": "PLUS",
        "plan_saving": 132.0,
        "min_saving": 5.0,
        "bills": [
            {"plan_id": "BASIC", "name": "Basic 30", "active": True, "current": True, "bill": 205.0},
            {"plan_id": "OLD", "name": "Old 20", "active": False, "current": False, "bill": 375.0},
            {"plan_id": "PLUS", "name": "Plus 60", "active": True, "current": False, "bill": 73.0},
        ],
    }


async def test_outputs_that_no_longer_hold_are_not_up_to_date(campaigns: Campaigns) -> None:
    client = campaigns.client
    await put_catalogue(client)
    await store(campaigns.sessions, audience())
    url = f"/campaigns/v1/subscribers/{FIRST}/models?as_of={AS_OF}"

    never = (await client.get(url, headers=reading())).json()
    assert never["up_to_date"] is False
    assert never["stored"]["lifecycle_stage"] is None
    assert never["value"]["tier"] is None  # no run has ranked the population yet
    assert never["lifecycle"]["stage"] == "maturity"

    await client.post("/campaigns/v1/models/recompute", json={"as_of": AS_OF}, headers=writing())
    async with transaction(campaigns.sessions) as session:
        changed = await repository.subscriber(session, FIRST)
        assert changed is not None
        changed.revenue_m1 = 100.0  # against 200: -50%

    stale = (await client.get(url, headers=reading())).json()
    assert stale["up_to_date"] is False
    assert (stale["stored"]["lifecycle_stage"], stale["lifecycle"]["stage"]) == ("maturity", "decline")
    assert stale["lifecycle"]["revenue_trend"] == -0.5


async def test_an_unknown_or_malformed_subscriber_is_a_problem(campaigns: Campaigns) -> None:
    client = campaigns.client
    unknown = await client.get("/campaigns/v1/subscribers/+8613999999999/models", headers=reading())
    assert_problem(unknown, 404, "not-found")
    for bad in ("8613900000001", "+0123", "+86139000000011234"):
        assert_problem(
            await client.get(f"/campaigns/v1/subscribers/{bad}/models", headers=reading()),
            422,
            "validation-error",
        )
    await store(campaigns.sessions, audience())
    bad_day = await client.get(
        f"/campaigns/v1/subscribers/{FIRST}/models?as_of=2026-13-01", headers=reading()
    )
    assert_problem(bad_day, 422, "validation-error")

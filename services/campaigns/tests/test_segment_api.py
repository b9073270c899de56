"""Segments over HTTP: save, list, read and edit named segments, preview a tree or a saved segment
(count and a masked sample), scopes, and refusals that name their place and write nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from audience import Audience, event, subscriber

from campaigns.main import create_app
from campaigns.settings import CampaignsSettings
from careloop_common.pseudonyms import customer_ref
from careloop_common.testing import auth_headers, running_app, service_settings

SEGMENTS = "/campaigns/v1/segments"
PREVIEW = "/campaigns/v1/segments/preview"
LOW_BALANCE = {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}}
TOP_VALUE = {"field": "value_tier", "op": "=", "value": "top20"}
COVERAGE_COMPLAINERS = {"event": "complaint.coverage", "within_days": 180}


def marketer() -> dict[str, str]:
    """Headers of a marketer, minted now (a principal lives 60 s)."""
    return auth_headers("campaigns:read", "campaigns:write", subject="mia", roles=("marketer",))


def supervisor() -> dict[str, str]:
    """Headers of a supervisor: reads campaigns, writes none."""
    return auth_headers("campaigns:read", "campaigns:approve", subject="sam", roles=("supervisor",))


@dataclass
class Campaigns:
    client: httpx.AsyncClient
    audience: Audience


@pytest.fixture
async def campaigns(database_url: str, nats_url: str) -> AsyncIterator[Campaigns]:
    """The campaigns service on a fresh database, with its audience reachable for seeding."""
    app = create_app(service_settings(CampaignsSettings, database_url, nats_url, run_background=False))
    async with running_app(app) as client:
        yield Campaigns(client, Audience(app.state.platform.sessions))


async def save(
    client: httpx.AsyncClient, name: str, conditions: dict[str, Any], **more: Any
) -> dict[str, Any]:
    """Save a segment as a marketer; return it."""
    response = await client.post(
        SEGMENTS, headers=marketer(), json={"name": name, "conditions": conditions, **more}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Assert a problem document of this status and type; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["type"] == f"urn:careloop:problem:{kind}", body
    return body


async def test_a_segment_is_saved_read_listed_and_edited(campaigns: Campaigns) -> None:
    client = campaigns.client
    response = await client.post(
        SEGMENTS,
        headers=marketer(),
        json={"name": "Low balance", "description": "before suspension", "conditions": LOW_BALANCE},
    )
    assert response.status_code == 201, response.text
    saved = response.json()
    assert response.headers["location"] == f"{SEGMENTS}/{saved['id']}"
    assert saved["conditions"] == LOW_BALANCE
    assert (saved["name"], saved["description"], saved["created_by"], saved["updated_by"]) == (
        "Low balance",
        "before suspension",
        "mia",
        "mia",
    )

    read = await client.get(f"{SEGMENTS}/{saved['id']}", headers=supervisor())
    assert read.status_code == 200
    assert read.json() == saved

    await save(client, "Birthdays this week", {"field": "birthday", "op": "within_days", "value": 7})
    listed = (await client.get(SEGMENTS, headers=supervisor())).json()
    assert listed["total"] == 2
    assert [s["name"] for s in listed["items"]] == ["Birthdays this week", "Low balance"]
    assert [
        s["name"]
        for s in (await client.get(SEGMENTS + "?limit=1&offset=1", headers=marketer())).json()["items"]
    ] == ["Low balance"]

    edited_tree = {"all": [LOW_BALANCE, {"not": {"field": "contact_sms", "op": "=", "value": False}}]}
    edit = await client.put(
        f"{SEGMENTS}/{saved['id']}",
        headers=auth_headers("campaigns:write", "campaigns:read", subject="max"),
        json={"name": "Low balance, SMS allowed", "conditions": edited_tree},
    )
    assert edit.status_code == 200, edit.text
    edited = edit.json()
    assert edited["conditions"] == edited_tree
    assert (edited["name"], edited["description"], edited["created_by"], edited["updated_by"]) == (
        "Low balance, SMS allowed",
        None,
        "mia",
        "max",
    )
    assert edited["created_at"] == saved["created_at"]
    assert edited["updated_at"] > saved["updated_at"]
    assert (await client.get(f"{SEGMENTS}/{saved['id']}", headers=marketer())).json() == edited


async def test_preview_counts_members_and_shows_a_few_masked(campaigns: Campaigns) -> None:
    now = datetime.now(UTC)
    await campaigns.audience.replace(
        [
            subscriber(
                "+85291230001",
                balance=5.0,
                avg_daily_spend_3d=2.0,
                value_tier="top20",
                lifecycle_stage="growth",
            ),
            subscriber("+85291230002", balance=50.0, avg_daily_spend_3d=2.0, value_tier="rest", region="MO"),
            subscriber("+85291230003", balance=1.0, avg_daily_spend_3d=1.0, value_tier="top20", brand="Easy"),
            subscriber("+85291230004", balance=0.0, avg_daily_spend_3d=0.0),
        ],
        [
            event("+85291230002", "complaint.coverage", now - timedelta(days=1)),
            event("+85291230004", "complaint.coverage", now - timedelta(days=200)),
        ],
    )
    client = campaigns.client

    response = await client.post(PREVIEW, headers=supervisor(), json={"conditions": LOW_BALANCE})
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["count"] == 2
    # The sample is in pseudonym order, a stable shuffle: compare it as a set of members.
    assert sorted(preview["sample"], key=lambda m: m["msisdn"]) == [
        {
            "msisdn": "****0001",
            "brand": "Prime",
            "plan_id": "P1",
            "region": "HK",
            "customer_class": "normal",
            "language": "zh-Hant",
            "lifecycle_stage": "growth",
            "value_tier": "top20",
        },
        {
            "msisdn": "****0003",
            "brand": "Easy",
            "plan_id": "P1",
            "region": "HK",
            "customer_class": "normal",
            "language": "zh-Hant",
            "lifecycle_stage": None,
            "value_tier": "top20",
        },
    ]
    assert "+852" not in response.text
    assert abs(datetime.fromisoformat(preview["now"]) - now) < timedelta(minutes=5)

    complainers = await client.post(PREVIEW, headers=marketer(), json={"conditions": COVERAGE_COMPLAINERS})
    assert [m["msisdn"] for m in complainers.json()["sample"]] == ["****0002"]

    saved = await save(client, "Top 20% not complaining", {"all": [TOP_VALUE, {"not": COVERAGE_COMPLAINERS}]})
    by_id = await client.post(
        PREVIEW, headers=supervisor(), json={"segment_id": saved["id"], "sample_size": 1}
    )
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["count"] == 2
    [one] = by_id.json()["sample"]
    assert one["msisdn"] in ("****0001", "****0003")  # not a complainer; top 20 %
    again = await client.post(
        PREVIEW, headers=supervisor(), json={"segment_id": saved["id"], "sample_size": 1}
    )
    assert again.json()["sample"] == [one]  # the same sample each time

    nobody = await client.post(
        PREVIEW, headers=supervisor(), json={"conditions": {"field": "points", "op": ">", "value": 1e9}}
    )
    assert (nobody.json()["count"], nobody.json()["sample"]) == (0, [])


async def test_the_preview_sample_is_spread_over_the_segment_not_its_lowest_numbers(
    campaigns: Campaigns,
) -> None:
    """Customers' pseudonyms (keyed, as the service makes them) order the sample: a stable shuffle."""
    numbers = [f"+8529123{n:04d}" for n in range(40)]
    await campaigns.audience.replace(
        [subscriber(n, customer_ref=customer_ref(n, "preview-test-key"), balance=1.0) for n in numbers], []
    )
    tree = {"conditions": {"field": "balance", "op": "<", "value": 5}, "sample_size": 5}
    first = (await campaigns.client.post(PREVIEW, headers=marketer(), json=tree)).json()
    again = (await campaigns.client.post(PREVIEW, headers=marketer(), json=tree)).json()
    assert first["count"] == 40
    shown = [m["msisdn"] for m in first["sample"]]
    assert len(shown) == 5
    assert shown != [f"****{n[-4:]}" for n in numbers[:5]]  # by number, the lowest five would show
    assert again["sample"] == first["sample"]


async def test_bad_trees_are_refused_naming_the_place_and_nothing_is_written(campaigns: Campaigns) -> None:
    client = campaigns.client
    bad = {
        "all": [
            TOP_VALUE,
            {"field": "balanse", "op": "<", "value": 3},
            {"field": "region", "op": "<", "value": "HK"},
        ]
    }
    refused = assert_problem(
        await client.post(SEGMENTS, headers=marketer(), json={"name": "Bad", "conditions": bad}),
        422,
        "segment-invalid",
    )
    assert [(e["field"], e["type"]) for e in refused["errors"]] == [
        ("conditions.all[1].field", "unknown_field"),
        ("conditions.all[2].op", "operator_not_for_field"),
    ]
    assert refused["detail"].startswith(
        "conditions.all[1].field: unknown field 'balanse'; did you mean 'balance'?"
    )
    assert (await client.get(SEGMENTS, headers=marketer())).json()["total"] == 0

    malformed = await client.post(
        SEGMENTS, headers=marketer(), json={"name": "Bad", "conditions": {"all": [{"x": 1}]}}
    )
    assert assert_problem(malformed, 422, "segment-invalid")["errors"][0]["field"] == "conditions.all[0]"
    deep: dict[str, Any] = TOP_VALUE
    for _ in range(11):
        deep = {"not": deep}
    too_deep = await client.post(SEGMENTS, headers=marketer(), json={"name": "Deep", "conditions": deep})
    assert assert_problem(too_deep, 422, "segment-invalid")["errors"][0]["type"] == "too_deep"

    saved = await save(client, "Top", TOP_VALUE)
    edit = await client.put(
        f"{SEGMENTS}/{saved['id']}", headers=marketer(), json={"name": "Top", "conditions": bad}
    )
    assert_problem(edit, 422, "segment-invalid")
    assert (await client.get(f"{SEGMENTS}/{saved['id']}", headers=marketer())).json() == saved

    preview = await client.post(
        PREVIEW, headers=marketer(), json={"conditions": {"field": "birthday", "op": ">", "value": 3}}
    )
    assert assert_problem(preview, 422, "segment-invalid")["errors"][0]["field"] == "conditions.value"
    assert_problem(
        await client.post(SEGMENTS, headers=marketer(), json={"name": "", "conditions": TOP_VALUE}),
        422,
        "validation-error",
    )


async def test_names_are_unique(campaigns: Campaigns) -> None:
    client = campaigns.client
    first = await save(client, "Top", TOP_VALUE)
    second = await save(client, "Low", LOW_BALANCE)
    taken = await client.post(SEGMENTS, headers=marketer(), json={"name": "Top", "conditions": LOW_BALANCE})
    assert assert_problem(taken, 409, "segment-name-taken")["segment_id"] == first["id"]
    renamed = await client.put(
        f"{SEGMENTS}/{second['id']}", headers=marketer(), json={"name": "Top", "conditions": LOW_BALANCE}
    )
    assert_problem(renamed, 409, "segment-name-taken")
    kept = await client.put(
        f"{SEGMENTS}/{first['id']}", headers=marketer(), json={"name": "Top", "conditions": LOW_BALANCE}
    )
    assert kept.status_code == 200, kept.text


async def test_preview_takes_one_source(campaigns: Campaigns) -> None:
    client = campaigns.client
    saved = await save(client, "Top", TOP_VALUE)
    for body in (
        {"conditions": TOP_VALUE, "segment_id": saved["id"]},
        {},
        {"conditions": None},
        {"conditions": None, "segment_id": saved["id"]},
    ):
        assert_problem(
            await client.post(PREVIEW, headers=marketer(), json=body), 422, "segment-preview-source"
        )
    assert_problem(
        await client.post(PREVIEW, headers=marketer(), json={"segment_id": "nope"}), 404, "not-found"
    )
    assert_problem(await client.get(f"{SEGMENTS}/nope", headers=marketer()), 404, "not-found")
    assert_problem(
        await client.put(f"{SEGMENTS}/nope", headers=marketer(), json={"name": "x", "conditions": TOP_VALUE}),
        404,
        "not-found",
    )


async def test_scopes_are_checked_by_the_service(campaigns: Campaigns) -> None:
    client = campaigns.client
    saved = await save(client, "Top", TOP_VALUE)
    body = {"name": "Other", "conditions": TOP_VALUE}
    assert_problem(await client.post(SEGMENTS, headers=supervisor(), json=body), 403, "forbidden")
    assert_problem(
        await client.put(f"{SEGMENTS}/{saved['id']}", headers=supervisor(), json=body), 403, "forbidden"
    )
    writer_only = auth_headers("campaigns:write")
    assert_problem(await client.get(SEGMENTS, headers=writer_only), 403, "forbidden")
    assert_problem(
        await client.post(PREVIEW, headers=writer_only, json={"conditions": TOP_VALUE}), 403, "forbidden"
    )
    assert_problem(await client.get(SEGMENTS), 401, "unauthorized")
    assert_problem(await client.post(PREVIEW, json={"conditions": TOP_VALUE}), 401, "unauthorized")
    agent = auth_headers("complaints:read", "coverage:read", roles=("agent",))
    assert_problem(await client.get(f"{SEGMENTS}/{saved['id']}", headers=agent), 403, "forbidden")

    openapi = (await client.get("/openapi.json")).json()
    assert openapi["paths"][SEGMENTS]["post"]["x-careloop-scopes"] == ["campaigns:write"]
    assert openapi["paths"][PREVIEW]["post"]["x-careloop-scopes"] == ["campaigns:read"]
    assert not [name for name in openapi["components"]["schemas"] if name.endswith(("-Input", "-Output"))]


async def test_a_retried_save_with_its_idempotency_key_saves_once(campaigns: Campaigns) -> None:
    client = campaigns.client
    body = {"name": "Top", "conditions": TOP_VALUE}
    headers = {**marketer(), "Idempotency-Key": "save-top-1"}
    first = await client.post(SEGMENTS, headers=headers, json=body)
    again = await client.post(SEGMENTS, headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (await client.get(SEGMENTS, headers=marketer())).json()["total"] == 1
    other = await client.post(SEGMENTS, headers=headers, json={**body, "name": "Another"})
    assert_problem(other, 422, "idempotency-key-reused")


async def test_preview_is_not_a_segment_id(campaigns: Campaigns) -> None:
    """/segments/preview is the preview route only: GET and PUT there are not a segment called so."""
    response = await campaigns.client.get(PREVIEW, headers=marketer())
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"
    put = await campaigns.client.put(PREVIEW, headers=marketer(), json={"name": "x", "conditions": TOP_VALUE})
    assert_problem(put, 405, "method-not-allowed")

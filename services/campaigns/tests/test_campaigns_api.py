# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""Campaigns through the API: drafting, four-eyes approval, the edit lock, schedules, and refusals."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from audience import event, subscriber
from campaign_data import Campaigns, reading
from sqlalchemy import insert

from campaigns import execution
from campaigns.lifecycle import in_control_group
from campaigns.models import Subscriber, SubscriberEvent
from careloop_common.db import transaction
from careloop_common.testing import auth_headers

BALANCE_LOW = {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}}
DRAFT: dict[str, Any] = {
    "name": "Balance reminder",
    "goal": "Fewer customers cut off for a low balance",
    "kind": "balance_reminder",
    "trigger": {"type": "event", "subject": "feeds.bss.balance_changed", "condition": BALANCE_LOW},
    "content": {
        "zh-Hant": "您的餘額約可用三天，請及早增值。",
        "en": "About three days of balance left: top up soon.",
    },
    "control_share": 0.1,
    "conversion": {"event": "payment.received", "within_days": 3},
}


def author() -> dict[str, str]:
    return auth_headers("campaigns:read", "campaigns:write", subject="mei")


def approver(subject: str = "ken") -> dict[str, str]:
    """A supervisor: reads and approves campaigns, does not write them."""
    return auth_headers("campaigns:read", "campaigns:approve", subject=subject)


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:careloop:problem:{slug}"
    return body


async def draft(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/campaigns/v1/campaigns", json={**DRAFT, **changes}, headers=author())
    assert response.status_code == 201, response.text
    assert response.headers["location"].endswith(response.json()["id"])
    created: dict[str, Any] = response.json()
    return created


async def move(
    client: httpx.AsyncClient, campaign_id: str, status: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/campaigns/v1/campaigns/{campaign_id}/moves", json={"status": status}, headers=headers
    )


async def test_a_campaign_is_drafted_approved_by_another_and_run(campaigns: Campaigns) -> None:
    client = campaigns.client
    created = await draft(client)
    assert (created["status"], created["author"], created["approver"]) == ("draft", "mei", None)

    assert (await move(client, created["id"], "submitted", author())).json()["status"] == "submitted"
    problem(await move(client, created["id"], "approved", approver("mei")), 403, "approver-is-author")
    problem(await move(client, created["id"], "approved", author()), 403, "forbidden")  # no approve scope
    problem(await move(client, created["id"], "draft", approver()), 403, "forbidden")  # no write scope
    approved = (await move(client, created["id"], "approved", approver())).json()
    assert (approved["status"], approved["approver"]) == ("approved", "ken")
    running = (await move(client, created["id"], "running", author())).json()
    assert running["status"] == "running"
    assert running["next_run_at"] is None  # event-triggered: it fires per customer, not on a clock

    steps = (await client.get(f"/campaigns/v1/campaigns/{created['id']}/steps", headers=reading())).json()
    assert [(s["actor"], s["from_value"], s["to_value"]) for s in steps] == [
        ("mei", None, "draft"),
        ("mei", "draft", "submitted"),
        ("ken", "submitted", "approved"),
        ("mei", "approved", "running"),
    ]


async def test_what_was_approved_is_what_runs(campaigns: Campaigns) -> None:
    client = campaigns.client
    created = await draft(client)
    await move(client, created["id"], "submitted", author())
    await move(client, created["id"], "approved", approver())

    edited = await client.patch(
        f"/campaigns/v1/campaigns/{created['id']}", json={"control_share": 0.0}, headers=author()
    )
    problem(edited, 409, "campaign-locked")
    # Withdrawn to draft it can change again, and the approval is gone with it.
    withdrawn = (await move(client, created["id"], "draft", author())).json()
    assert (withdrawn["status"], withdrawn["approver"], withdrawn["approved_at"]) == ("draft", None, None)
    edited = await client.patch(
        f"/campaigns/v1/campaigns/{created['id']}", json={"control_share": 0.0}, headers=author()
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["control_share"], edited.json()["name"]) == (0.0, DRAFT["name"])


async def test_an_illegal_move_is_a_409_naming_the_allowed_ones(campaigns: Campaigns) -> None:
    created = await draft(campaigns.client)
    body = problem(
        await move(campaigns.client, created["id"], "running", author()), 409, "illegal-transition"
    )
    assert body["allowed"] == ["cancelled", "submitted"]


async def test_a_scheduled_campaign_knows_its_next_run(campaigns: Campaigns) -> None:
    client = campaigns.client
    created = await draft(
        client,
        kind="high_value_survey",
        audience={"field": "value_tier", "op": "=", "value": "top20"},
        trigger={"type": "schedule", "cron": "0 10 * * mon", "time_zone": "Asia/Hong_Kong"},
    )
    await move(client, created["id"], "submitted", author())
    await move(client, created["id"], "approved", approver())
    scheduled = (await move(client, created["id"], "scheduled", author())).json()
    assert scheduled["next_run_at"].endswith("T02:00:00Z")  # 10:00 in Hong Kong, on a Monday


@pytest.mark.parametrize(
    ("changes", "status", "slug", "field"),
    [
        ({"trigger": {"type": "schedule", "cron": "0 0 31 2 *"}}, 422, "cron-never-fires", "trigger.cron"),
        ({"trigger": {"type": "schedule", "cron": "61 * * * *"}}, 422, "invalid-cron", "trigger.cron"),
        (
            {"trigger": {"type": "schedule", "cron": "0 10 * * *", "time_zone": "Mars/Olympus"}},
            422,
            "unknown-time-zone",
            "trigger.time_zone",
        ),
        ({"audience": {"field": "shoe_size", "op": ">", "value": 40}}, 422, None, None),
        ({"audience": {"all": []}}, 422, None, None),
        (
            {"starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"},
            422,
            "rule-violated",
            "ends_at",
        ),
        ({"control_share": 0.9}, 422, "validation-error", None),
        ({"content": {}}, 422, "validation-error", None),
        ({"content": {"fr": "Bonjour"}}, 422, "validation-error", None),
    ],
)
async def test_bad_campaigns_are_refused_and_nothing_is_written(
    campaigns: Campaigns, changes: dict[str, Any], status: int, slug: str | None, field: str | None
) -> None:
    client = campaigns.client
    response = await client.post("/campaigns/v1/campaigns", json={**DRAFT, **changes}, headers=author())
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if slug is not None:
        assert response.json()["type"] == f"urn:careloop:problem:{slug}"
    if field is not None:
        assert field in response.text
    listed = (await client.get("/campaigns/v1/campaigns", headers=reading())).json()
    assert listed == {"items": [], "total": 0}


async def test_campaigns_are_listed_by_status(campaigns: Campaigns) -> None:
    client = campaigns.client
    first = await draft(client, name="First")
    second = await draft(client, name="Second")
    await move(client, second["id"], "submitted", author())
    submitted = (await client.get("/campaigns/v1/campaigns?status=submitted", headers=reading())).json()
    assert [c["id"] for c in submitted["items"]] == [second["id"]]
    everything = (await client.get("/campaigns/v1/campaigns", headers=reading())).json()
    assert {c["id"] for c in everything["items"]} == {first["id"], second["id"]}
    assert everything["total"] == 2
    problem(await client.get("/campaigns/v1/campaigns/" + "0" * 36, headers=reading()), 404, "not-found")


async def test_a_run_its_counts_and_the_evaluation_against_control(campaigns: Campaigns) -> None:
    client = campaigns.client
    numbers = [f"+8529300{n:04d}" for n in range(200)]
    async with transaction(campaigns.sessions) as session:
        await session.execute(
            insert(Subscriber), [subscriber(n, balance=1.0, avg_daily_spend_3d=2.0) for n in numbers]
        )
    created = await draft(client, audience=BALANCE_LOW, control_share=0.5, trigger={"type": "once"})
    for status, headers in (("submitted", author()), ("approved", approver()), ("running", author())):
        assert (await move(client, created["id"], status, headers)).status_code == 200

    ran = (await client.post(f"/campaigns/v1/campaigns/{created['id']}/runs", headers=author())).json()
    control = {n for n in numbers if in_control_group(created["id"], n, 0.5)}
    assert ran == {"run": 1, "targeted": 200 - len(control), "held_out": len(control), "suppressed": {}}

    # Customers pay within the window: every third in treatment, every sixth in control.
    treatment = sorted(set(numbers) - control)
    payers = treatment[::3] + sorted(control)[::6]
    now = datetime.now(UTC)
    async with transaction(campaigns.sessions) as session:
        await session.execute(insert(SubscriberEvent), [event(n, "payment.received", now) for n in payers])

    counts = (await client.get(f"/campaigns/v1/campaigns/{created['id']}/counts", headers=reading())).json()
    assert (counts["targeted"], counts["held_out"]) == (len(treatment), len(control))
    assert counts["by_outcome"] == {"targeted": len(treatment)}
    assert counts["converted"] == len(treatment[::3])

    evaluation = (
        await client.get(f"/campaigns/v1/campaigns/{created['id']}/evaluation", headers=reading())
    ).json()
    p_t, p_c = len(treatment[::3]) / len(treatment), len(sorted(control)[::6]) / len(control)
    spread = 1.959963984540054 * math.sqrt(p_t * (1 - p_t) / len(treatment) + p_c * (1 - p_c) / len(control))
    assert evaluation["treatment"] == {
        "members": len(treatment),
        "converted": len(treatment[::3]),
        "rate": pytest.approx(p_t),
    }
    assert evaluation["control"]["rate"] == pytest.approx(p_c)
    assert evaluation["uplift"] == pytest.approx(p_t - p_c)
    assert (evaluation["uplift_low"], evaluation["uplift_high"]) == (
        pytest.approx(p_t - p_c - spread),
        pytest.approx(p_t - p_c + spread),
    )
    assert evaluation["significant"] == (p_t - p_c - spread > 0)

    frequency = (await client.get("/campaigns/v1/contact-frequency", headers=reading())).json()
    assert frequency[0] == {"touches": "1", "customers": len(treatment)}
    assert [b["touches"] for b in frequency] == [*map(str, range(1, 10)), "10+"]


async def test_the_evaluation_compares_complaints_churn_and_survey_answers(campaigns: Campaigns) -> None:
    client = campaigns.client
    numbers = [f"+8529300{n:04d}" for n in range(120)]
    async with transaction(campaigns.sessions) as session:
        await session.execute(insert(Subscriber), [subscriber(n) for n in numbers])
    created = await draft(client, control_share=0.5, trigger={"type": "once"})
    for status, headers in (("submitted", author()), ("approved", approver()), ("running", author())):
        assert (await move(client, created["id"], status, headers)).status_code == 200
    assert (await client.post(f"/campaigns/v1/campaigns/{created['id']}/runs", headers=author())).is_success
    control = sorted(n for n in numbers if in_control_group(created["id"], n, 0.5))
    treatment = sorted(set(numbers) - set(control))

    now = datetime.now(UTC)
    # The run met everyone before now: "after" events at now fall in the window after the start.
    before, after, long_ago = now - timedelta(days=1), now, now - timedelta(days=400)
    rows = (
        [event(n, "complaint.coverage", before) for n in treatment[::4] + control[::4]]
        + [event(n, "complaint.billing", after) for n in treatment[::8] + control[::2]]
        + [event(n, "complaint.coverage", long_ago) for n in treatment]  # outside the window
        + [event(n, "subscriber.left", after) for n in control[::5]]
        + [event(n, "subscriber.left", long_ago) for n in treatment]  # before they were met
    )
    async with transaction(campaigns.sessions) as session:
        await session.execute(insert(SubscriberEvent), rows)
        for number, answer in zip(treatment, ["1", " 1 很好 ", "2", "maybe"], strict=False):
            ref = subscriber(number)["customer_ref"]
            assert await execution.record_answer(session, created["id"], ref, answer, now)
        # An older reply does not replace a newer one; the control arm was never asked.
        ref = subscriber(treatment[2])["customer_ref"]
        assert not await execution.record_answer(session, created["id"], ref, "1", before)
        ref = subscriber(control[0])["customer_ref"]
        assert not await execution.record_answer(session, created["id"], ref, "1", now)

    evaluation = (
        await client.get(f"/campaigns/v1/campaigns/{created['id']}/evaluation", headers=reading())
    ).json()
    shares = evaluation["complaints"]
    assert shares["window_days"] == DRAFT["conversion"]["within_days"]
    assert shares["treatment"] == {
        "members": len(treatment),
        "before": pytest.approx(len(treatment[::4]) / len(treatment)),
        "after": pytest.approx(len(treatment[::8]) / len(treatment)),
    }
    assert shares["control"]["after"] == pytest.approx(len(control[::2]) / len(control))
    assert evaluation["churn"] == {
        "treatment": {"members": len(treatment), "left": 0, "rate": 0.0},
        "control": {"members": len(control), "left": len(control[::5]), "rate": pytest.approx(0.2, abs=0.05)},
    }
    assert evaluation["survey"] == {
        "answered": 4,
        "satisfied": 2,
        "dissatisfied": 1,
        "other": 1,
        "satisfaction": pytest.approx(2 / 3),
    }


async def test_only_a_running_campaign_runs(campaigns: Campaigns) -> None:
    created = await draft(campaigns.client)
    response = await campaigns.client.post(f"/campaigns/v1/campaigns/{created['id']}/runs", headers=author())
    problem(response, 409, "campaign-not-running")
    goalless = await draft(campaigns.client, conversion=None)
    evaluation = await campaigns.client.get(
        f"/campaigns/v1/campaigns/{goalless['id']}/evaluation", headers=reading()
    )
    problem(evaluation, 409, "no-conversion-goal")


async def test_every_care_template_drafts_a_valid_campaign(campaigns: Campaigns) -> None:
    client = campaigns.client
    templates = (await client.get("/campaigns/v1/catalogue", headers=reading())).json()
    # The seeds' cases are all there, in the kinds they belong to.
    assert {t["id"]: t["kind"] for t in templates}.items() >= {
        "balance_reminder": "bill_information",
        "prefix_long_distance": "tariff_communication",
        "plan_recommendation": "tariff_communication",
        "green_bill": "bill_information",
        "complaint_revisit": "complaint_follow_up",
    }.items()
    for template in templates:
        response = await client.post("/campaigns/v1/campaigns", json=template["draft"], headers=author())
        assert response.status_code == 201, (template["id"], response.text)
        assert response.json()["kind"] == template["id"]


async def test_an_unknown_kind_is_refused(campaigns: Campaigns) -> None:
    response = await campaigns.client.post(
        "/campaigns/v1/campaigns", json={**DRAFT, "kind": "free_lunch"}, headers=author()
    )
    assert "balance_reminder" in problem(response, 422, "unknown-kind")["known"]

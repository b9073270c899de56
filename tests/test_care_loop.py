# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""The care loop through the gateway on real sockets: operator feeds posted to the gateway, the
campaigns service keeping the audience and firing triggers, the contact gateway sending over SMPP
to a stand-in SMSC, one NATS. The seeds' real-time cases end to end: the 12593 long-distance care
(a long-distance call without the cheap prefix gets the SMS at once) and the dynamic balance
reminder (a balance below three days' spend). No mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from campaigns.main import create_app as campaigns_app
from campaigns.settings import CampaignsSettings
from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, service_settings, wait_until
from contact_gateway.main import create_app as contact_app
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.standins.smsc import SmscStandIn
from tests.conftest import OpenGateway

CALLER = "+85291234567"  # dials long distance without the prefix
PREFIX_USER = "+85291234568"  # already dials 12593
LOW = "+85261234567"  # balance below three days of spend
FLUSH = "+85251234567"  # plenty of balance


@dataclass
class Loop:
    client: httpx.AsyncClient
    smsc: SmscStandIn
    keys: dict[str, dict[str, str]]


@pytest.fixture
async def loop(
    database_url: str, sqlite_url: str, nats_url: str, open_gateway: OpenGateway
) -> AsyncIterator[Loop]:
    """Campaigns (on the parametrized backend), the contact gateway and the gateway on sockets."""
    async with AsyncExitStack() as stack:
        smsc = await stack.enter_async_context(SmscStandIn(port=free_port(), receipt_delay_s=0.05))
        contact = await stack.enter_async_context(
            LiveServer(
                contact_app(
                    service_settings(
                        ContactGatewaySettings,
                        sqlite_url.replace("test.db", "contact.db"),
                        nats_url,
                        smsc_urls=f"smpp://careloop:secret@127.0.0.1:{smsc.port}",
                        quiet_hours={"service": "", "care": ""},
                        dispatch_poll_s=0.05,
                    )
                )
            )
        )
        campaigns = await stack.enter_async_context(
            LiveServer(
                campaigns_app(
                    service_settings(CampaignsSettings, database_url, nats_url, model_refresh_interval_s=0.2)
                )
            )
        )
        door = await open_gateway(stack, campaigns_url=campaigns.url, contact_gateway_url=contact.url)
        keys = {
            name: await door.api_key(name, scopes)
            for name, scopes in (
                ("bss", ["feeds:write"]),
                ("marketer", ["campaigns:read", "campaigns:write"]),
                ("supervisor", ["campaigns:read", "campaigns:approve"]),
            )
        }
        yield Loop(door.client, smsc, keys)


def feed(event_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A feed event as the operator's systems send it."""
    return {"specversion": "1.0", "id": event_id, "source": "/operator/hk", "type": event_type, "data": data}


def profile(msisdn: str, language: str = "zh-Hant") -> dict[str, Any]:
    return feed(
        f"crm-{msisdn}",
        "feeds.crm.subscriber_upserted.v1",
        {
            "msisdn": msisdn,
            "brand": "harbour",
            "plan_id": "BASIC",
            "region": "HK",
            "time_zone": "Asia/Hong_Kong",
            "language": language,
            "join_date": "2023-05-01",
            "at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        },
    )


async def post_feeds(loop: Loop, events: list[dict[str, Any]]) -> None:
    posted = await loop.client.post("/feeds/v1/events", headers=loop.keys["bss"], json=events)
    assert posted.status_code == 202, posted.text


async def run_template(loop: Loop, template_id: str) -> str:
    """Draft a campaign from a care template (no control arm), have it approved and run it."""
    templates = (await loop.client.get("/campaigns/v1/catalogue", headers=loop.keys["marketer"])).json()
    draft = next(t["draft"] for t in templates if t["id"] == template_id)
    created = await loop.client.post(
        "/campaigns/v1/campaigns", headers=loop.keys["marketer"], json={**draft, "control_share": 0.0}
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    for status, who in (("submitted", "marketer"), ("approved", "supervisor"), ("running", "marketer")):
        moved = await loop.client.post(
            f"/campaigns/v1/campaigns/{campaign_id}/moves", headers=loop.keys[who], json={"status": status}
        )
        assert moved.status_code == 200, moved.text
    return campaign_id


async def texts_to(loop: Loop, msisdn: str) -> list[str]:
    return [text for destination, text in loop.smsc.messages() if destination == msisdn.lstrip("+")]


async def counts(loop: Loop, campaign_id: str) -> dict[str, Any]:
    response = await loop.client.get(
        f"/campaigns/v1/campaigns/{campaign_id}/counts", headers=loop.keys["marketer"]
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_long_distance_call_without_the_prefix_gets_the_12593_sms_at_once(loop: Loop) -> None:
    await post_feeds(loop, [profile(CALLER), profile(PREFIX_USER, language="en")])
    campaign_id = await run_template(loop, "prefix_long_distance")
    now = datetime.now(UTC)
    await post_feeds(
        loop,
        [
            # The prefix user called with 12593 last week; both now call long distance.
            feed(
                "cdr-1",
                "feeds.network.call_detail.v1",
                {
                    "msisdn": PREFIX_USER,
                    "called": "+8613800000001",
                    "started_at": (now - timedelta(days=7)).isoformat(),
                    "duration_s": 120,
                    "long_distance": True,
                    "prefix": "12593",
                },
            ),
            feed(
                "cdr-2",
                "feeds.network.call_detail.v1",
                {
                    "msisdn": CALLER,
                    "called": "+8613800000002",
                    "started_at": now.isoformat(),
                    "duration_s": 60,
                    "long_distance": True,
                },
            ),
            feed(
                "cdr-3",
                "feeds.network.call_detail.v1",
                {
                    "msisdn": PREFIX_USER,
                    "called": "+8613800000003",
                    "started_at": now.isoformat(),
                    "duration_s": 60,
                    "long_distance": True,
                },
            ),
        ],
    )

    async def told() -> list[str]:
        return await texts_to(loop, CALLER)

    assert await wait_until(told, message="the 12593 SMS at the SMSC") == ["長途電話先撥12593，收費更相宜。"]

    async def delivered() -> dict[str, Any] | None:
        found = await counts(loop, campaign_id)
        return found if found["by_outcome"].get("delivered") == 1 else None

    found = await wait_until(delivered, message="the receipt to reach the campaign")
    assert (found["targeted"], found["held_out"]) == (1, 0)
    assert await texts_to(loop, PREFIX_USER) == []
    # The same call reported again (a redelivered feed) sends nothing twice.
    await post_feeds(
        loop,
        [
            feed(
                "cdr-2b",
                "feeds.network.call_detail.v1",
                {
                    "msisdn": CALLER,
                    "called": "+8613800000002",
                    "started_at": now.isoformat(),
                    "duration_s": 60,
                    "long_distance": True,
                },
            )
        ],
    )
    assert (await counts(loop, campaign_id))["targeted"] == 1


async def test_a_balance_below_three_days_of_spend_gets_the_reminder(loop: Loop) -> None:
    await post_feeds(loop, [profile(LOW, language="en"), profile(FLUSH, language="en")])
    today = datetime.now(UTC).date()
    spend = [
        feed(
            f"spend-{msisdn}-{day}",
            "feeds.bss.daily_spend_closed.v1",
            {
                "msisdn": msisdn,
                "day": (today - timedelta(days=day)).isoformat(),
                "spend": 5.0,
            },
        )
        for msisdn in (LOW, FLUSH)
        for day in (1, 2, 3)
    ]
    await post_feeds(loop, spend)
    campaign_id = await run_template(loop, "balance_reminder")
    now = datetime.now(UTC)
    await post_feeds(
        loop,
        [
            feed(
                "bal-1",
                "feeds.bss.balance_changed.v1",
                {"msisdn": LOW, "balance": 12.0, "at": now.isoformat()},
            ),
            feed(
                "bal-2",
                "feeds.bss.balance_changed.v1",
                {"msisdn": FLUSH, "balance": 80.0, "at": now.isoformat()},
            ),
        ],
    )

    async def told() -> list[str]:
        return await texts_to(loop, LOW)

    reminder = await wait_until(told, message="the balance reminder at the SMSC")
    assert reminder == ["Your balance will last about three more days. Top up soon to stay connected."]
    assert (await counts(loop, campaign_id))["targeted"] == 1
    assert await texts_to(loop, FLUSH) == []


def months_back(count: int) -> list[str]:
    """Return the last ``count`` complete billing months, newest first (YYYY-MM)."""
    first = datetime.now(UTC).date().replace(day=1)
    months = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(first.strftime("%Y-%m"))
    return months


def bills(msisdn: str, amount: float, **usage: Any) -> list[dict[str, Any]]:
    """Three monthly bills of the same amount and usage (a steady customer)."""
    return [
        feed(
            f"bill-{msisdn}-{period}",
            "feeds.bss.bill_issued.v1",
            {"msisdn": msisdn, "period": period, "amount": amount, **usage},
        )
        for period in months_back(3)
    ]


async def put_plans(loop: Loop) -> None:
    """The catalogue: Basic (cheap fee, dear minutes) and Talk (more fee, 1,000 minutes included)."""
    for plan_id, body in (
        ("BASIC", {"name": "Basic", "monthly_fee": 68.0, "included_minutes": 100, "per_minute": 0.25}),
        ("TALK", {"name": "Talk", "monthly_fee": 128.0, "included_minutes": 1000, "per_minute": 0.25}),
    ):
        put = await loop.client.put(
            f"/campaigns/v1/plans/{plan_id}", headers=loop.keys["marketer"], json=body
        )
        assert put.status_code in (200, 201), put.text


async def subscriber(loop: Loop, msisdn: str) -> dict[str, Any]:
    """Return the subscriber as campaigns holds it ({} while the CRM feed has not reached it yet)."""
    response = await loop.client.get(f"/campaigns/v1/subscribers/{msisdn}", headers=loop.keys["marketer"])
    if response.status_code == 404:
        return {}
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_customer_on_a_badly_fitting_plan_is_told_and_moving_converts(loop: Loop) -> None:
    """Seed 001, case 3: the tariff-matching model finds the cheaper plan; the SMS goes out over
    SMPP; the customer's move to it counts as the campaign's conversion."""
    await put_plans(loop)
    talker, fitting = CALLER, PREFIX_USER
    await post_feeds(loop, [profile(talker, language="en"), profile(fitting, language="en")])
    # 900 minutes a month on Basic: 68 + 800 x 0.25 = 268 a month, where Talk costs 128.
    await post_feeds(loop, bills(talker, 268.0, minutes=900.0) + bills(fitting, 68.0, minutes=80.0))

    async def recommended() -> dict[str, Any] | None:
        found = await subscriber(loop, talker)
        models = found.get("models") or found
        return found if models.get("recommended_plan_id") == "TALK" else None

    await wait_until(recommended, message="the tariff-matching model to recommend Talk")
    campaign_id = await run_template(loop, "plan_recommendation")
    ran = await loop.client.post(f"/campaigns/v1/campaigns/{campaign_id}/runs", headers=loop.keys["marketer"])
    assert ran.status_code == 200, ran.text
    assert ran.json()["targeted"] == 1

    async def told() -> list[str]:
        return await texts_to(loop, talker)

    [text] = await wait_until(told, message="the plan recommendation at the SMSC")
    assert text.startswith("Based on your recent usage, another plan would save you money")
    assert await texts_to(loop, fitting) == []

    at = datetime.now(UTC).isoformat()
    await post_feeds(
        loop,
        [
            feed(
                "move-1",
                "feeds.bss.plan_changed.v1",
                {"msisdn": talker, "from_plan": "BASIC", "to_plan": "TALK", "at": at},
            )
        ],
    )

    async def converted_and_delivered() -> dict[str, Any] | None:
        found = await counts(loop, campaign_id)
        return found if found["converted"] == 1 and found["by_outcome"].get("delivered") == 1 else None

    found = await wait_until(converted_and_delivered, message="the move to count, the receipt to arrive")
    assert (found["targeted"], found["held_out"]) == (1, 0)


async def test_a_fee_sensitive_new_customer_is_told_about_the_e_bill(loop: Loop) -> None:
    """Seed 001, case 4: the fee-sensitivity model grades a new customer who queries fees, tops up
    often, overspends and runs low as level 4; the green-bill SMS reaches them, not a calm one."""
    await put_plans(loop)
    watcher, calm = LOW, FLUSH
    joined = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    for msisdn in (watcher, calm):
        event = profile(msisdn, language="en")
        event["data"]["join_date"] = joined
        await post_feeds(loop, [event])
    today = datetime.now(UTC).date()
    await post_feeds(
        loop,
        bills(watcher, 140.0, minutes=400.0, fee_queries=3, top_ups=4)
        + bills(calm, 68.0, minutes=50.0)
        + [
            feed(
                f"spend-{watcher}-{day}",
                "feeds.bss.daily_spend_closed.v1",
                {"msisdn": watcher, "day": (today - timedelta(days=day)).isoformat(), "spend": 5.0},
            )
            for day in (1, 2, 3)
        ]
        + [
            feed(
                "bal-watcher",
                "feeds.bss.balance_changed.v1",
                {"msisdn": watcher, "balance": 1.0, "at": datetime.now(UTC).isoformat()},
            ),
            feed(
                "bal-calm",
                "feeds.bss.balance_changed.v1",
                {"msisdn": calm, "balance": 300.0, "at": datetime.now(UTC).isoformat()},
            ),
        ],
    )

    async def graded() -> dict[str, Any] | None:
        found = await subscriber(loop, watcher)
        models = found.get("models") or found
        return found if models.get("fee_sensitivity") == 4 else None

    await wait_until(graded, message="the fee-sensitivity model to grade level 4")
    campaign_id = await run_template(loop, "green_bill")
    ran = await loop.client.post(f"/campaigns/v1/campaigns/{campaign_id}/runs", headers=loop.keys["marketer"])
    assert ran.status_code == 200, ran.text

    async def told() -> list[str]:
        return await texts_to(loop, watcher)

    assert await wait_until(told, message="the e-bill SMS at the SMSC") == [
        "Subscribe to the free e-bill and see every month's charges at a glance."
    ]
    assert await texts_to(loop, calm) == []
    assert (await counts(loop, campaign_id))["targeted"] == 1

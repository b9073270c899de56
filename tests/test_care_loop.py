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
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0003"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
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
async def loop(database_url: str, sqlite_url: str, nats_url: str) -> AsyncIterator[Loop]:
    """Campaigns (on the parametrized backend), the contact gateway and the gateway on sockets."""

    def db(name: str) -> str:
        return sqlite_url.replace("test.db", f"{name}.db")

    nowhere = f"http://127.0.0.1:{free_port()}"
    async with AsyncExitStack() as stack:
        smsc = await stack.enter_async_context(SmscStandIn(port=free_port(), receipt_delay_s=0.05))
        contact = await stack.enter_async_context(
            LiveServer(
                contact_app(
                    service_settings(
                        ContactGatewaySettings,
                        db("contact"),
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
        gateway = await stack.enter_async_context(
            LiveServer(
                gateway_app(
                    service_settings(
                        GatewaySettings,
                        db("gateway"),
                        nats_url,
                        admin_api_key=ADMIN_KEY,
                        complaints_url=nowhere,
                        coverage_map_url=nowhere,
                        campaigns_url=campaigns.url,
                        contact_gateway_url=contact.url,
                        web_url=nowhere,
                    )
                )
            )
        )
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway.url, timeout=15))
        keys = {
            name: await api_key(client, name, scopes)
            for name, scopes in (
                ("bss", ["feeds:write"]),
                ("marketer", ["campaigns:read", "campaigns:write"]),
                ("supervisor", ["campaigns:read", "campaigns:approve"]),
            )
        }
        yield Loop(client, smsc, keys)


async def api_key(client: httpx.AsyncClient, name: str, scopes: list[str]) -> dict[str, str]:
    """Make an API key through the admin API; return its authorization header."""
    made = await client.post("/gateway/v1/api-keys", headers=ADMIN, json={"name": name, "scopes": scopes})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


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

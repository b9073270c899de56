"""From the operator's side: feed events posted to the gateway change a subscriber's profile.

The gateway and campaigns run on real sockets with a real NATS: the gateway puts the batch on the
FEEDS stream, campaigns' ``campaigns-audience`` consumer applies it, and the profile and model
outputs read back through the gateway show the change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from campaign_data import PLANS

from campaigns.main import create_app as campaigns_app
from campaigns.settings import CampaignsSettings
from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, service_settings, wait_until
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0001"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HK = "+85291234567"


@dataclass
class Door:
    """The gateway in front of campaigns."""

    client: httpx.AsyncClient
    feeds: dict[str, str]


@pytest.fixture
async def door(database_url: str, sqlite_url: str, nats_url: str) -> AsyncIterator[Door]:
    """Campaigns (consumers running) behind the gateway, and a feeds key made by the admin."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with AsyncExitStack() as stack:
        campaigns = await stack.enter_async_context(
            LiveServer(
                campaigns_app(
                    service_settings(CampaignsSettings, database_url, nats_url, model_refresh_interval_s=0.1)
                )
            )
        )
        settings = service_settings(
            GatewaySettings,
            sqlite_url.replace("test.db", "gateway.db"),
            nats_url,
            admin_api_key=ADMIN_KEY,
            complaints_url=nowhere,
            coverage_map_url=nowhere,
            campaigns_url=campaigns.url,
            contact_gateway_url=nowhere,
            web_url=nowhere,
        )
        gateway = await stack.enter_async_context(LiveServer(gateway_app(settings)))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway.url, timeout=15))
        key = await client.post(
            "/gateway/v1/api-keys", headers=ADMIN, json={"name": "bss", "scopes": ["feeds:write"]}
        )
        assert key.status_code == 201, key.text
        yield Door(client, {"Authorization": f"Bearer {key.json()['token']}"})


def feed(event_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Return a feed event as an operator system sends it."""
    return {"specversion": "1.0", "id": event_id, "source": "/operator/hk", "type": event_type, "data": data}


PROFILE = {
    "msisdn": HK,
    "brand": "harbour",
    "plan_id": "BASIC",
    "region": "HK",
    "time_zone": "Asia/Hong_Kong",
    "language": "zh-Hant",
    "join_date": "2024-05-01",
    "at": "2026-11-20T08:00:00+08:00",
}


async def test_feed_events_posted_to_the_gateway_change_the_profile(door: Door) -> None:
    client = door.client
    for plan_id, terms in PLANS.items():
        assert (
            await client.put(f"/campaigns/v1/plans/{plan_id}", json=terms, headers=ADMIN)
        ).status_code == 201
    batch = [
        feed("crm-1", "feeds.crm.subscriber_upserted.v1", PROFILE),
        feed(
            "bss-1",
            "feeds.bss.balance_changed.v1",
            {"msisdn": HK, "balance": 4.5, "at": "2026-11-20T09:00:00Z"},
        ),
        feed(
            "bss-2",
            "feeds.bss.bill_issued.v1",
            {"msisdn": HK, "period": "2026-10", "amount": 95.0, "minutes": 600.0, "sms": 10},
        ),
        feed(
            "bss-3",
            "feeds.bss.plan_changed.v1",
            {"msisdn": HK, "from_plan": "BASIC", "to_plan": "PLUS", "at": "2026-11-21T10:00:00+08:00"},
        ),
        feed(
            "net-1",
            "feeds.network.location_updated.v1",
            {"msisdn": HK, "lat": 22.28, "lng": 114.16, "at": "2026-11-21T03:00:00Z"},
        ),
    ]

    posted = await client.post("/feeds/v1/events", headers=door.feeds, json=batch)
    assert posted.status_code == 202, posted.text
    assert posted.json() == {"accepted": 5, "duplicates": 0}

    async def changed() -> dict[str, Any] | None:
        response = await client.get(f"/campaigns/v1/subscribers/{HK}", headers=ADMIN)
        body: dict[str, Any] = response.json() if response.status_code == 200 else {}
        ready = (
            body.get("plan_id") == "PLUS"
            and body.get("models", {}).get("models_at")
            and body["whereabouts"]["district"]
        )
        return body if ready else None

    profile = await wait_until(changed, message="the profile to follow the feeds")
    assert (profile["brand"], profile["balance"], profile["usage"]["revenue"][0]) == ("harbour", 4.5, 95.0)
    assert [event["kind"] for event in profile["recent_events"]] == ["plan.changed"]
    models = (await client.get(f"/campaigns/v1/subscribers/{HK}/models", headers=ADMIN)).json()
    assert models["tariff"]["current_plan_id"] == "PLUS"

    bad = [
        feed(
            "bss-9",
            "feeds.bss.balance_changed.v1",
            {"msisdn": "123", "balance": 1, "at": "2026-11-20T09:00:00Z"},
        )
    ]
    refused = await client.post("/feeds/v1/events", headers=door.feeds, json=bad)
    assert refused.status_code == 422  # the gateway checks feed data against the contract before storing it
    assert refused.json()["type"] == "urn:careloop:problem:invalid-feed-data"
    assert "payload does not match" in refused.json()["errors"][0]["message"]

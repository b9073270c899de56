# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""The seed's major-event care (重大事件关怀, the 2008 earthquake) end to end on real sockets:
network feeds posted to the gateway, an incident declared there, credit protection commanded on
NATS, care calls queued at the contact gateway's dialer and answered by an agent through the
gateway, the unreachable called three rounds, someone entering the area added at once, and the
daily report. No mocks: campaigns, the contact gateway, the gateway and one NATS."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import h3
import httpx
import nats
import pytest

from campaigns.main import create_app as campaigns_app
from campaigns.settings import CampaignsSettings
from careloop_common.testing import LiveServer, service_settings, wait_until
from contact_gateway.main import create_app as contact_app
from contact_gateway.settings import ContactGatewaySettings
from tests.conftest import OpenGateway

WENCHUAN = {
    "type": "Polygon",
    "coordinates": [[[103.3, 30.9], [103.7, 30.9], [103.7, 31.3], [103.3, 31.3], [103.3, 30.9]]],
}
INSIDE = (31.0, 103.45)
FUZHOU = (26.07, 119.3)
RESIDENT = "+8613900000011"  # in the area when it struck
ROAMER = "+8613900000012"  # a Fujian subscriber roaming in the area
AWAY = "+8613900000013"  # at home in Fuzhou
LATECOMER = "+8613900000014"  # an aid worker who goes in after the incident is declared
MOTHER = "+8613910000021"  # the resident's closest contact: answers
BROTHER = "+8613910000022"  # the roamer's: never answers
# What the agent hears on each call (a disposition the campaigns service reads as the outcome).
ANSWERS: dict[str, tuple[str, str | None]] = {
    RESIDENT: ("answered", "safe"),
    ROAMER: ("answered", "needs_help"),
    MOTHER: ("answered", "safe"),
    BROTHER: ("no_answer", None),
    LATECOMER: ("answered", "safe"),
}


@dataclass
class Stack:
    client: httpx.AsyncClient
    keys: dict[str, dict[str, str]]
    nats_url: str
    calls: list[tuple[str, str]] = field(default_factory=list)  # (msisdn, what the agent recorded)


@pytest.fixture
async def stack(sqlite_url: str, nats_url: str, open_gateway: OpenGateway) -> AsyncIterator[Stack]:
    """Campaigns (rounds looked for often), the contact gateway and the gateway on sockets. SQLite
    only: test_incidents.py runs the same rules on both backends; this is about the parts talking."""

    def db(name: str) -> str:
        return sqlite_url.replace("test.db", f"{name}.db")

    async with AsyncExitStack() as exits:
        contact = await exits.enter_async_context(
            LiveServer(contact_app(service_settings(ContactGatewaySettings, db("contact"), nats_url)))
        )
        campaigns = await exits.enter_async_context(
            LiveServer(
                campaigns_app(
                    service_settings(CampaignsSettings, db("campaigns"), nats_url, scheduler_interval_s=0.2)
                )
            )
        )
        door = await open_gateway(exits, campaigns_url=campaigns.url, contact_gateway_url=contact.url)
        keys = {
            name: await door.api_key(name, scopes)
            for name, scopes in (
                ("network", ["feeds:write"]),
                ("marketer", ["campaigns:read", "campaigns:write"]),
                ("agent", ["contact:read", "contact:dial"]),
            )
        }
        yield Stack(door.client, keys, nats_url)


def feed(event_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": "/operator/fj", "type": event_type, "data": data}


def profile(msisdn: str) -> dict[str, Any]:
    return feed(
        f"crm-{msisdn}",
        "feeds.crm.subscriber_upserted.v1",
        {
            "msisdn": msisdn,
            "brand": "gotone",
            "plan_id": "BASIC",
            "region": "CN-FJ",
            "time_zone": "Asia/Shanghai",
            "language": "zh-Hans",
            "join_date": "2015-03-01",
            "at": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        },
    )


def seen(msisdn: str, where: tuple[float, float], at: datetime, *, roaming: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"msisdn": msisdn, "lat": where[0], "lng": where[1], "roaming": roaming}
    data.update({"country": "CN", "at": at.isoformat()} if roaming else {"at": at.isoformat()})
    return feed(f"loc-{msisdn}-{at.timestamp()}", "feeds.network.location_updated.v1", data)


def calls(msisdn: str, called: str, times: int, before: datetime) -> list[dict[str, Any]]:
    return [
        feed(
            f"cdr-{msisdn}-{called}-{n}",
            "feeds.network.call_detail.v1",
            {
                "msisdn": msisdn,
                "called": called,
                "started_at": (before - timedelta(days=n + 1)).isoformat(),
                "duration_s": 180,
            },
        )
        for n in range(times)
    ]


async def post_feeds(stack: Stack, events: list[dict[str, Any]]) -> None:
    posted = await stack.client.post("/feeds/v1/events", headers=stack.keys["network"], json=events)
    assert posted.status_code == 202, posted.text


async def answer_waiting_calls(stack: Stack) -> None:
    """Be the agent: take every call waiting at the dialer and record what the callee said."""
    while True:
        claimed = await stack.client.post(
            "/contact/v1/dialer/claim", headers=stack.keys["agent"], json={"skills": []}
        )
        if claimed.status_code == 204:
            return
        assert claimed.status_code == 200, claimed.text
        request = claimed.json()["request"]
        assert request["text"] == "您好，这里是福建移动关怀热线，请问您和家人平安吗？"
        outcome, disposition = ANSWERS[request["msisdn"]]
        recorded = await stack.client.post(
            f"/contact/v1/calls/{request['id']}/outcome",
            headers=stack.keys["agent"],
            json={"outcome": outcome, "disposition": disposition},
        )
        assert recorded.status_code == 200, recorded.text
        stack.calls.append((request["msisdn"], outcome))


async def people(stack: Stack, incident_id: str) -> dict[str, dict[str, Any]]:
    listed = await stack.client.get(
        f"/campaigns/v1/incidents/{incident_id}/people", headers=stack.keys["marketer"]
    )
    assert listed.status_code == 200, listed.text
    return {p["msisdn"]: p for p in listed.json()["items"]}


async def test_the_earthquake_care_case_runs_end_to_end(stack: Stack) -> None:
    now = datetime.now(UTC)
    struck = now - timedelta(hours=1)
    await post_feeds(stack, [profile(m) for m in (RESIDENT, ROAMER, AWAY, LATECOMER)])
    await post_feeds(
        stack,
        [
            seen(RESIDENT, INSIDE, struck - timedelta(hours=3)),
            seen(ROAMER, INSIDE, struck + timedelta(minutes=20), roaming=True),
            seen(AWAY, FUZHOU, struck + timedelta(minutes=20)),
            seen(LATECOMER, FUZHOU, struck - timedelta(hours=1)),
            *calls(RESIDENT, MOTHER, 3, struck),
            *calls(ROAMER, BROTHER, 2, struck),
            seen(AWAY, FUZHOU, struck + timedelta(minutes=30)),  # last: when it is in, all are
        ],
    )

    async def feeds_applied() -> bool:
        shown = await stack.client.get(f"/campaigns/v1/subscribers/{AWAY}", headers=stack.keys["marketer"])
        located = shown.json()["whereabouts"]["located_at"] if shown.status_code == 200 else None
        return located is not None and datetime.fromisoformat(located) == struck + timedelta(minutes=30)

    await wait_until(feeds_applied, message="the network feeds to reach campaigns")
    nc = await nats.connect(stack.nats_url)
    protected: list[dict[str, Any]] = []

    async def on_command(msg: Any) -> None:
        protected.append(json.loads(msg.data)["data"])

    await nc.jetstream().subscribe("campaigns.cmd.protect_credit", cb=on_command, ordered_consumer=True)
    try:
        declared = await stack.client.post(
            "/campaigns/v1/incidents",
            headers=stack.keys["marketer"],
            json={
                "name": "汶川地震关怀",
                "area": {"polygon": WENCHUAN},
                "starts_at": struck.isoformat(),
                "ends_at": (now + timedelta(days=3)).isoformat(),
                "content": {"zh-Hans": "您好，这里是福建移动关怀热线，请问您和家人平安吗？"},
                "rounds": 3,
                "round_gap_s": 1,
                "credit_limit": 9999,
            },
        )
        assert declared.status_code == 201, declared.text
        incident = declared.json()
        assert set(await people(stack, incident["id"])) == {RESIDENT, ROAMER, MOTHER, BROTHER}

        # Billing is told to keep both affected subscribers connected.
        async def both_protected() -> list[str] | None:
            found = sorted(c["msisdn"] for c in protected)
            return found if len(found) >= 2 else None

        assert await wait_until(both_protected, message="credit protection on NATS") == [RESIDENT, ROAMER]
        assert {c["credit_limit"] for c in protected} == {9999.0}

        # An aid worker goes in: added at once, protected and called.
        await post_feeds(stack, [seen(LATECOMER, INSIDE, now + timedelta(seconds=1))])

        async def everyone_settled() -> dict[str, dict[str, Any]] | None:
            await answer_waiting_calls(stack)
            found = await people(stack, incident["id"])
            settled = LATECOMER in found and all(p["outcome"] != "calling" for p in found.values())
            return found if settled else None

        found = await wait_until(
            everyone_settled, timeout_s=30, interval_s=0.2, message="every call to reach its outcome"
        )
        assert {m: (p["outcome"], p["rounds"]) for m, p in found.items()} == {
            RESIDENT: ("safe", 1),
            ROAMER: ("needs_help", 1),
            MOTHER: ("safe", 1),
            BROTHER: ("unreachable", 3),
            LATECOMER: ("safe", 1),
        }
        assert found[LATECOMER]["via"] == "entered"
        assert sorted(m for m, outcome in stack.calls if outcome == "no_answer") == [BROTHER] * 3

        report = await stack.client.get(
            f"/campaigns/v1/incidents/{incident['id']}/report", headers=stack.keys["marketer"]
        )
        assert report.status_code == 200, report.text
        body = report.json()
        assert (body["people"], body["affected"], body["contacts"], body["calls"]) == (5, 3, 2, 7)
        assert body["credit_protected"] == 3
        assert body["by_outcome"] == {"safe": 3, "needs_help": 1, "unreachable": 1}
        assert body["unreachable_after_rounds"] == {"3": 1}
        assert sum(day["calls"] for day in body["days"]) == 7
        assert h3.is_valid_cell(incident["cells"][0])
    finally:
        await nc.close()

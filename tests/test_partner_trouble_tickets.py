"""A partner's side of TMF621, through the gateway on real sockets: an API key files a trouble
ticket, subscribes a listener, and hears of the care team's work on it; another partner sees none
of it. Real complaints service, real gateway, real NATS, real databases, no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, service_settings, wait_until
from careloop_common.testing.openapi_schemas import validate_against
from complaints.main import create_app as complaints_app
from complaints.settings import ComplaintsSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

SPEC = Path(__file__).resolve().parents[1] / "specs" / "TMF621-Trouble_Ticket-v5.0.1.oas.yaml"
ADMIN = {"Authorization": "Bearer test-admin-key-with-enough-entropy-0001"}
TT = "/tmf-api/troubleTicket/v5/troubleTicket"
MERGE_PATCH = "application/merge-patch+json"
TICKET = {
    "@type": "TroubleTicket",
    "description": "No 4G signal at home since Monday",
    "severity": "Major",
    "ticketType": "complaint",
    "relatedParty": [
        {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "customer",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "+85291234567"},
        }
    ],
    "troubleTicketCharacteristic": [
        {"@type": "StringCharacteristic", "name": "category", "value": "coverage"},
        {"@type": "StringArrayCharacteristic", "name": "symptoms", "value": ["no_data"]},
        {"@type": "NumberCharacteristic", "name": "lat", "value": 22.2819},
        {"@type": "NumberCharacteristic", "name": "lng", "value": 114.1582},
    ],
}


@dataclass
class Listener:
    """The partner's event listener: every body it was sent."""

    bodies: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/events")
        async def listen(request: Request) -> Response:
            self.bodies.append(await request.json())
            return Response(status_code=201)

        return app


@dataclass
class Platform:
    gateway: httpx.AsyncClient
    listener: Listener
    listener_url: str


@pytest.fixture
async def platform(database_url: str, sqlite_url: str, nats_url: str) -> AsyncIterator[Platform]:
    """Complaints (on the parametrized backend) behind the gateway, and a partner's listener."""
    complaints = complaints_app(service_settings(ComplaintsSettings, database_url, nats_url))
    down = f"http://127.0.0.1:{free_port()}"
    listener = Listener()
    async with LiveServer(complaints) as c, LiveServer(listener.app()) as heard:
        gateway = gateway_app(
            service_settings(
                GatewaySettings,
                sqlite_url.replace("test.db", "gateway.db"),
                nats_url,
                admin_api_key=ADMIN["Authorization"].removeprefix("Bearer "),
                complaints_url=c.url,
                coverage_map_url=down,
                campaigns_url=down,
                contact_gateway_url=down,
                web_url=down,
            )
        )
        async with LiveServer(gateway) as g, httpx.AsyncClient(base_url=g.url, timeout=10) as client:
            yield Platform(client, listener, f"{heard.url}/events")


async def partner_key(client: httpx.AsyncClient, partner_id: str) -> dict[str, str]:
    """Issue a partner an API key for complaints, as an administrator does."""
    response = await client.post(
        "/gateway/v1/api-keys",
        headers=ADMIN,
        json={
            "name": partner_id,
            "partner_id": partner_id,
            "scopes": ["complaints:read", "complaints:write"],
        },
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_a_partner_files_a_ticket_and_hears_of_the_work_on_it(platform: Platform) -> None:
    client = platform.gateway
    acme = await partner_key(client, "acme")
    hub = await client.post(
        "/tmf-api/troubleTicket/v5/hub",
        headers=acme,
        json={"@type": "Hub", "callback": platform.listener_url},
    )
    assert hub.status_code == 201, hub.text
    validate_against(SPEC, "Hub", hub.json())

    created = await client.post(TT, headers={**acme, "Idempotency-Key": "acme-1"}, json=TICKET)
    assert created.status_code == 201, created.text
    ticket = created.json()
    validate_against(SPEC, "TroubleTicket", ticket)
    assert created.headers["location"] == ticket["href"]
    assert ticket["channel"]["id"] == "partner_api"

    # The care team works it from the staff side (the admin key here); the partner reads the result.
    moved = await client.patch(
        ticket["href"],
        headers={**ADMIN, "Content-Type": MERGE_PATCH},
        json={"status": "inProgress", "statusChangeReason": "site survey booked"},
    )
    assert moved.status_code == 200, moved.text
    plain_json = await client.patch(ticket["href"], headers=acme, json={"severity": "Minor"})
    assert plain_json.status_code == 415
    assert plain_json.headers["content-type"] == "application/problem+json"

    listed = await client.get(TT, headers=acme, params={"fields": "status", "status": "inProgress"})
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {"@type": "TroubleTicket", "id": ticket["id"], "href": ticket["href"], "status": "inProgress"}
    ]
    assert (listed.headers["X-Total-Count"], listed.headers["X-Result-Count"]) == ("1", "1")

    async def both_heard() -> bool:
        return len(platform.listener.bodies) >= 2

    await wait_until(both_heard, message="both events at the partner's listener")
    assert sorted(body["eventType"] for body in platform.listener.bodies) == [
        "TroubleTicketCreateEvent",
        "TroubleTicketStatusChangeEvent",
    ]
    for body in platform.listener.bodies:
        validate_against(SPEC, body["eventType"], body)
        assert body["event"]["troubleTicket"]["id"] == ticket["id"]

    globex = await partner_key(client, "globex")
    hidden = await client.get(ticket["href"], headers=globex)
    assert hidden.status_code == 404
    assert (await client.get(TT, headers=globex)).json() == []

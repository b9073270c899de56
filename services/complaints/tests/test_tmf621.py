"""TMF621 Trouble Ticket v5 through the complaints service: intake under the native rules, list with
fields/paging/filters, the lifecycle by merge patch, DELETE, partner isolation, and hub callbacks to
a real HTTP listener on a socket. Every body is checked against the TM Forum spec's own schemas.
Real databases (SQLite, and PostgreSQL when configured), a real NATS server, no mocks."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi import Response as FastAPIResponse
from sqlmodel import col, select

from careloop_common.db import transaction, utcnow
from careloop_common.hub import HubDelivery
from careloop_common.testing import LiveServer, auth_headers, running_app, service_settings, wait_until
from careloop_common.testing.openapi_schemas import validate_against
from complaints import lifecycle, repository
from complaints.main import create_app
from complaints.settings import ComplaintsSettings

SPEC = Path(__file__).resolve().parents[3] / "specs" / "TMF621-Trouble_Ticket-v5.0.1.oas.yaml"
TT = "/tmf-api/troubleTicket/v5/troubleTicket"
HUB = "/tmf-api/troubleTicket/v5/hub"
MERGE = {"Content-Type": "application/merge-patch+json"}
EVENTS = (
    "TroubleTicketCreateEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketAttributeValueChangeEvent",
    "TroubleTicketResolvedEvent",
)


def partner(name: str = "mvno-a") -> dict[str, str]:
    """Return a partner's principal (an API key with a partner id), minted per call."""
    return auth_headers("complaints:read", "complaints:write", subject=f"key-{name}", partner_id=name)


def agent() -> dict[str, str]:
    """Return a care agent's principal (staff: sees every partner's tickets)."""
    return auth_headers("complaints:read", "complaints:write", subject="agent-7", roles=("agent",))


def characteristic(kind: str, name: str, value: object) -> dict[str, object]:
    return {"@type": kind, "name": name, "value": value}


def ticket_body(**changes: object) -> dict[str, Any]:
    """A coverage complaint as a partner files it through TMF621."""
    body: dict[str, Any] = {
        "@type": "TroubleTicket",
        "description": "Calls drop inside the flat since last week",
        "severity": "Major",
        "ticketType": "complaint",
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {
                    "@type": "PartyRef",
                    "id": "+852 9123 4567",
                    "@referredType": "Individual",
                },
            }
        ],
        "troubleTicketCharacteristic": [
            characteristic("StringCharacteristic", "category", "coverage"),
            characteristic("StringArrayCharacteristic", "symptoms", ["call_drop", "weak_signal"]),
            characteristic("NumberCharacteristic", "lat", 22.2819),
            characteristic("FloatCharacteristic", "lng", 114.1582),
            characteristic("StringCharacteristic", "network", "4G"),
            characteristic("StringCharacteristic", "address", "Flat 12A, 1 Queen's Road Central"),
            characteristic("BooleanCharacteristic", "indoor", True),
            characteristic("IntegerCharacteristic", "floor", 12),
            characteristic("StringCharacteristic", "language", "en"),
            characteristic("StringCharacteristic", "occurredAt", "2026-11-23T19:30:00+08:00"),
        ],
        "note": [{"@type": "Note", "text": "customer prefers a call after 6 pm", "author": "Desk 4"}],
    }
    body.update(changes)
    return body


def valid(schema: str, body: Any) -> Any:
    """Check a body against the TMF621 spec's schema and hand it back."""
    validate_against(SPEC, schema, body)
    return body


def characteristics(ticket: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: c["value"] for c in ticket["troubleTicketCharacteristic"]}


@pytest.fixture
async def client(database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Run the complaints service with its relay, consumers and hub deliverer."""
    app = create_app(service_settings(ComplaintsSettings, database_url, nats_url))
    async with running_app(app) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def file(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **changes: object
) -> dict[str, Any]:
    response = await client.post(TT, json=ticket_body(**changes), headers=headers or partner())
    assert response.status_code == 201, response.text
    return dict(response.json())


async def patch(
    client: httpx.AsyncClient, ticket_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.patch(f"{TT}/{ticket_id}", json=body, headers={**(headers or agent()), **MERGE})


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = dict(response.json())
    assert problem["type"] == f"urn:careloop:problem:{slug}", problem
    return problem


# --- create -----------------------------------------------------------------------------------------


async def test_a_ticket_is_a_complaint_filed_under_the_intake_rules(client: httpx.AsyncClient) -> None:
    response = await client.post(TT, json=ticket_body(), headers=partner())
    assert response.status_code == 201, response.text
    ticket = valid("TroubleTicket", response.json())
    valid("TroubleTicket_RES", ticket)
    assert response.headers["location"] == f"{TT}/{ticket['id']}" == ticket["href"]
    assert ticket["status"] == "acknowledged"
    assert ticket["severity"] == "Major"
    assert ticket["ticketType"] == "complaint"
    assert ticket["name"].startswith("CMP-")
    assert ticket["channel"]["id"] == "partner_api"
    assert ticket["priority"] == "normal"
    assert ticket["expectedResolutionDate"] > ticket["creationDate"]  # the resolution SLA runs
    customer = ticket["relatedParty"][0]
    assert (customer["role"], customer["partyOrPartyRole"]["id"]) == ("customer", "+85291234567")
    form = characteristics(ticket)
    assert form["category"] == "coverage"
    assert form["symptoms"] == ["call_drop", "weak_signal"]
    assert (form["lat"], form["lng"], form["floor"], form["indoor"]) == (22.2819, 114.1582, 12, True)
    assert form["occurredAt"] == "2026-11-23T11:30:00Z"  # kept in UTC
    assert form["trackingToken"].startswith("trk_")  # once, for the customer's portal
    assert [(n["text"], n["author"]) for n in ticket["note"]] == [
        ("customer prefers a call after 6 pm", "Desk 4")
    ]
    assert [s["status"] for s in ticket["statusChangeHistory"]] == ["acknowledged"]

    again = await client.get(f"{TT}/{ticket['id']}", headers=partner())
    shown = valid("TroubleTicket", again.json())
    assert "trackingToken" not in characteristics(shown)
    # The same complaint, owned by the partner's key, on the native API too.
    native = (await client.get(f"/complaints/v1/complaints/{ticket['id']}", headers=partner())).json()
    # A partner's complaint waits in its queue until an agent takes it (first-contact ownership).
    assert (native["channel"], native["owner"], native["msisdn"]) == (
        "partner_api",
        f"queue:{native['queue']}",
        "+85291234567",
    )


async def test_staff_name_the_channel_and_fields_trim_the_answer(client: httpx.AsyncClient) -> None:
    form = [*_without("floor"), characteristic("IntegerCharacteristic", "floor", 12.0)]  # JSON's 12
    body = ticket_body(
        channel={"@type": "ChannelRef", "id": "call_centre", "name": "hotline"},
        troubleTicketCharacteristic=form,
    )
    response = await client.post(TT, json=body, headers=agent(), params={"fields": "status,channel"})
    assert response.status_code == 201, response.text
    ticket = valid("TroubleTicket", response.json())
    assert set(ticket) == {"id", "href", "@type", "status", "channel"}
    assert ticket["channel"] == {"@type": "ChannelRef", "id": "call_centre", "name": "call centre"}


async def test_a_retried_create_with_the_same_key_files_once(client: httpx.AsyncClient) -> None:
    headers = {**partner(), "Idempotency-Key": "tt-1"}
    first = await client.post(TT, json=ticket_body(), headers=headers)
    second = await client.post(TT, json=ticket_body(), headers={**partner(), "Idempotency-Key": "tt-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    listed = await client.get(TT, headers=partner())
    assert listed.headers["X-Total-Count"] == "1"


def _without(name: str) -> list[dict[str, object]]:
    return [c for c in ticket_body()["troubleTicketCharacteristic"] if c["name"] != name]


@pytest.mark.parametrize(
    ("changes", "slug", "field"),
    [
        ({"severity": None}, "validation-error", "body.severity"),
        ({"ticketType": "incident"}, "validation-error", "body.ticketType"),
        ({"@type": "Complaint"}, "validation-error", "body.@type"),
        ({"attachment": [{"@type": "Attachment"}]}, "validation-error", "body.attachment"),
        ({"relatedParty": []}, "validation-error", "body.relatedParty"),
        (
            {
                "relatedParty": [
                    {
                        **ticket_body()["relatedParty"][0],
                        "partyOrPartyRole": {"@type": "PartyRef", "id": "12"},
                    }
                ]
            },
            "validation-error",
            "body.relatedParty.0.partyOrPartyRole.id",
        ),
        (
            {"troubleTicketCharacteristic": [characteristic("StringCharacteristic", "colour", "blue")]},
            "validation-error",
            "body.troubleTicketCharacteristic.0.StringCharacteristic.name",
        ),
        ({"description": "calls drop\x00"}, "validation-error", "body.description"),
        (
            {
                "troubleTicketCharacteristic": [
                    *_without("category"),
                    characteristic("StringCharacteristic", "category", "haunted"),
                ]
            },
            "invalid-characteristic",
            "troubleTicketCharacteristic.category",
        ),
        (
            {"troubleTicketCharacteristic": _without("category")},
            "invalid-characteristic",
            "troubleTicketCharacteristic.category",
        ),
        (
            {"troubleTicketCharacteristic": _without("lng")},
            "invalid-characteristic",
            "troubleTicketCharacteristic",
        ),
        (
            {
                "troubleTicketCharacteristic": [
                    *_without("lat"),
                    characteristic("NumberCharacteristic", "lat", 123.0),
                ]
            },
            "invalid-characteristic",
            "troubleTicketCharacteristic.lat",
        ),
        (
            {
                "troubleTicketCharacteristic": [
                    *ticket_body()["troubleTicketCharacteristic"],
                    characteristic("StringCharacteristic", "network", "5G"),
                ]
            },
            "invalid-characteristic",
            None,
        ),
        ({"channel": {"@type": "ChannelRef", "id": "shop"}}, "channel-not-allowed", None),
        (
            {
                "troubleTicketCharacteristic": [
                    *_without("occurredAt"),
                    characteristic("StringCharacteristic", "occurredAt", "2026-11-23T19:30:00"),
                ]
            },
            "invalid-characteristic",
            "troubleTicketCharacteristic.occurredAt",
        ),
        (
            {
                "troubleTicketCharacteristic": [
                    *_without("floor"),
                    characteristic("IntegerCharacteristic", "floor", "12"),
                ]
            },
            "validation-error",
            "body.troubleTicketCharacteristic.9.IntegerCharacteristic.value",
        ),
    ],
)
async def test_bad_input_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient, changes: dict[str, object], slug: str, field: str | None
) -> None:
    body = {k: v for k, v in ticket_body(**changes).items() if v is not None}
    problem = assert_problem(await client.post(TT, json=body, headers=partner()), 422, slug)
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
    listed = await client.get(TT, headers=partner())
    assert listed.json() == []
    assert listed.headers["X-Total-Count"] == "0"


# --- list and read ----------------------------------------------------------------------------------


async def test_list_pages_selects_fields_and_filters(client: httpx.AsyncClient) -> None:
    before = utcnow() - timedelta(seconds=1)
    filed = [await file(client, severity=severity) for severity in ("Critical", "Major", "Minor")]
    assert (await patch(client, filed[0]["id"], {"status": "inProgress"})).status_code == 200
    assert (await patch(client, filed[2]["id"], {"severity": "Critical"})).status_code == 200

    page = await client.get(TT, params={"limit": 2}, headers=partner())
    assert page.status_code == 200, page.text
    assert (page.headers["X-Total-Count"], page.headers["X-Result-Count"]) == ("3", "2")
    for item in page.json():
        valid("TroubleTicket_RES", item)
    assert [t["id"] for t in page.json()] == [filed[2]["id"], filed[1]["id"]]  # newest first
    rest = await client.get(TT, params={"limit": 2, "offset": 2}, headers=partner())
    assert [t["id"] for t in rest.json()] == [filed[0]["id"]]
    assert rest.headers["X-Result-Count"] == "1"
    oldest_first = await client.get(TT, params={"sort": "creationDate"}, headers=partner())
    assert [t["id"] for t in oldest_first.json()] == [t["id"] for t in filed]

    trimmed = await client.get(TT, params={"fields": "status,severity"}, headers=partner())
    assert [set(t) for t in trimmed.json()] == [{"id", "href", "@type", "status", "severity"}] * 3
    for item in trimmed.json():
        valid("TroubleTicket_RES", item)

    async def ids(**params: str) -> list[str]:
        response = await client.get(TT, params=params, headers=partner())
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == str(len(response.json()))
        return sorted(t["id"] for t in response.json())

    assert await ids(status="inProgress") == [filed[0]["id"]]
    assert await ids(status="acknowledged") == sorted([filed[1]["id"], filed[2]["id"]])
    # Severity is the latest one set: the third ticket was raised from Minor to Critical.
    assert await ids(severity="Critical") == sorted([filed[0]["id"], filed[2]["id"]])
    assert await ids(severity="Minor") == []
    assert await ids(ticketType="complaint") == sorted(t["id"] for t in filed)
    assert await ids(**{"creationDate.gt": before.isoformat()}) == sorted(t["id"] for t in filed)
    assert await ids(**{"creationDate.lt": before.isoformat()}) == []
    assert await ids(**{"creationDate.lte": filed[0]["creationDate"]}) == [filed[0]["id"]]
    assert await ids(**{"creationDate.gte": filed[2]["creationDate"]}) == [filed[2]["id"]]
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert await ids(**{"lastUpdate.gt": later}) == []
    assert await ids(**{"lastUpdate.lt": later, "status": "inProgress"}) == [filed[0]["id"]]

    assert_problem(
        await client.get(TT, params={"priority": "high"}, headers=partner()), 422, "unsupported-filter"
    )
    naive = {"creationDate.gt": "2026-11-30T10:00:00"}
    assert_problem(await client.get(TT, params=naive, headers=partner()), 422, "rule-violated")
    assert_problem(
        await client.get(TT, params={"fields": "colour"}, headers=partner()), 422, "validation-error"
    )
    assert_problem(
        await client.get(TT, params={"status": "open"}, headers=partner()), 422, "validation-error"
    )


async def test_partners_see_only_their_own_tickets(client: httpx.AsyncClient) -> None:
    mine = await file(client, partner("mvno-a"))
    theirs = await file(client, partner("mvno-b"))
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, f"{TT}/{theirs['id']}", headers={**partner("mvno-a"), **MERGE}, json={"severity": "Minor"}
        )
        assert_problem(response, 404, "not-found")
    listed = await client.get(TT, headers=partner("mvno-a"))
    assert [t["id"] for t in listed.json()] == [mine["id"]]
    staff = await client.get(TT, headers=agent())
    assert staff.headers["X-Total-Count"] == "2"


# --- patch --------------------------------------------------------------------------------------------


async def test_the_lifecycle_by_merge_patch(client: httpx.AsyncClient) -> None:
    ticket = await file(client)
    tid = ticket["id"]
    moved = await patch(
        client,
        tid,
        {"@type": "TroubleTicket", "status": "inProgress", "statusChangeReason": "site survey booked"},
    )
    assert moved.status_code == 200, moved.text
    body = valid("TroubleTicket", moved.json())
    assert (body["status"], body["statusChangeReason"]) == ("inProgress", "site survey booked")
    assert [s["status"] for s in body["statusChangeHistory"]] == ["acknowledged", "inProgress"]

    resolved = await patch(
        client, tid, {"status": "resolved", "statusChangeReason": "new small cell on the roof"}
    )
    body = valid("TroubleTicket", resolved.json())
    assert body["resolutionDate"] >= body["creationDate"]
    assert "expectedResolutionDate" not in body  # the resolution clock stopped
    closed = valid("TroubleTicket", (await patch(client, tid, {"status": "closed"})).json())
    assert [s["status"] for s in closed["statusChangeHistory"]] == [
        "acknowledged",
        "inProgress",
        "resolved",
        "closed",
    ]
    same = await patch(client, tid, {"status": "closed"})
    assert same.status_code == 200  # nothing to change: a merge patch is idempotent

    illegal = assert_problem(await patch(client, tid, {"status": "inProgress"}), 409, "illegal-transition")
    assert illegal["current"] == "closed"
    assert_problem(await patch(client, tid, {"description": "again"}), 409, "ticket-ended")


async def test_description_severity_and_notes_are_patchable(client: httpx.AsyncClient) -> None:
    tid = (await file(client))["id"]
    change = {
        "description": "Calls drop in the whole building",
        "severity": "Critical",
        "note": [{"@type": "Note", "text": "neighbours affected too"}],
    }
    response = await patch(client, tid, change, partner())
    assert response.status_code == 200, response.text
    body = valid("TroubleTicket", response.json())
    assert (body["description"], body["severity"]) == ("Calls drop in the whole building", "Critical")
    assert [n["text"] for n in body["note"]] == [
        "customer prefers a call after 6 pm",
        "neighbours affected too",
    ]
    assert body["note"][1]["author"] == "key-mvno-a"
    assert body["status"] == "acknowledged"
    # The lifecycle history shows who changed what.
    async with client.app.state.platform.sessions() as session:  # type: ignore[attr-defined]
        kinds = [
            e.kind
            for e in (await repository.history_of(session, [tid], ("severity", "updated", "note")))[tid]
        ]
    assert sorted(kinds) == ["note", "note", "severity", "severity", "updated"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "other"}, "body.id"),
        ({"href": "/x"}, "body.href"),
        ({"creationDate": "2026-11-30T10:00:00Z"}, "body.creationDate"),
        ({"lastUpdate": "2026-11-30T10:00:00Z"}, "body.lastUpdate"),
        ({"statusChangeHistory": []}, "body.statusChangeHistory"),
        ({"relatedParty": []}, "body.relatedParty"),
        ({"description": None}, "body.description"),
        ({"status": "open"}, "body.status"),
    ],
)
async def test_what_may_not_change_is_refused_by_name(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    tid = (await file(client))["id"]
    problem = assert_problem(await patch(client, tid, body), 422, "validation-error")
    assert field in [e["field"] for e in problem["errors"]], problem
    unchanged = (await client.get(f"{TT}/{tid}", headers=agent())).json()
    assert unchanged["description"] == ticket_body()["description"]


async def test_only_a_merge_patch_is_taken(client: httpx.AsyncClient) -> None:
    tid = (await file(client))["id"]
    for content_type in ("application/json", "application/json-patch+json", "text/plain"):
        response = await client.patch(
            f"{TT}/{tid}", content=b'{"severity": "Minor"}', headers={**agent(), "Content-Type": content_type}
        )
        assert_problem(response, 415, "unsupported-media-type")
        assert response.headers["Accept-Patch"] == "application/merge-patch+json"
    reason_alone = await patch(client, tid, {"statusChangeReason": "why"})
    assert_problem(reason_alone, 422, "rule-violated")


async def test_partners_withdraw_accept_or_reopen_but_do_not_work_tickets(client: httpx.AsyncClient) -> None:
    tid = (await file(client))["id"]
    refused = assert_problem(
        await patch(client, tid, {"status": "resolved"}, partner()), 403, "status-not-allowed"
    )
    assert refused["allowed"] == ["cancelled", "closed", "inProgress"]
    assert_problem(await patch(client, tid, {"status": "inProgress"}, partner()), 403, "status-not-allowed")
    assert_problem(await patch(client, tid, {"status": "closed"}, partner()), 409, "illegal-transition")
    assert (await patch(client, tid, {"status": "resolved"})).status_code == 200  # staff resolve it
    reopened = await patch(
        client, tid, {"status": "inProgress", "statusChangeReason": "still drops"}, partner()
    )
    assert reopened.json()["status"] == "inProgress", reopened.text
    assert (await patch(client, tid, {"status": "cancelled"}, partner())).json()["status"] == "cancelled"


# --- delete ---------------------------------------------------------------------------------------------


async def test_delete_withdraws_a_ticket_nobody_has_worked_on(client: httpx.AsyncClient) -> None:
    tid = (await file(client))["id"]
    deleted = await client.delete(f"{TT}/{tid}", headers=partner())
    assert deleted.status_code == 204, deleted.text
    kept = valid("TroubleTicket", (await client.get(f"{TT}/{tid}", headers=partner())).json())
    assert kept["status"] == "cancelled"
    assert kept["statusChangeReason"] == "withdrawn by the filer (TMF621 DELETE)"
    assert_problem(await client.delete(f"{TT}/{tid}", headers=partner()), 409, "ticket-in-progress")

    worked = (await file(client))["id"]
    assert (await patch(client, worked, {"status": "inProgress"})).status_code == 200
    problem = assert_problem(
        await client.delete(f"{TT}/{worked}", headers=partner()), 409, "ticket-in-progress"
    )
    assert problem["current"] == "inProgress"


# --- hub --------------------------------------------------------------------------------------------------


@dataclass
class Listener:
    """A partner's event listener on a real socket: records bodies per path, failing the first N if told."""

    fail_first: dict[str, int] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    bodies: defaultdict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/listener/{name}")
        async def listen(name: str, request: Request) -> FastAPIResponse:
            self.attempts[name] += 1
            if self.fail_first.get(name, 0) > 0:
                self.fail_first[name] -= 1
                return FastAPIResponse(status_code=503)
            self.bodies[name].append(await request.json())
            return FastAPIResponse(status_code=204)

        return app

    def types(self, name: str) -> list[str]:
        return [body["eventType"] for body in self.bodies[name]]


@pytest.fixture
async def listener() -> AsyncIterator[tuple[Listener, str]]:
    partner_side = Listener()
    async with LiveServer(partner_side.app()) as server:
        yield partner_side, f"{server.url}/listener"


async def subscribe(
    client: httpx.AsyncClient, callback: str, headers: dict[str, str], query: str | None = None
) -> dict[str, Any]:
    body = {"@type": "Hub", "callback": callback, **({"query": query} if query else {})}
    response = await client.post(HUB, json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == response.json()["href"]
    return dict(valid("Hub", response.json()))


async def test_hub_subscriptions_are_created_read_and_removed(client: httpx.AsyncClient) -> None:
    hub = await subscribe(
        client, "https://partner.example/listener", partner(), "eventType=TroubleTicketResolvedEvent"
    )
    assert hub["query"] == "eventType=TroubleTicketResolvedEvent"
    read = await client.get(f"{HUB}/{hub['id']}", headers=partner())
    assert valid("Hub", read.json()) == hub
    assert_problem(await client.get(f"{HUB}/{hub['id']}", headers=partner("mvno-b")), 404, "not-found")
    assert_problem(await client.delete(f"{HUB}/{hub['id']}", headers=partner("mvno-b")), 404, "not-found")
    assert (await client.delete(f"{HUB}/{hub['id']}", headers=partner())).status_code == 204
    assert_problem(await client.get(f"{HUB}/{hub['id']}", headers=partner()), 404, "not-found")

    unknown = {
        "@type": "Hub",
        "callback": "https://partner.example/l",
        "query": "eventType=TroubleTicketDeleteEvent",
    }
    assert_problem(await client.post(HUB, json=unknown, headers=partner()), 422, "unsupported-query")
    no_host = {"@type": "Hub", "callback": "https://:443/listener"}
    assert_problem(await client.post(HUB, json=no_host, headers=partner()), 422, "invalid-callback")
    ftp = {"@type": "Hub", "callback": "ftp://partner.example/l"}
    assert_problem(await client.post(HUB, json=ftp, headers=partner()), 422, "validation-error")


async def test_callbacks_receive_the_four_ticket_events(
    client: httpx.AsyncClient, listener: tuple[Listener, str]
) -> None:
    received, url = listener
    await subscribe(client, f"{url}/mine", partner("mvno-a"))
    theirs = await subscribe(client, f"{url}/theirs", partner("mvno-b"))
    await subscribe(client, f"{url}/internal", agent())
    await subscribe(client, f"{url}/resolved", partner("mvno-a"), "eventType=TroubleTicketResolvedEvent")

    tid = (await file(client, partner("mvno-a")))["id"]
    assert (
        await patch(client, tid, {"status": "inProgress", "statusChangeReason": "survey booked"})
    ).status_code == 200
    change = {"severity": "Critical", "note": [{"@type": "Note", "text": "whole building"}]}
    assert (await patch(client, tid, change, partner("mvno-a"))).status_code == 200
    assert (
        await patch(client, tid, {"status": "resolved", "statusChangeReason": "new cell"})
    ).status_code == 200

    expected = Counter(
        {
            "TroubleTicketCreateEvent": 1,
            "TroubleTicketStatusChangeEvent": 2,
            "TroubleTicketAttributeValueChangeEvent": 1,
            "TroubleTicketResolvedEvent": 1,
        }
    )

    async def all_arrived() -> bool:
        return Counter(received.types("mine")) == expected and Counter(received.types("internal")) == expected

    await wait_until(all_arrived, message="the ticket's events at the listeners")
    for body in received.bodies["mine"]:
        valid(body["eventType"], body)
        assert body["@type"] == body["eventType"]
        assert body["event"]["troubleTicket"]["id"] == tid
        valid("TroubleTicket", body["event"]["troubleTicket"])
    by_type = {b["eventType"]: b for b in received.bodies["mine"]}
    assert by_type["TroubleTicketResolvedEvent"]["event"]["troubleTicket"]["status"] == "resolved"
    assert (
        by_type["TroubleTicketAttributeValueChangeEvent"]["event"]["troubleTicket"]["severity"] == "Critical"
    )
    statuses = [
        (b["event"]["troubleTicket"]["status"], b["event"]["troubleTicket"].get("statusChangeReason"))
        for b in received.bodies["mine"]
        if b["eventType"] == "TroubleTicketStatusChangeEvent"
    ]
    assert sorted(statuses) == [("inProgress", "survey booked"), ("resolved", "new cell")]
    assert len({b["eventId"] for b in received.bodies["mine"]}) == 5
    assert "trackingToken" not in characteristics(
        by_type["TroubleTicketCreateEvent"]["event"]["troubleTicket"]
    )

    async def filtered() -> bool:
        return received.types("resolved") == ["TroubleTicketResolvedEvent"]

    await wait_until(filtered, message="the filtered hub")
    # Another partner's tickets are not its business: nothing was even queued for it.
    async with client.app.state.platform.sessions() as session:  # type: ignore[attr-defined]
        queued = await session.scalars(
            select(HubDelivery).where(col(HubDelivery.subscription_id) == theirs["id"])
        )
        assert list(queued) == []
    assert received.bodies["theirs"] == []


async def test_changes_made_on_any_channel_reach_the_hub(
    client: httpx.AsyncClient, listener: tuple[Listener, str]
) -> None:
    received, url = listener
    await subscribe(client, f"{url}/mine", partner())
    tid = (await file(client))["id"]
    # The agent desktop (or the SLA watcher) moves the complaint through the lifecycle, not TMF621.
    platform = client.app.state.platform  # type: ignore[attr-defined]
    async with transaction(platform.sessions) as session:
        complaint = await repository.get(session, tid, None)
        assert complaint is not None
        lifecycle.change_status(
            session, complaint, "pending", by="agent-7", now=utcnow(), source=platform.source
        )

    async def told() -> list[str]:
        return [
            b["event"]["troubleTicket"]["status"]
            for b in received.bodies["mine"]
            if b["eventType"] == "TroubleTicketStatusChangeEvent"
        ]

    assert await wait_until(told, message="the status change at the listener") == ["pending"]


async def test_a_failing_callback_is_retried_until_it_answers(
    client: httpx.AsyncClient, listener: tuple[Listener, str]
) -> None:
    received, url = listener
    received.fail_first["flaky"] = 1
    await subscribe(client, f"{url}/flaky", partner(), "eventType=TroubleTicketCreateEvent")
    tid = (await file(client))["id"]

    async def delivered() -> list[dict[str, Any]]:
        return received.bodies["flaky"]

    bodies = await wait_until(delivered, message="the retried delivery")
    assert received.attempts["flaky"] == 2
    assert [valid("TroubleTicketCreateEvent", b)["event"]["troubleTicket"]["id"] for b in bodies] == [tid]

    async def recorded() -> HubDelivery | None:
        # The callback answers before the deliverer writes down that it did: wait for the record.
        async with client.app.state.platform.sessions() as session:  # type: ignore[attr-defined]
            row = (await session.scalars(select(HubDelivery).order_by(col(HubDelivery.id)))).one()
        return row if row.delivered_at is not None else None

    row = await wait_until(recorded, message="the delivery recorded")
    assert (row.attempts, row.dead, row.last_error) == (2, False, None)


def test_event_times_are_rfc3339() -> None:
    from complaints.tmf621 import TroubleTicket, event_body

    at = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    body = event_body("TroubleTicketCreateEvent", "e-1", at, TroubleTicket(id="t", href="/t"))
    assert body["eventTime"] == "2026-11-30T10:00:00Z"
    valid("TroubleTicketCreateEvent", body)

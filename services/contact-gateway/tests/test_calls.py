"""Calls: the agents' dialer queue (skills, leases, outcomes) and automated calls through an
Asterisk ARI stand-in on a socket, both in rounds with spacing until answered or out of rounds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from careloop_common.db import transaction, utcnow
from careloop_common.natsserver import free_port
from careloop_common.testing import auth_headers, running_app, service_settings, wait_until
from contact_gateway import repository
from contact_gateway.main import create_app
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.standins.ari import AriStandIn, Behaviour

HK = "+85291234567"


def staff() -> dict[str, str]:
    return auth_headers("contact:read", "contact:write", subject="supervisor")


def agent(name: str) -> dict[str, str]:
    return auth_headers("contact:read", "contact:dial", subject=name)


async def request_call(client: httpx.AsyncClient, key: str, **body: Any) -> dict[str, Any]:
    body = {"msisdn": HK, "purpose": "care", "channel": "agent_call", "text": "Earthquake care call", **body}
    response = await client.post(
        "/contact/v1/requests", json=body, headers={**staff(), "Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def client(database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = service_settings(
        ContactGatewaySettings,
        database_url,
        nats_url,
        quiet_hours={"service": "", "care": ""},
        agent_lease_s=60,
    )
    async with running_app(create_app(settings)) as client:
        yield client


async def claim(client: httpx.AsyncClient, name: str, skills: list[str] | None = None) -> httpx.Response:
    return await client.post("/contact/v1/dialer/claim", json={"skills": skills or []}, headers=agent(name))


async def test_agents_get_calls_for_their_skills_service_first(client: httpx.AsyncClient) -> None:
    care = await request_call(client, "care", priority=1)
    cantonese = await request_call(client, "yue", purpose="service", skill="cantonese", msisdn="+85291234568")
    service = await request_call(client, "svc", purpose="service", priority=9, msisdn="+85291234569")
    first = await claim(client, "amy")
    assert first.status_code == 200, first.text
    assert first.json()["request"]["id"] == service["id"]  # service before care; no skill needed
    assert (await claim(client, "ben", ["cantonese"])).json()["request"]["id"] == cantonese["id"]
    third = (await claim(client, "cat")).json()
    assert third["request"]["id"] == care["id"]
    assert third["request"]["status"] == "sending"
    assert third["request"]["round"] == 1
    assert (await claim(client, "dan", ["cantonese"])).status_code == 204


async def test_unanswered_calls_come_back_for_another_round_then_end(client: httpx.AsyncClient) -> None:
    call = await request_call(client, "rounds", rounds=3, round_spacing_s=60)
    for round_ in (1, 2, 3):
        task = await claim(client, "amy")
        assert task.status_code == 200, f"round {round_}: {task.status_code}"
        assert task.json()["request"]["round"] == round_
        outcome = await client.post(
            f"/contact/v1/calls/{call['id']}/outcome", json={"outcome": "no_answer"}, headers=agent("amy")
        )
        assert outcome.status_code == 200, outcome.text
        if round_ < 3:
            assert outcome.json()["status"] == "accepted"
            assert (await claim(client, "amy")).status_code == 204  # spaced: not due yet
            await make_due(client, call["id"])
    final = outcome.json()
    assert (final["status"], final["reason"], final["round"]) == ("failed", "no_answer", 3)


async def make_due(client: httpx.AsyncClient, request_id: str) -> None:
    """Skip the spacing between rounds (the test does not wait an hour)."""
    app = client._transport.app  # type: ignore[attr-defined]
    async with transaction(app.state.platform.sessions) as session:
        request = await repository.get(session, request_id)
        assert request is not None
        request.due_at = utcnow()


async def test_an_answered_call_ends_with_its_disposition(client: httpx.AsyncClient) -> None:
    call = await request_call(client, "answer", rounds=3)
    await claim(client, "amy")
    done = await client.post(
        f"/contact/v1/calls/{call['id']}/outcome",
        json={
            "outcome": "answered",
            "disposition": "credit_raised",
            "notes": "Customer safe, asked for a callback.",
        },
        headers=agent("amy"),
    )
    body = done.json()
    assert (body["status"], body["outcome"], body["disposition"]) == (
        "completed",
        "answered",
        "credit_raised",
    )
    assert body["notes"] == "Customer safe, asked for a callback."
    again = await client.post(
        f"/contact/v1/calls/{call['id']}/outcome", json={"outcome": "busy"}, headers=agent("amy")
    )
    assert again.status_code == 409


async def test_only_the_holder_records_and_a_lapsed_claim_goes_to_someone_else(
    client: httpx.AsyncClient,
) -> None:
    call = await request_call(client, "lease")
    await claim(client, "amy")
    stolen = await client.post(
        f"/contact/v1/calls/{call['id']}/outcome", json={"outcome": "busy"}, headers=agent("ben")
    )
    assert stolen.status_code == 409
    assert (await claim(client, "ben")).status_code == 204  # held by amy
    app = client._transport.app  # type: ignore[attr-defined]
    async with transaction(app.state.platform.sessions) as session:
        request = await repository.get(session, call["id"])
        assert request is not None
        request.lease_until = utcnow()  # amy's claim lapses
    taken = await claim(client, "ben")
    assert taken.json()["request"]["id"] == call["id"]
    late = await client.post(
        f"/contact/v1/calls/{call['id']}/outcome", json={"outcome": "busy"}, headers=agent("amy")
    )
    assert late.status_code == 409


async def test_automated_calls_in_rounds_through_the_voice_platform(database_url: str, nats_url: str) -> None:
    async with AriStandIn(port=free_port(), ring_s=0.05) as ari:
        ari.behave_sequence(HK, [Behaviour.NO_ANSWER, Behaviour.BUSY, Behaviour.ANSWER])
        ari.behave("+85291234599", Behaviour.WRONG_NUMBER)
        settings = service_settings(
            ContactGatewaySettings,
            database_url,
            nats_url,
            voice_url=f"ari://careloop:careloop@127.0.0.1:{ari.port}?app=careloop-test",
            quiet_hours={"service": "", "care": ""},
            dispatch_poll_s=0.05,
        )
        async with running_app(create_app(settings)) as client:
            await wait_until(voice_connected(client), message="the voice platform's event socket")
            call = await request_call(client, "auto", channel="voice_call", rounds=3, round_spacing_s=60)
            wrong = await request_call(client, "wrong", channel="voice_call", rounds=3, msisdn="+85291234599")
            for round_ in (1, 2):
                body = await wait_for(
                    client, call["id"], lambda b, r=round_: b["round"] == r and b["status"] == "accepted"
                )
                await make_due(client, call["id"])
            done = await wait_for(client, call["id"], lambda b: b["status"] in ("completed", "failed"))
            assert (done["status"], done["outcome"], done["round"]) == ("completed", "answered", 3)
            outcomes = [
                s["reason"]
                for s in done["timeline"]
                if s["status"] in ("accepted", "completed") and s["reason"]
            ]
            assert outcomes == ["no_answer", "busy", "answered"]
            assert len([o for o in ari.originated if HK in o["endpoint"]]) == 3
            assert ari.played  # the announcement was played to the customer who answered
            ended = await wait_for(client, wrong["id"], lambda b: b["status"] in ("completed", "failed"))
            assert (ended["status"], ended["reason"], ended["round"]) == ("failed", "wrong_number", 1)
            del body


async def wait_for(
    client: httpx.AsyncClient, request_id: str, done: Any, timeout_s: float = 15
) -> dict[str, Any]:
    """Poll a call until ``done`` holds, and return it."""

    async def check() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/contact/v1/requests/{request_id}", headers=staff())
        ).json()
        return body if done(body) else None

    result: dict[str, Any] = await wait_until(check, timeout_s=timeout_s, message=f"call {request_id}")
    return result


def voice_connected(client: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    """Return a check that the service's voice adapter is connected."""

    async def check() -> bool:
        connectors = (await client.get("/contact/v1/connectors", headers=staff())).json()
        return bool(connectors["voice"]["connected"])

    return check

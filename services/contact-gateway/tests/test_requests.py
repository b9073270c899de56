"""Intake under the contact policy through the API: validation, idempotency, opt-out, caps,
quiet hours, templates, send commands over JetStream, TMF681 and the monitoring counts.

No SMSC is configured here, so accepted messages wait in the queue (the SMS path has its own tests).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest

from careloop_common.db import utcnow
from careloop_common.events import CloudEvent, new_event
from careloop_common.events.contact import SendRequestedV1
from careloop_common.testing import auth_headers, running_app, service_settings, wait_until
from contact_gateway.main import create_app
from contact_gateway.settings import ContactGatewaySettings

HK = "+85291234567"
OTHER = "+85291234568"


def writer() -> dict[str, str]:
    return auth_headers("contact:read", "contact:write", subject="care-desk")


@pytest.fixture
async def client(database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = service_settings(
        ContactGatewaySettings, database_url, nats_url, quiet_hours={"service": "", "care": ""}
    )
    async with running_app(create_app(settings)) as client:
        yield client


async def send(client: httpx.AsyncClient, key: str, **body: Any) -> httpx.Response:
    body.setdefault("msisdn", HK)
    body.setdefault("purpose", "service")
    if "template_id" not in body:
        body.setdefault("text", "Your complaint CMP-1 is being handled.")
    return await client.post("/contact/v1/requests", json=body, headers={**writer(), "Idempotency-Key": key})


async def test_a_request_is_accepted_with_its_timeline(client: httpx.AsyncClient) -> None:
    response = await send(client, "k1", msisdn="+852 9123 4567", priority=2)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["msisdn"] == HK
    assert body["status"] == "accepted"
    assert body["priority"] == 2
    assert body["time_zone"] == "Asia/Hong_Kong"
    assert [step["status"] for step in body["timeline"]] == ["accepted"]
    fetched = await client.get(f"/contact/v1/requests/{body['id']}", headers=writer())
    assert fetched.json()["text"] == "Your complaint CMP-1 is being handled."


async def test_the_same_key_never_makes_a_second_request(client: httpx.AsyncClient) -> None:
    first = await send(client, "same")
    again = await send(client, "same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = await send(client, "same", text="something else")
    assert other.status_code == 422
    assert other.json()["type"].endswith(":idempotency-key-reused")
    listed = await client.get("/contact/v1/requests", params={"msisdn": HK}, headers=writer())
    assert listed.json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"msisdn": "12345"}, 422, "validation-error"),
        ({"msisdn": "+852 1"}, 422, "validation-error"),
        ({"text": ""}, 422, "validation-error"),
        ({"text": None, "template_id": "no.such.template"}, 422, "unknown-template"),
        (
            {"text": None, "template_id": "complaint.received", "variables": {"reference": "CMP-1"}},
            422,
            "missing-variables",
        ),
        ({"text": "hi", "template_id": "complaint.received"}, 422, "rule-violated"),
        (
            {"not_before": "2030-01-02T00:00:00Z", "expires_at": "2030-01-01T00:00:00Z"},
            422,
            "rule-violated",
        ),
        ({"expires_at": "2020-01-01T00:00:00Z"}, 422, "rule-violated"),
        ({"time_zone": "Mars/Olympus"}, 422, "unknown-time-zone"),
        ({"rounds": 3}, 422, "rule-violated"),
        ({"priority": 0}, 422, "validation-error"),
    ],
)
async def test_bad_input_is_a_problem_and_nothing_is_queued(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, problem: str
) -> None:
    response = await send(client, "bad", **body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(f":{problem}")
    listed = await client.get("/contact/v1/requests", headers=writer())
    assert listed.json()["total"] == 0


async def test_a_template_is_filled_in_the_customers_language(client: httpx.AsyncClient) -> None:
    response = await send(
        client,
        "tpl",
        text=None,
        template_id="complaint.received",
        language="en",
        variables={"reference": "CMP-7K3QX9T2", "due": "26 Nov"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "We have your complaint CMP-7K3QX9T2 and will answer by 26 Nov."
    # A stored template replaces the built-in one.
    put = await client.put(
        "/contact/v1/templates/complaint.received/en",
        json={"body": "Complaint {reference} received; answer by {due}.", "purpose": "service"},
        headers=writer(),
    )
    assert put.status_code == 200
    assert put.json()["placeholders"] == ["reference", "due"]
    again = await send(
        client,
        "tpl2",
        text=None,
        template_id="complaint.received",
        language="en",
        variables={"reference": "CMP-2", "due": "27 Nov"},
    )
    assert again.json()["text"] == "Complaint CMP-2 received; answer by 27 Nov."
    bad = await client.put(
        "/contact/v1/templates/x/en",
        json={"body": "Hello {0.__class__}", "purpose": "care"},
        headers=writer(),
    )
    assert bad.status_code == 422
    assert bad.json()["type"].endswith(":not-a-template")


async def test_an_opted_out_customer_gets_no_care_but_still_service(client: httpx.AsyncClient) -> None:
    put = await client.put(
        "/contact/v1/opt-outs",
        params={"msisdn": HK},
        json={"channel": "sms", "purpose": "care", "opted_out": True},
        headers=writer(),
    )
    assert put.status_code == 200, put.text
    care = (await send(client, "c1", purpose="care")).json()
    service = (await send(client, "s1", purpose="service")).json()
    call = (await send(client, "v1", purpose="care", channel="agent_call")).json()
    assert (care["status"], care["reason"]) == ("suppressed", "opted_out")
    assert service["status"] == "accepted"
    assert call["status"] == "accepted"  # opted out of SMS only
    listed = await client.get("/contact/v1/opt-outs", params={"msisdn": HK}, headers=writer())
    assert [(i["channel"], i["purpose"], i["opted_out"]) for i in listed.json()["items"]] == [
        ("sms", "care", True)
    ]


async def test_care_is_capped_per_customer_and_channel_service_is_not(client: httpx.AsyncClient) -> None:
    statuses = [(await send(client, f"care{i}", purpose="care")).json() for i in range(3)]
    assert [s["status"] for s in statuses] == ["accepted", "accepted", "suppressed"]
    assert statuses[2]["reason"] == "frequency_cap_day"
    assert (await send(client, "other-customer", purpose="care", msisdn=OTHER)).json()["status"] == "accepted"
    assert (await send(client, "other-channel", purpose="care", channel="agent_call")).json()[
        "status"
    ] == "accepted"
    services = [(await send(client, f"svc{i}", purpose="service")).json()["status"] for i in range(4)]
    assert services == ["accepted"] * 4


async def test_suppressed_and_accepted_requests_are_published(
    client: httpx.AsyncClient, nats_url: str
) -> None:
    await client.put(
        "/contact/v1/opt-outs",
        params={"msisdn": HK},
        json={"channel": "sms", "purpose": "care", "opted_out": True},
        headers=writer(),
    )
    suppressed = (await send(client, "e1", purpose="care", campaign_id="cmp-42")).json()
    accepted = (await send(client, "e2", purpose="service", complaint_id="c-9")).json()
    events = await read_events(nats_url, "contact.message.>", 2)
    by_type = {e.type: e for e in events}
    data = by_type["contact.message.suppressed.v1"].data
    assert data["request_id"] == suppressed["id"]
    assert data["reason"] == "opted_out"
    assert data["campaign_id"] == "cmp-42"
    assert by_type["contact.message.accepted.v1"].data["complaint_id"] == "c-9"
    assert by_type["contact.message.accepted.v1"].data["request_id"] == accepted["id"]
    assert HK not in json.dumps([e.data for e in events])  # a pseudonym, never the number


async def read_events(nats_url: str, subject: str, count: int, timeout_s: float = 10) -> list[CloudEvent]:
    """Read events from the CONTACT stream from its start (an ephemeral consumer)."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            subscription = await js.subscribe(subject, stream="CONTACT", ordered_consumer=True)
            seen: list[CloudEvent] = []
            try:
                while len(seen) < count:
                    message = await subscription.next_msg(
                        timeout=max(deadline - asyncio.get_running_loop().time(), 0.1)
                    )
                    seen.append(CloudEvent.from_json(message.data))
                return seen
            except (TimeoutError, nats.errors.TimeoutError):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"saw {len(seen)} of {count} events on {subject}") from None
            finally:
                await subscription.unsubscribe()
    finally:
        await connection.close()


async def test_quiet_hours_hold_care_until_the_customers_morning(database_url: str, nats_url: str) -> None:
    settings = service_settings(
        ContactGatewaySettings, database_url, nats_url, quiet_hours={"care": "00:00-23:59", "service": ""}
    )
    async with running_app(create_app(settings)) as client:
        care = (await send(client, "q1", purpose="care", time_zone="America/New_York")).json()
        service = (await send(client, "q2", purpose="service", time_zone="America/New_York")).json()
        assert care["status"] == "accepted"
        due = datetime.fromisoformat(care["due_at"])
        local = due.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
        assert (local.hour, local.minute) == (23, 59)
        assert due > utcnow()
        assert care["timeline"][0]["detail"] == "waits for the customer's allowed hours"
        assert datetime.fromisoformat(service["due_at"]) <= utcnow()
        # A care message that would expire before the window opens is suppressed, with the reason.
        short = await send(
            client,
            "q3",
            purpose="care",
            time_zone="America/New_York",
            expires_at=(utcnow() + timedelta(minutes=1)).isoformat(),
        )
        if short.json()["status"] == "suppressed":  # unless this runs at 23:59 New York time
            assert short.json()["reason"] == "quiet_hours_until_expiry"


async def test_send_commands_over_jetstream_are_taken_once(client: httpx.AsyncClient, nats_url: str) -> None:
    command = SendRequestedV1(
        idempotency_key="complaint-c-1-received",
        msisdn=HK,
        purpose="service",
        template_id="complaint.received",
        variables={"reference": "CMP-1", "due": "26 Nov"},
        language="zh-Hant",
        complaint_id="c-1",
    )
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        for event_id in ("cmd-1", "cmd-2"):  # the same command sent twice, as two events
            event = new_event(command, source="/careloop/complaints", event_id=event_id)
            await js.publish(command.subject, event.to_json(), headers={"Nats-Msg-Id": event.id})
        bad = SendRequestedV1(idempotency_key="bad", msisdn=HK, purpose="service", template_id="nope")
        event = new_event(bad, source="/careloop/complaints", event_id="cmd-3")
        await js.publish(bad.subject, event.to_json(), headers={"Nats-Msg-Id": event.id})
        dead = await connection.jetstream().subscribe(
            "deadletter.>", stream="DEADLETTER", ordered_consumer=True
        )
        letter = await dead.next_msg(timeout=10)
        assert "unknown-template" in (letter.headers or {}).get("Careloop-Dead-Letter-Reason", "")
    finally:
        await connection.close()

    async def recorded() -> int:
        page = await client.get("/contact/v1/requests", params={"complaint_id": "c-1"}, headers=writer())
        return int(page.json()["total"])

    await wait_until(recorded, message="the send command's request")
    await asyncio.sleep(0.3)  # room for the duplicate command to (wrongly) make a second request
    listed = (
        await client.get("/contact/v1/requests", params={"complaint_id": "c-1"}, headers=writer())
    ).json()
    assert listed["total"] == 1
    assert listed["items"][0]["template_id"] == "complaint.received"


async def test_tmf681_message_to_two_receivers(client: httpx.AsyncClient) -> None:
    partner = auth_headers("contact:read", "contact:write", subject="partner-key", partner_id="mvno-1")
    body = {
        "content": "您的服務將於今晚進行維護。",
        "messageType": "SMS",
        "receiver": [{"phoneNumber": HK}, {"phoneNumber": OTHER}],
        "sender": {"name": "careloop"},
        "priority": "3",
        "characteristic": [{"name": "campaignId", "value": "maint-7"}],
    }
    created = await client.post(
        "/tmf-api/communicationManagement/v4/communicationMessage",
        json=body,
        headers={**partner, "Idempotency-Key": "tmf-1"},
    )
    assert created.status_code == 201, created.text
    message = created.json()
    assert message["state"] == "initial"
    assert message["@type"] == "CommunicationMessage"
    assert [r["phoneNumber"] for r in message["receiver"]] == [HK, OTHER]
    retried = await client.post(
        "/tmf-api/communicationManagement/v4/communicationMessage",
        json=body,
        headers={**partner, "Idempotency-Key": "tmf-1"},
    )
    assert retried.json()["id"] == message["id"]
    listed = await client.get("/tmf-api/communicationManagement/v4/communicationMessage", headers=partner)
    assert [m["id"] for m in listed.json()] == [message["id"]]
    assert listed.headers["X-Total-Count"] == "1"
    stranger = auth_headers("contact:read", subject="other-partner", partner_id="mvno-2")
    hidden = await client.get(
        f"/tmf-api/communicationManagement/v4/communicationMessage/{message['id']}", headers=stranger
    )
    assert hidden.status_code == 404
    cancelled = await client.delete(
        f"/tmf-api/communicationManagement/v4/communicationMessage/{message['id']}", headers=partner
    )
    assert cancelled.status_code == 204
    after = await client.get(
        f"/tmf-api/communicationManagement/v4/communicationMessage/{message['id']}", headers=partner
    )
    assert after.json()["state"] == "cancelled"
    no_receiver = await client.post(
        "/tmf-api/communicationManagement/v4/communicationMessage",
        json={**body, "receiver": [{"phoneNumber": "not a number"}]},
        headers=partner,
    )
    assert no_receiver.status_code == 422


async def test_counts_per_day_campaign_and_status(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await send(client, f"camp{i}", purpose="care", msisdn=f"+8529123450{i}", campaign_id="cmp-1")
    await client.put(
        "/contact/v1/opt-outs",
        params={"msisdn": "+85291234509"},
        json={"channel": "sms", "purpose": "care", "opted_out": True},
        headers=writer(),
    )
    await send(client, "camp9", purpose="care", msisdn="+85291234509", campaign_id="cmp-1")
    stats = (await client.get("/contact/v1/stats", params={"campaign_id": "cmp-1"}, headers=writer())).json()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert stats["items"] == [
        {"day": today, "channel": "sms", "campaign_id": "cmp-1", "counts": {"accepted": 3, "suppressed": 1}}
    ]


async def test_reading_needs_a_scope(client: httpx.AsyncClient) -> None:
    assert (await client.get("/contact/v1/requests")).status_code == 401
    reader = auth_headers("contact:read")
    refused = await client.post("/contact/v1/requests", json={}, headers={**reader, "Idempotency-Key": "x"})
    assert refused.status_code in (403, 422)
    assert (await client.post("/contact/v1/dialer/claim", json={}, headers=reader)).status_code == 403


async def test_a_send_time_with_no_utc_form_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient,
) -> None:
    partner = auth_headers("contact:read", "contact:write", subject="partner-key", partner_id="mvno-1")
    body = {
        "content": "Maintenance tonight",
        "messageType": "SMS",
        "receiver": [{"phoneNumber": HK}],
        # Valid RFC 3339, but five minutes east of midnight in year 1 is year 0 in UTC.
        "scheduledSendTime": "0001-01-01T00:00:01+00:05",
    }
    path = "/tmf-api/communicationManagement/v4/communicationMessage"
    refused = await client.post(path, json=body, headers=partner)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith(":date-out-of-range")
    assert (await client.get(path, headers=partner)).headers["X-Total-Count"] == "0"

"""Complaint intake through the service API: validation, ownership, idempotency, outbox events."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import h3
import httpx
import pytest
from complaints_desk import BILLING_FORM, COVERAGE_FORM, Desk, agent, partner
from sqlmodel import col, select

from careloop_common.db import GROUP_COMMIT_SIZE
from careloop_common.outbox import OutboxMessage
from careloop_common.testing import auth_headers
from complaints.models import Complaint


def writer() -> dict[str, str]:
    """Return an agent's principal, minted per call (a principal lives 60 s)."""
    return agent("agent-7")


FORM = COVERAGE_FORM


@pytest.fixture
def client(desk: Desk) -> httpx.AsyncClient:
    """The complaints service (coverage-map unreachable, relay off: these tests read the outbox)."""
    desk.client.app = desk.app  # type: ignore[attr-defined]
    return desk.client


async def outbox_subjects(client: httpx.AsyncClient) -> list[str]:
    async with client.app.state.platform.sessions() as session:  # type: ignore[attr-defined]
        return list(await session.scalars(select(col(OutboxMessage.subject)).order_by(col(OutboxMessage.id))))


async def test_filing_records_owner_and_stages_events(desk: Desk) -> None:
    response = await desk.client.post("/complaints/v1/complaints", json=FORM, headers=writer())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["msisdn"] == "+85291234567"
    assert body["owner"] == "agent-7"
    assert body["status"] == "acknowledged"
    assert body["queue"] == "coverage.HK.standard"
    assert body["priority"] == "normal"
    assert response.headers["location"].endswith(body["id"])
    assert [subject for subject, _ in await desk.outbox()] == [
        "complaints.complaint.filed",
        "complaints.complaint.assigned",
        "complaints.complaint.follow_up_requested",
        "contact.cmd.send",
    ]
    [assigned] = await desk.events("complaints.complaint.assigned")
    assert (assigned["owner"], assigned["queue"]) == ("agent-7", "coverage.HK.standard")
    assert await desk.kinds(body["id"]) == ["filed", "assigned", "follow_up_requested", "notice_sent"]
    again = await desk.client.get(f"/complaints/v1/complaints/{body['id']}", headers=writer())
    assert again.json()["reference"] == body["reference"]


async def test_the_customer_is_told_the_complaint_is_received_in_their_language(desk: Desk) -> None:
    filed = await desk.file(language="en", customer_class="gold")
    [notice] = await desk.notices(filed["id"])
    assert notice["template_id"] == "complaint.received"
    assert notice["language"] == "en"
    assert (notice["channel"], notice["purpose"]) == ("sms", "service")
    assert notice["priority"] == 3  # the green channel goes first at the gateway too
    assert notice["msisdn"] == "+85291234567"
    assert notice["variables"]["reference"] == filed["reference"]
    # Hong Kong keeps no summer time: local is UTC+8 all year.
    hk_due = datetime.fromisoformat(filed["resolution_due"]) + timedelta(hours=8)
    assert notice["variables"]["due"] == hk_due.strftime("%Y-%m-%d %H:%M")


async def test_a_billing_complaint_without_a_place_asks_engineering_nothing(desk: Desk) -> None:
    filed = await desk.file(BILLING_FORM)
    assert [subject for subject, _ in await desk.outbox()] == [
        "complaints.complaint.filed",
        "complaints.complaint.assigned",
        "contact.cmd.send",
    ]
    assert filed["follow_up"] is False
    assert filed["area_id"] is None
    assert filed["queue"] == "billing.HK.standard"


async def test_an_unanswered_area_gets_a_follow_up_even_unticked(desk: Desk) -> None:
    # coverage-map is unreachable here: the complaint is filed all the same, and engineering asked.
    filed = await desk.file(follow_up=False)
    assert filed["follow_up"] is True
    assert filed["answer_state"] == "unavailable"
    assert filed["area_id"] == h3.latlng_to_cell(FORM["lat"], FORM["lng"], 8)
    [follow_up] = await desk.events("complaints.complaint.follow_up_requested")
    assert follow_up["complaint_id"] == filed["id"]


async def test_portal_and_partner_complaints_wait_in_their_queue(desk: Desk) -> None:
    portal = await desk.client.post(
        "/complaints/v1/portal/complaints",
        json={k: v for k, v in FORM.items() if k != "channel"},
        headers=auth_headers("complaints:portal", subject="anonymous"),
    )
    assert portal.status_code == 201, portal.text
    assert portal.json()["answer_state"] == "unavailable"
    via_partner = await desk.file(
        {**FORM, "channel": "partner_api", "customer_class": "vip"}, headers=partner()
    )
    assert via_partner["owner"] == "queue:coverage.HK.green"
    assert via_partner["priority"] == "high"
    async with desk.sessions() as session:
        rows = {c.channel: c for c in await session.scalars(select(Complaint))}
    assert rows["web"].owner == "queue:coverage.HK.standard"
    owners = [e["owner"] for e in await desk.events("complaints.complaint.assigned")]
    assert owners == ["queue:coverage.HK.standard", "queue:coverage.HK.green"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"msisdn": "12345"}, "body.msisdn"),
        ({"symptoms": ["haunted"]}, "body.symptoms.0"),
        ({"lat": 123.0}, "body.lat"),
        ({"description": "x" * 4001}, "body.description"),
        ({"colour": "blue"}, "body.colour"),
        # Found by tests/test_api_properties.py: NUL reached PostgreSQL (a 500); coerced types passed.
        ({"description": "calls drop\x00"}, "body.description"),
        ({"follow_up": 0}, "body.follow_up"),
        ({"lat": "22.2819"}, "body.lat"),
        # A time without its offset would be stored at a guessed instant (it was a 500).
        ({"occurred_at": "2026-11-01T10:00:00"}, "body.occurred_at"),
        ({"network": "6G"}, "body.network"),
        ({"language": "fr"}, "body.language"),
        ({"handset_model": "x" * 65}, "body.handset_model"),
        ({"floor": 1000}, "body.floor"),
        ({"floor": "3"}, "body.floor"),
        ({"floor": 2.5}, "body.floor"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    response = await client.post("/complaints/v1/complaints", json={**FORM, **change}, headers=writer())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:careloop:problem:validation-error"
    assert field in [e["field"] for e in problem["errors"]]
    assert await outbox_subjects(client) == []
    listing = await client.get("/complaints/v1/complaints", headers=writer())
    assert listing.json()["total"] == 0


@pytest.mark.parametrize(
    "occurred_at",
    [
        "in two days",
        "2001-01-01T00:00:00+08:00",
        # Past the start of time once converted to UTC: a 500 before this rule.
        "0001-01-01T00:00:00+08:00",
    ],
)
async def test_when_it_happened_must_be_the_recent_past(client: httpx.AsyncClient, occurred_at: str) -> None:
    if occurred_at == "in two days":
        occurred_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    response = await client.post(
        "/complaints/v1/complaints", json={**FORM, "occurred_at": occurred_at}, headers=writer()
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:careloop:problem:occurred-at-out-of-range"
    assert response.json()["field"] == "occurred_at"
    assert await outbox_subjects(client) == []
    assert (await client.get("/complaints/v1/complaints", headers=writer())).json()["total"] == 0


async def test_a_portal_customer_cannot_claim_the_green_channel(desk: Desk) -> None:
    form = {k: v for k, v in FORM.items() if k != "channel"}
    response = await desk.client.post(
        "/complaints/v1/portal/complaints",
        json={**form, "customer_class": "vip"},
        headers=auth_headers("complaints:portal", subject="anonymous"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.customer_class"
    assert await desk.outbox() == []


async def test_the_whole_form_is_kept(client: httpx.AsyncClient) -> None:
    form = {
        **FORM,
        "occurred_at": "2026-11-20T21:30:00+08:00",
        "recurring": True,
        "handset_make": "Apple",
        "handset_model": "iPhone 15",
        "indoor": True,
        "floor": 23.0,  # JSON Schema's integer: found by tests/test_api_properties.py (was refused)
        "address": "Flat 23A, 1 Queen's Road Central",
        "contact_preference": "call",
        "language": "zh-Hans",
        "customer_class": "gold",
    }
    body = (await client.post("/complaints/v1/complaints", json=form, headers=writer())).json()
    shown = {k: body[k] for k in ("recurring", "handset_make", "handset_model", "indoor", "floor", "address")}
    assert shown == {k: form[k] for k in shown}
    assert isinstance(body["floor"], int)
    assert datetime.fromisoformat(body["occurred_at"]) == datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
    assert (body["contact_preference"], body["language"], body["customer_class"]) == (
        "call",
        "zh-Hans",
        "gold",
    )


async def test_a_customers_complaints_are_found_by_number(client: httpx.AsyncClient) -> None:
    for number in ("+85291234567", "+852 9123 4567", "+85298765432"):
        await client.post("/complaints/v1/complaints", json={**FORM, "msisdn": number}, headers=writer())
    found = await client.get("/complaints/v1/complaints", params={"msisdn": "+85291234567"}, headers=writer())
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 2
    assert {c["msisdn"] for c in found.json()["items"]} == {"+85291234567"}
    # Shaped like a number but none (the pattern cannot tell): a problem of its own, not a 500.
    nonsense = await client.get("/complaints/v1/complaints", params={"msisdn": "+0000"}, headers=writer())
    assert nonsense.status_code == 422
    assert nonsense.json()["type"] == "urn:careloop:problem:validation-error"
    unreal = await client.get("/complaints/v1/complaints", params={"msisdn": "+99912345"}, headers=writer())
    assert unreal.status_code == 422
    assert unreal.json()["type"] == "urn:careloop:problem:invalid-msisdn"


async def test_ids_and_offsets_no_database_takes_are_refused_not_500s(client: httpx.AsyncClient) -> None:
    with_nul = await client.get("/complaints/v1/complaints/a%00b", headers=writer())
    assert with_nul.status_code == 422, with_nul.text
    past_int64 = await client.get("/complaints/v1/complaints", params={"offset": 2**63}, headers=writer())
    assert past_int64.status_code == 422, past_int64.text
    assert past_int64.json()["errors"][0]["field"] == "query.offset"


async def test_follow_up_without_location_is_refused(client: httpx.AsyncClient) -> None:
    form = {k: v for k, v in FORM.items() if k not in ("lat", "lng")}
    response = await client.post("/complaints/v1/complaints", json=form, headers=writer())
    assert response.status_code == 422
    assert "location" in response.json()["errors"][0]["message"]


async def test_filings_arriving_together_share_commits_and_each_keeps_its_own_rows(desk: Desk) -> None:
    def filed_so_far() -> tuple[float, float]:
        [metric] = GROUP_COMMIT_SIZE.collect()
        found = {s.name: s.value for s in metric.samples if s.labels.get("service") == "complaints"}
        return found.get("careloop_group_commit_requests_count", 0.0), found.get(
            "careloop_group_commit_requests_sum", 0.0
        )

    commits_before, filings_before = filed_so_far()
    filed = await asyncio.gather(*(desk.file(msisdn=f"+8529123456{n % 6 + 4}") for n in range(24)))
    commits, filings = (a - b for a, b in zip(filed_so_far(), (commits_before, filings_before), strict=True))
    assert filings == 24
    assert commits < 24  # filings that waited went in together
    assert len({f["id"] for f in filed}) == 24
    for one in filed:
        assert await desk.kinds(one["id"]) == ["filed", "assigned", "follow_up_requested", "notice_sent"]
        assert len(await desk.notices(one["id"])) == 1
    assert len(await desk.events("complaints.complaint.filed")) == 24


async def test_same_idempotency_key_files_once(client: httpx.AsyncClient) -> None:
    headers = {**writer(), "Idempotency-Key": "intake-42"}
    first = await client.post("/complaints/v1/complaints", json=FORM, headers=headers)
    second = await client.post("/complaints/v1/complaints", json=FORM, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert (await client.get("/complaints/v1/complaints", headers=writer())).json()["total"] == 1
    reused = await client.post("/complaints/v1/complaints", json={**FORM, "network": "5G"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["type"] == "urn:careloop:problem:idempotency-key-reused"


async def test_scopes_are_enforced_by_the_service_itself(client: httpx.AsyncClient) -> None:
    anonymous = await client.post("/complaints/v1/complaints", json=FORM)
    assert anonymous.status_code == 401
    reader = await client.post(
        "/complaints/v1/complaints", json=FORM, headers=auth_headers("complaints:read")
    )
    assert reader.status_code == 403
    forged = await client.post(
        "/complaints/v1/complaints",
        json=FORM,
        headers=auth_headers("complaints:write", secret="not-the-gateway-secret-0000000000000"),
    )
    assert forged.status_code == 401


async def test_partners_see_only_their_own_complaints(client: httpx.AsyncClient) -> None:
    mine = auth_headers("complaints:write", "complaints:read", subject="key-a", partner_id="partner-a")
    theirs = auth_headers("complaints:write", "complaints:read", subject="key-b", partner_id="partner-b")
    filed = (
        await client.post("/complaints/v1/complaints", json={**FORM, "channel": "partner_api"}, headers=mine)
    ).json()
    assert (await client.get(f"/complaints/v1/complaints/{filed['id']}", headers=theirs)).status_code == 404
    assert (await client.get("/complaints/v1/complaints", headers=theirs)).json()["total"] == 0
    assert (await client.get("/complaints/v1/complaints", headers=mine)).json()["total"] == 1


async def test_follow_ups_name_the_customer_by_a_keyed_pseudonym(client: httpx.AsyncClient) -> None:
    for number in ("+85291234567", "+85291234567", "+85298765432"):
        response = await client.post(
            "/complaints/v1/complaints", json={**FORM, "msisdn": number}, headers=writer()
        )
        assert response.status_code == 201, response.text
    async with client.app.state.platform.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.subject) == "complaints.complaint.follow_up_requested")
            .order_by(col(OutboxMessage.id))
        )
        refs = [json.loads(row.payload)["data"]["customer_ref"] for row in rows]
    assert refs[0] == refs[1] != refs[2]  # one customer twice, then another
    assert "91234567" not in json.dumps(refs)
    key = client.app.state.platform.settings.customer_ref_secret
    assert key
    assert refs[0] == hmac.new(key.encode(), b"+85291234567", hashlib.sha256).hexdigest()[:32]
    assert refs[0] != hashlib.sha256(b"+85291234567").hexdigest()[:32]  # not reversible by trying numbers

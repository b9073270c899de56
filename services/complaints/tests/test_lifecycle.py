# ruff: noqa: RUF001 - the customer's notices are Chinese, with full-width punctuation
"""Working a complaint through the API: the state machine, who may move it, handing over, taking
it from the queue, first-contact resolution, the history, the portal timeline, and a notice to the
customer at every step they should hear of."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from complaints_desk import BILLING_FORM, COVERAGE_FORM, Desk, agent, partner, supervisor

from careloop_common.auth import PORTAL_SCOPE, PRINCIPAL_HEADER, Principal, sign_principal
from careloop_common.db import transaction
from careloop_common.testing import TEST_PRINCIPAL_SECRET, auth_headers
from complaints import clocks, lifecycle, sla
from complaints.models import Complaint
from complaints.service import tracking_hash

STATUSES = ["acknowledged", "inProgress", "pending", "held", "resolved", "closed", "rejected", "cancelled"]
# The lifecycle as TMF621 and docs/complaints.md draw it (written out here, not read from the code).
LEGAL: dict[str, set[str]] = {
    "acknowledged": {"inProgress", "pending", "held", "resolved", "rejected", "cancelled"},
    "inProgress": {"pending", "held", "resolved", "cancelled"},
    "pending": {"inProgress", "held", "resolved", "cancelled"},
    "held": {"inProgress", "pending", "resolved", "cancelled"},
    "resolved": {"closed", "inProgress"},
    "closed": set(),
    "rejected": set(),
    "cancelled": set(),
}
# How to bring a new complaint to each state.
PATH: dict[str, list[str]] = {
    "acknowledged": [],
    "inProgress": ["inProgress"],
    "pending": ["pending"],
    "held": ["held"],
    "resolved": ["resolved"],
    "closed": ["resolved", "closed"],
    "rejected": ["rejected"],
    "cancelled": ["cancelled"],
}


async def complaint_in(desk: Desk, status: str) -> dict[str, Any]:
    """File a billing complaint as agent-7 and walk it to ``status``."""
    filed = await desk.file(BILLING_FORM)
    for step in PATH[status]:
        response = await desk.move(filed["id"], step)
        assert response.status_code == 200, response.text
    return filed


@pytest.mark.parametrize("start", STATUSES)
async def test_every_transition_is_allowed_or_refused_as_the_lifecycle_says(desk: Desk, start: str) -> None:
    for target in STATUSES:
        filed = await complaint_in(desk, start)
        response = await desk.move(filed["id"], target, reason="because")
        row = await desk.row(filed["id"])
        if target in LEGAL[start]:
            assert response.status_code == 200, f"{start} → {target}: {response.text}"
            assert response.json()["status"] == target == row.status
            [*_, last] = [h for h in await desk.history(filed["id"]) if h.kind == "status_changed"]
            assert (last.from_value, last.to_value, last.actor, last.reason) == (
                start,
                target,
                "agent-7",
                "because",
            )
            [*_, event] = await desk.events("complaints.complaint.status_changed", filed["id"])
            assert (event["from_status"], event["to_status"], event["by"]) == (start, target, "agent-7")
        else:
            assert response.status_code == 409, f"{start} → {target} was allowed"
            problem = response.json()
            assert problem["type"] == "urn:careloop:problem:illegal-transition"
            assert problem["current"] == start
            assert set(problem["allowed"]) == LEGAL[start]
            assert row.status == start


async def test_only_the_owner_or_a_supervisor_moves_a_complaint(desk: Desk) -> None:
    filed = await desk.file(BILLING_FORM, headers=agent("ann"))
    other = await desk.move(filed["id"], "inProgress", headers=agent("bob"))
    assert other.status_code == 403
    assert other.json()["type"] == "urn:careloop:problem:not-owner"
    assert other.json()["owner"] == "ann"
    assert (await desk.row(filed["id"])).status == "acknowledged"
    assert (await desk.move(filed["id"], "inProgress", headers=supervisor())).status_code == 200
    assert (await desk.move(filed["id"], "held", headers=agent("ann"))).status_code == 200
    # A partner's complaint waits in the queue: the partner cannot work it, and sees only its own.
    theirs = await desk.file({**BILLING_FORM, "channel": "partner_api"}, headers=partner())
    assert (await desk.move(theirs["id"], "cancelled", headers=partner())).status_code == 403
    assert (await desk.move(filed["id"], "cancelled", headers=partner())).status_code == 404


async def test_handing_over_moves_ownership_with_a_reason(desk: Desk) -> None:
    filed = await desk.file(COVERAGE_FORM, headers=agent("ann"))
    path = f"/complaints/v1/complaints/{filed['id']}/transfer"
    body = {"to_owner": "bob", "reason": "bob covers Central", "queue": "coverage.HK.green"}
    assert (await desk.client.post(path, json=body, headers=agent("carl"))).status_code == 403
    moved = await desk.client.post(path, json=body, headers=agent("ann"))
    assert moved.status_code == 200, moved.text
    assert (moved.json()["owner"], moved.json()["queue"]) == ("bob", "coverage.HK.green")
    [entry] = [h for h in await desk.history(filed["id"]) if h.kind == "transferred"]
    assert (entry.from_value, entry.to_value, entry.actor, entry.reason) == (
        "ann",
        "bob",
        "ann",
        "bob covers Central",
    )
    assert entry.customer_visible is False
    [event] = await desk.events("complaints.complaint.transferred")
    assert (event["from_owner"], event["to_owner"], event["queue"]) == ("ann", "bob", "coverage.HK.green")
    # Ownership really moved: the old owner may no longer act, the new one may.
    assert (await desk.move(filed["id"], "inProgress", headers=agent("ann"))).status_code == 403
    assert (await desk.move(filed["id"], "inProgress", headers=agent("bob"))).status_code == 200
    same = await desk.client.post(path, json={"to_owner": "bob", "reason": "again"}, headers=agent("bob"))
    assert same.status_code == 409
    assert same.json()["type"] == "urn:careloop:problem:same-owner"
    back = await desk.client.post(
        path, json={"to_owner": "ann", "reason": "escalation"}, headers=supervisor()
    )
    assert back.status_code == 200
    assert back.json()["queue"] == "coverage.HK.green"  # no queue given: it stays
    blank = await desk.client.post(path, json={"to_owner": "dan", "reason": ""}, headers=supervisor())
    assert blank.status_code == 422


async def test_an_ended_complaint_is_not_handed_over(desk: Desk) -> None:
    filed = await complaint_in(desk, "cancelled")
    response = await desk.client.post(
        f"/complaints/v1/complaints/{filed['id']}/transfer",
        json={"to_owner": "bob", "reason": "late"},
        headers=agent(),
    )
    assert response.status_code == 409
    assert response.json()["type"] == "urn:careloop:problem:complaint-ended"


async def test_an_agent_takes_a_queued_complaint_and_the_customer_hears_of_it(desk: Desk) -> None:
    queued = await desk.file(
        {**COVERAGE_FORM, "channel": "partner_api", "language": "zh-Hans"}, headers=partner()
    )
    assert queued["owner"] == "queue:coverage.HK.standard"
    path = f"/complaints/v1/complaints/{queued['id']}/take"
    assert (await desk.client.post(path, headers=partner())).json()[
        "type"
    ] == "urn:careloop:problem:not-staff"
    # Nobody owns it yet, so nobody but a supervisor may move it.
    assert (await desk.move(queued["id"], "inProgress", headers=agent("ann"))).status_code == 403
    taken = await desk.client.post(path, headers=agent("ann"))
    assert taken.status_code == 200, taken.text
    assert taken.json()["owner"] == "ann"
    again = await desk.client.post(path, headers=agent("bob"))
    assert again.status_code == 409
    assert (again.json()["type"], again.json()["owner"]) == ("urn:careloop:problem:already-owned", "ann")
    assigned = await desk.events("complaints.complaint.assigned", queued["id"])
    assert [e["owner"] for e in assigned] == ["queue:coverage.HK.standard", "ann"]
    [*_, notice] = await desk.notices(queued["id"])
    assert notice["template_id"] == "complaint.progress"
    assert notice["language"] == "zh-Hans"
    assert notice["variables"]["progress"] == "已由专人跟进，负责同事会与您联系。"
    assert (await desk.move(queued["id"], "inProgress", headers=agent("ann"))).status_code == 200


async def test_resolved_at_first_contact_then_closed_schedules_the_revisit(desk: Desk) -> None:
    billing = await desk.file(BILLING_FORM)
    resolved = await desk.move(billing["id"], "resolved", reason="refunded the roaming charge")
    assert resolved.json()["first_contact_resolution"] is True
    assert resolved.json()["resolution"] == "refunded the roaming charge"
    [event] = await desk.events("complaints.complaint.resolved", billing["id"])
    assert event["first_contact"] is True
    closed = (await desk.move(billing["id"], "closed")).json()
    closed_at = datetime.fromisoformat(closed["closed_at"])
    assert datetime.fromisoformat(closed["revisit_due_at"]) == closed_at + timedelta(days=3)
    [closing] = await desk.events("complaints.complaint.closed", billing["id"])
    assert datetime.fromisoformat(closing["revisit_due_at"]) == closed_at + timedelta(days=3)
    # Coverage complaints are revisited later: a fix on the network takes longer to show.
    coverage = await desk.file(COVERAGE_FORM)
    await desk.move(coverage["id"], "resolved")
    row = await desk.row(coverage["id"])
    assert row.first_contact_resolution is True
    closed = (await desk.move(coverage["id"], "closed")).json()
    assert datetime.fromisoformat(closed["revisit_due_at"]) - datetime.fromisoformat(
        closed["closed_at"]
    ) == timedelta(days=7)


async def test_worked_before_resolving_is_not_first_contact(desk: Desk) -> None:
    filed = await complaint_in(desk, "inProgress")
    resolved = await desk.move(filed["id"], "resolved")
    assert resolved.json()["first_contact_resolution"] is False


async def test_the_customer_hears_of_every_step(desk: Desk) -> None:
    filed = await desk.file({**BILLING_FORM, "language": "en"})
    for status, reason in [
        ("inProgress", None),
        ("resolved", "refunded"),
        ("inProgress", "customer says not refunded"),
        ("resolved", "refunded twice over"),
        ("closed", None),
    ]:
        assert (await desk.move(filed["id"], status, reason=reason)).status_code == 200
    told = [
        (n["template_id"], n["variables"].get("progress") or n["variables"].get("resolution"))
        for n in await desk.notices(filed["id"])
    ]
    assert told == [
        ("complaint.received", None),
        ("complaint.closed", "refunded"),
        ("complaint.progress", "we are working on it again and will reply soon."),
        ("complaint.closed", "refunded twice over"),
        (
            "complaint.progress",
            "the case is closed; thank you for your patience. We will ask you shortly how we did.",
        ),
    ]
    notices = await desk.notices(filed["id"])
    assert {n["language"] for n in notices} == {"en"}
    assert {n["purpose"] for n in notices} == {"service"}
    assert {n["variables"]["reference"] for n in notices} == {filed["reference"]}
    sent = [h for h in await desk.history(filed["id"]) if h.kind == "notice_sent"]
    assert [h.from_value for h in sent] == ["acknowledged", "resolved", "reopened", "resolved", "closed"]
    [reopened] = await desk.events("complaints.complaint.reopened", filed["id"])
    assert reopened["reason"] == "customer says not refunded"


async def test_reopening_does_not_count_the_time_it_sat_resolved(desk: Desk) -> None:
    filed = await desk.file(COVERAGE_FORM)
    row = await desk.row(filed["id"])
    created, resolved_at, reopened_at = (
        row.created_at,
        row.created_at + timedelta(days=1),
        row.created_at + timedelta(days=8),
    )
    async with transaction(desk.sessions) as session:
        complaint = await session.get(Complaint, filed["id"])
        assert complaint is not None
        for to, at in (("resolved", resolved_at), ("inProgress", reopened_at)):
            lifecycle.change_status(session, complaint, to, by="agent-7", now=at, source=desk.source)
    row = await desk.row(filed["id"])
    calendar = sla.BusinessCalendar.for_region("HK")
    assert row.resolution_due == sla.due_at(
        calendar, created, timedelta(hours=72), [(resolved_at, reopened_at)]
    )
    assert row.resolution_due is not None
    assert row.resolution_due > calendar.add_business_time(created, timedelta(hours=72)) + timedelta(days=5)


async def test_history_says_who_did_what_and_partners_see_only_their_own(desk: Desk) -> None:
    filed = await complaint_in(desk, "resolved")
    page = await desk.client.get(f"/complaints/v1/complaints/{filed['id']}/history", headers=agent())
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [i["kind"] for i in items] == [
        "filed",
        "assigned",
        "notice_sent",
        "status_changed",
        "notice_sent",
    ]
    assert items[0]["actor"] == "agent-7"
    assert (items[3]["from_value"], items[3]["to_value"]) == ("acknowledged", "resolved")
    assert page.json()["total"] == 5
    assert (
        await desk.client.get(f"/complaints/v1/complaints/{filed['id']}/history", headers=partner())
    ).status_code == 404
    missing = await desk.client.get("/complaints/v1/complaints/nope/history", headers=agent())
    assert missing.status_code == 404


def tracking_headers(token: str) -> dict[str, str]:
    """Return the principal the gateway forwards for a portal customer holding a tracking token."""
    principal = Principal(
        subject=f"trk:{tracking_hash(token)}", kind="customer", roles=["customer"], scopes=[PORTAL_SCOPE]
    )
    return {PRINCIPAL_HEADER: sign_principal(principal, TEST_PRINCIPAL_SECRET)}


async def test_the_portal_timeline_shows_the_customer_each_step_and_no_staff_detail(desk: Desk) -> None:
    portal = await desk.client.post(
        "/complaints/v1/portal/complaints",
        json={k: v for k, v in COVERAGE_FORM.items() if k != "channel"},
        headers=auth_headers(PORTAL_SCOPE, subject="anonymous"),
    )
    assert portal.status_code == 201, portal.text
    receipt = portal.json()
    [complaint_id] = [
        c["id"] for c in (await desk.client.get("/complaints/v1/complaints", headers=agent())).json()["items"]
    ]
    await desk.client.post(f"/complaints/v1/complaints/{complaint_id}/take", headers=agent("ann"))
    await desk.client.post(
        f"/complaints/v1/complaints/{complaint_id}/transfer",
        json={"to_owner": "bob", "reason": "internal note"},
        headers=agent("ann"),
    )
    open_view = await desk.client.get(
        "/complaints/v1/portal/complaint", headers=tracking_headers(receipt["tracking_token"])
    )
    row = await desk.row(complaint_id)
    assert datetime.fromisoformat(open_view.json()["expected_by"]) == row.resolution_due
    await desk.move(complaint_id, "resolved", headers=agent("bob"), reason="new indoor site")
    view = await desk.client.get(
        "/complaints/v1/portal/complaint", headers=tracking_headers(receipt["tracking_token"])
    )
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["reference"] == receipt["reference"]
    assert body["msisdn_masked"] == "+852******67"
    assert body["answer_state"] == "unavailable"
    assert [(s["kind"], s["value"]) for s in body["steps"]] == [
        ("filed", "web"),
        ("follow_up_requested", "unavailable"),
        ("assigned", None),  # who took it stays inside
        ("status_changed", "resolved"),
    ]
    assert "bob" not in view.text
    assert "internal note" not in view.text
    assert body["expected_by"] is None  # resolved: no deadline left to promise


async def test_unknown_status_and_missing_complaints_are_problems(desk: Desk) -> None:
    filed = await desk.file(BILLING_FORM)
    unknown = await desk.move(filed["id"], "archived")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.status"
    missing = await desk.move("no-such-complaint", "resolved")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_clocks_after_filing_match_the_targets(desk: Desk) -> None:
    gold = await desk.file({**BILLING_FORM, "customer_class": "gold"})
    row = await desk.row(gold["id"])
    calendar = clocks.calendar_of(row)
    assert row.first_response_due == calendar.add_business_time(row.created_at, timedelta(hours=2))
    assert row.resolution_due == calendar.add_business_time(row.created_at, timedelta(hours=27))
    assert row.last_update_at == row.created_at  # the receipt SMS is the first update

"""The agent's queue: open complaints, green channel first, then the nearest deadline, with each clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from complaints_desk import BILLING_FORM, Desk, agent, partner

QUEUE = "/complaints/v1/queue"


async def queue(desk: Desk, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = await desk.client.get(QUEUE, params=params, headers=headers or agent())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_green_channel_first_then_the_nearest_deadline_and_paused_last(desk: Desk) -> None:
    first = await desk.file(BILLING_FORM)
    second = await desk.file(BILLING_FORM)
    waiting = await desk.file(BILLING_FORM)
    gold = await desk.file({**BILLING_FORM, "customer_class": "gold"})
    done = await desk.file(BILLING_FORM)
    # Working the first answers its first response: its nearest deadline is now a day away, so the
    # second (first response due within hours) comes before it though it was filed later.
    assert (await desk.move(first["id"], "inProgress")).status_code == 200
    # Pending on the customer stops every clock: no deadline, so last.
    assert (await desk.move(waiting["id"], "pending")).status_code == 200
    assert (await desk.move(done["id"], "resolved")).status_code == 200
    body = await queue(desk)
    assert [item["id"] for item in body["items"]] == [gold["id"], second["id"], first["id"], waiting["id"]]
    assert body["total"] == 4
    assert [item["priority"] for item in body["items"]] == ["high", "normal", "normal", "normal"]


async def test_each_item_shows_its_clocks(desk: Desk) -> None:
    gold = await desk.file({**BILLING_FORM, "customer_class": "gold"})
    [item] = (await queue(desk))["items"]
    assert item["id"] == gold["id"]
    row = await desk.row(gold["id"])
    clocks = {clock["name"]: clock for clock in item["clocks"]}
    assert set(clocks) == {"first_response", "next_update", "resolution"}
    assert datetime.fromisoformat(clocks["first_response"]["due_at"]) == row.first_response_due
    assert datetime.fromisoformat(clocks["resolution"]["due_at"]) == row.resolution_due
    # Two business hours for the green channel, less whatever business time has passed since filing.
    assert 0 < clocks["first_response"]["remaining_s"] <= 2 * 3600
    assert clocks["first_response"]["remaining_s"] > 2 * 3600 - 600
    assert {clock["state"] for clock in item["clocks"]} == {"ok"}
    assert not any(clock["paused"] for clock in item["clocks"])
    await desk.move(gold["id"], "pending")
    [paused] = (await queue(desk))["items"]
    assert [c["name"] for c in paused["clocks"]] == ["next_update", "resolution"]  # first response given
    assert all(c["paused"] and c["due_at"] is None for c in paused["clocks"])


async def test_filters_by_queue_owner_and_escalation(desk: Desk) -> None:
    ann = await desk.file(BILLING_FORM, headers=agent("ann"))
    bob = await desk.file({**BILLING_FORM, "customer_class": "vip"}, headers=agent("bob"))
    mine = await queue(desk, headers=agent("ann"), mine="true")
    assert [item["id"] for item in mine["items"]] == [ann["id"]]
    green = await queue(desk, queue="billing.HK.green")
    assert [item["id"] for item in green["items"]] == [bob["id"]]
    assert (await queue(desk, escalated="true"))["total"] == 0
    row = await desk.row(bob["id"])
    assert row.first_response_due is not None
    # The green channel's first response is due in two business hours; ann's in four.
    await desk.tick(row.first_response_due + timedelta(seconds=1))
    escalated = await queue(desk, escalated="true")
    assert [item["id"] for item in escalated["items"]] == [bob["id"]]
    assert [item["id"] for item in (await queue(desk, escalated="false"))["items"]] == [ann["id"]]
    bad = await desk.client.get(QUEUE, params={"queue": "no spaces"}, headers=agent())
    assert bad.status_code == 422


async def test_partners_see_only_their_own_queue(desk: Desk) -> None:
    await desk.file(BILLING_FORM)
    theirs = await desk.file({**BILLING_FORM, "channel": "partner_api"}, headers=partner())
    body = await queue(desk, headers=partner())
    assert [item["id"] for item in body["items"]] == [theirs["id"]]
    assert (await queue(desk))["total"] == 2

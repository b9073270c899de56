# ruff: noqa: RUF001 - customers answer with full-width digits and Chinese words
"""Revisit answers: read from an SMS reply to the survey, from an agent's call disposition, or
recorded by an agent through the API; once per complaint, each in the history and as an event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from complaints_desk import BILLING_FORM, Desk, agent

from careloop_common.events.contact import CallCompletedV1, ReplyReceivedV1
from complaints.consumers import REVISIT_ANSWERS
from complaints.service import parse_disposition, parse_reply


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("5", (True, 5)),
        (" 4 thanks ", (True, 4)),
        ("3", (None, 3)),
        ("１", (False, 1)),
        ("滿意", (True, None)),
        ("不满意", (False, None)),
        ("YES!", (True, None)),
        ("ｎｏ", (False, None)),
        ("45", None),
        ("6", None),
        ("the signal is still bad", None),
    ],
)
def test_a_survey_reply_is_read_as_a_score_or_a_yes_no(
    text: str, verdict: tuple[bool | None, int | None] | None
) -> None:
    assert parse_reply(text) == verdict


@pytest.mark.parametrize(
    ("disposition", "verdict"),
    [
        ("satisfied:4", (True, 4)),
        ("unsatisfied:2", (False, 2)),
        ("dissatisfied", (False, None)),
        ("satisfied", (True, None)),
        ("2", (False, 2)),
        ("score:5", (True, 5)),
        ("callback_requested", None),
        ("", None),
    ],
)
def test_a_call_disposition_is_read_as_a_verdict(
    disposition: str, verdict: tuple[bool | None, int | None] | None
) -> None:
    assert parse_disposition(disposition) == verdict


async def revisited(desk: Desk, **change: Any) -> dict[str, Any]:
    """File a billing complaint, resolve and close it, and let the scheduler ask the revisit."""
    filed = await desk.file({**BILLING_FORM, **change})
    await desk.move(filed["id"], "resolved")
    await desk.move(filed["id"], "closed")
    due = (await desk.row(filed["id"])).revisit_due_at
    assert due is not None
    assert (await desk.tick(due + timedelta(seconds=1))).revisits_sent == 1
    return filed


def reply(complaint_id: str | None, text: str, keyword: str | None = None) -> ReplyReceivedV1:
    """Return the contact gateway's event for an SMS reply."""
    return ReplyReceivedV1(
        reply_id="r-1",
        customer_ref="ref",
        keyword=keyword,
        text=text,
        complaint_id=complaint_id,
        received_at=datetime.now(UTC),
    )


def call(complaint_id: str, outcome: str, disposition: str | None) -> CallCompletedV1:
    """Return the contact gateway's event for a completed agent call."""
    return CallCompletedV1(
        request_id="c-1",
        channel="agent_call",
        purpose="care",
        customer_ref="ref",
        complaint_id=complaint_id,
        at=datetime.now(UTC),
        outcome=outcome,
        rounds=1,
        disposition=disposition,
    )


async def revisit_of(desk: Desk, complaint_id: str) -> dict[str, Any] | None:
    """Return the data of the complaint's last revisit_completed event, or None."""
    events = await desk.events("complaints.complaint.revisit_completed", complaint_id)
    return events[-1] if events else None


async def test_an_sms_reply_to_the_survey_is_the_answer_once(desk: Desk) -> None:
    filed = await revisited(desk)
    assert await desk.deliver(REVISIT_ANSWERS, reply(filed["id"], "4"), event_id="reply-1")
    answer = await revisit_of(desk, filed["id"])
    assert answer is not None
    assert (answer["satisfied"], answer["score"], answer["channel"]) == (True, 4, "sms")
    [entry] = [h for h in await desk.history(filed["id"]) if h.kind == "revisit_completed"]
    assert (entry.actor, entry.to_value) == ("customer", "satisfied:4")
    # The same delivery again, or a second reply: the first answer stands.
    assert not await desk.deliver(REVISIT_ANSWERS, reply(filed["id"], "4"), event_id="reply-1")
    await desk.deliver(REVISIT_ANSWERS, reply(filed["id"], "1"))
    assert len(await desk.events("complaints.complaint.revisit_completed")) == 1


async def test_replies_that_are_not_answers_change_nothing_or_wait_as_a_note(desk: Desk) -> None:
    open_one = await desk.file(BILLING_FORM)
    await desk.deliver(REVISIT_ANSWERS, reply(open_one["id"], "5"))  # not asked yet
    await desk.deliver(REVISIT_ANSWERS, reply(None, "5"))  # about no complaint
    filed = await revisited(desk)
    await desk.deliver(REVISIT_ANSWERS, reply(filed["id"], "STOP", keyword="STOP"))
    assert await desk.events("complaints.complaint.revisit_completed") == []
    await desk.deliver(REVISIT_ANSWERS, reply(filed["id"], "still no signal at home"))
    assert await desk.events("complaints.complaint.revisit_completed") == []
    [note] = [h for h in await desk.history(filed["id"]) if h.kind == "note"]
    assert (note.actor, note.reason) == ("customer", "still no signal at home")
    await desk.deliver(REVISIT_ANSWERS, reply(filed["id"], "不滿意"))
    answer = await revisit_of(desk, filed["id"])
    assert answer is not None
    assert (answer["satisfied"], answer["score"]) == (False, None)


async def test_an_answered_revisit_call_gives_its_disposition(desk: Desk) -> None:
    filed = await revisited(desk, contact_preference="call")
    await desk.deliver(REVISIT_ANSWERS, call(filed["id"], "no_answer", None))
    assert await revisit_of(desk, filed["id"]) is None
    assert "note" in await desk.kinds(filed["id"])
    await desk.deliver(REVISIT_ANSWERS, call(filed["id"], "answered", "unsatisfied:2"))
    answer = await revisit_of(desk, filed["id"])
    assert answer is not None
    assert (answer["satisfied"], answer["score"], answer["channel"]) == (False, 2, "call")


async def test_an_agent_records_a_revisit_answer(desk: Desk) -> None:
    open_one = await desk.file(BILLING_FORM)
    path = f"/complaints/v1/complaints/{open_one['id']}/revisit"
    body = {"satisfied": True, "score": 5, "comment": "refund arrived", "channel": "call"}
    too_early = await desk.client.post(path, json=body, headers=agent())
    assert too_early.status_code == 409
    assert (too_early.json()["type"], too_early.json()["current"]) == (
        "urn:careloop:problem:not-closed",
        "acknowledged",
    )

    await desk.move(open_one["id"], "resolved")
    await desk.move(open_one["id"], "closed")
    recorded = await desk.client.post(path, json=body, headers=agent("ann"))
    assert recorded.status_code == 201, recorded.text
    assert {k: recorded.json()[k] for k in body} == body
    again = await desk.client.post(path, json=body, headers=agent())
    assert again.status_code == 409
    assert again.json()["type"] == "urn:careloop:problem:revisit-answered"
    [event] = await desk.events("complaints.complaint.revisit_completed")
    assert (event["satisfied"], event["score"]) == (True, 5)
    [entry] = [h for h in await desk.history(open_one["id"]) if h.kind == "revisit_completed"]
    assert (entry.actor, entry.reason) == ("ann", "refund arrived")


@pytest.mark.parametrize(
    "body",
    [
        {"score": 4},
        {"satisfied": True, "score": 6},
        {"satisfied": "yes"},
        {"satisfied": True, "comment": "x" * 1001},
    ],
)
async def test_a_bad_revisit_answer_is_a_problem(desk: Desk, body: dict[str, Any]) -> None:
    filed = await desk.file(BILLING_FORM)
    response = await desk.client.post(
        f"/complaints/v1/complaints/{filed['id']}/revisit", json=body, headers=agent()
    )
    assert response.status_code == 422
    assert response.json()["type"] == "urn:careloop:problem:validation-error"

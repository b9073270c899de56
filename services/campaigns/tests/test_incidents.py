# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""Major-event care on a real database: who an incident concerns (in the area during the window,
roaming into it, entering it later, and each one's five closest contacts by calls), credit
protection, call rounds until reached, outcomes, the daily report, and bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import pytest
from campaign_data import Campaigns, deliver, mainland_profile, reading, writing
from sqlalchemy import select

from campaigns import incidents, repository
from campaigns.consumers import INCIDENT_CALLS
from careloop_common.db import transaction, utcnow
from careloop_common.events import EventContract, new_event
from careloop_common.events.contact import CallCompletedV1, MessageSuppressedV1
from careloop_common.events.feeds import CallDetailV1, LocationUpdatedV1
from careloop_common.outbox import OutboxMessage
from careloop_common.testing import auth_headers

# Wenchuan county, where the seed's earthquake struck; lng, lat as GeoJSON has them.
AREA = {
    "type": "Polygon",
    "coordinates": [[[103.3, 30.9], [103.7, 30.9], [103.7, 31.3], [103.3, 31.3], [103.3, 30.9]]],
}
INSIDE = (31.1, 103.5)  # lat, lng
ELSEWHERE = (26.07, 119.3)  # Fuzhou, the operator's home province
RESIDENT = "+8613900000001"  # in the area before the window and not seen since
VISITOR = "+8613900000002"  # roams into the area during the window
LEFT = "+8613900000003"  # was in the area, left before the window began
FAR = "+8613900000004"  # never near
LATECOMER = "+8613900000005"  # enters after the incident is declared
FRIEND = "+8613900000006"  # a subscriber who calls the resident often (an incoming contact)
FAMILY = [f"+86139100000{n:02d}" for n in range(1, 7)]  # numbers the resident calls, fewest last


def supervisor() -> dict[str, str]:
    """A supervisor's signed principal, fresh (principals expire after a minute)."""
    return auth_headers("campaigns:read", "campaigns:approve", subject="lin")


def seen(
    msisdn: str, where: tuple[float, float], at: datetime, *, roaming: bool = False
) -> LocationUpdatedV1:
    return LocationUpdatedV1(
        msisdn=msisdn,
        cell=h3.latlng_to_cell(*where, 9),  # a finer cell than kept: stored at resolution 8
        roaming=roaming,
        country="CN" if roaming else None,
        at=at,
    )


def call(msisdn: str, called: str, at: datetime, seconds: int = 60) -> CallDetailV1:
    return CallDetailV1(msisdn=msisdn, called=called, started_at=at, duration_s=seconds)


async def feed_all(campaigns: Campaigns, events: list[EventContract]) -> None:
    for payload in events:
        assert await deliver(campaigns, payload)


async def seed_the_area(campaigns: Campaigns, now: datetime) -> None:
    """The subscribers, their places around the window (it begins two hours ago) and their calls."""
    start = now - timedelta(hours=2)
    events: list[EventContract] = [
        mainland_profile(m, now - timedelta(days=30))
        for m in (RESIDENT, VISITOR, LEFT, FAR, LATECOMER, FRIEND)
    ]
    events += [
        seen(RESIDENT, INSIDE, start - timedelta(hours=5)),
        seen(VISITOR, ELSEWHERE, start - timedelta(hours=5)),
        seen(VISITOR, INSIDE, start + timedelta(minutes=30), roaming=True),
        seen(LEFT, INSIDE, start - timedelta(hours=6)),
        seen(LEFT, ELSEWHERE, start - timedelta(hours=1)),
        seen(FAR, ELSEWHERE, start + timedelta(minutes=10)),
        seen(LATECOMER, ELSEWHERE, start - timedelta(hours=1)),
    ]
    # The resident calls the family 4, 3, 2, 1, 1 and 1 times (the fifth talks longest of the last
    # three); the friend calls the resident 5 times; a short code is no one's relative; a number
    # dialled in national form is the same number.
    for n, (times, seconds) in enumerate([(4, 60), (3, 60), (2, 60), (1, 60), (1, 120), (1, 60)]):
        dialled = FAMILY[n].removeprefix("+86") if n == 0 else FAMILY[n]
        events += [call(RESIDENT, dialled, start - timedelta(days=k + 1), seconds) for k in range(times)]
    events += [call(FRIEND, RESIDENT, start - timedelta(days=k + 1)) for k in range(5)]
    events += [call(RESIDENT, "10086", start - timedelta(days=k + 1)) for k in range(6)]
    events += [call(VISITOR, FAMILY[5], start - timedelta(days=1))]
    await feed_all(campaigns, events)


def declaration(now: datetime, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "汶川地震",
        "area": {"polygon": AREA},
        "starts_at": (now - timedelta(hours=2)).isoformat(),
        "ends_at": (now + timedelta(days=2)).isoformat(),
        "content": {
            "zh-Hans": "您好，这里是关怀热线，请问您和家人平安吗？",
            "en": "Are you and your family safe?",
        },
        "round_gap_s": 600,
    }
    body.update(changes)
    return body


async def declare(campaigns: Campaigns, now: datetime, **changes: Any) -> dict[str, Any]:
    response = await campaigns.client.post(
        "/campaigns/v1/incidents", headers=writing(), json=declaration(now, **changes)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def people(campaigns: Campaigns, incident_id: str) -> dict[str, dict[str, Any]]:
    response = await campaigns.client.get(
        f"/campaigns/v1/incidents/{incident_id}/people", headers=reading(), params={"limit": 500}
    )
    assert response.status_code == 200, response.text
    return {p["msisdn"]: p for p in response.json()["items"]}


async def commands(campaigns: Campaigns, subject: str) -> list[dict[str, Any]]:
    """Return the commands of a subject staged in the outbox, oldest first."""
    async with campaigns.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.payload).where(OutboxMessage.subject == subject).order_by(OutboxMessage.id)
        )
        return [json.loads(payload)["data"] for (payload,) in rows]


async def call_result(
    campaigns: Campaigns,
    incident_id: str,
    person: dict[str, Any],
    outcome: str,
    disposition: str | None = None,
) -> None:
    """Hand the incident-calls consumer a call's final result, as the contact gateway publishes it."""
    [runner] = [r for r in campaigns.app.state.platform.consumers if r.spec.durable == INCIDENT_CALLS]
    payload = CallCompletedV1(
        request_id="r-" + person["msisdn"],
        channel="agent_call",
        purpose="service",
        customer_ref=person["customer_ref"],
        campaign_id=f"incident:{incident_id}",
        at=utcnow(),
        outcome=outcome,
        rounds=1,
        disposition=disposition,
    )
    assert await runner.apply(new_event(payload, source="/careloop/contact-gateway"), payload)


async def test_an_incident_targets_the_area_and_each_ones_five_closest_contacts(campaigns: Campaigns) -> None:
    now = utcnow()
    await seed_the_area(campaigns, now)
    incident = await declare(campaigns, now, credit_limit=9999.0)
    found = await people(campaigns, incident["id"])

    affected = {m: p["via"] for m, p in found.items() if p["role"] == "affected"}
    assert affected == {RESIDENT: "located", VISITOR: "roaming"}
    contacts = {m: p["contact_of"] for m, p in found.items() if p["role"] == "contact"}
    # The friend (5 calls in) and the four most-called family numbers; the visitor's one contact.
    assert contacts == {
        FRIEND: RESIDENT,
        **dict.fromkeys([*FAMILY[:3], FAMILY[4]], RESIDENT),
        FAMILY[5]: VISITOR,
    }
    assert incident["by_outcome"] == {"calling": 8}

    protect = await commands(campaigns, "campaigns.cmd.protect_credit")
    assert sorted(c["msisdn"] for c in protect) == [RESIDENT, VISITOR]
    assert {c["credit_limit"] for c in protect} == {9999.0}
    assert {datetime.fromisoformat(c["until"]) for c in protect} == {
        datetime.fromisoformat(incident["ends_at"])
    }
    calls = await commands(campaigns, "contact.cmd.send")
    assert sorted(c["msisdn"] for c in calls) == sorted(found)
    assert {(c["channel"], c["purpose"], c["campaign_id"]) for c in calls} == {
        ("agent_call", "service", f"incident:{incident['id']}")
    }
    assert {c["text"] for c in calls} == {"您好，这里是关怀热线，请问您和家人平安吗？"}

    # The same area given as the district's H3 cell finds the same subscribers.
    district = h3.cell_to_parent(h3.latlng_to_cell(*INSIDE, 8), 6)
    by_cells = await declare(campaigns, now, area={"cells": [district]}, contacts_per_person=0)
    assert by_cells["cells"] == [district]
    assert set(await people(campaigns, by_cells["id"])) == {RESIDENT, VISITOR}


async def test_someone_entering_the_area_during_the_window_joins_at_once(campaigns: Campaigns) -> None:
    now = utcnow()
    await seed_the_area(campaigns, now)
    incident = await declare(campaigns, now, contacts_per_person=1)
    assert set(await people(campaigns, incident["id"])) == {RESIDENT, VISITOR, FRIEND, FAMILY[5]}

    await feed_all(
        campaigns,
        [
            seen(LATECOMER, INSIDE, now + timedelta(minutes=1)),
            seen(FAR, ELSEWHERE, now + timedelta(minutes=1)),
            seen(FAR, INSIDE, now + timedelta(days=3)),  # after the window
        ],
    )
    found = await people(campaigns, incident["id"])
    assert set(found) == {RESIDENT, VISITOR, FRIEND, FAMILY[5], LATECOMER}
    assert (found[LATECOMER]["via"], found[LATECOMER]["credit_protected"]) == ("entered", True)
    # Seen in the area again: still one person, one credit command, one call.
    await feed_all(campaigns, [seen(LATECOMER, INSIDE, now + timedelta(minutes=5))])
    protect = await commands(campaigns, "campaigns.cmd.protect_credit")
    assert sorted(c["msisdn"] for c in protect) == [RESIDENT, VISITOR, LATECOMER]
    assert len([c for c in await commands(campaigns, "contact.cmd.send") if c["msisdn"] == LATECOMER]) == 1

    # A place from before the window reported late: not for the real-time path, but the periodic
    # search finds that they were in the area when it began.
    await feed_all(campaigns, [seen(FAR, INSIDE, now - timedelta(hours=2, minutes=30))])
    assert FAR not in await people(campaigns, incident["id"])
    assert await incidents.retarget(campaigns.sessions, now=utcnow(), key="k", source="/test") == 1
    assert (await people(campaigns, incident["id"]))[FAR]["via"] == "located"

    # A contact who roams into the area becomes affected: credit protected, not called twice.
    await feed_all(campaigns, [seen(FRIEND, INSIDE, now + timedelta(minutes=1), roaming=True)])
    friend = (await people(campaigns, incident["id"]))[FRIEND]
    assert (friend["role"], friend["via"], friend["credit_protected"]) == ("affected", "roaming", True)
    assert friend["rounds"] == 1


async def test_the_unreachable_get_three_rounds_and_answers_settle_the_outcome(campaigns: Campaigns) -> None:
    now = utcnow()
    await seed_the_area(campaigns, now)
    incident = await declare(campaigns, now, contacts_per_person=3)
    found = await people(campaigns, incident["id"])
    sessions = campaigns.sessions
    # A wrong number, or a number that refuses calls, ends the rounds at once.
    await call_result(campaigns, incident["id"], found[FAMILY[0]], "wrong_number")
    [runner] = [r for r in campaigns.app.state.platform.consumers if r.spec.durable == INCIDENT_CALLS]
    suppressed = MessageSuppressedV1(
        request_id="r-opted-out",
        channel="agent_call",
        purpose="service",
        customer_ref=found[FAMILY[1]]["customer_ref"],
        campaign_id=f"incident:{incident['id']}",
        at=utcnow(),
        reason="opted_out",
    )
    assert await runner.apply(new_event(suppressed, source="/careloop/contact-gateway"), suppressed)

    await call_result(campaigns, incident["id"], found[RESIDENT], "answered", "safe")
    await call_result(campaigns, incident["id"], found[VISITOR], "answered", "needs_help")
    await call_result(campaigns, incident["id"], found[FAMILY[5]], "answered")
    for round_ in (1, 2, 3):
        await call_result(campaigns, incident["id"], found[FRIEND], "no_answer")
        friend = (await people(campaigns, incident["id"]))[FRIEND]
        assert friend["rounds"] == round_
        if round_ < 3:
            assert friend["outcome"] == "calling"
            assert friend["next_round_at"] is not None
            # Not due yet: nothing placed; due after the gap: the next round goes out.
            assert await incidents.due_rounds(sessions, now=utcnow(), source="/test") == 0
            later = datetime.fromisoformat(friend["next_round_at"]) + timedelta(seconds=1)
            assert await incidents.due_rounds(sessions, now=later, source="/test") == 1
    found = await people(campaigns, incident["id"])
    outcomes = {m: (p["outcome"], p["rounds"], p["last_call"]) for m, p in found.items()}
    assert outcomes == {
        RESIDENT: ("safe", 1, "answered"),
        VISITOR: ("needs_help", 1, "answered"),
        FAMILY[5]: ("answered", 1, "answered"),
        FRIEND: ("unreachable", 3, "no_answer"),
        FAMILY[0]: ("unreachable", 1, "wrong_number"),
        FAMILY[1]: ("unreachable", 1, "suppressed:opted_out"),
    }
    keys = [
        c["idempotency_key"] for c in await commands(campaigns, "contact.cmd.send") if c["msisdn"] == FRIEND
    ]
    assert keys == [f"incident:{incident['id']}:{FRIEND}:r{n}" for n in (1, 2, 3)]
    # A late duplicate result of a settled person changes nothing.
    await call_result(campaigns, incident["id"], found[RESIDENT], "no_answer")
    assert (await people(campaigns, incident["id"]))[RESIDENT]["outcome"] == "safe"
    assert await incidents.due_rounds(sessions, now=now + timedelta(days=9), source="/test") == 0


async def test_staff_record_outcomes_and_the_daily_report_counts_them(campaigns: Campaigns) -> None:
    now = utcnow()
    await seed_the_area(campaigns, now)
    incident = await declare(campaigns, now, contacts_per_person=1, rounds=1)
    base = f"/campaigns/v1/incidents/{incident['id']}"
    found = await people(campaigns, incident["id"])
    await call_result(campaigns, incident["id"], found[FRIEND], "busy")  # rounds=1: unreachable at once
    recorded = await campaigns.client.post(
        f"{base}/people/{RESIDENT}/outcome",
        headers=supervisor(),
        json={"outcome": "needs_help", "note": "房屋倒塌，需要临时住所"},
    )
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["outcome"], recorded.json()["outcome_by"]) == ("needs_help", "lin")
    # The call that was still out comes back answered: the staff's word stands.
    await call_result(campaigns, incident["id"], found[RESIDENT], "answered", "safe")

    report = (await campaigns.client.get(f"{base}/report", headers=reading())).json()
    today = now.astimezone(ZoneInfo("Asia/Hong_Kong")).date().isoformat()
    assert report["days"] == [
        {"day": today, "added": 4, "calls": 4, "answered": 0, "safe": 0, "needs_help": 1, "unreachable": 1}
    ]
    assert (report["people"], report["affected"], report["contacts"]) == (4, 2, 2)
    assert (report["credit_protected"], report["calls"]) == (2, 4)
    assert report["by_outcome"] == {"calling": 2, "needs_help": 1, "unreachable": 1}
    assert report["unreachable_after_rounds"] == {"1": 1}

    listed = (await campaigns.client.get("/campaigns/v1/incidents", headers=reading())).json()
    assert [i["id"] for i in listed["items"]] == [incident["id"]]
    closed = await campaigns.client.post(f"{base}/close", headers=writing())
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["closed_by"]) == ("closed", "marketer")
    # Closed: no one joins, no rounds are placed, nothing more is recorded.
    await feed_all(campaigns, [seen(LATECOMER, INSIDE, now + timedelta(minutes=1))])
    assert LATECOMER not in await people(campaigns, incident["id"])
    again = await campaigns.client.post(
        f"{base}/people/{VISITOR}/outcome", headers=writing(), json={"outcome": "safe"}
    )
    assert (again.status_code, problem_type(again)) == (409, "incident-closed")


def problem_type(response: Any) -> str:
    return str(response.json()["type"]).rsplit(":", 1)[-1]


BAD_DECLARATIONS: list[tuple[dict[str, Any], int, str]] = [
    ({"area": {"polygon": {"type": "Point", "coordinates": [103.5, 31.1]}}}, 422, "invalid-area"),
    (
        {
            "area": {
                "polygon": {
                    "type": "Polygon",
                    "coordinates": [[[103.3, 30.9], [103.7, 30.9], [103.7, 31.3]]],
                }
            }
        },
        422,
        "invalid-area",
    ),
    (
        {
            "area": {
                "polygon": {
                    "type": "Polygon",
                    "coordinates": [[[103.3, 30.9], [203.7, 30.9], [103.7, 31.3], [103.1, 30.0]]],
                }
            }
        },
        422,
        "invalid-area",
    ),
    ({"area": {"cells": ["not-a-cell"]}}, 422, "invalid-area"),
    ({"area": {"cells": [h3.latlng_to_cell(*INSIDE, 10)]}}, 422, "invalid-area"),
    ({"area": {"cells": []}}, 422, "invalid-area"),
    ({"area": {"polygon": AREA, "cells": ["x"]}}, 422, "invalid-area"),
    ({"area": {}}, 422, "invalid-area"),
    ({"starts_at": "2026-12-01T00:00:00"}, 422, "invalid-window"),
    ({"ends_at": "2020-01-01T00:00:00Z"}, 422, "invalid-window"),
    ({"rounds": 9}, 422, "validation-error"),
    ({"channel": "sms"}, 422, "validation-error"),
    ({"content": {}}, 422, "validation-error"),
]


async def test_bad_input_is_a_problem_never_a_500(campaigns: Campaigns) -> None:
    now = utcnow()
    for changes, status, kind in BAD_DECLARATIONS:
        response = await campaigns.client.post(
            "/campaigns/v1/incidents", headers=writing(), json=declaration(now, **changes)
        )
        assert (response.status_code, problem_type(response)) == (status, kind), (changes, response.text)
    assert (await campaigns.client.get("/campaigns/v1/incidents", headers=reading())).json()["total"] == 0

    # Unknown incidents and people, a bad outcome, a reader declaring, closing twice.
    client = campaigns.client
    assert problem_type(await client.get("/campaigns/v1/incidents/nope", headers=reading())) == "not-found"
    assert (await client.get("/campaigns/v1/incidents/nope/report", headers=reading())).status_code == 404
    incident = await declare(campaigns, utcnow())
    base = f"/campaigns/v1/incidents/{incident['id']}"
    unknown = await client.post(f"{base}/people/{FAR}/outcome", headers=writing(), json={"outcome": "safe"})
    assert (unknown.status_code, problem_type(unknown)) == (404, "not-found")
    bad = await client.post(f"{base}/people/{FAR}/outcome", headers=writing(), json={"outcome": "dead"})
    assert (bad.status_code, problem_type(bad)) == (422, "validation-error")
    denied = await client.post("/campaigns/v1/incidents", headers=reading(), json=declaration(utcnow()))
    assert denied.status_code == 403
    assert (await client.post(f"{base}/close", headers=writing())).status_code == 200
    twice = await client.post(f"{base}/close", headers=writing())
    assert (twice.status_code, problem_type(twice)) == (409, "incident-closed")


@pytest.mark.parametrize(
    ("called", "caller", "expected"),
    [
        ("13800138000", "+8613912345678", "+8613800138000"),  # national form, in the caller's country
        ("91234567", "+85261234567", "+85291234567"),
        ("2025550123", "+12125550199", "+12025550123"),  # +1 countries share one plan
        ("020 7946 0018", "+447700900123", "+442079460018"),
        ("+85291234567", "+8613912345678", "+85291234567"),  # international form, wherever from
        ("12593", "+85261234567", None),  # a short code is no one's relative
        ("+999", "+85261234567", None),
        ("not a number", "+85261234567", None),
    ],
)
def test_a_dialled_number_is_read_in_the_callers_country(
    called: str, caller: str, expected: str | None
) -> None:
    assert incidents.callable_number(called, caller) == expected


async def test_call_counts_of_pairs_silent_for_long_are_dropped(campaigns: Campaigns) -> None:
    """The closest contacts are those called lately: counts of a pair silent past the cut-off go."""
    now = utcnow()
    async with transaction(campaigns.sessions) as session:
        await repository.write_calls(
            session,
            {
                ("+85261234567", "+85291234564"): [3, 180, now - timedelta(days=200)],
                ("+85261234567", "+85291234565"): [2, 60, now - timedelta(days=10)],
            },
        )
    async with transaction(campaigns.sessions) as session:
        assert await repository.prune_calls(session, now - timedelta(days=180)) == 1
    async with transaction(campaigns.sessions) as session:
        kept = (await session.execute(select(repository.CALL_CONTACT.c.counterpart))).scalars().all()
    assert kept == ["+85291234565"]

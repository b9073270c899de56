"""Engineering's loop on an area: assess → plan → wording published → the next lookup answers at once;
a plan done updates the level; the queue ranks by priority; the public view shows no customer data.
Events are checked where they are written: in the service's outbox, in the same transaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import h3
import httpx
import pytest
from sqlmodel import col, select

from careloop_common.db import SessionFactory, transaction
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.outbox import OutboxMessage
from careloop_common.testing import auth_headers, running_app, service_settings
from coverage_map import service
from coverage_map.main import create_app
from coverage_map.settings import CoverageSettings

CENTRAL = (22.2819, 114.1582)
AREA = h3.latlng_to_cell(*CENTRAL, 8)


def engineer() -> dict[str, str]:
    """Headers of an engineer, minted now (a principal lives 60 s)."""
    return auth_headers("coverage:read", "coverage:write", subject="eli", roles=("engineer",))


def agent() -> dict[str, str]:
    """Headers of an agent, minted now."""
    return auth_headers("coverage:read", subject="ada", roles=("agent",))


NEXT_YEAR = date.today().replace(year=date.today().year + 1, month=3, day=31)
WEAK_4G = {"4G": {"voice": "weak", "data": "weak"}}


@dataclass
class Service:
    client: httpx.AsyncClient
    sessions: SessionFactory


@pytest.fixture
async def coverage(database_url: str, nats_url: str) -> AsyncIterator[Service]:
    """The coverage-map app with its relay off, so events stay in the outbox to be read."""
    app = create_app(service_settings(CoverageSettings, database_url, nats_url, run_background=False))
    async with running_app(app) as client:
        yield Service(client, app.state.platform.sessions)


async def follow_up(sessions: SessionFactory, complaint: str, lat: float, lng: float, **extra: Any) -> str:
    """Record a follow-up request the way the consumer does."""
    request = FollowUpRequestedV1(
        complaint_id=complaint,
        reference=f"CMP-{complaint}",
        lat=lat,
        lng=lng,
        requested_at=extra.pop("at", datetime.now(UTC)),
        **extra,
    )
    async with transaction(sessions) as session:
        return (await service.record_follow_up(session, request, grid=service.Grid(8, 6), source="/test")).id


async def events(sessions: SessionFactory, subject: str) -> list[dict[str, Any]]:
    """Return the data of the events with a subject waiting in the outbox, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.subject) == subject).order_by(col(OutboxMessage.id))
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def test_assessment_drafts_wording_and_publishing_answers_the_next_lookup(coverage: Service) -> None:
    client, sessions = coverage.client, coverage.sessions
    investigation = await follow_up(sessions, "a", *CENTRAL, symptoms=["call_drop"])
    before = (await client.get(f"/coverage/v1/areas/{AREA}/lookup", headers=agent())).json()
    assert before["answer"] == "under_investigation"
    assert before["wording"] is None

    named = await client.put(
        f"/coverage/v1/districts/{h3.cell_to_parent(AREA, 6)}",
        headers=engineer(),
        json={"names": {"en": "Central", "zh-Hant": "中環", "zh-Hans": "中环"}},
    )
    assert named.status_code == 200, named.text
    assessed = await client.post(
        f"/coverage/v1/areas/{AREA}/assessments",
        headers=engineer(),
        json={"levels": WEAK_4G, "findings": "No indoor coverage in the basement"},
    )
    assert assessed.status_code == 201, assessed.text
    result = assessed.json()
    assert result["assessment"]["investigation_id"] == investigation
    drafts = {w["language"]: w for w in result["wording"]}
    assert set(drafts) == {"en", "zh-Hant", "zh-Hans"}
    assert "Central" in drafts["en"]["draft_text"]
    assert "weak" in drafts["en"]["draft_text"]
    assert "中環" in drafts["zh-Hant"]["draft_text"]
    assert all(w["published_text"] is None for w in drafts.values())
    [event] = await events(sessions, "coverage.area.assessed")
    assert event["area_id"] == AREA
    assert event["investigation_id"] == investigation
    assert {(lv["technology"], lv["service"], lv["level"]) for lv in event["levels"]} == {
        ("4G", "voice", "weak"),
        ("4G", "data", "weak"),
    }

    area = (await client.get(f"/coverage/v1/areas/{AREA}", headers=agent())).json()
    assert area["investigation"]["status"] == "assessed"
    assert {(lv["level"], lv["source"], lv["recorded_by"]) for lv in area["levels"]} == {
        ("weak", "survey", "eli")
    }

    edited = await client.put(
        f"/coverage/v1/areas/{AREA}/wording/drafts/en",
        headers=engineer(),
        json={"text": "Coverage in the Central basement is weak; engineers are on it."},
    )
    assert edited.status_code == 200
    published = await client.post(f"/coverage/v1/areas/{AREA}/wording/publish", headers=engineer(), json={})
    assert published.status_code == 200, published.text
    [event] = await events(sessions, "coverage.wording.published")
    assert event["version_number"] == 1
    assert event["texts"]["en"] == "Coverage in the Central basement is weak; engineers are on it."
    assert set(event["texts"]) == {"en", "zh-Hant", "zh-Hans"}

    # The next complaint in the area is answered at once, in the customer's language.
    nearby = (CENTRAL[0] + 0.0005, CENTRAL[1])
    assert h3.latlng_to_cell(*nearby, 8) == AREA
    answer = await client.get(
        "/coverage/v1/lookup", params={"lat": nearby[0], "lng": nearby[1], "lang": "zh-Hant"}, headers=agent()
    )
    body = answer.json()
    assert body["answer"] == "published"
    assert body["worst_level"] == "weak"
    assert body["wording"] == drafts["zh-Hant"]["draft_text"]
    assert body["wording_version"] == 1


async def test_plan_done_updates_the_level_closes_the_investigation_and_redrafts(coverage: Service) -> None:
    client, sessions = coverage.client, coverage.sessions
    await follow_up(sessions, "a", *CENTRAL)
    plan_body = {
        "action": "indoor_system",
        "target_date": NEXT_YEAR.isoformat(),
        "expected_levels": {"4G": {"voice": "good"}},
    }
    assessed = await client.post(
        f"/coverage/v1/areas/{AREA}/assessments",
        headers=engineer(),
        json={"levels": WEAK_4G, "plan": plan_body},
    )
    assert assessed.status_code == 201, assessed.text
    plan = assessed.json()["plan"]
    assert plan["status"] == "planned"
    draft_en = next(w for w in assessed.json()["wording"] if w["language"] == "en")["draft_text"]
    assert "install an indoor system" in draft_en
    assert f"March {NEXT_YEAR.year}" in draft_en
    [scheduled] = await events(sessions, "coverage.plan.scheduled")
    assert scheduled["plan_id"] == plan["id"]
    assert scheduled["target_date"] == NEXT_YEAR.isoformat()

    started = await client.patch(
        f"/coverage/v1/plans/{plan['id']}", headers=engineer(), json={"status": "in_progress"}
    )
    assert started.json()["status"] == "in_progress"
    done = await client.patch(f"/coverage/v1/plans/{plan['id']}", headers=engineer(), json={"status": "done"})
    assert done.status_code == 200, done.text
    assert done.json()["completed_at"]
    [completed] = await events(sessions, "coverage.plan.completed")
    assert completed["levels"] == [{"technology": "4G", "service": "voice", "level": "good"}]

    area = (await client.get(f"/coverage/v1/areas/{AREA}", headers=agent())).json()
    levels = {(lv["technology"], lv["service"]): (lv["level"], lv["source"]) for lv in area["levels"]}
    assert levels[("4G", "voice")] == ("good", "plan")
    assert levels[("4G", "data")] == ("weak", "survey")  # the plan did not promise data
    assert area["investigation"] is None  # closed
    en = next(w for w in area["wording"] if w["language"] == "en")["draft_text"]
    assert en.startswith("We improved the coverage")

    again = await client.patch(
        f"/coverage/v1/plans/{plan['id']}", headers=engineer(), json={"status": "cancelled"}
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_plan_rules_are_enforced(coverage: Service) -> None:
    client = coverage.client
    past = await client.post(
        f"/coverage/v1/areas/{AREA}/plans",
        headers=engineer(),
        json={
            "action": "repeater",
            "target_date": "2020-01-01",
            "expected_levels": {"4G": {"data": "normal"}},
        },
    )
    assert past.status_code == 422
    bad_action = await client.post(
        f"/coverage/v1/areas/{AREA}/plans",
        headers=engineer(),
        json={"action": "prayer", "target_date": NEXT_YEAR.isoformat(), "expected_levels": WEAK_4G},
    )
    assert bad_action.status_code == 422
    plan = await client.post(
        f"/coverage/v1/areas/{AREA}/plans",
        headers=engineer(),
        json={"action": "repeater", "target_date": NEXT_YEAR.isoformat(), "expected_levels": WEAK_4G},
    )
    assert plan.status_code == 201, plan.text
    assert (
        await client.patch(f"/coverage/v1/plans/{plan.json()['id']}", headers=agent(), json={})
    ).status_code == 403
    cancelled = await client.patch(
        f"/coverage/v1/plans/{plan.json()['id']}", headers=engineer(), json={"status": "cancelled"}
    )
    assert cancelled.json()["status"] == "cancelled"
    assert (await client.patch("/coverage/v1/plans/nope", headers=engineer(), json={})).status_code == 404
    duplicated = await client.post(
        f"/coverage/v1/areas/{AREA}/assessments", headers=engineer(), json={"levels": {"4G": {}}}
    )
    assert duplicated.status_code == 422
    malformed = await client.post(
        "/coverage/v1/areas/not-a-cell/assessments", headers=engineer(), json={"levels": WEAK_4G}
    )
    assert malformed.status_code == 422
    finer_cell = h3.latlng_to_cell(*CENTRAL, 9)  # well formed, but no area at this resolution
    not_an_area = await client.post(
        f"/coverage/v1/areas/{finer_cell}/assessments", headers=engineer(), json={"levels": WEAK_4G}
    )
    assert not_an_area.status_code == 404
    assert not_an_area.json()["type"] == "urn:careloop:problem:not-found"
    published = await client.post(f"/coverage/v1/areas/{AREA}/wording/publish", headers=engineer(), json={})
    assert published.status_code == 200  # the plan above drafted wording, so publishing works
    empty_area = h3.latlng_to_cell(22.4, 114.0, 8)
    assert (
        await client.post(f"/coverage/v1/areas/{empty_area}/wording/publish", headers=engineer(), json={})
    ).status_code == 409


async def test_lookups_at_cell_edges_and_bad_coordinates(coverage: Service) -> None:
    client = coverage.client
    boundary = h3.cell_to_boundary(AREA)
    (a_lat, a_lng), (b_lat, b_lng) = boundary[0], boundary[1]
    mid_lat, mid_lng = (a_lat + b_lat) / 2, (a_lng + b_lng) / 2
    c_lat, c_lng = h3.cell_to_latlng(AREA)
    inside = (mid_lat + (c_lat - mid_lat) * 0.01, mid_lng + (c_lng - mid_lng) * 0.01)
    outside = (mid_lat - (c_lat - mid_lat) * 0.01, mid_lng - (c_lng - mid_lng) * 0.01)
    here = await client.get(
        "/coverage/v1/lookup", params={"lat": inside[0], "lng": inside[1]}, headers=agent()
    )
    there = await client.get(
        "/coverage/v1/lookup", params={"lat": outside[0], "lng": outside[1]}, headers=agent()
    )
    assert here.json()["area_id"] == AREA
    assert there.json()["area_id"] != AREA
    assert there.json()["area_id"] in h3.grid_ring(AREA, 1)
    assert there.json()["answer"] == "unknown"

    for params in ({"lat": 91, "lng": 0}, {"lat": 0, "lng": 181}, {"lat": "north", "lng": 1}, {"lat": 1}, {}):
        bad = await client.get("/coverage/v1/lookup", params=params, headers=agent())
        assert bad.status_code == 422, params
        assert bad.headers["content-type"] == "application/problem+json"
    wrong_resolution = h3.latlng_to_cell(*CENTRAL, 9)
    assert (
        await client.get(f"/coverage/v1/areas/{wrong_resolution}/lookup", headers=agent())
    ).status_code == 404

    # Answers are cacheable: an unchanged answer is a 304 for a client that has it.
    etag = here.headers["etag"]
    again = await client.get(
        "/coverage/v1/lookup",
        params={"lat": inside[0], "lng": inside[1]},
        headers={**agent(), "If-None-Match": etag},
    )
    assert again.status_code == 304
    # …and a write on the area changes the answer at once.
    await client.post(f"/coverage/v1/areas/{AREA}/assessments", headers=engineer(), json={"levels": WEAK_4G})
    changed = await client.get(
        "/coverage/v1/lookup",
        params={"lat": inside[0], "lng": inside[1]},
        headers={**agent(), "If-None-Match": etag},
    )
    assert changed.status_code == 200
    assert changed.json()["worst_level"] == "weak"


async def test_queue_ranks_by_priority_with_survey_targets(coverage: Service) -> None:
    client, sessions = coverage.client, coverage.sessions
    now = datetime.now(UTC)
    places = {"quiet": (22.3964, 114.1095), "busy": CENTRAL, "valuable": (22.3193, 114.1694)}
    await follow_up(sessions, "q1", *places["quiet"], at=now - timedelta(days=20))
    for n in range(5):
        await follow_up(sessions, f"b{n}", *places["busy"], at=now - timedelta(hours=n), customer_ref=f"c{n}")
    for n in range(2):
        await follow_up(
            sessions, f"v{n}", *places["valuable"], at=now, customer_ref=f"v{n}", customer_class="vip"
        )
    # The same customer complaining twice is one customer.
    await follow_up(sessions, "b-again", *places["busy"], at=now, customer_ref="c0")

    queue = (await client.get("/coverage/v1/queue", headers=agent())).json()
    areas = [item["investigation"]["area_id"] for item in queue["items"]]
    expected = [h3.latlng_to_cell(*places[name], 8) for name in ("busy", "valuable", "quiet")]
    assert areas == expected
    busy, valuable, quiet = queue["items"]
    assert busy["investigation"]["complaint_count"] == 6
    assert busy["investigation"]["customer_count"] == 5
    assert valuable["investigation"]["high_value_count"] == 2
    assert busy["priority"] > valuable["priority"] > quiet["priority"]
    assert quiet["overdue"] is True
    assert busy["overdue"] is False
    opened = datetime.fromisoformat(quiet["investigation"]["opened_at"])
    assert datetime.fromisoformat(quiet["survey_due_at"]) - opened == timedelta(days=3)


async def test_public_view_shows_plans_and_levels_without_customer_data(coverage: Service) -> None:
    client, sessions = coverage.client, coverage.sessions
    await follow_up(sessions, "a", *CENTRAL, customer_ref="secret-customer", customer_class="vip")
    plan = {
        "action": "new_site",
        "target_date": NEXT_YEAR.isoformat(),
        "expected_levels": {"5G": {"data": "good"}},
    }
    await client.post(
        f"/coverage/v1/areas/{AREA}/assessments", headers=engineer(), json={"levels": WEAK_4G, "plan": plan}
    )
    await client.post(
        f"/coverage/v1/areas/{AREA}/wording/publish", headers=engineer(), json={"languages": ["en"]}
    )
    other = h3.latlng_to_cell(22.3193, 114.1694, 8)
    cancelled = await client.post(f"/coverage/v1/areas/{other}/plans", headers=engineer(), json=plan)
    await client.patch(
        f"/coverage/v1/plans/{cancelled.json()['id']}", headers=engineer(), json={"status": "cancelled"}
    )

    visitor = auth_headers("complaints:portal", subject="anonymous", roles=("customer",))
    plans = (await client.get("/coverage/v1/public/plans", headers=visitor)).json()
    assert plans["total"] == 1
    [shown] = plans["items"]
    assert shown["area_id"] == AREA
    assert shown["action"] == "new_site"
    assert shown["target_month"] == f"March {NEXT_YEAR.year}"
    checked = await client.get(
        "/coverage/v1/public/lookup",
        params={"lat": CENTRAL[0], "lng": CENTRAL[1], "lang": "en"},
        headers=visitor,
    )
    body = checked.json()
    assert {lv["level"] for lv in body["levels"]} == {"weak"}
    assert body["plan"]["status"] == "planned"
    assert body["wording"]
    text = json.dumps([plans, body])
    for private in ("secret-customer", "vip", "investigation", "complaint", "eli"):
        assert private not in text

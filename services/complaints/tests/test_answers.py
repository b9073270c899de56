# ruff: noqa: RUF001 - the customer's notices are Chinese, with full-width punctuation
"""Engineering's answer: at intake from a real coverage-map running in-process (published, under
investigation, unknown; slow, down or refusing us: filed all the same), and later through the
published-wording consumer, each open follow-up in its customer's language; end to end over NATS."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import h3
import httpx
import pytest
from complaints_desk import COVERAGE_FORM, Desk, agent, desk_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from careloop_common.db import SessionFactory, transaction
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.events.coverage import PlanScheduledV1, WordingPublishedV1
from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, auth_headers, running_app, service_settings, wait_until
from complaints.consumers import COVERAGE_ANSWERS
from complaints.main import create_app
from coverage_map import service as coverage_service
from coverage_map.main import create_app as coverage_app
from coverage_map.settings import CoverageSettings

CENTRAL = (COVERAGE_FORM["lat"], COVERAGE_FORM["lng"])
AREA = h3.latlng_to_cell(*CENTRAL, 8)
ELSEWHERE = (22.3193, 114.1694)  # Mong Kok: another area


def engineer() -> dict[str, str]:
    """Return an engineer's principal for coverage-map, minted now."""
    return auth_headers("coverage:read", "coverage:write", subject="eli", roles=("engineer",))


@dataclass
class CoverageMap:
    """coverage-map served on a real socket in this process, on its own database."""

    url: str
    client: httpx.AsyncClient
    sessions: SessionFactory

    async def publish_wording(self, area: str = AREA) -> dict[str, str]:
        """Assess an area (which drafts wording in every language), publish it, return it by language."""
        assessed = await self.client.post(
            f"/coverage/v1/areas/{area}/assessments",
            json={"levels": {"4G": {"voice": "weak", "data": "weak"}}, "findings": "no indoor coverage"},
            headers=engineer(),
        )
        assert assessed.status_code == 201, assessed.text
        published = await self.client.post(
            f"/coverage/v1/areas/{area}/wording/publish", json={}, headers=engineer()
        )
        assert published.status_code == 200, published.text
        return {w["language"]: w["published_text"] for w in published.json()}

    async def open_investigation(self, lat: float, lng: float) -> None:
        """Record a follow-up the way coverage-map's consumer does: the area is now under investigation."""
        request = FollowUpRequestedV1(
            complaint_id="earlier", reference="CMP-EARLIER", lat=lat, lng=lng, requested_at=datetime.now(UTC)
        )
        async with transaction(self.sessions) as session:
            await coverage_service.record_follow_up(
                session, request, grid=coverage_service.Grid(8, 6), source="/careloop/test"
            )


@contextlib.asynccontextmanager
async def serve_coverage_map(sqlite_url: str, nats_url: str, **overrides: Any) -> AsyncIterator[CoverageMap]:
    """Serve coverage-map on a socket, on a SQLite database of its own."""
    settings = service_settings(
        CoverageSettings,
        sqlite_url.replace("test.db", "coverage.db"),
        nats_url,
        **{"run_background": False, **overrides},
    )
    app = coverage_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield CoverageMap(server.url, client, app.state.platform.sessions)


@contextlib.asynccontextmanager
async def serve_desk(
    database_url: str, nats_url: str, coverage_url: str, **overrides: Any
) -> AsyncIterator[Desk]:
    """Run complaints asking coverage-map at ``coverage_url``.

    The deadline is generous here (a loaded test machine is not a slow coverage-map); the test of
    the deadline sets its own.
    """
    settings = {"coverage_url": coverage_url, "coverage_timeout_s": 5.0, **overrides}
    app = create_app(desk_settings(database_url, nats_url, **settings))
    async with running_app(app) as client:
        yield Desk(client, app)


@pytest.fixture
async def coverage(sqlite_url: str, nats_url: str) -> AsyncIterator[CoverageMap]:
    """coverage-map, background work off (its state is seeded through its API and service)."""
    async with serve_coverage_map(sqlite_url, nats_url) as running:
        yield running


@pytest.fixture
async def answering(database_url: str, nats_url: str, coverage: CoverageMap) -> AsyncIterator[Desk]:
    """Complaints asking the running coverage-map."""
    async with serve_desk(database_url, nats_url, coverage.url) as desk:
        yield desk


# --- the instant answer --------------------------------------------------------------------------


async def test_published_wording_answers_at_once_and_the_agent_closes_at_first_contact(
    answering: Desk, coverage: CoverageMap
) -> None:
    wording = await coverage.publish_wording()
    filed = await answering.file({**COVERAGE_FORM, "follow_up": False, "language": "zh-Hans"})
    assert (filed["answer_state"], filed["area_id"], filed["answer_version"]) == ("published", AREA, 1)
    assert filed["answer_text"] == wording["zh-Hans"]
    assert filed["answer_at"] is not None
    assert filed["follow_up"] is False  # nothing for engineering to do: the area is answered
    assert [s for s, _ in await answering.outbox()] == [
        "complaints.complaint.filed",
        "complaints.complaint.assigned",
        "complaints.complaint.answer_attached",
        "contact.cmd.send",
    ]
    [attached] = await answering.events("complaints.complaint.answer_attached")
    assert (attached["area_id"], attached["answer_state"], attached["wording_version"]) == (
        AREA,
        "published",
        1,
    )
    # The agent reads the wording to the customer and closes the case on the same call.
    assert (
        await answering.move(filed["id"], "resolved", reason="read the area's wording")
    ).status_code == 200
    closed = (await answering.move(filed["id"], "closed")).json()
    assert (closed["status"], closed["first_contact_resolution"]) == ("closed", True)
    assert await answering.kinds(filed["id"]) == [
        "filed",
        "assigned",
        "answer_attached",
        "notice_sent",
        "status_changed",
        "notice_sent",
        "status_changed",
        "notice_sent",
    ]


async def test_an_area_under_investigation_gets_a_follow_up(answering: Desk, coverage: CoverageMap) -> None:
    await coverage.open_investigation(*CENTRAL)
    filed = await answering.file({**COVERAGE_FORM, "follow_up": False, "lat": CENTRAL[0] + 0.0002})
    assert (filed["answer_state"], filed["area_id"], filed["follow_up"]) == (
        "under_investigation",
        AREA,
        True,
    )
    assert filed["answer_text"] is None
    [follow_up] = await answering.events("complaints.complaint.follow_up_requested")
    assert follow_up["complaint_id"] == filed["id"]


async def test_an_unknown_area_gets_a_follow_up(answering: Desk) -> None:
    filed = await answering.file({**COVERAGE_FORM, "lat": ELSEWHERE[0], "lng": ELSEWHERE[1]})
    assert (filed["answer_state"], filed["follow_up"]) == ("unknown", True)
    assert filed["area_id"] == h3.latlng_to_cell(*ELSEWHERE, 8)


async def test_only_coverage_complaints_ask_coverage_map(answering: Desk, coverage: CoverageMap) -> None:
    await coverage.publish_wording()
    filed = await answering.file({**COVERAGE_FORM, "category": "billing", "follow_up": False})
    assert (filed["answer_state"], filed["area_id"], filed["follow_up"]) == (None, None, False)


async def test_coverage_map_down_still_files_with_the_area_and_a_follow_up(
    database_url: str, nats_url: str
) -> None:
    async with serve_desk(database_url, nats_url, f"http://127.0.0.1:{free_port()}") as desk:
        filed = await desk.file({**COVERAGE_FORM, "follow_up": False})
        assert (filed["answer_state"], filed["area_id"], filed["follow_up"]) == ("unavailable", AREA, True)
        assert len(await desk.events("complaints.complaint.follow_up_requested")) == 1
        assert len(await desk.notices(filed["id"])) == 1


async def test_coverage_map_too_slow_is_not_waited_for(database_url: str, nats_url: str) -> None:
    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(5)
        return JSONResponse({"area_id": AREA, "answer": "published", "wording": "late", "wording_version": 9})

    async with (
        LiveServer(Starlette(routes=[Route("/coverage/v1/lookup", slow)])) as server,
        serve_desk(database_url, nats_url, server.url, coverage_timeout_s=0.3) as desk,
    ):
        started = time.monotonic()
        filed = await desk.file(COVERAGE_FORM)
        assert time.monotonic() - started < 4  # the deadline, not coverage-map, decided
        assert (filed["answer_state"], filed["area_id"], filed["answer_text"]) == ("unavailable", AREA, None)


@pytest.mark.parametrize("pause_s", [0.0, 0.5])
async def test_after_a_failed_lookup_intake_stops_asking_for_a_while(
    database_url: str, nats_url: str, pause_s: float
) -> None:
    asked: list[float] = []

    async def failing(request: Request) -> JSONResponse:
        asked.append(time.monotonic())
        return JSONResponse({"detail": "unwell"}, status_code=503)

    async with (
        LiveServer(Starlette(routes=[Route("/coverage/v1/lookup", failing)])) as server,
        serve_desk(database_url, nats_url, server.url, coverage_pause_s=pause_s) as desk,
    ):
        for _ in range(3):
            assert (await desk.file(COVERAGE_FORM))["answer_state"] == "unavailable"
        assert len(asked) == (3 if pause_s == 0 else 1)  # paused: one refusal answers the next filings
        await asyncio.sleep(pause_s + 0.1)
        await desk.file(COVERAGE_FORM)
        assert len(asked) == (4 if pause_s == 0 else 2)  # after the pause, the next filing asks again


async def test_coverage_map_refusing_us_still_files(
    database_url: str, sqlite_url: str, nats_url: str
) -> None:
    async with (
        serve_coverage_map(
            sqlite_url, nats_url, principal_secret="another-platform-secret-0123456789"
        ) as other,
        serve_desk(database_url, nats_url, other.url) as desk,
    ):
        filed = await desk.file(COVERAGE_FORM)
        assert filed["answer_state"] == "unavailable"


async def test_the_portal_receipt_carries_the_answer(answering: Desk, coverage: CoverageMap) -> None:
    wording = await coverage.publish_wording()
    receipt = await answering.client.post(
        "/complaints/v1/portal/complaints",
        json={k: v for k, v in COVERAGE_FORM.items() if k != "channel"},
        headers=auth_headers("complaints:portal", subject="anonymous"),
    )
    assert receipt.status_code == 201, receipt.text
    assert (receipt.json()["answer_state"], receipt.json()["answer_text"]) == (
        "published",
        wording["zh-Hant"],
    )


# --- answers published later ----------------------------------------------------------------------


def published(version: int, texts: dict[str, str], area: str = AREA) -> WordingPublishedV1:
    """Return coverage-map's event for new wording in an area, assessed on Friday 4 December 2026."""
    return WordingPublishedV1(
        area_id=area,
        district_id=h3.cell_to_parent(area, 6),
        version_number=version,
        texts=texts,
        published_at=datetime(2026, 12, 4, 2, tzinfo=UTC),
    )


TEXTS = {
    "zh-Hant": "此大廈室內訊號弱，明年三月加裝室內天線。",
    "zh-Hans": "此大厦室内信号弱。",
    "en": "Weak indoors; fix in March.",
}


async def test_new_wording_reaches_every_open_follow_up_in_its_language(desk: Desk) -> None:
    chinese = await desk.file(COVERAGE_FORM)
    english = await desk.file({**COVERAGE_FORM, "language": "en"})
    cancelled = await desk.file(COVERAGE_FORM)
    await desk.move(cancelled["id"], "cancelled")
    elsewhere = await desk.file({**COVERAGE_FORM, "lat": ELSEWHERE[0], "lng": ELSEWHERE[1]})
    event = published(1, TEXTS)
    assert await desk.deliver(COVERAGE_ANSWERS, event, event_id="wording-1")

    for complaint, language in ((chinese, "zh-Hant"), (english, "en")):
        row = await desk.row(complaint["id"])
        assert (row.answer_state, row.answer_text, row.answer_version) == ("published", TEXTS[language], 1)
        assert row.dispatch_at == datetime(2026, 12, 9, 1, tzinfo=UTC)  # Wednesday 09:00 in Hong Kong
    for complaint in (cancelled, elsewhere):
        assert (await desk.row(complaint["id"])).answer_state == "unavailable"
    attached = await desk.events("complaints.complaint.answer_attached")
    assert sorted(e["complaint_id"] for e in attached) == sorted([chinese["id"], english["id"]])
    assert {e["dispatch_at"] for e in attached} == {"2026-12-09T01:00:00Z"}
    [*_, told] = await desk.notices(chinese["id"])
    assert told["template_id"] == "complaint.progress"
    assert told["variables"]["progress"] == "工程部門已評估您所在地區：" + TEXTS["zh-Hant"]
    [*_, told] = await desk.notices(english["id"])
    assert told["variables"]["progress"] == "engineering assessed your area: " + TEXTS["en"]
    entry = [h for h in await desk.history(chinese["id"]) if h.kind == "answer_attached"]
    assert [(h.from_value, h.to_value, h.customer_visible) for h in entry] == [
        ("unavailable", "published", True)
    ]

    # Redelivered: nothing twice. The same version again under another id: nothing new either.
    assert not await desk.deliver(COVERAGE_ANSWERS, event, event_id="wording-1")
    assert await desk.deliver(COVERAGE_ANSWERS, event, event_id="wording-1-again")
    assert len(await desk.events("complaints.complaint.answer_attached")) == 2
    assert len(await desk.notices(chinese["id"])) == 2


async def test_a_newer_wording_replaces_the_answer_but_not_the_language(desk: Desk) -> None:
    chinese = await desk.file(COVERAGE_FORM)
    await desk.deliver(COVERAGE_ANSWERS, published(1, TEXTS))
    await desk.deliver(COVERAGE_ANSWERS, published(2, {"en": "Fixed."}))
    row = await desk.row(chinese["id"])
    assert (row.answer_text, row.answer_version) == (TEXTS["zh-Hant"], 1)
    await desk.deliver(COVERAGE_ANSWERS, published(3, {"zh-Hant": "已修復。"}))
    row = await desk.row(chinese["id"])
    assert (row.answer_text, row.answer_version) == ("已修復。", 3)


async def test_a_first_answer_falls_back_to_a_published_language(desk: Desk) -> None:
    chinese = await desk.file(COVERAGE_FORM)
    await desk.deliver(COVERAGE_ANSWERS, published(1, {"en": "Weak indoors; fix in March."}))
    assert (await desk.row(chinese["id"])).answer_text == "Weak indoors; fix in March."


async def test_a_long_wording_is_clipped_for_the_sms_but_kept_whole(desk: Desk) -> None:
    filed = await desk.file({**COVERAGE_FORM, "language": "en"})
    long_text = "Engineering surveyed the block. " * 40  # 1,280 characters
    await desk.deliver(COVERAGE_ANSWERS, published(1, {"en": long_text}))
    assert (await desk.row(filed["id"])).answer_text == long_text
    [*_, told] = await desk.notices(filed["id"])
    assert len(told["variables"]["progress"]) == 500
    assert told["variables"]["progress"].endswith("…")


async def test_a_planned_fix_shows_on_the_timeline(desk: Desk) -> None:
    filed = await desk.file(COVERAGE_FORM)
    plan = PlanScheduledV1(
        plan_id="plan-1",
        area_id=AREA,
        district_id=h3.cell_to_parent(AREA, 6),
        action="indoor_system",
        target_date=date(2027, 3, 31),
        expected_levels=[],
    )
    assert await desk.deliver(COVERAGE_ANSWERS, plan)
    [entry] = [h for h in await desk.history(filed["id"]) if h.kind == "plan_scheduled"]
    assert (entry.to_value, entry.reason, entry.customer_visible) == ("2027-03-31", "indoor_system", True)


# --- end to end over NATS ------------------------------------------------------------------------


async def test_engineerings_answer_comes_back_over_nats(
    database_url: str, sqlite_url: str, nats_url: str
) -> None:
    async with (
        serve_coverage_map(sqlite_url, nats_url, run_background=True) as coverage,
        serve_desk(database_url, nats_url, coverage.url, run_background=True) as desk,
    ):
        filed = await desk.file(COVERAGE_FORM)
        assert filed["answer_state"] == "unknown"

        async def investigated() -> bool:
            response = await coverage.client.get("/coverage/v1/investigations", headers=engineer())
            return bool(response.json()["total"])

        await wait_until(investigated, message="coverage-map to open the area's investigation")
        wording = await coverage.publish_wording()

        async def answered() -> dict[str, Any] | None:
            got = await desk.client.get(f"/complaints/v1/complaints/{filed['id']}", headers=agent())
            body: dict[str, Any] = got.json()
            return body if body["answer_state"] == "published" else None

        complaint = await wait_until(answered, message="the published wording to reach the complaint")
        assert complaint["answer_text"] == wording["zh-Hant"]
        assert complaint["dispatch_at"] is not None
        # And the next complaint in the area is answered at once.
        after = await desk.file({**COVERAGE_FORM, "lat": CENTRAL[0] + 0.0001})
        assert (after["answer_state"], after["answer_text"]) == ("published", wording["zh-Hant"])


async def test_an_areas_complaints_are_listed_by_the_area(answering: Desk) -> None:
    here = await answering.file({**COVERAGE_FORM, "lat": ELSEWHERE[0], "lng": ELSEWHERE[1]})
    await answering.file({**COVERAGE_FORM, "category": "billing"})  # no place, no area
    listed = await answering.client.get(
        "/complaints/v1/complaints", params={"area_id": here["area_id"]}, headers=agent()
    )
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["items"]] == [here["id"]]
    bad = await answering.client.get(
        "/complaints/v1/complaints", params={"area_id": "Mong Kok"}, headers=agent()
    )
    assert bad.status_code == 422

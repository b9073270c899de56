"""Follow-up requests → investigations: one per area, each complaint counted once, value noted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import h3
import pytest

from careloop_common.db import SessionFactory, transaction
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.testing import auth_headers, running_app, service_settings
from coverage_map import service
from coverage_map.main import create_app
from coverage_map.settings import CoverageSettings

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CENTRAL = (22.2819, 114.1582)


def request(complaint: str, lat: float, lng: float, minutes: int = 0, **extra: object) -> FollowUpRequestedV1:
    return FollowUpRequestedV1(
        complaint_id=complaint,
        reference=f"CMP-{complaint}",
        lat=lat,
        lng=lng,
        requested_at=T0 + timedelta(minutes=minutes),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def app_sessions(database_url: str, nats_url: str) -> AsyncIterator[tuple[object, SessionFactory]]:
    settings = service_settings(CoverageSettings, database_url, nats_url, run_background=False)
    app = create_app(settings)
    async with running_app(app) as client:
        yield client, app.state.platform.sessions


async def record(sessions: SessionFactory, req: FollowUpRequestedV1) -> str:
    async with transaction(sessions) as session:
        return (await service.record_follow_up(session, req, grid=service.Grid(8, 6), source="/test")).id


async def test_many_complaints_in_one_area_make_one_investigation(
    app_sessions: tuple[object, SessionFactory],
) -> None:
    client, sessions = app_sessions
    first = await record(sessions, request("a", *CENTRAL, symptoms=["call_drop"]))
    second = await record(
        sessions,
        request(
            "b",
            CENTRAL[0] + 0.0003,
            CENTRAL[1],
            minutes=30,
            symptoms=["call_drop", "slow_data"],
            customer_class="gold",
        ),
    )
    other = await record(sessions, request("c", 22.3193, 114.1694, minutes=5))
    assert first == second != other
    page = (await client.get("/coverage/v1/investigations", headers=auth_headers("coverage:read"))).json()  # type: ignore[attr-defined]
    top = page["items"][0]
    assert page["total"] == 2
    assert top["id"] == first
    assert top["complaint_count"] == 2
    assert top["high_value_count"] == 1
    assert top["symptom_counts"] == {"call_drop": 2, "slow_data": 1}
    assert top["last_complaint_at"].startswith("2026-11-02T09:30")
    assert top["area_id"] == h3.latlng_to_cell(*CENTRAL, 8)


async def test_the_same_complaint_counts_once(app_sessions: tuple[object, SessionFactory]) -> None:
    client, sessions = app_sessions
    await record(sessions, request("a", *CENTRAL))
    await record(sessions, request("a", *CENTRAL))
    page = (await client.get("/coverage/v1/investigations", headers=auth_headers("coverage:read"))).json()  # type: ignore[attr-defined]
    assert page["items"][0]["complaint_count"] == 1


def test_points_either_side_of_a_cell_edge_fall_in_different_areas() -> None:
    cell = h3.latlng_to_cell(*CENTRAL, 8)
    boundary = h3.cell_to_boundary(cell)
    (a_lat, a_lng), (b_lat, b_lng) = boundary[0], boundary[1]
    mid_lat, mid_lng = (a_lat + b_lat) / 2, (a_lng + b_lng) / 2
    c_lat, c_lng = h3.cell_to_latlng(cell)
    inside = service.area_of(mid_lat + (c_lat - mid_lat) * 0.01, mid_lng + (c_lng - mid_lng) * 0.01, 8)
    outside = service.area_of(mid_lat - (c_lat - mid_lat) * 0.01, mid_lng - (c_lng - mid_lng) * 0.01, 8)
    assert inside == cell
    assert outside != cell
    assert outside in h3.grid_ring(cell, 1)


async def test_reading_needs_the_coverage_scope(app_sessions: tuple[object, SessionFactory]) -> None:
    client, _ = app_sessions
    assert (await client.get("/coverage/v1/investigations")).status_code == 401  # type: ignore[attr-defined]
    denied = await client.get("/coverage/v1/investigations", headers=auth_headers("complaints:read"))  # type: ignore[attr-defined]
    assert denied.status_code == 403
    missing = await client.get("/coverage/v1/investigations/nope", headers=auth_headers("coverage:read"))  # type: ignore[attr-defined]
    assert missing.status_code == 404


async def test_ids_and_offsets_no_database_takes_are_refused_not_500s(
    app_sessions: tuple[object, SessionFactory],
) -> None:
    client, _ = app_sessions
    reader = auth_headers("coverage:read")
    with_nul = await client.get("/coverage/v1/investigations/a%00b", headers=reader)  # type: ignore[attr-defined]
    assert with_nul.status_code == 422
    past_int64 = await client.get("/coverage/v1/investigations", params={"offset": 2**63}, headers=reader)  # type: ignore[attr-defined]
    assert past_int64.status_code == 422

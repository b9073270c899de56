"""Hot spots: ranked areas and districts, weekly trends and the map, from the complaint facts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import h3
import httpx
import pytest

from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.testing import auth_headers, running_app, service_settings
from coverage_map import service
from coverage_map.main import create_app
from coverage_map.settings import CoverageSettings

T0 = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday
PERIOD = {"since": "2026-10-01T00:00:00Z", "until": "2026-11-05T00:00:00Z"}

# Res-8 areas; CENTRAL and WANCHAI share a district, MONGKOK and TST share another, SHATIN is alone.
CENTRAL = (22.2819, 114.1582)
WANCHAI = (22.2776, 114.1730)
MONGKOK = (22.3193, 114.1694)
TST = (22.2988, 114.1722)
SHATIN = (22.3817, 114.1877)


def cell(place: tuple[float, float]) -> str:
    return str(h3.latlng_to_cell(*place, 8))


def district(place: tuple[float, float]) -> str:
    return str(h3.cell_to_parent(cell(place), 6))


@pytest.fixture
async def app_sessions(
    database_url: str, nats_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, SessionFactory]]:
    settings = service_settings(CoverageSettings, database_url, nats_url, run_background=False)
    app = create_app(settings)
    async with running_app(app) as client:
        yield client, app.state.platform.sessions


class Facts:
    """Records complaints the way follow-up events do, numbering them."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.count = 0

    async def complaint(
        self,
        place: tuple[float, float],
        at: datetime = T0,
        customer: str | None = None,
        customer_class: str = "normal",
    ) -> str:
        self.count += 1
        request = FollowUpRequestedV1(
            complaint_id=f"c{self.count}",
            reference=f"CMP-{self.count}",
            lat=place[0],
            lng=place[1],
            requested_at=at,
            customer_ref=customer,
            customer_class=customer_class,
        )
        async with transaction(self.sessions) as session:
            investigation = await service.record_follow_up(
                session, request, grid=service.Grid(8, 6), source="/test"
            )
            return investigation.id

    async def level(self, place: tuple[float, float], level: str, technology: str = "4G") -> None:
        async with transaction(self.sessions) as session:
            await service.set_level(
                session, cell(place), technology, "voice", level, source="survey", source_ref=None, by="test"
            )


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    # Minted per call: a principal lives 60 s, and a long suite outlives one made at import.
    return await client.get(f"/coverage/v1/{path}", params=params, headers=auth_headers("coverage:read"))


async def seed_ranking(facts: Facts) -> dict[str, str]:
    """Four areas whose order differs for every ranking; return their open investigations.

    complaints/customers/high-value/worst: CENTRAL 5/1/0/good, TST 4/2/2/weak, MONGKOK 3/3/1/-,
    SHATIN 1/1/0/none.
    """
    investigations = {}
    for _ in range(5):  # CENTRAL: five complaints from one ordinary customer
        investigations["central"] = await facts.complaint(CENTRAL, customer="k1")
    await facts.complaint(MONGKOK, customer="m1")
    await facts.complaint(MONGKOK, customer="m2")
    # an anonymous complaint is a customer of its own, here a high-value one
    investigations["mongkok"] = await facts.complaint(MONGKOK, customer=None, customer_class="gold")
    for _ in range(3):  # the same customer counts once
        await facts.complaint(TST, customer="t1", customer_class="vip")
    investigations["tst"] = await facts.complaint(TST, customer="t2", customer_class="key_account")
    investigations["shatin"] = await facts.complaint(SHATIN, customer="s1")
    await facts.level(CENTRAL, "good")
    await facts.level(TST, "weak")
    await facts.level(TST, "good", technology="5G")
    await facts.level(SHATIN, "none")
    return investigations


async def test_each_ranking_orders_areas_by_its_own_figure(
    app_sessions: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    client, sessions = app_sessions
    investigations = await seed_ranking(Facts(sessions))
    expected = {
        "complaints": [CENTRAL, TST, MONGKOK, SHATIN],
        "customers": [MONGKOK, TST, CENTRAL, SHATIN],
        "high_value": [TST, MONGKOK, CENTRAL, SHATIN],
        "weak": [SHATIN, TST, CENTRAL, MONGKOK],
    }
    for by, places in expected.items():
        response = await get(client, "hotspots", by=by, **PERIOD)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [i["id"] for i in items] == [cell(p) for p in places], by
        assert [i["rank"] for i in items] == [1, 2, 3, 4], by

    page = (await get(client, "hotspots", **PERIOD)).json()
    assert page["by"] == "complaints"
    assert page["group"] == "area"
    figures = {
        i["id"]: (i["complaints"], i["customers"], i["high_value_customers"], i["worst_level"])
        for i in page["items"]
    }
    assert figures == {
        cell(CENTRAL): (5, 1, 0, "good"),
        cell(TST): (4, 2, 2, "weak"),
        cell(MONGKOK): (3, 3, 1, None),
        cell(SHATIN): (1, 1, 0, "none"),
    }
    top = page["items"][0]
    assert top["district_id"] == district(CENTRAL)
    assert (top["lat"], top["lng"]) == pytest.approx(h3.cell_to_latlng(cell(CENTRAL)))
    assert top["open_investigation_id"] == investigations["central"]
    assert {i["open_investigation_id"] for i in page["items"]} == set(investigations.values())

    limited = (await get(client, "hotspots", limit=2, **PERIOD)).json()["items"]
    assert [i["id"] for i in limited] == [cell(CENTRAL), cell(TST)]


async def test_only_complaints_in_the_period_count(
    app_sessions: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    client, sessions = app_sessions
    facts = Facts(sessions)
    now = utcnow()
    await facts.complaint(CENTRAL, at=now - timedelta(days=40))
    await facts.complaint(CENTRAL, at=now - timedelta(days=39))
    await facts.complaint(MONGKOK, at=now - timedelta(days=2))

    recent = (await get(client, "hotspots")).json()  # default: the last 30 days
    assert [(i["id"], i["complaints"]) for i in recent["items"]] == [(cell(MONGKOK), 1)]
    assert datetime.fromisoformat(recent["until"]) - datetime.fromisoformat(recent["since"]) == timedelta(
        days=30
    )

    old = (
        await get(
            client,
            "hotspots",
            since=(now - timedelta(days=45)).isoformat(),
            until=(now - timedelta(days=30)).isoformat(),
        )
    ).json()
    assert [(i["id"], i["complaints"]) for i in old["items"]] == [(cell(CENTRAL), 2)]

    # since is inclusive and until exclusive, to the microsecond
    edge = now - timedelta(days=39)
    inclusive = (
        await get(
            client, "hotspots", since=edge.isoformat(), until=(edge + timedelta(microseconds=1)).isoformat()
        )
    ).json()
    assert [i["complaints"] for i in inclusive["items"]] == [1]
    exclusive = (
        await get(client, "hotspots", since=(edge - timedelta(days=1)).isoformat(), until=edge.isoformat())
    ).json()
    assert [i["complaints"] for i in exclusive["items"]] == [1]
    assert (
        await get(client, "hotspots", since=(edge - timedelta(hours=1)).isoformat(), until=edge.isoformat())
    ).json()["items"] == []


async def test_districts_gather_their_areas(app_sessions: tuple[httpx.AsyncClient, SessionFactory]) -> None:
    client, sessions = app_sessions
    facts = Facts(sessions)
    # one customer complains in two areas of the same district: one customer of that district
    await facts.complaint(CENTRAL, customer="x", customer_class="gold")
    await facts.complaint(WANCHAI, customer="x", customer_class="gold")
    await facts.complaint(WANCHAI, customer="y")
    await facts.complaint(MONGKOK, customer="m1")
    await facts.complaint(TST, customer="m2")
    await facts.complaint(SHATIN, customer="s1")
    await facts.level(WANCHAI, "weak")
    await facts.level(CENTRAL, "normal")

    page = (await get(client, "hotspots", group="district", **PERIOD)).json()
    assert page["group"] == "district"
    assert [(i["id"], i["complaints"], i["customers"], i["high_value_customers"]) for i in page["items"]] == [
        (district(CENTRAL), 3, 2, 1),
        (district(MONGKOK), 2, 2, 0),
        (district(SHATIN), 1, 1, 0),
    ]
    first = page["items"][0]
    assert first["worst_level"] == "weak"
    assert first["district_id"] is None
    assert first["open_investigation_id"] is None
    assert (first["lat"], first["lng"]) == pytest.approx(h3.cell_to_latlng(district(CENTRAL)))

    by_customers = (await get(client, "hotspots", group="district", by="customers", **PERIOD)).json()
    assert [i["id"] for i in by_customers["items"]][:2] == [district(CENTRAL), district(MONGKOK)]

    inside = (await get(client, "hotspots", district_id=district(MONGKOK), **PERIOD)).json()
    assert sorted(i["id"] for i in inside["items"]) == sorted([cell(MONGKOK), cell(TST)])
    assert all(i["district_id"] == district(MONGKOK) for i in inside["items"])
    assert inside["district_id"] == district(MONGKOK)


async def test_trends_count_calendar_weeks_and_show_the_empty_ones(
    app_sessions: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    client, sessions = app_sessions
    facts = Facts(sessions)
    monday = datetime(2026, 11, 2, tzinfo=UTC)  # the week holding T0
    await facts.complaint(CENTRAL, at=monday, customer="a")  # first instant of T0's week
    await facts.complaint(CENTRAL, at=monday + timedelta(days=1), customer="a")
    await facts.complaint(
        MONGKOK, at=monday - timedelta(microseconds=1), customer="b"
    )  # last of the week before
    await facts.complaint(CENTRAL, at=monday - timedelta(days=20), customer=None)
    await facts.complaint(CENTRAL, at=monday - timedelta(days=20), customer=None)
    await facts.complaint(SHATIN, at=monday - timedelta(weeks=5), customer="c")  # before the 4 weeks asked
    await facts.complaint(TST, at=monday - timedelta(weeks=3), customer="d")  # first instant of the 4 weeks
    await facts.complaint(TST, at=monday - timedelta(weeks=3, microseconds=1), customer="e")  # just before

    network = (await get(client, "hotspots/trends", weeks=4, until=T0.isoformat())).json()
    weeks = [(w["week_start"], w["complaints"], w["customers"]) for w in network["weeks"]]
    assert weeks == [
        ("2026-10-12T00:00:00Z", 3, 3),
        ("2026-10-19T00:00:00Z", 0, 0),
        ("2026-10-26T00:00:00Z", 1, 1),
        ("2026-11-02T00:00:00Z", 2, 1),
    ]
    assert network["area_id"] is None
    assert network["district_id"] is None

    area = (await get(client, "hotspots/trends", weeks=4, until=T0.isoformat(), area_id=cell(CENTRAL))).json()
    assert [w["complaints"] for w in area["weeks"]] == [2, 0, 0, 2]
    in_district = (
        await get(client, "hotspots/trends", weeks=2, until=T0.isoformat(), district_id=district(MONGKOK))
    ).json()
    assert [w["complaints"] for w in in_district["weeks"]] == [1, 0]

    default = (await get(client, "hotspots/trends")).json()["weeks"]
    assert len(default) == 8
    starts = [datetime.fromisoformat(w["week_start"]) for w in default]
    assert all(s.weekday() == 0 and s.time() == datetime.min.time() for s in starts)
    assert starts[-1] <= utcnow() < starts[-1] + timedelta(weeks=1)


async def test_the_map_is_valid_geojson_in_rank_order(
    app_sessions: tuple[httpx.AsyncClient, SessionFactory],
) -> None:
    client, sessions = app_sessions
    await seed_ranking(Facts(sessions))
    response = await get(client, "hotspots/geojson", by="high_value", **PERIOD)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    ranked = (await get(client, "hotspots", by="high_value", **PERIOD)).json()["items"]
    assert [f["id"] for f in collection["features"]] == [i["id"] for i in ranked]
    assert [f["properties"] for f in collection["features"]] == ranked

    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Polygon"
        (ring,) = feature["geometry"]["coordinates"]
        assert len(ring) == 7  # a hexagon, closed
        assert ring[0] == ring[-1]
        assert all(len(position) == 2 for position in ring)
        # [lng, lat]: Hong Kong is east of 113° and north of 22°, so swapped pairs would show
        assert all(113.8 < lng < 114.5 and 22.1 < lat < 22.6 for lng, lat in ring)
        # every corner is a corner of the feature's own cell
        corners = {(round(lat, 9), round(lng, 9)) for lat, lng in h3.cell_to_boundary(feature["id"])}
        assert {(round(lat, 9), round(lng, 9)) for lng, lat in ring} == corners
        # exterior rings run counter-clockwise (RFC 7946's right-hand rule)
        twice_area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairwise(ring))
        assert twice_area > 0

    districts = (await get(client, "hotspots/geojson", group="district", **PERIOD)).json()
    assert {f["id"] for f in districts["features"]} == {
        district(CENTRAL),
        district(MONGKOK),
        district(SHATIN),
    }


BAD_PARAMETERS: list[tuple[str, dict[str, Any]]] = [
    ("hotspots", {"by": "loudest"}),
    ("hotspots", {"group": "street"}),
    ("hotspots", {"limit": 0}),
    ("hotspots", {"limit": 501}),
    ("hotspots", {"since": "yesterday"}),
    ("hotspots", {"since": "2026-11-05T00:00:00Z", "until": "2026-11-05T00:00:00Z"}),
    ("hotspots", {"since": "2026-11-06T00:00:00Z", "until": "2026-11-05T00:00:00Z"}),
    ("hotspots", {"until": "0001-01-02T00:00:00Z"}),  # 30 days before it is off the calendar
    ("hotspots", {"district_id": "not-a-cell"}),
    ("hotspots", {"district_id": "x" * 17}),
    ("hotspots/geojson", {"by": "loudest"}),
    ("hotspots/geojson", {"limit": 501}),
    ("hotspots/geojson", {"since": "2026-11-06T00:00:00Z", "until": "2026-11-05T00:00:00Z"}),
    ("hotspots/trends", {"weeks": 0}),
    ("hotspots/trends", {"weeks": 53}),
    ("hotspots/trends", {"weeks": "many"}),
    ("hotspots/trends", {"area_id": "88410349b5fffff", "district_id": "86410349fffffff"}),
    ("hotspots/trends", {"until": "9999-12-31T00:00:00Z"}),
    ("hotspots/trends", {"until": "0001-01-01T00:00:00Z"}),
]


@pytest.fixture
async def sqlite_client(sqlite_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A running service on SQLite only, for checks the database plays no part in."""
    settings = service_settings(CoverageSettings, sqlite_url, nats_url, run_background=False)
    async with running_app(create_app(settings)) as client:
        yield client


# Well formed, but no such district or area at the configured resolutions.
UNKNOWN_PLACES: list[tuple[str, dict[str, Any]]] = [
    ("hotspots", {"district_id": "88410349b5fffff"}),  # an area, not a district
    ("hotspots/trends", {"area_id": "86410349fffffff"}),  # a district, not an area
    ("hotspots/trends", {"district_id": "88410349b5fffff"}),  # an area, not a district
]


async def test_bad_parameters_are_422_problems(sqlite_client: httpx.AsyncClient) -> None:
    for path, params in BAD_PARAMETERS:
        response = await get(sqlite_client, path, **params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"] == "application/problem+json", (path, params)
        kinds = ("urn:careloop:problem:validation-error", "urn:careloop:problem:rule-violated")
        assert response.json()["type"] in kinds, (path, params)


async def test_unknown_places_are_404_problems(sqlite_client: httpx.AsyncClient) -> None:
    for path, params in UNKNOWN_PLACES:
        response = await get(sqlite_client, path, **params)
        assert response.status_code == 404, (path, params, response.text)
        assert response.json()["type"] == "urn:careloop:problem:not-found", (path, params)


async def test_hot_spots_need_the_coverage_scope(sqlite_client: httpx.AsyncClient) -> None:
    for path in ("hotspots", "hotspots/trends", "hotspots/geojson"):
        assert (await sqlite_client.get(f"/coverage/v1/{path}")).status_code == 401
        denied = await sqlite_client.get(f"/coverage/v1/{path}", headers=auth_headers("complaints:read"))
        assert denied.status_code == 403

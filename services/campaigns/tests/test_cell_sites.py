"""The cell-site registry on a real database: sites stored and read, a bad batch refused whole, and
incidents declared by network cell ids resolved through it (unknown ids refused, nothing written)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import h3
import pytest
from campaign_data import Campaigns, deliver, held, mainland_profile, reading, writing
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import func, select

from campaigns.consumers import AUDIENCE
from campaigns.models import NetworkCellSite
from careloop_common.db import transaction, utcnow
from careloop_common.events import new_event
from careloop_common.events.feeds import LocationUpdatedV1

SITES = "/campaigns/v1/cell-sites"
# Wenchuan county's town and Fuzhou, far apart: a cell site in each.
WENCHUAN = {"cell_id": "460-00-1234567-12", "lat": 31.1, "lng": 103.5, "name": "Wenchuan town"}
FUZHOU = {"cell_id": "460-00-7654321-3", "lat": 26.07, "lng": 119.3}
GSM = {"cell_id": "454-06-1234-5678", "lat": 22.2819, "lng": 114.1582, "name": "Central"}
THERE = "+8613900000011"  # seen at the Wenchuan site during the window
AWAY = "+8613900000012"  # seen at the Fuzhou site


def problem_type(response: Any) -> str:
    return str(response.json()["type"]).rsplit(":", 1)[-1]


async def put_sites(campaigns: Campaigns, items: list[dict[str, Any]]) -> Any:
    return await campaigns.client.put(SITES, headers=writing(), json={"items": items})


async def stored_sites(campaigns: Campaigns) -> int:
    async with transaction(campaigns.sessions) as session:
        return int(await session.scalar(select(func.count()).select_from(NetworkCellSite)) or 0)


async def test_sites_are_stored_with_their_h3_cell_and_read_back(campaigns: Campaigns) -> None:
    stored = await put_sites(campaigns, [WENCHUAN, FUZHOU, GSM])
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"upserted": 3}

    one = await campaigns.client.get(f"{SITES}/{WENCHUAN['cell_id']}", headers=reading())
    assert one.status_code == 200, one.text
    assert one.json() | {"updated_at": None} == {
        **WENCHUAN,
        "cell": h3.latlng_to_cell(31.1, 103.5, 8),
        "updated_at": None,
    }

    page = await campaigns.client.get(SITES, headers=reading(), params={"limit": 2, "offset": 1})
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 1)
    assert [s["cell_id"] for s in body["items"]] == ["460-00-1234567-12", "460-00-7654321-3"]

    # A site moved and renamed is replaced: its H3 cell follows the position.
    moved = await put_sites(campaigns, [{**FUZHOU, "lat": 26.08, "lng": 119.31, "name": "Gulou"}])
    assert moved.status_code == 200, moved.text
    again = (await campaigns.client.get(f"{SITES}/{FUZHOU['cell_id']}", headers=reading())).json()
    assert (again["lat"], again["name"], again["cell"]) == (
        26.08,
        "Gulou",
        h3.latlng_to_cell(26.08, 119.31, 8),
    )
    assert await stored_sites(campaigns) == 3

    # An id given twice in one batch takes its last item.
    twice = await put_sites(campaigns, [GSM, {**GSM, "lat": 22.3, "name": "Central 2"}])
    assert (twice.status_code, twice.json()) == (200, {"upserted": 1})
    central = (await campaigns.client.get(f"{SITES}/{GSM['cell_id']}", headers=reading())).json()
    assert (central["lat"], central["name"]) == (22.3, "Central 2")

    unknown = await campaigns.client.get(f"{SITES}/460-00-1-1", headers=reading())
    assert (unknown.status_code, problem_type(unknown)) == (404, "not-found")
    malformed = await campaigns.client.get(f"{SITES}/cell-one", headers=reading())
    assert (malformed.status_code, problem_type(malformed)) == (422, "validation-error")


BAD_BATCHES: list[tuple[list[dict[str, Any]], str]] = [
    ([WENCHUAN, {**FUZHOU, "lat": 91.0}], "body.items.1.lat"),
    ([WENCHUAN, {**FUZHOU, "lng": "119.3"}], "body.items.1.lng"),
    ([{**WENCHUAN, "cell_id": "460-00-12a4567-12"}, FUZHOU], "body.items.0.cell_id"),
    ([{**WENCHUAN, "cell_id": "460-00-" + "1" * 30}, FUZHOU], "body.items.0.cell_id"),
    ([WENCHUAN, GSM, {**FUZHOU, "name": ""}], "body.items.2.name"),
    ([WENCHUAN, {**FUZHOU, "height": 30}], "body.items.1.height"),
]


async def test_a_bad_batch_is_refused_whole_naming_the_item_and_field(campaigns: Campaigns) -> None:
    for items, field in BAD_BATCHES:
        response = await put_sites(campaigns, items)
        assert (response.status_code, problem_type(response)) == (422, "validation-error"), response.text
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.text)
    too_many = [{**FUZHOU, "cell_id": f"460-00-{n}-1"} for n in range(5_001)]
    assert (await put_sites(campaigns, too_many)).status_code == 422
    assert (await put_sites(campaigns, [])).status_code == 422
    denied = await campaigns.client.put(SITES, headers=reading(), json={"items": [WENCHUAN]})
    assert denied.status_code == 403
    assert await stored_sites(campaigns) == 0


def seen_at(msisdn: str, site: dict[str, Any], at: datetime) -> LocationUpdatedV1:
    return LocationUpdatedV1(msisdn=msisdn, lat=site["lat"], lng=site["lng"], at=at)


def declaration(now: datetime, area: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "Wenchuan earthquake",
        "area": area,
        "starts_at": (now - timedelta(hours=2)).isoformat(),
        "ends_at": (now + timedelta(days=2)).isoformat(),
        "content": {"en": "Are you and your family safe?"},
        "contacts_per_person": 0,
    }


async def test_an_incident_declared_by_network_cells_targets_the_people_seen_there(
    campaigns: Campaigns,
) -> None:
    now = utcnow()
    assert (await put_sites(campaigns, [WENCHUAN, FUZHOU])).status_code == 200
    for payload in (
        mainland_profile(THERE, now - timedelta(days=30)),
        mainland_profile(AWAY, now - timedelta(days=30)),
        seen_at(THERE, WENCHUAN, now - timedelta(hours=1)),
        seen_at(AWAY, FUZHOU, now - timedelta(hours=1)),
    ):
        assert await deliver(campaigns, payload)

    area = {"network_cells": [WENCHUAN["cell_id"]]}
    response = await campaigns.client.post(
        "/campaigns/v1/incidents", headers=writing(), json=declaration(now, area)
    )
    assert response.status_code == 201, response.text
    incident = response.json()
    assert incident["area"] == area
    assert incident["cells"] == [h3.latlng_to_cell(WENCHUAN["lat"], WENCHUAN["lng"], 8)]
    found = await campaigns.client.get(f"/campaigns/v1/incidents/{incident['id']}/people", headers=reading())
    assert {p["msisdn"]: p["via"] for p in found.json()["items"]} == {THERE: "located"}

    # Both sites: both people.
    both = {"network_cells": [WENCHUAN["cell_id"], FUZHOU["cell_id"]]}
    wider = await campaigns.client.post(
        "/campaigns/v1/incidents", headers=writing(), json=declaration(now, both)
    )
    assert wider.status_code == 201, wider.text
    found = await campaigns.client.get(
        f"/campaigns/v1/incidents/{wider.json()['id']}/people", headers=reading()
    )
    assert {p["msisdn"] for p in found.json()["items"]} == {THERE, AWAY}


async def test_unknown_network_cells_are_refused_and_nothing_is_written(campaigns: Campaigns) -> None:
    now = utcnow()
    assert (await put_sites(campaigns, [WENCHUAN])).status_code == 200
    unknown = ["460-00-999-9", "not a cell id"]
    response = await campaigns.client.post(
        "/campaigns/v1/incidents",
        headers=writing(),
        json=declaration(now, {"network_cells": [WENCHUAN["cell_id"], *unknown]}),
    )
    assert (response.status_code, problem_type(response)) == (422, "invalid-area"), response.text
    assert response.json()["unknown_cell_ids"] == sorted(unknown)
    assert "460-00-999-9" in response.json()["detail"]

    for area in (
        {"network_cells": []},
        {"network_cells": [WENCHUAN["cell_id"]], "cells": [h3.latlng_to_cell(31.1, 103.5, 8)]},
    ):
        refused = await campaigns.client.post(
            "/campaigns/v1/incidents", headers=writing(), json=declaration(now, area)
        )
        assert (refused.status_code, problem_type(refused)) == (422, "invalid-area"), (area, refused.text)
    listed = await campaigns.client.get("/campaigns/v1/incidents", headers=reading())
    assert listed.json()["total"] == 0


async def test_a_location_update_by_network_cell_id_places_the_subscriber_one_by_one_and_in_a_batch(
    campaigns: Campaigns,
) -> None:
    now = utcnow()
    assert (await put_sites(campaigns, [WENCHUAN, FUZHOU])).status_code == 200
    assert await deliver(campaigns, mainland_profile(THERE, now - timedelta(days=30)))
    assert await deliver(campaigns, mainland_profile(AWAY, now - timedelta(days=30)))
    assert await deliver(
        campaigns, LocationUpdatedV1(msisdn=THERE, cell_id=WENCHUAN["cell_id"], at=now - timedelta(hours=1))
    )
    [runner] = [r for r in campaigns.app.state.platform.consumers if r.spec.durable == AUDIENCE]
    by_cell = LocationUpdatedV1(msisdn=AWAY, cell_id=FUZHOU["cell_id"], at=now - timedelta(hours=1))
    assert await runner.apply_together([(new_event(by_cell, source="/operator/test"), by_cell)]) == [True]

    there, away = await held(campaigns.sessions, THERE), await held(campaigns.sessions, AWAY)
    assert there is not None
    assert away is not None
    assert there.cell == h3.latlng_to_cell(WENCHUAN["lat"], WENCHUAN["lng"], 8)
    assert away.cell == h3.latlng_to_cell(FUZHOU["lat"], FUZHOU["lng"], 8)

    # The places were kept too: an incident over the Wenchuan site finds the one seen there.
    response = await campaigns.client.post(
        "/campaigns/v1/incidents",
        headers=writing(),
        json=declaration(now, {"network_cells": [WENCHUAN["cell_id"]]}),
    )
    assert response.status_code == 201, response.text
    found = await campaigns.client.get(
        f"/campaigns/v1/incidents/{response.json()['id']}/people", headers=reading()
    )
    assert {p["msisdn"] for p in found.json()["items"]} == {THERE}


async def test_an_unknown_network_cell_id_keeps_the_place_and_applies_the_rest(campaigns: Campaigns) -> None:
    now = utcnow()
    assert await deliver(campaigns, mainland_profile(THERE, now - timedelta(days=30)))
    assert await deliver(campaigns, seen_at(THERE, FUZHOU, now - timedelta(hours=2)))
    before = REGISTRY.get_sample_value("careloop_campaigns_feed_unknown_cell_total") or 0.0
    abroad = LocationUpdatedV1(
        msisdn=THERE, cell_id="440-10-1234567-1", roaming=True, country="JP", at=now - timedelta(hours=1)
    )
    assert await deliver(campaigns, abroad)  # applied, not dead-lettered
    held_now = await held(campaigns.sessions, THERE)
    assert held_now is not None
    assert held_now.cell == h3.latlng_to_cell(FUZHOU["lat"], FUZHOU["lng"], 8)  # where it was
    assert (held_now.roaming, held_now.roaming_country) == (True, "JP")
    assert held_now.located_at == abroad.at
    assert REGISTRY.get_sample_value("careloop_campaigns_feed_unknown_cell_total") == before + 1


def test_a_location_update_names_exactly_one_place() -> None:
    at = utcnow()
    for places in (
        {},
        {"cell_id": "460-00-1234567-12", "lat": 31.1, "lng": 103.5},
        {"cell_id": "460-00-1234567-12", "cell": h3.latlng_to_cell(31.1, 103.5, 8)},
        {"lat": 31.1},
        {"cell_id": "cell one"},
    ):
        with pytest.raises(ValidationError):
            LocationUpdatedV1.model_validate({"msisdn": THERE, "at": at, **places})
    assert LocationUpdatedV1(msisdn=THERE, cell_id="454-06-1234-5678", at=at).cell_id == "454-06-1234-5678"

"""The complaint loop through the gateway on real sockets: complaints, coverage-map, the contact
gateway with an SMPP stand-in SMSC, one NATS. An assessed area is answered at first contact; an
unknown one goes to engineering and, once assessed, gets the wording and its dispatch day. The
customer hears of each step by SMS at the stand-in. No mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import httpx
import pytest

from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, service_settings, wait_until
from complaints.main import create_app as complaints_app
from complaints.settings import ComplaintsSettings
from contact_gateway.main import create_app as contact_app
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.standins.smsc import SmscStandIn
from coverage_map.main import create_app as coverage_app
from coverage_map.settings import CoverageSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0002"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
CENTRAL = (22.2819, 114.1582)
SHA_TIN = (22.3817, 114.1880)


@dataclass
class Loop:
    client: httpx.AsyncClient
    smsc: SmscStandIn


@pytest.fixture
async def loop(database_url: str, sqlite_url: str, nats_url: str) -> AsyncIterator[Loop]:
    """Every service of the loop on a socket, complaints on the parametrized backend."""

    def db(name: str) -> str:
        return sqlite_url.replace("test.db", f"{name}.db")

    down = free_port()
    async with SmscStandIn(port=free_port(), receipt_delay_s=0.05) as smsc:
        coverage = coverage_app(service_settings(CoverageSettings, db("coverage"), nats_url))
        contact = contact_app(
            service_settings(
                ContactGatewaySettings,
                db("contact"),
                nats_url,
                smsc_urls=f"smpp://careloop:secret@127.0.0.1:{smsc.port}",
                quiet_hours={"service": "", "care": ""},
                dispatch_poll_s=0.05,
            )
        )
        async with LiveServer(coverage) as cov, LiveServer(contact) as con:
            complaints = complaints_app(
                service_settings(ComplaintsSettings, database_url, nats_url, coverage_url=cov.url)
            )
            async with LiveServer(complaints) as cmp:
                gateway = gateway_app(
                    service_settings(
                        GatewaySettings,
                        db("gateway"),
                        nats_url,
                        admin_api_key=ADMIN_KEY,
                        complaints_url=cmp.url,
                        coverage_map_url=cov.url,
                        contact_gateway_url=con.url,
                        campaigns_url=f"http://127.0.0.1:{down}",
                        web_url=f"http://127.0.0.1:{down}",
                    )
                )
                async with LiveServer(gateway) as g, httpx.AsyncClient(base_url=g.url, timeout=15) as client:
                    yield Loop(client, smsc)


async def call(client: httpx.AsyncClient, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
    """Call the gateway as the admin and return the JSON body, failing on another status."""
    response = await client.request(method, path, headers=ADMIN, **kwargs)
    assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


async def publish_assessment(client: httpx.AsyncClient, lat: float, lng: float) -> tuple[str, dict[str, Any]]:
    """Engineering rates the area of a point weak, plans a fix and publishes the wording."""
    area = (await call(client, "GET", "/coverage/v1/lookup", params={"lat": lat, "lng": lng}))["area_id"]
    await call(
        client,
        "POST",
        f"/coverage/v1/areas/{area}/assessments",
        201,
        json={
            "levels": {"4G": {"voice": "weak", "data": "weak"}},
            "findings": "Tall buildings shadow the street",
            "plan": {
                "action": "new_site",
                "target_date": "2027-06-30",
                "expected_levels": {"4G": {"voice": "good", "data": "good"}},
            },
        },
    )
    published = await call(client, "POST", f"/coverage/v1/areas/{area}/wording/publish", json={})
    return area, {w["language"]: w for w in published}


def form(lat: float, lng: float, msisdn: str, **extra: Any) -> dict[str, Any]:
    """A coverage complaint taken by the call centre, in English."""
    return {
        "category": "coverage",
        "channel": "call_centre",
        "msisdn": msisdn,
        "lat": lat,
        "lng": lng,
        "network": "4G",
        "symptoms": ["weak_signal", "call_drop"],
        "language": "en",
        **extra,
    }


async def texts_to(smsc: SmscStandIn, msisdn: str, count: int) -> list[str]:
    """Wait for ``count`` whole SMS to a number at the stand-in; return their texts."""

    async def arrived() -> list[str] | None:
        texts = [text for to, text in smsc.messages() if to == msisdn.lstrip("+")]
        return texts if len(texts) >= count else None

    return list(await wait_until(arrived, timeout_s=30, message=f"{count} SMS to {msisdn}"))


def third_working_day_after(instant: datetime) -> datetime:
    """09:00 Hong Kong time on the third working day after ``instant`` (weekends and holidays off)."""
    closed = holidays.country_holidays("HK", categories=("public", "optional"))
    day: date = instant.astimezone(HONG_KONG).date()
    found = 0
    while found < 3:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            found += 1
    return datetime.combine(day, time(9), HONG_KONG)


async def test_an_assessed_area_is_answered_and_closed_at_first_contact(loop: Loop) -> None:
    _, wording = await publish_assessment(loop.client, *CENTRAL)
    filed = await call(
        loop.client, "POST", "/complaints/v1/complaints", 201, json=form(*CENTRAL, "+85291230001")
    )
    assert filed["answer_state"] == "published"
    assert filed["answer_text"] == wording["en"]["published_text"]
    path = f"/complaints/v1/complaints/{filed['id']}/status"
    await call(loop.client, "POST", path, json={"status": "resolved", "reason": "Read the published plan"})
    closed = await call(loop.client, "POST", path, json={"status": "closed", "reason": "Customer satisfied"})
    assert closed["status"] == "closed"
    assert closed["first_contact_resolution"] is True
    acknowledged, *rest = await texts_to(loop.smsc, "+85291230001", 3)
    assert filed["reference"] in acknowledged
    assert all(filed["reference"] in text for text in rest)


async def test_an_unknown_area_gets_the_wording_once_assessed_and_is_dispatched_on_the_third_working_day(
    loop: Loop,
) -> None:
    filed = await call(
        loop.client, "POST", "/complaints/v1/complaints", 201, json=form(*SHA_TIN, "+85291230002")
    )
    assert filed["answer_state"] == "unknown"
    assert filed["follow_up"] is True

    async def investigated() -> bool:
        items = (await call(loop.client, "GET", "/coverage/v1/investigations"))["items"]
        return any(i["area_id"] == filed["area_id"] for i in items)

    await wait_until(investigated, message="engineering opened an investigation for the area")
    area, wording = await publish_assessment(loop.client, *SHA_TIN)
    assert area == filed["area_id"]

    async def answered() -> dict[str, Any] | None:
        body = await call(loop.client, "GET", f"/complaints/v1/complaints/{filed['id']}")
        return body if body["answer_state"] == "published" else None

    complaint = await wait_until(answered, timeout_s=30, message="the wording reached the complaint")
    assert complaint["answer_text"] == wording["en"]["published_text"]
    published_at = datetime.fromisoformat(wording["en"]["published_at"])
    assert datetime.fromisoformat(complaint["dispatch_at"]) == third_working_day_after(published_at)
    texts = await texts_to(loop.smsc, "+85291230002", 2)
    assert any(wording["en"]["published_text"][:40] in text for text in texts[1:])

"""The pages' own logic without a platform: maps, form reading, and who may open a staff page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import h3
import httpx
import pytest

from careloop_common.natsserver import free_port
from careloop_common.testing import running_app
from web import maps
from web.engineering import levels_from
from web.i18n import translator
from web.main import create_app
from web.pages import PageContext
from web.portal import _complaint_body, _point
from web.sessions import SESSION_COOKIE, SessionCodec, StaffSession
from web.settings import WebSettings

SECRET = "unit-test-session-secret-0123456789"


def test_points_project_inside_the_map_and_hexagons_have_six_corners() -> None:
    x, y = maps.project(22.2819, 114.1582)
    assert 0 < x < maps.WIDTH
    assert 0 < y < maps.HONG_KONG.height
    assert maps.project(maps.BOUNDS[3], maps.BOUNDS[0]) == (0, 0)
    area = h3.latlng_to_cell(22.2819, 114.1582, 8)
    assert len(maps.HONG_KONG.outline(area).split()) == 6
    assert maps.is_area(area)
    assert not maps.is_area("not-a-cell")


def test_a_frame_around_points_holds_them_and_stays_landscape() -> None:
    frame = maps.frame_around([(22.28, 114.15), (22.38, 114.19)])
    assert frame.inside(22.28, 114.15)
    assert frame.inside(22.38, 114.19)
    assert frame.height <= frame.width
    assert maps.frame_around([]) == maps.HONG_KONG
    assert frame.grid_lines()  # a graticule at any zoom


def test_levels_are_read_from_the_assessment_form_and_blanks_left_out() -> None:
    form = {"level-4G-voice": "weak", "level-4G-data": "", "level-5G-data": "good", "level-3G-voice": "bogus"}
    assert levels_from(form, "level") == {"4G": {"voice": "weak"}, "5G": {"data": "good"}}


def test_a_point_needs_two_sound_numbers() -> None:
    assert _point("22.28", "114.15") == (22.28, 114.15)
    assert _point("22.28", "") is None
    assert _point("95", "114") is None
    assert _point("nan-ish", "1") is None


class _Page:
    """Just what the form reader uses of a page."""

    language = "en"
    t = staticmethod(translator("en"))


def test_the_portal_form_becomes_the_api_body_or_names_what_is_missing() -> None:
    form = {
        "msisdn": "+85291234567",
        "lat": "22.28",
        "lng": "114.15",
        "address": "",
        "indoor": True,
        "symptoms": ["no_signal"],
        "network": "4G",
        "description": "",
        "follow_up": True,
        "contact_preference": "call",
        "language": "zh-Hans",
    }
    page = _Page()
    body, errors = _complaint_body(page, form)  # type: ignore[arg-type]
    assert not errors
    assert body["lat"] == 22.28
    assert body["indoor"] is True
    assert body["language"] == "zh-Hans"
    assert "address" not in body
    _, errors = _complaint_body(page, {**form, "msisdn": "", "lat": ""})  # type: ignore[arg-type]
    assert set(errors) == {"msisdn", "lat"}


@pytest.fixture
async def pages() -> AsyncIterator[httpx.AsyncClient]:
    settings = WebSettings(
        gateway_url=f"http://127.0.0.1:{free_port()}", session_secret=SECRET, log_json=False
    )
    async with running_app(create_app(settings)) as client:
        client.headers["Accept-Language"] = "en"
        yield client


def signed_in(client: httpx.AsyncClient, *scopes: str) -> StaffSession:
    session = StaffSession(token="t", username="someone", roles=["agent"], scopes=list(scopes))
    client.cookies.set(SESSION_COOKIE, SessionCodec(SECRET).seal(session))
    return session


@pytest.mark.parametrize(
    "path", ["/desk", "/desk/customer?msisdn=%2B85291234567", "/engineering", "/engineering/map"]
)
async def test_a_staff_page_sends_a_visitor_to_log_in_and_back(pages: httpx.AsyncClient, path: str) -> None:
    response = await pages.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=" + path.split("?")[0])


async def test_a_staff_page_refuses_a_role_without_its_scope(pages: httpx.AsyncClient) -> None:
    signed_in(pages, "complaints:read", "complaints:write")
    response = await pages.get("/engineering")
    assert response.status_code == 403
    assert "Not for your role" in response.text
    assert 'href="/desk"' in response.text
    assert ">Engineering</a>" not in response.text  # not in the navigation either


async def test_a_staff_form_without_its_csrf_token_is_refused(pages: httpx.AsyncClient) -> None:
    signed_in(pages, "complaints:write")
    response = await pages.post("/desk/complaints/c1/take", data={"csrf": "forged"})
    assert response.status_code == 403
    assert "This form has expired" in response.text


async def test_the_platform_away_shows_on_a_staff_page(pages: httpx.AsyncClient) -> None:
    session = signed_in(pages, "coverage:write")
    response = await pages.get("/engineering")
    assert response.status_code == 503
    assert "The platform did not answer" in response.text
    assert isinstance(session, StaffSession)
    assert PageContext
    assert "Signed in as someone" in response.text


async def test_a_part_refreshing_without_a_session_sends_the_tab_to_log_in(pages: httpx.AsyncClient) -> None:
    response = await pages.get("/desk", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["hx-redirect"].startswith("/login?next=/desk")

"""The pages' foundations without a platform: languages, sessions, redirects, problems, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from careloop_common.natsserver import free_port
from careloop_common.testing import running_app
from web.gateway import GatewayError
from web.i18n import MESSAGES, from_accept_language, normalise, translator
from web.main import create_app
from web.pages import duration, safe_next
from web.sessions import LANGUAGE_COOKIE, SESSION_COOKIE, SessionCodec, StaffSession
from web.settings import WebSettings

SECRET = "unit-test-session-secret-0123456789"


def test_every_message_is_in_all_three_languages() -> None:
    for key, row in MESSAGES.items():
        assert len(row) == 3, key
        assert all(text.strip() for text in row), key
        # the same placeholders in each language
        assert len({frozenset(_placeholders(text)) for text in row}) == 1, key


def _placeholders(text: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh-HK", "zh-Hant"),
        ("zh_TW", "zh-Hant"),
        ("zh-Hant-HK", "zh-Hant"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("en-GB", "en"),
        ("fr", None),
        ("", None),
    ],
)
def test_language_tags_map_to_what_we_speak(tag: str, expected: str | None) -> None:
    assert normalise(tag) == expected


def test_accept_language_follows_the_browser_preference_order() -> None:
    assert from_accept_language("fr-FR,fr;q=0.9,en;q=0.8,zh-HK;q=0.7") == "en"
    assert from_accept_language("de;q=0.2, zh-CN;q=0.9") == "zh-Hans"
    assert from_accept_language("fr, de") is None
    assert from_accept_language("en;q=bad") == "en"


def test_translator_formats_and_shows_unknown_keys_as_themselves() -> None:
    assert translator("zh-Hant")("signed_in_as", user="agent") == "已登入：agent"  # noqa: RUF001
    assert translator("en")("no-such-key") == "no-such-key"


def test_a_sealed_session_opens_again_and_a_tampered_one_does_not() -> None:
    codec = SessionCodec(SECRET)
    session = StaffSession(token="jwt", username="agent", roles=["agent"], scopes=["complaints:read"])
    sealed = codec.seal(session)
    assert "jwt" not in sealed  # encrypted, not only signed
    assert codec.open(sealed) == session
    assert codec.open(sealed[:-4] + "AAAA") is None
    assert SessionCodec("another-secret").open(sealed) is None
    assert codec.open("") is None
    assert codec.open("x" * 9000) is None


def test_a_session_holds_scopes_and_checks_its_csrf_token() -> None:
    session = StaffSession(token="t", username="u", roles=["admin"], scopes=["*"])
    assert session.may("coverage:write")
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok("forged")
    assert not session.csrf_ok(None)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/desk?x=1", "/desk?x=1"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("", "/"),
    ],
)
def test_redirects_stay_on_this_origin(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_durations_read_as_hours_and_minutes() -> None:
    assert duration(3 * 3600 + 20 * 60) == "3h 20m"
    assert duration(-600) == "-10m"
    assert duration(None) == ""


def test_a_problem_from_the_gateway_names_its_fields() -> None:
    response = httpx.Response(
        422,
        json={
            "type": "urn:careloop:problem:validation-error",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "1 invalid field",
            "errors": [{"field": "body.msisdn", "message": "not a phone number", "type": "value_error"}],
        },
    )
    error = GatewayError.from_response(response)
    assert (error.status, error.slug) == (422, "validation-error")
    assert error.field_messages() == {"msisdn": "not a phone number"}
    assert GatewayError.from_response(httpx.Response(502, text="<html>")).title == "Bad Gateway"


@pytest.fixture
async def pages() -> AsyncIterator[httpx.AsyncClient]:
    """The web app alone, its gateway a port where nothing listens (a real refused connection)."""
    settings = WebSettings(
        gateway_url=f"http://127.0.0.1:{free_port()}", session_secret=SECRET, log_json=False
    )
    async with running_app(create_app(settings)) as client:
        yield client


async def test_the_portal_speaks_the_browser_language_until_the_visitor_chooses(
    pages: httpx.AsyncClient,
) -> None:
    english = await pages.get("/login", headers={"Accept-Language": "en-GB"})
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    assert "Staff login" in english.text
    chosen = await pages.get("/lang/zh-Hans", params={"next": "/login"})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/login"
    assert pages.cookies.get(LANGUAGE_COOKIE) == "zh-Hans"
    simplified = await pages.get("/login", headers={"Accept-Language": "en-GB"})
    assert "员工登录" in simplified.text


async def test_an_unknown_language_is_ignored_and_next_cannot_leave_the_site(
    pages: httpx.AsyncClient,
) -> None:
    response = await pages.get("/lang/klingon", params={"next": "https://evil.example/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert LANGUAGE_COOKIE not in response.headers.get("set-cookie", "")


async def test_when_the_platform_does_not_answer_login_says_so_in_a_page(pages: httpx.AsyncClient) -> None:
    response = await pages.post(
        "/login", data={"username": "agent", "password": "x" * 12}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 503
    assert "text/html" in response.headers["content-type"]
    assert "The platform did not answer" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_an_unknown_page_is_a_page_that_says_so(pages: httpx.AsyncClient) -> None:
    response = await pages.get("/no/such/page", headers={"Accept-Language": "zh-HK"})
    assert response.status_code == 404
    assert "沒有這個頁面" in response.text


async def test_a_forged_session_cookie_is_ignored(pages: httpx.AsyncClient) -> None:
    pages.cookies.set(SESSION_COOKIE, "forged")
    response = await pages.get("/login", headers={"Accept-Language": "en"})
    assert "Signed in as" not in response.text

"""Staff login and logout, and the language switch (both plain links and forms: no script needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response

from web.gateway import GatewayError
from web.i18n import LANGUAGES
from web.pages import Page, codec_of, safe_next, see_other
from web.sessions import LANGUAGE_COOKIE, SESSION_COOKIE, StaffSession

router = APIRouter(include_in_schema=False)

Next = Annotated[str, Query(max_length=500)]
YEAR_S = 365 * 24 * 3600


@router.get("/login")
async def login_page(
    page: Page, next: Next = "/", reason: Annotated[str, Query(max_length=40)] = ""
) -> Response:
    """Show the staff login form."""
    notice = page.t(reason) if reason in ("login_needed", "session_ended") else ""
    return page.render("login.html", next=safe_next(next), notice=notice, error="", username="")


@router.post("/login")
async def login(
    page: Page,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Exchange the user's name and password for a staff token at the gateway; keep it in the cookie."""
    try:
        issued = await page.gateway.post(
            "/gateway/v1/login", body={"username": username, "password": password}
        )
    except GatewayError as exc:
        if exc.status not in (401, 403, 422):
            raise
        return page.render(
            "login.html",
            401,
            next=safe_next(next),
            notice="",
            error=page.t("login_failed"),
            username=username,
        )
    session = StaffSession(
        token=issued["access_token"],
        username=issued["username"],
        roles=list(issued["roles"]),
        scopes=list(issued["scopes"]),
    )
    codec = codec_of(page.request)
    response = see_other(safe_next(next) if next != "/" else home_for(session))
    response.set_cookie(
        SESSION_COOKIE,
        codec.seal(session),
        max_age=min(int(issued["expires_in"]), codec.max_age_s),
        path="/",
        httponly=True,
        secure=page.settings.cookie_secure,
        samesite="lax",
    )
    return response


@router.post("/logout")
async def logout(page: Page) -> Response:
    """Forget the session (the token itself simply expires at the end of the shift)."""
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/lang/{language}")
async def choose_language(page: Page, language: str, next: Next = "/") -> Response:
    """Remember the visitor's language and go back to the page they were on."""
    response = see_other(next)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=YEAR_S,
            path="/",
            httponly=True,
            secure=page.settings.cookie_secure,
            samesite="lax",
        )
    return response


# Where each role starts after logging in, most specific first.
HOMES: list[tuple[str, str]] = [
    ("complaints:supervise", "/"),
    ("coverage:write", "/"),
    ("complaints:write", "/"),
    ("campaigns:write", "/campaigns"),
]


def home_for(session: StaffSession) -> str:
    """Return the page a staff member lands on after logging in."""
    for scope, path in HOMES:
        if session.may(scope):
            return path
    return "/"

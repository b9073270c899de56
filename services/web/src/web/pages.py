"""What every page shares: templates, the language, the staff session, the gateway, the navigation,
and the pages shown when something is missing, refused or broken."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from web.gateway import Gateway, GatewayError
from web.i18n import HTML_LANG, LANGUAGES, Translator, from_accept_language, labeller, normalise, translator
from web.sessions import LANGUAGE_COOKIE, SESSION_COOKIE, SessionCodec, StaffSession
from web.settings import WebSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


@dataclass(frozen=True)
class NavItem:
    """A top-level section: where it is, its message key, and the scope that shows it (None: all)."""

    path: str
    key: str
    scope: str | None


# Sections append themselves here as they are built (the campaign and supervisor consoles too).
NAV: list[NavItem] = [NavItem("/", "portal", None)]


@dataclass
class PageContext:
    """One request's language, translator, staff session and gateway."""

    request: Request
    language: str
    t: Translator
    staff: StaffSession | None
    gateway: Gateway
    settings: WebSettings

    @property
    def token(self) -> str | None:
        """Return the signed-in user's bearer token, if any."""
        return self.staff.token if self.staff else None

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        """Render a template with the shared context."""
        nav = [item for item in NAV if item.scope is None or (self.staff and self.staff.may(item.scope))]
        context = {
            "request": self.request,
            "lang": self.language,
            "html_lang": HTML_LANG[self.language],
            "languages": LANGUAGES,
            "t": self.t,
            "label": labeller(self.language),
            "staff": self.staff,
            "nav": nav,
            "here": self.request.url.path,
            "here_full": _path_with_query(self.request),
            **values,
        }
        return templates.TemplateResponse(self.request, template, context, status_code=status_code)


def settings_of(request: Request) -> WebSettings:
    """Return the app's settings."""
    value: WebSettings = request.app.state.settings
    return value


def codec_of(request: Request) -> SessionCodec:
    """Return the app's session codec."""
    value: SessionCodec = request.app.state.sessions
    return value


def language_of(request: Request) -> str:
    """The page language: the visitor's choice (cookie), else their browser's, else the default."""
    chosen = normalise(request.cookies.get(LANGUAGE_COOKIE))
    return (
        chosen
        or from_accept_language(request.headers.get("accept-language"))
        or settings_of(request).default_language
    )


async def page_context(request: Request) -> PageContext:
    """Build the context of a page (dependency)."""
    language = language_of(request)
    return PageContext(
        request=request,
        language=language,
        t=translator(language),
        staff=codec_of(request).open(request.cookies.get(SESSION_COOKIE)),
        gateway=request.app.state.gateway,
        settings=settings_of(request),
    )


Page = Annotated[PageContext, Depends(page_context)]


class LoginRequired(Exception):
    """The page needs a signed-in staff member."""

    def __init__(self, reason: str = "login_needed") -> None:
        super().__init__(reason)
        self.reason = reason


class NotAllowed(Exception):
    """The signed-in staff member lacks the scope the page needs."""


def staff_page(*scopes: str) -> Callable[[PageContext], Awaitable[PageContext]]:
    """Dependency: a signed-in staff member holding any one of ``scopes`` (none given: any staff)."""

    async def check(page: Page) -> PageContext:
        if page.staff is None:
            raise LoginRequired()
        if scopes and not any(page.staff.may(scope) for scope in scopes):
            raise NotAllowed()
        return page

    return check


def check_csrf(page: PageContext, sent: str | None) -> None:
    """Refuse a staff form whose CSRF token is not the session's (a 403 page)."""
    if page.staff is None or not page.staff.csrf_ok(sent):
        raise GatewayError(403, "csrf", page.t("csrf"), slug="csrf")


def see_other(path: str) -> RedirectResponse:
    """Redirect after a form (303), to a path on this same origin."""
    return RedirectResponse(safe_next(path), status_code=303)


def safe_next(path: str | None) -> str:
    """Keep a redirect target on this origin: a path, never a scheme or another host."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _path_with_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def when(value: str | None, language: str = "en") -> str:
    """Show an ISO instant as Hong Kong local time, short (template filter)."""
    if not value:
        return ""
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    from zoneinfo import ZoneInfo

    local = instant.astimezone(ZoneInfo("Asia/Hong_Kong"))
    return local.strftime("%Y-%m-%d %H:%M")


def duration(seconds: float | int | None) -> str:
    """Show business seconds as ``3h 20m`` (negative: overdue) (template filter)."""
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    minutes = int(abs(seconds)) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h {minutes:02d}m" if hours else f"{sign}{minutes}m"


templates.env.filters["when"] = when
templates.env.filters["duration"] = duration
templates.env.globals["quote"] = quote


def install_page_handlers(app: FastAPI) -> None:
    """Answer errors on pages with pages: login, refused, not found, the platform's problems."""

    async def login_required(request: Request, exc: Exception) -> Response:
        reason = exc.reason if isinstance(exc, LoginRequired) else "login_needed"
        target = quote(_path_with_query(request), safe="/")
        location = f"/login?next={target}&reason={reason}"
        response: Response = RedirectResponse(location, status_code=303)
        if request.headers.get("hx-request"):
            # A part of a page refreshing in place: send the whole tab to the login page instead.
            response = Response(status_code=204, headers={"HX-Redirect": location})
        if reason == "session_ended":
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def not_allowed(request: Request, exc: Exception) -> Response:
        page = await page_context(request)
        roles = ", ".join(page.staff.roles) if page.staff else ""
        return page.render(
            "error.html", 403, title=page.t("forbidden_title"), detail=page.t("forbidden", roles=roles)
        )

    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        page = await page_context(request)
        if exc.status == 401 and page.staff is not None:
            return await login_required(request, LoginRequired("session_ended"))
        return page.render("error.html", exc.status, title=_title(page, exc), detail=_detail(page, exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        page = await page_context(request)
        if exc.status_code == 404:
            return page.render("error.html", 404, title=page.t("not_found_title"), detail=page.t("not_found"))
        return page.render("error.html", exc.status_code, title=page.t("error_title"), detail=str(exc.detail))

    async def bad_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        page = await page_context(request)
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}" for e in exc.errors()
        )
        return page.render("error.html", 422, title=page.t("fix_fields"), detail=fields)

    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("page %s failed", request.url.path, exc_info=exc)
        page = await page_context(request)
        return page.render("error.html", 500, title=page.t("error_title"), detail=page.t("crashed"))

    app.add_exception_handler(Exception, crashed)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(NotAllowed, not_allowed)
    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_input)


def _title(page: PageContext, exc: GatewayError) -> str:
    if exc.status == 404:
        return page.t("not_found_title")
    if exc.status == 403:
        return page.t("forbidden_title")
    return page.t("error_title")


def _detail(page: PageContext, exc: GatewayError) -> str:
    if exc.slug == "unreachable" or exc.status in (502, 503, 504):
        return page.t("unreachable")
    if exc.status == 429:
        return page.t("rate_limited")
    return exc.detail or exc.title

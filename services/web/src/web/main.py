"""Entry point: ``uvicorn web.main:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from careloop_common.telemetry import RequestContextMiddleware, configure_logging, metrics_endpoint
from web import account, campaign_pages, desk, engineering, portal, supervisor_pages
from web.gateway import Gateway
from web.pages import STATIC, install_page_handlers
from web.sessions import SessionCodec
from web.settings import WebSettings


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """Build the web pages service (stateless: no database, no bus; it calls the gateway only)."""
    settings = settings or WebSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.gateway = Gateway(settings.gateway_url, settings.gateway_timeout_s)
        try:
            yield
        finally:
            await app.state.gateway.close()

    app = FastAPI(title="careloop web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.sessions = SessionCodec(settings.session_secret)
    install_page_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Answer while the process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        """Answer 200: the pages need nothing but their files (a missing gateway shows on each page)."""
        return {"status": "ready"}

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        """Serve the icon where browsers look for it by default."""
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for module in (account, portal, desk, engineering):
        app.include_router(module.router)
    app.include_router(campaign_pages.router)
    app.include_router(supervisor_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

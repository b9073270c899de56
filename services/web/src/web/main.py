"""Entry point: ``uvicorn web.main:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from careloop_common.errors import install_problem_handlers
from careloop_common.telemetry import RequestContextMiddleware, configure_logging, metrics_endpoint
from web import api
from web.settings import WebSettings


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """Build the web pages service (stateless: no database, no bus)."""
    settings = settings or WebSettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    app = FastAPI(title="careloop web", docs_url=None, redoc_url=None, openapi_url=None)
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Answer while the process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        """Answer 200: the pages need nothing but their files."""
        return {"status": "ready"}

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=api.STATIC), name="static")
    return app

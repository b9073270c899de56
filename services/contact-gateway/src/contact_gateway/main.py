"""Entry point: ``uvicorn contact_gateway.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careloop_common.app import create_service_app
from contact_gateway import api, consumers, runtime, tmf681
from contact_gateway.settings import ContactGatewaySettings


def create_app(settings: ContactGatewaySettings | None = None) -> FastAPI:
    """Build the contact-gateway service."""
    settings = settings or ContactGatewaySettings()
    start, stop = runtime.lifecycle(settings)
    app: FastAPI

    def wake() -> runtime.Waker | None:
        found: runtime.Runtime | None = app.state.platform.extras.get(runtime.EXTRA)
        return found.wake if found is not None else None

    app = create_service_app(
        settings,
        title="careloop contact gateway",
        description="SMS over SMPP and outbound calls with contact policy and delivery tracking; TMF681.",
        routers=[api.router, tmf681.router],
        consumers=consumers.specs(settings, wake),
        migrations_dir=Path(__file__).parent / "migrations",
        on_startup=start,
        on_shutdown=stop,
    )
    return app

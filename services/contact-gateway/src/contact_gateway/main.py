"""Entry point: ``uvicorn contact_gateway.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careloop_common.app import create_service_app
from contact_gateway import api, consumers
from contact_gateway.settings import ContactGatewaySettings


def create_app(settings: ContactGatewaySettings | None = None) -> FastAPI:
    """Build the contact-gateway service."""
    return create_service_app(
        settings or ContactGatewaySettings(),
        title="careloop contact gateway",
        description="SMS over SMPP and outbound calls with contact policy and delivery tracking.",
        routers=[api.router],
        consumers=consumers.specs(),
        migrations_dir=Path(__file__).parent / "migrations",
    )

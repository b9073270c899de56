"""Entry point: ``uvicorn complaints.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careloop_common.app import create_service_app
from complaints import api, consumers, reports_api
from complaints.settings import ComplaintsSettings


def create_app(settings: ComplaintsSettings | None = None) -> FastAPI:
    """Build the complaints service."""
    return create_service_app(
        settings or ComplaintsSettings(),
        title="careloop complaints",
        description="Coverage complaint intake, first-contact ownership, SLA clocks, follow-up and TMF621.",
        routers=[api.router, reports_api.router],
        consumers=consumers.specs(),
        migrations_dir=Path(__file__).parent / "migrations",
    )

"""Entry point: ``uvicorn campaigns.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from campaigns import api, consumers
from campaigns.settings import CampaignsSettings
from careloop_common.app import create_service_app


def create_app(settings: CampaignsSettings | None = None) -> FastAPI:
    """Build the campaigns service."""
    return create_service_app(
        settings or CampaignsSettings(),
        title="careloop campaigns",
        description="Closed-loop care campaigns: audience, models, triggers, control groups, evaluation.",
        routers=[api.router],
        consumers=consumers.specs(),
        migrations_dir=Path(__file__).parent / "migrations",
    )

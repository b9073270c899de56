"""Entry point: ``uvicorn campaigns.main:create_app --factory``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from campaigns import api, consumers, execution
from campaigns.settings import CampaignsSettings
from careloop_common.app import Platform, create_service_app


def create_app(settings: CampaignsSettings | None = None) -> FastAPI:
    """Build the campaigns service."""
    settings = settings or CampaignsSettings()

    async def start(platform: Platform) -> None:
        if settings.run_background:
            # The platform cancels its tasks at shutdown.
            platform.tasks.append(
                asyncio.create_task(
                    execution.run_forever(
                        platform.sessions, source=platform.source, interval_s=settings.scheduler_interval_s
                    ),
                    name="campaign-runs",
                )
            )

    return create_service_app(
        settings,
        title="careloop campaigns",
        description="Closed-loop care campaigns: audience, models, triggers, control groups, evaluation.",
        routers=[api.router],
        consumers=consumers.specs(),
        migrations_dir=Path(__file__).parent / "migrations",
        on_startup=start,
    )

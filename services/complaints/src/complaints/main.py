"""Entry point: ``uvicorn complaints.main:create_app --factory``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from careloop_common.app import Platform, create_service_app
from complaints import api, consumers, scheduler, tmf621
from complaints.answers import EXTRA, CoverageClient
from complaints.settings import ComplaintsSettings


def create_app(settings: ComplaintsSettings | None = None) -> FastAPI:
    """Build the complaints service."""
    settings = settings or ComplaintsSettings()

    async def start(platform: Platform) -> None:
        platform.extras[EXTRA] = CoverageClient(
            settings.coverage_url,
            principal_secret=settings.principal_secret,
            timeout_s=settings.coverage_timeout_s,
            pause_s=settings.coverage_pause_s,
            resolution=settings.coverage_h3_resolution,
        )
        if settings.run_background:
            # The platform cancels its tasks at shutdown.
            platform.tasks.append(
                asyncio.create_task(
                    scheduler.run_forever(
                        platform.sessions,
                        source=platform.source,
                        interval_s=settings.scheduler_interval_s,
                        batch=settings.scheduler_batch,
                    ),
                    name="complaints-scheduler",
                )
            )
        await tmf621.start_hub(platform)

    async def stop(platform: Platform) -> None:
        await tmf621.stop_hub(platform)
        client: CoverageClient | None = platform.extras.pop(EXTRA, None)
        if client is not None:
            await client.aclose()

    return create_service_app(
        settings,
        title="careloop complaints",
        description="Coverage complaint intake, first-contact ownership, SLA clocks, follow-up and TMF621.",
        routers=[api.router, api.reports_router, tmf621.router],
        consumers=[*consumers.specs(settings), *tmf621.consumer_specs()],
        migrations_dir=Path(__file__).parent / "migrations",
        on_startup=start,
        on_shutdown=stop,
    )

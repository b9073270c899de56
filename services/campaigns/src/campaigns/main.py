"""Entry point: ``uvicorn campaigns.main:create_app --factory``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from campaigns import api, consumers, execution, incidents, incidents_api
from campaigns.audience import ModelRefresher
from campaigns.import_jobs import EXTRA as IMPORTS
from campaigns.import_jobs import ImportJobs
from campaigns.settings import CampaignsSettings
from careloop_common.app import Platform, create_service_app

log = logging.getLogger(__name__)

REFRESHER = "model-refresher"


def create_app(settings: CampaignsSettings | None = None) -> FastAPI:
    """Build the campaigns service."""
    settings = settings or CampaignsSettings()
    start, stop = lifecycle(settings)
    return create_service_app(
        settings,
        title="careloop campaigns",
        description="Closed-loop care campaigns: audience, models, triggers, control groups, evaluation.",
        routers=[api.router, incidents_api.router],
        consumers=consumers.specs(settings),
        migrations_dir=Path(__file__).parent / "migrations",
        on_startup=start,
        on_shutdown=stop,
    )


def lifecycle(
    settings: CampaignsSettings,
) -> tuple[Callable[[Platform], Awaitable[None]], Callable[[Platform], Awaitable[None]]]:
    """Return the hooks that own the import jobs and (with background work) the model refresher."""

    async def start(platform: Platform) -> None:
        jobs = ImportJobs(platform.sessions, settings)
        failed = await jobs.fail_interrupted()
        if failed:
            log.warning("%d audience import(s) left running by a stopped process marked failed", failed)
        platform.extras[IMPORTS] = jobs
        if settings.run_background:
            refresher = ModelRefresher(platform.sessions, settings.model_refresh_interval_s)
            refresher.start()
            platform.extras[REFRESHER] = refresher
            # The platform cancels its tasks at shutdown.
            platform.tasks.append(
                asyncio.create_task(
                    execution.run_forever(
                        platform.sessions,
                        zone=settings.zone,
                        source=platform.source,
                        interval_s=settings.scheduler_interval_s,
                    ),
                    name="campaign-runs",
                )
            )
            platform.tasks.append(
                asyncio.create_task(
                    incidents.run_forever(
                        platform.sessions,
                        source=platform.source,
                        key=settings.customer_ref_secret,
                        interval_s=settings.scheduler_interval_s,
                        history=timedelta(days=settings.place_history_days),
                        contact_history=timedelta(days=settings.contact_history_days),
                    ),
                    name="incident-rounds",
                )
            )

    async def stop(platform: Platform) -> None:
        jobs: ImportJobs | None = platform.extras.get(IMPORTS)
        if jobs is not None:
            await jobs.stop()
        refresher: ModelRefresher | None = platform.extras.get(REFRESHER)
        if refresher is not None:
            await refresher.stop()

    return start, stop

"""Entry point: ``uvicorn gateway.main:create_app --factory``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from careloop_common.app import Platform, create_service_app
from gateway import api, consumers
from gateway.proxy import Upstreams
from gateway.settings import GatewaySettings

API_SERVICES = ("complaints", "coverage-map", "campaigns", "contact-gateway", "web")


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway."""
    settings = settings or GatewaySettings()
    pool = Upstreams(
        settings.upstreams(),
        timeout_s=settings.upstream_timeout_s,
        connect_timeout_s=settings.upstream_connect_timeout_s,
        pool=settings.upstream_pool_size,
    )

    async def start(state: Platform) -> None:
        await pool.start()
        state.extras["upstreams"] = pool

    async def stop(_: Platform) -> None:
        await pool.close()

    async def every_service_ready() -> dict[str, bool]:
        answers = await asyncio.gather(*(pool.ready(name) for name in API_SERVICES))
        return dict(zip(API_SERVICES, answers, strict=True))

    return create_service_app(
        settings,
        title="careloop gateway",
        description="The one public door to careloop: authentication, routing and the merged API.",
        routers=[api.router],
        consumers=consumers.specs(),
        migrations_dir=Path(__file__).parent / "migrations",
        readiness=every_service_ready,
        on_startup=start,
        on_shutdown=stop,
    )

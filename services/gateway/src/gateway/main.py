"""Entry point: ``uvicorn gateway.main:create_app --factory``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from careloop_common.app import Platform, create_service_app
from careloop_common.auth import PrincipalSigner
from gateway import api, consumers
from gateway.access import Authenticator
from gateway.edge import EdgeMiddleware
from gateway.openapi import MergedOpenAPI
from gateway.proxy import Upstreams
from gateway.ratelimit import SharedRateLimiter
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
        limiter = SharedRateLimiter(
            state.bus,
            window_s=settings.rate_limit_window_s,
            sync_interval_s=settings.rate_limit_sync_interval_s,
        )
        await limiter.start()
        state.extras.update(
            upstreams=pool,
            limiter=limiter,
            authenticator=Authenticator.from_settings(settings, state.sessions),
            signer=PrincipalSigner(settings.principal_secret),
            openapi=MergedOpenAPI(pool, gateway_openapi(app), settings.openapi_cache_s),
        )

    async def stop(state: Platform) -> None:
        await state.extras["limiter"].stop()
        await pool.close()

    async def every_service_ready() -> dict[str, bool]:
        answers = await asyncio.gather(*(pool.ready(name) for name in API_SERVICES))
        return dict(zip(API_SERVICES, answers, strict=True))

    app = create_service_app(
        settings,
        title="careloop gateway",
        description="The one public door to careloop: authentication, routing and the merged API.",
        routers=[api.router, api.forwarding],
        consumers=consumers.specs(),
        migrations_dir=Path(__file__).parent / "migrations",
        readiness=every_service_ready,
        on_startup=start,
        on_shutdown=stop,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                expose_headers=[
                    "X-Request-ID",
                    "Location",
                    "Retry-After",
                    "RateLimit-Limit",
                    "RateLimit-Remaining",
                    "RateLimit-Reset",
                ],
                max_age=600,
            ),
            Middleware(EdgeMiddleware, settings=settings),
        ],
        openapi_url=None,
        docs_url=None,
    )
    return app


def gateway_openapi(app: FastAPI) -> dict[str, object]:
    """Return the gateway's own OpenAPI document (its routes only), for merging."""
    return app.openapi()

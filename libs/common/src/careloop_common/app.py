"""The service skeleton: every service's ``create_app`` is this plus its own routers and consumers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from starlette.middleware import Middleware

from careloop_common import idempotency, inbox, outbox  # noqa: F401 - registers the platform tables
from careloop_common.auth import document_scopes
from careloop_common.bus import Bus
from careloop_common.db import (
    OUTBOX_DIRTY,
    GroupCommit,
    SessionFactory,
    create_engine,
    create_session_factory,
    database_unavailable,
    is_sqlite,
    transaction,
)
from careloop_common.errors import PROBLEM_JSON, Problem, install_problem_handlers, problem_response
from careloop_common.inbox import ConsumerRunner, ConsumerSpec
from careloop_common.migrations import upgrade_async
from careloop_common.outbox import OutboxRelay
from careloop_common.settings import ServiceSettings
from careloop_common.telemetry import (
    RequestContextMiddleware,
    configure_logging,
    metrics_endpoint,
    setup_tracing,
)

log = logging.getLogger(__name__)
# Shared transactions a PostgreSQL service writes at a time (GroupCommit): a few of its pool of 20.
GROUP_COMMIT_WRITERS = 4


@dataclass
class Platform:
    """What a running service holds besides its routes: settings, database, bus, background work."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: SessionFactory
    bus: Bus
    relay: OutboxRelay
    # Routes whose whole write is staged rows commit through it (filing a complaint).
    group_commit: GroupCommit
    consumers: list[ConsumerRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Return the CloudEvents ``source`` of events this service emits."""
        return f"/careloop/{self.settings.service_name}"


def platform_of(request: Request) -> Platform:
    """Return the running service's Platform."""
    value: Platform = request.app.state.platform
    return value


async def platform(request: Request) -> Platform:
    """Return the running service's Platform (dependency; async: FastAPI would run a def in a thread)."""
    return platform_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session: committed before the response is sent, rolled back on error."""
    async with transaction(platform_of(request).sessions) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
PlatformDep = Annotated[Platform, Depends(platform)]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    migrations_dir: Path,
    consumers: Sequence[ConsumerSpec] = (),
    version: str = "0.1.0",
    openapi_tags: list[dict[str, Any]] | None = None,
    readiness: Callable[[], Awaitable[dict[str, bool]]] | None = None,
    on_startup: Callable[[Platform], Awaitable[None]] | None = None,
    on_shutdown: Callable[[Platform], Awaitable[None]] | None = None,
    middleware: Sequence[Middleware] = (),
    openapi_url: str | None = "/openapi.json",
    docs_url: str | None = "/docs",
) -> FastAPI:
    """Build a careloop service: database, migrations, bus, outbox relay, consumers, health, metrics.

    ``readiness`` adds checks to ``/readyz``; ``on_startup``/``on_shutdown`` open and close what a
    service holds beyond the platform (HTTP client pools, adapters). ``middleware`` runs inside
    the request-id middleware, first listed outermost.
    """
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size, echo=settings.db_echo)
    bus = Bus(
        url=settings.nats_url,
        name=settings.service_name,
        connect_timeout_s=settings.nats_connect_timeout_s,
        stream_replicas=settings.nats_stream_replicas,
    )
    relay_box: list[OutboxRelay] = []

    def wake_relay(session: Session) -> None:
        if session.info.pop(OUTBOX_DIRTY, False) and relay_box:
            relay_box[0].notify()

    sessions = create_session_factory(engine, after_commit=wake_relay)
    relay = OutboxRelay(
        service=settings.service_name,
        sessions=sessions,
        bus=bus,
        batch_size=settings.outbox_batch_size,
        poll_interval_s=settings.outbox_poll_interval_s,
        lease_s=settings.outbox_lease_s,
    )
    relay_box.append(relay)
    state = Platform(
        settings=settings,
        engine=engine,
        sessions=sessions,
        bus=bus,
        relay=relay,
        group_commit=GroupCommit(
            sessions,
            service=settings.service_name,
            # SQLite has one connection; on PostgreSQL a few of the pool's, the rest stay for reads.
            writers=1 if is_sqlite(settings.database_url) else GROUP_COMMIT_WRITERS,
        ),
        consumers=[
            ConsumerRunner(_with_settings(c, settings), sessions=sessions, bus=bus) for c in consumers
        ],
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await upgrade_async(migrations_dir, settings.database_url)
        await bus.connect()
        if settings.run_background:
            state.tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
            state.tasks.extend(
                asyncio.create_task(c.run(), name=f"consumer-{c.spec.durable}") for c in state.consumers
            )
        if on_startup is not None:
            await on_startup(state)
        freeze_startup_objects()
        log.info("%s ready on %s:%s", settings.service_name, settings.host, settings.port)
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown(state)
            await relay.stop()
            await stop_tasks(state.tasks)
            if settings.run_background:
                await relay.release_lease()
            await bus.close()
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        openapi_url=openapi_url,
        docs_url=docs_url,
        redoc_url=None,
    )
    app.state.platform = state
    install_problem_handlers(app)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    for layer in reversed(middleware):
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    setup_tracing(app, settings.service_name, settings.otel_exporter_otlp_endpoint, settings.tracing, engine)
    app.include_router(health_router(readiness))
    for router in routers:
        app.include_router(router)
    _document_scopes_in_openapi(app, routers)
    return app


_frozen = False


def freeze_startup_objects() -> None:
    """Put what a started service holds out of the garbage collector's reach, once per process.

    Modules, routes, models, mappers and pools live as long as the process: frozen (``gc.freeze``),
    the collector's full passes stop walking them every time requests' garbage triggers one.
    Measured on complaint intake: GC 1.1 s → 0.2 s of CPU over 6,400 filings (bench/README.md).
    Once per process, so a test run starting many apps does not keep each one's objects forever.
    """
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()  # what startup already dropped is freed, not frozen
    gc.freeze()


def _document_scopes_in_openapi(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Make the app's OpenAPI document say which scopes each operation requires."""
    build = app.openapi
    documented: list[dict[str, Any]] = []
    routes = [route for router in routers for route in router.routes]

    def openapi() -> dict[str, Any]:
        if not documented:
            documented.append(document_scopes(routes, build()))
        return documented[0]

    app.openapi = openapi  # type: ignore[method-assign]


def _with_settings(spec: ConsumerSpec, settings: ServiceSettings) -> ConsumerSpec:
    return replace(spec, max_deliver=settings.consumer_max_deliver, ack_wait_s=settings.consumer_ack_wait_s)


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error on %s: %s", request.url.path, exc)
    return problem_response(
        409, "conflict", "the request conflicts with data that already exists", instance=request.url.path
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """A full, read-only or unreachable database is a 503 the client may retry; anything else a 500."""
    if not database_unavailable(exc):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500,
            "internal-error",
            "an unexpected error occurred; it has been logged",
            instance=request.url.path,
        )
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        503,
        "database-unavailable",
        "the service cannot write to its database right now; nothing was changed, try again later",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


class Readiness(BaseModel):
    """A ready service: every check passed."""

    status: Literal["ready"]
    checks: dict[str, bool]


def health_router(readiness: Callable[[], Awaitable[dict[str, bool]]] | None = None) -> APIRouter:
    """Return the liveness, readiness and metrics routes every service serves."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        """Answer while the process is alive."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database and NATS reachable",
        response_model=Readiness,
        responses={
            503: {
                "model": Problem,
                "content": {PROBLEM_JSON: {}},
                "description": "Not ready: a problem naming the failing checks",
            }
        },
    )
    async def readyz(state: PlatformDep) -> JSONResponse:
        """Answer 200 when the database answers and NATS is connected, else a 503 problem."""
        checks = {"database": await _database_ok(state.sessions), "nats": state.bus.connected}
        if readiness is not None:
            checks.update(await readiness())
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        failing = ", ".join(k for k, ok in checks.items() if not ok)
        return problem_response(503, "not-ready", f"not ready: {failing}", checks=checks)

    router.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    return router


async def _database_ok(sessions: SessionFactory) -> bool:
    try:
        async with sessions() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=2)
        return True
    except Exception as exc:
        log.warning("database not ready: %s", exc)
        return False


SHUTDOWN_GRACE_S = 10.0


async def stop_tasks(tasks: list[asyncio.Task[None]], grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """Cancel background tasks and wait for them, at most ``grace_s``: a task that swallows its
    cancellation (Python 3.11's wait_for can) is named in the log instead of hanging the shutdown."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        log.error(
            "background task %s did not stop within %.0fs of its cancellation", task.get_name(), grace_s
        )
        task.cancel()

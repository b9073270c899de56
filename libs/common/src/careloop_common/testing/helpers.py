"""Helpers for tests of careloop services (no mocks of our own code: real NATS, real databases)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI
from nats.js.api import ConsumerConfig, DeliverPolicy

from careloop_common.auth import PRINCIPAL_HEADER, Principal, sign_principal
from careloop_common.bus import dead_letter_subject
from careloop_common.inbox import REASON_HEADER
from careloop_common.natsserver import free_port
from careloop_common.settings import ServiceSettings

TEST_PRINCIPAL_SECRET = "test-principal-secret-0123456789abcdef"  # noqa: S105 - test-only key


S = TypeVar("S", bound=ServiceSettings)


def service_settings(cls: type[S], database_url: str, nats_url: str, **overrides: Any) -> S:
    """Return a service's settings for a test: its database, the test's NATS, fast polling, plain logs."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "principal_secret": TEST_PRINCIPAL_SECRET,
        "log_json": False,
        "outbox_poll_interval_s": 0.1,
    }
    values.update(overrides)
    return cls(**values)


def auth_headers(
    *scopes: str,
    subject: str = "tester",
    partner_id: str | None = None,
    roles: tuple[str, ...] = (),
    secret: str = TEST_PRINCIPAL_SECRET,
) -> dict[str, str]:
    """Return headers carrying a signed principal, as the gateway would forward them."""
    kind = "api_key" if partner_id else "staff"
    principal = Principal(
        subject=subject, kind=kind, roles=list(roles), scopes=list(scopes), partner_id=partner_id
    )
    return {PRINCIPAL_HEADER: sign_principal(principal, secret)}


@contextlib.asynccontextmanager
async def running_app(app: FastAPI, base_url: str = "http://test") -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (migrations, bus, relay, consumers) and yield an in-process client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30) as client:
            yield client


class LiveServer:
    """An app served by uvicorn on a real socket inside the test's event loop."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LiveServer:
        """Start serving and wait until started."""
        self.server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop serving."""
        self.server.should_exit = True
        if self._task is not None:
            await self._task


async def wait_until(
    check: Callable[[], Awaitable[Any]],
    *,
    timeout_s: float = 20.0,
    interval_s: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``message`` after ``timeout_s``.

    This bounds how long a test waits for eventual consistency; it asserts nothing about speed.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {message}; last value: {last!r}")


async def read_dead_letters(js: Any, durable: str, count: int) -> list[tuple[bytes, str]]:
    """Wait for ``count`` dead letters of a consumer; return each (original bytes, reason), in order."""
    subscription = await js.pull_subscribe(
        dead_letter_subject(durable),
        durable="dlq-reader",
        stream="DEADLETTER",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    got: list[tuple[bytes, str]] = []

    async def fetch() -> bool:
        try:
            for message in await subscription.fetch(count - len(got), timeout=0.5):
                got.append((message.data, (message.headers or {}).get(REASON_HEADER, "")))
                await message.ack()
        except TimeoutError:
            pass
        return len(got) >= count

    await wait_until(fetch, message=f"{count} dead letters")
    return got

"""What the cross-service tests share: the API gateway on a socket in front of services they run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import pytest

from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, service_settings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0003"


@dataclass
class FrontDoor:
    """The gateway in front of the test's services, and a client of it."""

    client: httpx.AsyncClient

    async def api_key(self, name: str, scopes: list[str]) -> dict[str, str]:
        """Make an API key through the admin API; return its authorization header."""
        made = await self.client.post(
            "/gateway/v1/api-keys",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            json={"name": name, "scopes": scopes},
        )
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}


OpenGateway = Callable[..., Awaitable[FrontDoor]]


@pytest.fixture
def open_gateway(sqlite_url: str, nats_url: str) -> OpenGateway:
    """Return a function that serves the gateway (on its own SQLite file) within the caller's stack.

    Pass the URLs of the services the test runs (``campaigns_url=…``); the others point nowhere.
    """

    async def open_(stack: AsyncExitStack, **service_urls: str) -> FrontDoor:
        nowhere = f"http://127.0.0.1:{free_port()}"
        urls = dict.fromkeys(
            ("complaints_url", "coverage_map_url", "campaigns_url", "contact_gateway_url", "web_url"), nowhere
        )
        settings = service_settings(
            GatewaySettings,
            sqlite_url.replace("test.db", "gateway.db"),
            nats_url,
            admin_api_key=ADMIN_KEY,
            **(urls | service_urls),
        )
        gateway = await stack.enter_async_context(LiveServer(gateway_app(settings)))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway.url, timeout=15))
        return FrontDoor(client)

    return open_

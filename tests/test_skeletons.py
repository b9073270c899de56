"""Every deployable answers the same operational routes: /healthz, /readyz, /metrics, and its OpenAPI."""

from __future__ import annotations

import importlib

import pytest

from careloop_common.testing import running_app, service_settings

PACKAGES = ["complaints", "coverage_map", "campaigns", "contact_gateway"]


@pytest.mark.parametrize("package", PACKAGES)
async def test_service_operational_routes(package: str, sqlite_url: str, nats_url: str) -> None:
    main = importlib.import_module(f"{package}.main")
    settings_module = importlib.import_module(f"{package}.settings")
    settings_cls = next(
        v for k, v in vars(settings_module).items() if k.endswith("Settings") and k != "ServiceSettings"
    )
    async with running_app(main.create_app(service_settings(settings_cls, sqlite_url, nats_url))) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert "careloop_http_requests_total" in (await client.get("/metrics")).text
        spec = (await client.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.1")
        assert {"/healthz", "/readyz"} <= set(spec["paths"])


async def test_web_pages_service() -> None:
    from web.main import create_app
    from web.settings import WebSettings

    async with running_app(create_app(WebSettings(log_json=False))) as client:
        assert (await client.get("/readyz")).status_code == 200
        page = await client.get("/")
        assert page.status_code == 200
        assert "careloop" in page.text
        assert page.headers["content-type"].startswith("text/html")
        missing = await client.get("/nope")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")  # a page says so, for people

"""The partner docs page in headless Chromium: it renders the merged API and, once a partner pastes
their key, marks what that key may call. Runs against a real gateway and real services."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright

from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, service_settings
from complaints.main import create_app as complaints_app
from complaints.settings import ComplaintsSettings
from coverage_map.main import create_app as coverage_app
from coverage_map.settings import CoverageSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0003"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("CARELOOP_ARTIFACTS", "artifacts")) / "screenshots"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


async def test_docs_page_shows_what_a_partner_key_may_call(sqlite_url: str, nats_url: str) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    complaints = complaints_app(service_settings(ComplaintsSettings, sqlite_url, nats_url))
    coverage = coverage_app(
        service_settings(CoverageSettings, sqlite_url.replace("test.db", "cov.db"), nats_url)
    )
    async with LiveServer(complaints) as c, LiveServer(coverage) as cov:
        settings = service_settings(
            GatewaySettings,
            sqlite_url.replace("test.db", "gw.db"),
            nats_url,
            admin_api_key=ADMIN_KEY,
            complaints_url=c.url,
            coverage_map_url=cov.url,
            campaigns_url=down,
            contact_gateway_url=down,
            web_url=down,
        )
        async with LiveServer(gateway_app(settings)) as gateway:
            async with httpx.AsyncClient(base_url=gateway.url) as client:
                created = await client.post(
                    "/gateway/v1/api-keys",
                    headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                    json={"name": "Acme", "partner_id": "acme", "scopes": ["complaints:read"]},
                )
                token = created.json()["token"]
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
                page = await browser.new_page()
                problems: list[str] = []
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                await page.goto(f"{gateway.url}/docs")
                await page.get_by_text("Showing every operation").wait_for()
                assert await page.locator("details").count() >= 5

                await page.get_by_label("Your API key or staff token").fill(token)
                await page.get_by_role("button", name="Show what I may call").click()
                await page.get_by_text("Signed in as key:").wait_for()
                assert "partner acme" in await page.locator("#caller").inner_text()

                list_complaints = page.locator("details", has_text="/complaints/v1/complaints").filter(
                    has_text="List complaints"
                )
                assert await list_complaints.locator(".badge").inner_text() == "you may call this"
                investigations = page.locator("details", has_text="List investigations")
                assert await investigations.locator(".badge").inner_text() == "not with this credential"
                await list_complaints.locator("summary").click()
                assert "complaints:read" in await list_complaints.inner_text()

                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "gateway-docs.png"), full_page=True)
                await browser.close()
                assert not problems, problems  # no CSP violations, no script errors

"""The whole platform on sockets for browser tests: every service, the gateway and the web pages,
one real nats-server, SQLite per service, an SMPP stand-in SMSC, the demo staff users.

It starts once per test module (a few seconds) in a thread with its own event loop, so tests
may be plain functions that drive Chromium through Playwright's sync API. Use ``platform`` for the
URLs and an admin client; ``browser`` for a headless Chromium (the module skips, saying so, where
Debian's chromium is missing); ``shoot(page, name)`` saves a screenshot as a test artifact under
``artifacts/screenshots/`` (or ``$CARELOOP_ARTIFACTS/screenshots``).

Mark a module ``pytestmark = pytest.mark.xdist_group("<its name>")`` so that, under
``python3 run.py test`` (``--dist loadgroup``), its tests share one worker and one platform start.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaigns.main import create_app as campaigns_app
from campaigns.settings import CampaignsSettings
from careloop_common.launcher.demo import DEMO_PASSWORD, DEMO_USERS
from careloop_common.natsserver import NatsServer, free_port
from careloop_common.testing import LiveServer, service_settings
from complaints.main import create_app as complaints_app
from complaints.settings import ComplaintsSettings
from contact_gateway.main import create_app as contact_app
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.standins.smsc import SmscStandIn
from coverage_map.main import create_app as coverage_app
from coverage_map.settings import CoverageSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings
from web.main import create_app as web_app
from web.settings import WebSettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0web"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("CARELOOP_ARTIFACTS", "artifacts")) / "screenshots"
PASSWORD = DEMO_PASSWORD
START_TIMEOUT_S = 60.0


@dataclass
class Platform:
    """A running platform: the gateway's URL (the pages' origin too) and each part's URL."""

    url: str
    urls: dict[str, str]
    smsc: SmscStandIn
    admin: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.admin = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=15
        )

    def call(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        """Call the gateway as the admin; fail unless the status is expected; return the JSON body."""
        response = self.admin.request(method, path, **kw)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in wanted, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


class _Runner:
    """Runs the platform's servers on an event loop in a thread until told to stop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.platform: Platform | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="platform", daemon=True)

    def start(self) -> Platform:
        self._thread.start()
        if not self.ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the platform did not start in {START_TIMEOUT_S:.0f} s")
        if self.failure is not None:
            raise RuntimeError("the platform failed to start") from self.failure
        assert self.platform is not None
        return self.platform

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced to the fixture, which fails the module
            self.failure = exc
            self.ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nats = NatsServer(self.root / "nats", log_file=self.root / "nats.log")
        nats.start()
        try:
            async with AsyncExitStack() as stack:
                self.platform = await _start(stack, self.root, nats.url)
                self.ready.set()
                await self._stop.wait()
        finally:
            nats.stop()


async def _start(stack: AsyncExitStack, root: Path, nats_url: str) -> Platform:
    """Start every part on a free port, the gateway pointing at each, the pages at the gateway."""

    def db(name: str) -> str:
        return f"sqlite+aiosqlite:///{root / name}.db"

    async def serve(app: Any, port: int | None = None) -> str:
        server = await stack.enter_async_context(LiveServer(app, port))
        return server.url

    smsc = await stack.enter_async_context(SmscStandIn(port=free_port(), receipt_delay_s=0.05))
    urls: dict[str, str] = {}
    urls["coverage-map"] = await serve(
        coverage_app(service_settings(CoverageSettings, db("coverage"), nats_url))
    )
    urls["complaints"] = await serve(
        complaints_app(
            service_settings(
                ComplaintsSettings, db("complaints"), nats_url, coverage_url=urls["coverage-map"]
            )
        )
    )
    urls["contact-gateway"] = await serve(
        contact_app(
            service_settings(
                ContactGatewaySettings,
                db("contact"),
                nats_url,
                smsc_urls=f"smpp://careloop:secret@127.0.0.1:{smsc.port}",
                quiet_hours={"service": "", "care": ""},
                dispatch_poll_s=0.05,
            )
        )
    )
    urls["campaigns"] = await serve(
        campaigns_app(
            service_settings(CampaignsSettings, db("campaigns"), nats_url, model_refresh_interval_s=0.2)
        )
    )
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    urls["web"] = await serve(
        web_app(
            WebSettings(
                gateway_url=gateway_url,
                session_secret="test-web-session-secret-0123456789",
                log_json=False,
                nats_url=nats_url,
            )
        )
    )
    gateway = service_settings(
        GatewaySettings,
        db("gateway"),
        nats_url,
        admin_api_key=ADMIN_KEY,
        complaints_url=urls["complaints"],
        coverage_map_url=urls["coverage-map"],
        campaigns_url=urls["campaigns"],
        contact_gateway_url=urls["contact-gateway"],
        web_url=urls["web"],
        cors_origins=[gateway_url],
    )
    urls["gateway"] = await serve(gateway_app(gateway), gateway_port)
    return Platform(gateway_url, urls, smsc)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The whole platform, started once for the test module."""
    runner = _Runner(tmp_path_factory.mktemp("platform"))
    started = runner.start()
    try:
        # From this thread: the servers' loop must stay free to answer.
        for user in DEMO_USERS:
            started.call("POST", "/gateway/v1/users", 201, json={**user, "password": PASSWORD})
        yield started
    finally:
        started.admin.close()
        runner.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright (sync API), once per module."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def shoot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot of a Playwright page as a test artifact; return its path."""

    def save(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def watch_console(page: Any) -> list[str]:
    """Collect script errors, CSP violations and failed assets (a page's own 4xx status is not one)."""
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def response(answer: Any) -> None:
        if answer.status >= 400 and answer.request.resource_type != "document":
            problems.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", response)

    def failed(request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":  # a navigation or closing tab cut it short
            problems.append(f"failed {request.url}: {request.failure}")

    page.on("requestfailed", failed)
    return problems


def log_in(page: Any, base_url: str, username: str) -> None:
    """Sign a demo staff user in through the login form."""
    page.goto(f"{base_url}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()

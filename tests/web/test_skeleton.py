"""The pages' frame in Chromium against the running platform: the portal answers at the gateway's
origin in the visitor's language, a staff member logs in and out, and no page breaks its CSP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import Platform, log_in, watch_console


@pytest.fixture
def page(browser: Any, platform: Platform) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 800})
    yield context.new_page()
    context.close()


def test_the_frame_switches_language_and_logs_staff_in_and_out(
    page: Any, platform: Platform, shoot: Callable[[Any, str], Path]
) -> None:
    problems = watch_console(page)
    page.goto(platform.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="繁體中文").click()
    page.wait_for_url(platform.url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-Hant-HK"
    page.get_by_role("link", name="English").click()

    log_in(page, platform.url, "agent")
    assert page.get_by_text("Signed in as agent").is_visible()
    shoot(page, "frame-signed-in")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Staff login").wait_for()

    page.get_by_label("User name").fill("agent")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").filter(has_text="did not match").wait_for()
    assert not problems, problems

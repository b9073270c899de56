# ruff: noqa: RUF001 - Chinese message text
"""The campaign console and the supervisor dashboard in Chromium against the running platform.

A marketer builds a campaign from the care catalogue (the audience counted live as the conditions
are typed, the SMS counter on Chinese text), submits it; the supervisor approves it; the marketer
starts it and runs it now, and the monitor's counts move as the SMSC stand-in delivers; the
evaluation report draws its charts; the supervisor's dashboard shows the complaint figures. A
screenshot of each page is kept. The four-eyes rule is checked over plain HTTP: an admin who wrote
a campaign is refused approving it, and the page says why.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import PASSWORD, Platform, log_in, watch_console

SUBSCRIBERS = 30
LONG_CHINESE = "親愛的客戶，祝您生日快樂！" * 6  # 78 characters: UCS-2, two parts


@pytest.fixture(scope="module")
def loaded(platform: Platform) -> Platform:
    """An audience of Hong Kong subscribers (imported as a file) and a few complaints."""
    rows = ["msisdn,brand,plan_id,region,join_date"]
    rows += [f"+8529100{n:04d},careloop,LITE68,HK,2024-01-15" for n in range(SUBSCRIBERS)]
    job = platform.call(
        "POST",
        "/campaigns/v1/imports",
        202,
        files={"file": ("audience.csv", "\n".join(rows).encode(), "text/csv")},
    )
    deadline = time.monotonic() + 30
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = platform.call("GET", f"/campaigns/v1/imports/{job['id']}", 200)
    assert job["status"] == "done", job
    assert job["rows_imported"] == SUBSCRIBERS, job
    for number, category in enumerate(("coverage", "coverage", "billing", "service")):
        platform.call(
            "POST",
            "/complaints/v1/complaints",
            201,
            json={
                "category": category,
                "channel": "call_centre",
                "msisdn": f"+8529100{number:04d}",
                "description": f"web console test complaint {number}",
            },
        )
    return platform


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 860})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


def test_a_campaign_is_built_approved_run_and_watched(
    loaded: Platform, new_page: Callable[[], Any], shoot: Callable[[Any, str], Path]
) -> None:
    url = loaded.url
    marketer = new_page()
    problems = watch_console(marketer)
    log_in(marketer, url, "marketer")
    marketer.get_by_role("link", name="Campaigns").first.click()
    marketer.get_by_role("link", name="Care catalogue").click()
    shoot(marketer, "campaigns-catalogue")
    marketer.locator("article", has_text="Birthday greeting").get_by_role("link").click()

    # The builder: the live audience count follows the conditions typed.
    marketer.locator("#name").fill("Web console birthday care")
    marketer.get_by_label("Conditions (JSON)").fill("")
    marketer.get_by_label("Field", exact=True).select_option("region")
    marketer.get_by_label("Operator").select_option("=")
    marketer.get_by_label("Value", exact=True).fill("HK")
    marketer.get_by_role("button", name="Add condition").click()
    marketer.locator("#preview").get_by_text(f"{SUBSCRIBERS} customers").wait_for()
    marketer.get_by_label("Value", exact=True).fill("zh-Hant")
    marketer.get_by_label("Field", exact=True).select_option("language")
    marketer.get_by_role("button", name="Add condition").click()
    assert '"all"' in marketer.get_by_label("Conditions (JSON)").input_value()
    marketer.locator("#preview").get_by_text(f"{SUBSCRIBERS} customers").wait_for()
    marketer.get_by_label("Conditions (JSON)").fill('{"field": "regoin", "op": "=", "value": "HK"}')
    marketer.locator("#preview").get_by_role("alert").filter(has_text="regoin").wait_for()
    marketer.locator("summary", has_text="Examples").click()
    marketer.get_by_role("button", name="Use this").first.click()  # the first example: region HK
    marketer.locator("#preview").get_by_text(f"{SUBSCRIBERS} customers").wait_for()
    # The SMS counter: Chinese is UCS-2, 70 in one message, 67 a part beyond.
    marketer.get_by_label("繁體中文").fill(LONG_CHINESE)
    counter = marketer.locator('output[data-sms-count="content-zh-Hant"]')
    assert counter.text_content().strip() == "UCS-2 · 78 characters · 2 SMS · 56 left"
    marketer.get_by_role("radio", name="Once").check()
    marketer.get_by_label("Control group (%)").fill("20")
    marketer.get_by_label("Conversion event").fill("payment.received")
    shoot(marketer, "campaigns-builder")
    marketer.get_by_role("button", name="Save draft").click()
    marketer.get_by_text("The campaign is saved.").wait_for()
    campaign_url = marketer.url.split("?")[0]
    marketer.get_by_role("button", name="Submit for approval").click()
    marketer.get_by_text("awaiting approval").first.wait_for()
    assert marketer.get_by_role("button", name="Approve").count() == 0  # marketers do not approve

    # The supervisor, another user with campaigns:approve, approves it.
    supervisor = new_page()
    supervisor_problems = watch_console(supervisor)
    log_in(supervisor, url, "supervisor")
    supervisor.goto(campaign_url)
    supervisor.get_by_label("Note for the author").fill("Fine: birthday care for HK customers")
    shoot(supervisor, "campaigns-approval")
    supervisor.get_by_role("button", name="Approve").click()
    supervisor.get_by_text("approved").first.wait_for()
    assert supervisor.get_by_role("button", name="Run now").count() == 0  # supervisors do not run

    # The marketer starts it and runs it now; the monitor counts the contacts as they are delivered.
    marketer.goto(campaign_url)
    marketer.get_by_role("button", name="Start running").click()
    marketer.get_by_role("button", name="Run now").click()
    marketer.get_by_text(re.compile(r"Run \d+ done: \d+ customers targeted")).wait_for()
    targeted = int(marketer.locator("[data-figure=targeted] .figure-value").text_content().replace(",", ""))
    held_out = int(marketer.locator("[data-figure=held_out] .figure-value").text_content().replace(",", ""))
    assert targeted > 0
    assert targeted + held_out == SUBSCRIBERS
    marketer.wait_for_function(  # the page refreshes its figures itself
        "() => Number(document.querySelector('[data-figure=delivered] .figure-value')"
        ".textContent.replace(/,/g, '')) > 0",
        timeout=20_000,
    )
    shoot(marketer, "campaigns-monitor")

    marketer.get_by_role("link", name="Evaluation").click()
    marketer.get_by_role("heading", name="Uplift: treatment against control").wait_for()
    assert marketer.locator("svg.chart").count() >= 3
    shoot(marketer, "campaigns-evaluation")
    marketer.goto(url + "/campaigns")
    marketer.get_by_role("link", name="Web console birthday care").wait_for()
    shoot(marketer, "campaigns-list")

    # The supervisor's dashboard shows the complaints filed.
    supervisor.get_by_role("link", name="Supervisor").click()
    supervisor.get_by_role("heading", name="Supervisor").wait_for()
    filed = int(supervisor.locator("[data-figure=complaints] .figure-value").text_content())
    assert filed >= 4
    assert supervisor.locator("svg.chart").count() >= 3
    shoot(supervisor, "supervisor-dashboard")
    supervisor.get_by_role("link", name="繁體中文").click()
    supervisor.get_by_role("heading", name="主管儀表板").wait_for()
    shoot(supervisor, "supervisor-dashboard-zh-Hant")
    assert not problems, problems
    assert not supervisor_problems, supervisor_problems


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_the_author_cannot_approve_and_other_roles_are_refused(loaded: Platform) -> None:
    with httpx.Client(base_url=loaded.url, headers={"Accept-Language": "en"}, timeout=15) as admin:
        admin.post("/login", data={"username": "admin", "password": PASSWORD})
        builder = admin.get("/campaigns/new", params={"template": "payment_received"})
        assert builder.status_code == 200, builder.text
        csrf = _csrf(builder.text)
        saved = admin.post(
            "/campaigns/new",
            data={
                "csrf": csrf,
                "kind": "payment_received",
                "name": "Four eyes",
                "goal": "Check the rule",
                "content_en": "Thank you",
                "trigger_type": "once",
                "control_share": "0",
            },
        )
        assert saved.status_code == 303, saved.text
        campaign = saved.headers["location"].split("?")[0]
        assert "Edit campaign" in admin.get(f"{campaign}/edit").text
        edited = admin.post(
            f"{campaign}/edit",
            data={
                "csrf": csrf,
                "kind": "payment_received",
                "name": "Four eyes, edited",
                "goal": "Check",
                "content_en": "Thank you",
                "trigger_type": "once",
                "control_share": "0",
            },
        )
        assert edited.status_code == 303, edited.text
        assert "Four eyes, edited" in admin.get(campaign).text
        admin.post(f"{campaign}/moves", data={"csrf": csrf, "status": "submitted"})
        refused = admin.post(f"{campaign}/moves", data={"csrf": csrf, "status": "approved"})
        assert refused.status_code == 403
        assert "The author of a campaign cannot approve or reject it" in refused.text
        assert "approver-is-author" not in refused.text or "403" in refused.text
        chinese = admin.get(campaign, headers={"Accept-Language": "zh-HK"})
        assert "待審批" in chinese.text  # awaiting approval, in Traditional Chinese
        simplified = admin.get("/campaigns/catalogue", headers={"Accept-Language": "zh-CN"})
        assert "关怀模板目录" in simplified.text  # the care catalogue, in Simplified Chinese
        forged = admin.post(f"{campaign}/moves", data={"csrf": "forged", "status": "cancelled"})
        assert forged.status_code == 403

        # Another approver approves; the author runs it, pauses it, and the page offers to resume.
        with httpx.Client(base_url=loaded.url, headers={"Accept-Language": "en"}, timeout=15) as supervisor:
            supervisor.post("/login", data={"username": "supervisor", "password": PASSWORD})
            page = supervisor.get(campaign)
            approved = supervisor.post(
                f"{campaign}/moves", data={"csrf": _csrf(page.text), "status": "approved"}
            )
            assert approved.status_code == 303, approved.text
        for status in ("running", "paused"):
            moved = admin.post(f"{campaign}/moves", data={"csrf": csrf, "status": status})
            assert moved.status_code == 303, moved.text
        paused = admin.get(campaign).text
        assert 'class="badge status-paused"' in paused
        assert 'value="running"' in paused
        assert "Run now" not in paused
        illegal = admin.post(f"{campaign}/moves", data={"csrf": csrf, "status": "evaluated"})
        assert illegal.status_code == 409
        assert "cannot make that move" in illegal.text

    with httpx.Client(base_url=loaded.url, headers={"Accept-Language": "en"}, timeout=15) as marketer:
        marketer.post("/login", data={"username": "marketer", "password": PASSWORD})
        assert marketer.get("/supervisor").status_code == 403
    with httpx.Client(base_url=loaded.url, headers={"Accept-Language": "en"}, timeout=15) as agent:
        agent.post("/login", data={"username": "agent", "password": PASSWORD})
        assert agent.get("/campaigns").status_code == 403
    anonymous = httpx.get(loaded.url + "/campaigns", follow_redirects=False, timeout=15)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")

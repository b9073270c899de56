"""The care pages in headless Chromium against the whole running platform (tests/web/conftest.py):
a customer files a coverage complaint on the portal and tracks it; an agent takes one from the
queue and replies and closes it; an engineer assesses an area from the investigation queue and
publishes the wording, and the portal then answers with it. A screenshot of each page is saved."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h3
import pytest

from tests.web.conftest import PASSWORD, Platform, log_in, watch_console

# One platform start for the module: under xdist its tests stay on one worker (run.py's loadgroup).
pytestmark = pytest.mark.xdist_group("web-care-pages")

Shoot = Callable[[Any, str], Path]
SHA_TIN = (22.3817, 114.1880)  # a place only the engineer's test files at


@pytest.fixture
def page(browser: Any, platform: Platform) -> Iterator[Any]:
    """A fresh English browser tab on a laptop-sized screen; fails the test on script or CSP errors."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    problems = watch_console(tab)
    yield tab
    context.close()
    assert not problems, problems


def known_to_crm(platform: Platform, msisdn: str) -> None:
    """Send the CRM's profile of a customer through the feeds API and wait until campaigns holds it."""
    profile = {
        "msisdn": msisdn,
        "brand": "harbour",
        "plan_id": "BASIC",
        "region": "HK",
        "time_zone": "Asia/Hong_Kong",
        "language": "en",
        "join_date": "2023-05-01",
        "at": "2026-11-01T00:00:00Z",
    }
    event = {
        "specversion": "1.0",
        "id": f"crm-{msisdn}",
        "source": "/operator/crm",
        "type": "feeds.crm.subscriber_upserted.v1",
        "data": profile,
    }
    platform.call("POST", "/feeds/v1/events", expect=202, json=[event])
    deadline = time.monotonic() + 20
    while platform.admin.get(f"/campaigns/v1/subscribers/{msisdn}/summary").status_code != 200:
        assert time.monotonic() < deadline, "the CRM profile did not reach campaigns"
        time.sleep(0.1)


def file_on_portal(platform: Platform, lat: float, lng: float, msisdn: str) -> dict[str, Any]:
    """File a coverage complaint through the portal's API as a customer would (no credential)."""
    response = platform.admin.post(
        "/complaints/v1/portal/complaints",
        headers={"Authorization": ""},
        json={
            "category": "coverage",
            "msisdn": msisdn,
            "lat": lat,
            "lng": lng,
            "symptoms": ["no_signal"],
            "follow_up": True,
            "language": "en",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    """Poll until ``check`` gives something truthy (events cross NATS); fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_customer_files_a_complaint_on_the_portal_and_tracks_it(
    page: Any, platform: Platform, shoot: Shoot
) -> None:
    page.goto(platform.url + "/")
    page.get_by_role("heading", name="Published improvement plans").wait_for()
    shoot(page, "portal-home")
    page.get_by_role("link", name="Report a coverage problem").click()

    page.get_by_label("Mobile number").fill("+852 9123 4568")
    page.get_by_label("Calls drop").check()
    page.get_by_label("Weak signal").check()
    page.get_by_label("Network").select_option("4G")
    page.get_by_role("img", name="Map of Hong Kong").click(position={"x": 200, "y": 150})
    assert page.get_by_label("Latitude").input_value()  # the map filled the point in
    page.get_by_label("Latitude").fill("22.2819")
    page.get_by_label("Longitude").fill("114.1582")
    page.get_by_label("Tell us more").fill("Calls drop in the lift lobby")
    shoot(page, "portal-file")
    page.get_by_role("button", name="Send my complaint").click()

    page.get_by_role("heading", name="We have your complaint").wait_for()
    reference = page.locator("#reference").inner_text()
    token = page.locator("#tracking-code").inner_text()
    assert reference.startswith("CMP-")
    assert token.startswith("trk_")
    shoot(page, "portal-receipt")

    page.get_by_role("link", name="Track this complaint").click()
    assert page.get_by_label("Reference").input_value() == reference
    page.get_by_label("Tracking code").fill("trk_wrong")
    page.get_by_role("button", name="Track my complaint").click()
    page.get_by_role("alert").filter(has_text="No complaint matches").wait_for()

    page.get_by_label("Tracking code").fill(token)
    page.get_by_role("button", name="Track my complaint").click()
    page.get_by_role("heading", name="What has happened").wait_for()
    timeline = page.locator("ol.timeline").inner_text()
    assert "Complaint received" in timeline
    assert page.locator("#status").inner_text() == "Received"
    shoot(page, "portal-track")


def test_an_agent_takes_a_complaint_from_the_queue_and_replies_and_closes_it(
    page: Any, platform: Platform, shoot: Shoot
) -> None:
    filed = file_on_portal(platform, 22.3193, 114.1694, "+85261112222")
    log_in(page, platform.url, "agent")
    page.goto(platform.url + "/desk")
    page.get_by_role("heading", name="Mine").wait_for()
    page.get_by_role("link", name="All open").click()
    row = page.locator("tr", has_text=filed["reference"])
    assert "queue:" in row.inner_text()  # filed on the portal: it waits in its queue
    assert row.locator("[data-remaining]").count() == 3  # the three SLA clocks
    shoot(page, "desk-queue")
    refreshed = page.request.get(platform.url + "/desk?view=all", headers={"HX-Request": "true"})
    assert refreshed.text().lstrip().startswith('<div id="queue"')  # htmx swaps only the queue in
    assert filed["reference"] in refreshed.text()
    row.get_by_role("link", name=filed["reference"]).click()

    page.get_by_role("button", name="Take it").click()
    page.get_by_text("agent · coverage.HK.standard").wait_for()
    page.get_by_label("Reply to the customer").fill(
        "A new site is planned; we will text you when it is on air."
    )
    shoot(page, "desk-complaint")
    page.get_by_role("button", name="Reply and close").click()
    assert page.locator("#complaint-status").inner_text() == "Closed"
    assert "This complaint has ended." in page.inner_text("main")

    known_to_crm(platform, "+85261112222")
    page.get_by_label("Caller's number").fill("+85261112222")
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("heading", name="Past complaints").wait_for()
    assert filed["reference"] in page.locator("section", has_text="Open complaints").inner_text()
    # The screen pop's profile comes from the subscriber summary the agent's role may read.
    assert "harbour · BASIC" in page.locator("section", has_text="Profile").inner_text()
    shoot(page, "desk-customer")

    page.get_by_role("link", name="Dialer").click()
    page.get_by_role("button", name="Next call").click()
    page.get_by_text("No call is waiting for you.").wait_for()
    shoot(page, "desk-dialer")


def test_an_engineer_assesses_an_area_and_the_portal_then_answers_with_it(
    page: Any, platform: Platform, shoot: Shoot
) -> None:
    filed = file_on_portal(platform, *SHA_TIN, "+85251113333")
    assert filed["answer_state"] != "published"
    area = h3.latlng_to_cell(*SHA_TIN, 8)
    eventually(
        lambda: any(
            i["investigation"]["area_id"] == area for i in platform.call("GET", "/coverage/v1/queue")["items"]
        ),
        "the area's investigation",
    )
    log_in(page, platform.url, "engineer")
    page.goto(platform.url + "/engineering")
    shoot(page, "engineering-queue")
    page.get_by_role("link", name="Area map").click()
    page.locator(f'svg a[href="/engineering/areas/{area}"]').wait_for()
    shoot(page, "engineering-map")
    page.get_by_role("link", name=area).first.click()

    page.get_by_role("heading", name="Assess this area").wait_for()
    page.get_by_label("4G Calls", exact=True).select_option("weak")
    page.get_by_label("4G Data", exact=True).select_option("weak")
    page.get_by_label("Findings").fill("Hillside shadows the estate")
    page.get_by_label("Action").select_option("new_site")
    page.get_by_label("Target date").fill("2027-06-30")
    page.get_by_label("Expected after 4G Calls").select_option("good")
    page.get_by_role("button", name="Record the assessment").click()
    page.get_by_text("Assessment recorded").wait_for()
    english = page.locator("#text-en")  # labelled "English" and its state
    assert english.input_value()  # the assessment drafted the wording
    english.fill("Hillside blocks the signal here; a new site is planned for June 2027.")
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Wording published.").wait_for()
    shoot(page, "engineering-area")

    page.goto(f"{platform.url}/check?lat={SHA_TIN[0]}&lng={SHA_TIN[1]}")
    wording = page.locator("#public-wording").inner_text()
    assert "a new site is planned for June 2027" in wording
    shoot(page, "portal-check")

    page.goto(platform.url + "/file")
    page.get_by_label("Mobile number").fill("+85251114444")
    page.get_by_label("Latitude").fill(str(SHA_TIN[0]))
    page.get_by_label("Longitude").fill(str(SHA_TIN[1]))
    page.get_by_role("button", name="Send my complaint").click()
    answer = page.get_by_role("status").filter(has_text="What we know of this place")
    assert "a new site is planned for June 2027" in answer.inner_text()
    shoot(page, "portal-instant-answer")


def test_the_frame_switches_language_and_keeps_staff_pages_to_their_roles(
    page: Any, platform: Platform, shoot: Shoot
) -> None:
    page.goto(platform.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="繁體中文").click()
    page.get_by_role("heading", name="客戶服務").wait_for()
    assert page.locator("html").get_attribute("lang") == "zh-Hant-HK"
    shoot(page, "portal-home-zh-hant")
    page.get_by_role("link", name="English").click()

    page.goto(platform.url + "/engineering")  # a staff page: log in first, then come back to it
    page.get_by_text("Please log in to see this page.").wait_for()
    page.get_by_label("User name").fill("agent")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").filter(has_text="did not match").wait_for()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Not for your role").wait_for()  # agents do not assess areas
    assert page.get_by_text("Signed in as agent").is_visible()
    assert page.get_by_role("link", name="Call centre").is_visible()
    assert not page.get_by_role("link", name="Engineering").is_visible()
    shoot(page, "frame-forbidden")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Staff login").wait_for()

"""The scheduler, driven with an injected ``now`` (no sleeping): SLA warning and breach with
escalation, clocks paused while pending, the third-working-day dispatch of engineering's answer
across weekends and Hong Kong holidays, and revisits after closing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from complaints_desk import BILLING_FORM, COVERAGE_FORM, Desk, agent

from careloop_common.db import transaction
from careloop_common.events.coverage import WordingPublishedV1
from complaints import lifecycle, sla
from complaints.consumers import COVERAGE_ANSWERS
from complaints.models import Complaint

SECOND = timedelta(seconds=1)
HK = ZoneInfo("Asia/Hong_Kong")


def hk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return a Hong Kong wall-clock time as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=HK).astimezone(UTC)


async def sla_events(desk: Desk, complaint_id: str) -> list[tuple[str, str]]:
    """Return (kind, clock) of every SLA event staged for a complaint."""
    found = []
    for subject, data in await desk.outbox():
        if subject.startswith("complaints.complaint.sla_") and data["complaint_id"] == complaint_id:
            found.append((subject.rsplit("_", 1)[-1], data["clock"]))
    return found


async def test_a_clock_warns_then_breaches_and_the_breach_escalates_once(desk: Desk) -> None:
    filed = await desk.file(BILLING_FORM, headers=agent("ann"))
    row = await desk.row(filed["id"])
    calendar = sla.BusinessCalendar.for_region("HK")
    warn = calendar.add_business_time(row.created_at, timedelta(hours=4 * 0.8))
    due = calendar.add_business_time(row.created_at, timedelta(hours=4))
    assert (row.sla_check_at, row.first_response_due) == (warn, due)

    await desk.tick(warn - SECOND)
    assert await sla_events(desk, filed["id"]) == []
    await desk.tick(warn + SECOND)
    await desk.tick(warn + 2 * SECOND)  # a second pass (or replica) adds nothing
    assert await sla_events(desk, filed["id"]) == [("warning", "first_response")]
    [warning] = await desk.events("complaints.complaint.sla_warning")
    assert (warning["owner"], datetime.fromisoformat(warning["due_at"])) == ("ann", due)
    row = await desk.row(filed["id"])
    assert (row.sla_flags, row.escalated, row.sla_check_at) == (["first_response:warning"], False, due)

    await desk.tick(due + SECOND)
    await desk.tick(due + 2 * SECOND)
    assert await sla_events(desk, filed["id"]) == [
        ("warning", "first_response"),
        ("breached", "first_response"),
    ]
    [breach] = await desk.events("complaints.complaint.sla_breached")
    assert (breach["owner"], breach["region"]) == ("ann", "HK")
    row = await desk.row(filed["id"])
    assert row.escalated is True
    assert row.sla_flags == ["first_response:warning", "first_response:breached"]
    kinds = await desk.kinds(filed["id"])
    assert kinds.count("sla_warning") == kinds.count("sla_breached") == kinds.count("escalated") == 1
    # Its owner keeps it; the supervisor now sees it.
    assert row.owner == "ann"


async def test_replicas_running_the_same_pass_handle_each_complaint_once(desk: Desk) -> None:
    filed = [await desk.file(BILLING_FORM) for _ in range(6)]
    latest = max([(await desk.row(f["id"])).sla_check_at for f in filed], key=lambda at: at or datetime.min)
    assert latest is not None
    # Two passes at once, as two replicas would run them (on PostgreSQL they claim disjoint rows).
    await asyncio.gather(desk.tick(latest + SECOND), desk.tick(latest + SECOND))
    warnings = await desk.events("complaints.complaint.sla_warning")
    assert sorted(w["complaint_id"] for w in warnings) == sorted(f["id"] for f in filed)


async def test_a_late_watcher_breaches_every_clock_and_escalates_once(desk: Desk) -> None:
    filed = await desk.file(BILLING_FORM)
    row = await desk.row(filed["id"])
    counts = await desk.tick(row.created_at + timedelta(days=60))
    assert counts.sla_checked == 1
    assert sorted(await sla_events(desk, filed["id"])) == [
        ("breached", "first_response"),
        ("breached", "next_update"),
        ("breached", "resolution"),
    ]
    assert (await desk.kinds(filed["id"])).count("escalated") == 1
    assert (await desk.row(filed["id"])).sla_check_at is None


async def test_the_green_channel_breaches_sooner(desk: Desk) -> None:
    normal = await desk.file(BILLING_FORM)
    gold = await desk.file({**BILLING_FORM, "customer_class": "gold"})
    gold_row = await desk.row(gold["id"])
    assert gold_row.first_response_due is not None
    await desk.tick(gold_row.first_response_due + SECOND)
    assert ("breached", "first_response") in await sla_events(desk, gold["id"])
    assert ("breached", "first_response") not in await sla_events(desk, normal["id"])


async def test_clocks_stand_still_while_pending_on_the_customer(desk: Desk) -> None:
    filed = await desk.file(COVERAGE_FORM)
    assert (await desk.move(filed["id"], "pending", reason="asked for the exact address")).status_code == 200
    row = await desk.row(filed["id"])
    assert (row.next_update_due, row.resolution_due, row.sla_check_at) == (None, None, None)
    assert row.first_responded_at is not None
    paused_at = datetime.fromisoformat(str(row.pauses[0][0]))
    # However long the customer takes, nothing is due meanwhile.
    counts = await desk.tick(row.created_at + timedelta(days=30))
    assert counts.sla_checked == 0
    assert await sla_events(desk, filed["id"]) == []
    # The customer answers ten days later: the deadline moves by the business time that passed.
    resumed_at = row.created_at + timedelta(days=10)
    async with transaction(desk.sessions) as session:
        complaint = await session.get(Complaint, filed["id"])
        assert complaint is not None
        lifecycle.change_status(
            session, complaint, "inProgress", by="agent-7", now=resumed_at, source=desk.source
        )
    row = await desk.row(filed["id"])
    calendar = sla.BusinessCalendar.for_region("HK")
    expected = sla.due_at(calendar, row.created_at, timedelta(hours=72), [(paused_at, resumed_at)])
    assert expected is not None
    assert row.resolution_due == expected
    assert expected >= calendar.add_business_time(row.created_at, timedelta(hours=72)) + timedelta(days=5)
    await desk.tick(expected - SECOND)
    assert ("breached", "resolution") not in await sla_events(desk, filed["id"])
    await desk.tick(expected + SECOND)
    assert ("breached", "resolution") in await sla_events(desk, filed["id"])


@pytest.mark.parametrize(
    ("assessed", "dispatched"),
    [
        # Friday → Monday, Tuesday, Wednesday.
        (hk(2026, 12, 4, 10), hk(2026, 12, 9, 9)),
        # Thursday 24 December: Christmas Day (Friday) and the weekend do not count.
        (hk(2026, 12, 24, 10), hk(2026, 12, 30, 9)),
        # Thursday 2 April: Good Friday, the day after, Easter Monday and Ching Ming's day in lieu.
        (hk(2026, 4, 2, 16), hk(2026, 4, 10, 9)),
    ],
    ids=["weekend", "christmas", "easter"],
)
async def test_the_answer_goes_to_the_owner_on_the_third_working_day(
    desk: Desk, assessed: datetime, dispatched: datetime
) -> None:
    filed = await desk.file({**COVERAGE_FORM, "language": "en"}, headers=agent("ann"))
    area = filed["area_id"]
    published = WordingPublishedV1(
        area_id=area,
        district_id="86411c8ffffffff",
        version_number=1,
        texts={"en": "Indoor coverage in this block is weak; a new site is planned for March."},
        published_at=assessed,
    )
    assert await desk.deliver(COVERAGE_ANSWERS, published)
    row = await desk.row(filed["id"])
    assert row.dispatch_at == dispatched
    assert row.dispatched_at is None

    await desk.tick(dispatched - SECOND)
    assert (await desk.row(filed["id"])).dispatched_at is None
    counts = await desk.tick(dispatched)
    assert counts.dispatched == 1
    assert (await desk.tick(dispatched + SECOND)).dispatched == 0
    row = await desk.row(filed["id"])
    assert (row.dispatched_at, row.status) == (dispatched, "inProgress")
    assigned = await desk.events("complaints.complaint.assigned", filed["id"])
    assert [e["owner"] for e in assigned] == ["ann", "ann"]
    [moved] = await desk.events("complaints.complaint.status_changed", filed["id"])
    assert (moved["from_status"], moved["to_status"], moved["by"]) == ("acknowledged", "inProgress", "system")
    [*_, notice] = await desk.notices(filed["id"])
    assert (notice["template_id"], notice["language"]) == ("complaint.progress", "en")
    assert notice["variables"]["progress"] == "your care officer will reply with engineering's findings."
    assert "dispatched" in await desk.kinds(filed["id"])


async def test_an_ended_complaint_is_not_dispatched(desk: Desk) -> None:
    filed = await desk.file(COVERAGE_FORM)
    await desk.deliver(
        COVERAGE_ANSWERS,
        WordingPublishedV1(
            area_id=filed["area_id"],
            district_id="86411c8ffffffff",
            version_number=1,
            texts={"zh-Hant": "已計劃改善。"},
            published_at=hk(2026, 12, 4, 10),
        ),
    )
    await desk.move(filed["id"], "cancelled")
    assert (await desk.tick(hk(2026, 12, 10))).dispatched == 0
    assert (await desk.row(filed["id"])).dispatched_at is None


async def test_closed_complaints_are_revisited_after_their_category_s_delay(desk: Desk) -> None:
    billing = await desk.file({**BILLING_FORM, "language": "zh-Hans"})
    coverage = await desk.file({**COVERAGE_FORM, "contact_preference": "call", "customer_class": "vip"})
    still_open = await desk.file(BILLING_FORM)
    for complaint in (billing, coverage):
        await desk.move(complaint["id"], "resolved")
        await desk.move(complaint["id"], "closed")
    billing_due = (await desk.row(billing["id"])).revisit_due_at
    coverage_due = (await desk.row(coverage["id"])).revisit_due_at
    assert billing_due is not None
    assert coverage_due is not None

    assert (await desk.tick(billing_due - SECOND)).revisits_sent == 0
    assert (await desk.tick(billing_due + SECOND)).revisits_sent == 1
    [*_, survey] = await desk.notices(billing["id"])
    assert (survey["template_id"], survey["channel"], survey["purpose"]) == (
        "survey.satisfaction",
        "sms",
        "care",
    )
    assert survey["language"] == "zh-Hans"
    assert (await desk.row(billing["id"])).revisit_sent_at == billing_due + SECOND
    assert (await desk.row(coverage["id"])).revisit_sent_at is None

    assert (await desk.tick(coverage_due + SECOND)).revisits_sent == 1
    [*_, call] = await desk.notices(coverage["id"])
    # The customer prefers a call: an agent asks, and records the answer as the call's disposition.
    assert (call["template_id"], call["channel"], call["purpose"]) == (
        "survey.satisfaction",
        "agent_call",
        "care",
    )
    assert call["priority"] == 3
    assert (await desk.tick(coverage_due + timedelta(days=30))).revisits_sent == 0
    assert "revisit_sent" in await desk.kinds(coverage["id"])
    assert (await desk.row(still_open["id"])).revisit_sent_at is None

"""Running campaigns: a batch run over a whole audience, a trigger firing for one customer, and
the contact outcomes coming back from the contact gateway.

Every customer a campaign meets becomes a ``campaign_member``: in the treatment arm a
``contact.cmd.send`` command goes out through the outbox in the same transaction; in the control
arm (a deterministic share, lifecycle.in_control_group) nothing is sent, but the customer is
recorded all the same, so conversions can be compared. The campaign's own contact rules (a cap
per customer, a minimum gap) apply to both arms alike; the contact gateway applies the customer's
opt-outs, quiet hours and care caps across campaigns, and reports what it did.

A batch run reads the audience in chunks by key (msisdn), one short transaction per chunk: a run
over millions of subscribers holds no long transaction and can be resumed by running again (the
idempotency keys make a repeated contact a no-op at the gateway).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import lifecycle, repository, segments
from campaigns.models import Campaign, Subscriber
from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.events.campaigns import CampaignRunCompletedV1
from careloop_common.events.contact import SendRequestedV1
from careloop_common.inbox import stop_if_cancelled
from careloop_common.outbox import publish_later

log = logging.getLogger(__name__)

CHUNK = 2_000
# Past events a trigger's condition may look at, per customer (newest first).
EVENT_MEMORY = 1_000
# How an outcome ranks: a contact's later news replaces earlier news, never the reverse.
OUTCOME_RANK = {
    "targeted": 0,
    "held_out": 0,
    "accepted": 1,
    "suppressed": 2,
    "sent": 2,
    "delivered": 3,
    "failed": 3,
}


@dataclass
class Met:
    """What a run (or a firing) did with the customers it met."""

    targeted: int = 0
    held_out: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    run: int = 0  # the batch run's number; 0 for a trigger's firing

    def add(self, other: Met) -> None:
        """Add another chunk's counts."""
        self.targeted += other.targeted
        self.held_out += other.held_out
        self.suppressed.update(other.suppressed)


async def run_batch(
    sessions: SessionFactory, campaign_id: str, *, now: datetime, zone: ZoneInfo, source: str
) -> Met:
    """Run a running campaign over its whole audience, chunk by chunk; then plan its next run.

    ``zone`` is the operator's (CAMPAIGNS_TIME_ZONE): the calendar day windows count in.
    """
    async with transaction(sessions) as session:
        campaign = await repository.get_campaign(session, campaign_id)
        if campaign is None or campaign.status not in lifecycle.LIVE:
            return Met()
        audience = await audience_clause(session, campaign, segments.AsOf.at(now, zone))
        run = campaign.runs + 1
    met, after = Met(run=run), ""
    while True:
        async with transaction(sessions) as session:
            rows = await repository.audience_chunk(session, audience, after=after, limit=CHUNK)
            if not rows:
                break
            met.add(await meet(session, campaign, rows, now=now, source=source))
        after = rows[-1].msisdn
    async with transaction(sessions) as session:
        await _finish_run(session, campaign_id, run, met, now=now, source=source)
    log.info("campaign %s run %d: %d targeted, %d held out", campaign_id, run, met.targeted, met.held_out)
    return met


async def audience_clause(
    session: AsyncSession, campaign: Campaign, as_of: segments.AsOf
) -> ColumnElement[bool]:
    """Return the WHERE clause of a campaign's audience (everyone when it names none)."""
    tree: Any = campaign.audience
    if tree is None and campaign.segment_id is not None:
        tree = await repository.segment_tree(session, campaign.segment_id)
    if tree is None:
        return true()
    return segments.where(segments.parse(tree, root="audience"), as_of)


async def meet(
    session: AsyncSession,
    campaign: Campaign,
    customers: Sequence[Any],
    *,
    now: datetime,
    source: str,
) -> Met:
    """Meet customers (rows with msisdn, customer_ref, language, contact_sms, contact_call): hold
    out the control arm, contact the treatment arm, apply the campaign's contact rules to both."""
    met = Met()
    known = await repository.members_of(session, campaign.id, [c.msisdn for c in customers])
    members: list[dict[str, Any]] = []
    for customer in customers:
        reason = _refusal(campaign, customer, known.get(customer.msisdn), now)
        if reason is not None:
            met.suppressed[reason] += 1
            continue
        control = lifecycle.in_control_group(campaign.id, customer.msisdn, campaign.control_share)
        touches = known[customer.msisdn].touches + 1 if customer.msisdn in known else 1
        if control:
            met.held_out += 1
        else:
            met.targeted += 1
            _send(session, campaign, customer, touches, source=source)
        members.append(_member(campaign, customer, "control" if control else "treatment", now))
    await repository.upsert_members(session, members)
    return met


def _refusal(campaign: Campaign, customer: Any, member: Any, now: datetime) -> str | None:
    """Return why the campaign's own rules skip a customer now, or None."""
    consented = customer.contact_sms if campaign.channel == "sms" else customer.contact_call
    if not consented:
        return "no_consent"
    if member is None:
        return None
    if member.touches >= campaign.cap_per_customer:
        return "campaign_cap"
    if campaign.min_gap_days and member.last_at > now - timedelta(days=campaign.min_gap_days):
        return "min_gap"
    return None


def _send(session: AsyncSession, campaign: Campaign, customer: Any, touch: int, *, source: str) -> None:
    """Stage the contact command for one customer of the treatment arm."""
    content: Mapping[str, str] = campaign.content
    language = customer.language if customer.language in content else next(iter(content))
    publish_later(
        session,
        SendRequestedV1(
            # One contact per customer and touch: a repeated run or a redelivered feed sends nothing twice.
            idempotency_key=f"campaign:{campaign.id}:{customer.msisdn}:{touch}",
            msisdn=customer.msisdn,
            channel=campaign.channel,
            purpose="care",
            priority=campaign.priority,
            text=content[language],
            language=language,
            campaign_id=campaign.id,
            expires_at=campaign.ends_at,
        ),
        source=source,
        subject=campaign.id,
    )


def _member(campaign: Campaign, customer: Any, arm: str, now: datetime) -> dict[str, Any]:
    """Return the member row for a customer met now."""
    goal: Mapping[str, Any] | None = campaign.conversion
    return {
        "campaign_id": campaign.id,
        "msisdn": customer.msisdn,
        "customer_ref": customer.customer_ref,
        "arm": arm,
        "outcome": "held_out" if arm == "control" else "targeted",
        "reason": None,
        "touches": 1,
        "first_at": now,
        "last_at": now,
        "conversion_until": now + timedelta(days=int(goal["within_days"])) if goal else None,
    }


async def _finish_run(
    session: AsyncSession, campaign_id: str, run: int, met: Met, *, now: datetime, source: str
) -> None:
    """Record the run, plan the next one (schedules) or complete the campaign (one-off runs)."""
    campaign = await repository.get_campaign(session, campaign_id, for_update=True)
    if campaign is None:
        return
    campaign.runs = run
    campaign.updated_at = now
    trigger = campaign.trigger
    if trigger.get("type") == "schedule" and campaign.status in lifecycle.LIVE:
        campaign.next_run_at = lifecycle.next_cron_fire(
            str(trigger["cron"]), str(trigger.get("time_zone", "Asia/Hong_Kong")), now
        )
        if campaign.ends_at is not None and campaign.next_run_at >= campaign.ends_at:
            campaign.next_run_at = None
    else:
        campaign.next_run_at = None
    suppressed = sum(met.suppressed.values())
    repository.add_campaign_step(
        session,
        campaign_id,
        at=now,
        actor="scheduler",
        kind="run",
        note=f"run {run}: {met.targeted} targeted, {met.held_out} held out, {suppressed} skipped",
    )
    publish_later(
        session,
        CampaignRunCompletedV1(
            campaign_id=campaign_id,
            run=run,
            targeted=met.targeted,
            held_out=met.held_out,
            suppressed=suppressed,
            at=now,
        ),
        source=source,
        subject=campaign_id,
    )


async def due_runs(sessions: SessionFactory, *, now: datetime, zone: ZoneInfo, source: str) -> int:
    """Run every live batch campaign whose next run is due; return how many ran."""
    async with transaction(sessions) as session:
        due = await repository.due_campaigns(session, now)
    for campaign_id in due:
        await run_batch(sessions, campaign_id, now=now, zone=zone, source=source)
    return len(due)


# ── real-time triggers ───────────────────────────────────────────────────────────────────────────


async def fire_triggers(
    session: AsyncSession,
    msisdn: str,
    subject: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    source: str,
    subscriber: Subscriber | None = None,
) -> Met:
    """Evaluate the live campaigns triggered by an event of this customer's (the profile already
    updated by it: given in memory, or read), in the caller's transaction: a customer who meets a
    campaign's condition and audience is met at once."""
    campaigns = await repository.live_event_campaigns(session, subject)
    if subscriber is None or not campaigns:
        return await fire_for(session, campaigns, [msisdn], now=now, zone=zone, source=source)
    return await _fire(session, campaigns, subscriber, repository.profile_of(subscriber), now, zone, source)


async def fire_for(
    session: AsyncSession,
    campaigns: Sequence[Campaign],
    msisdns: Sequence[str],
    *,
    now: datetime,
    zone: ZoneInfo,
    source: str,
) -> Met:
    """Meet each of these customers in each triggered campaign whose condition and audience they meet
    now (and that has not fired for them lately), in the caller's transaction."""
    met = Met()
    if not campaigns:
        return met
    for msisdn in msisdns:
        customer = await repository.subscriber_row(session, msisdn)
        if customer is not None:
            met.add(await _fire(session, campaigns, customer, dict(customer._mapping), now, zone, source))
    return met


async def _fire(
    session: AsyncSession,
    campaigns: Sequence[Campaign],
    customer: Any,
    profile: Mapping[str, Any],
    now: datetime,
    zone: ZoneInfo,
    source: str,
) -> Met:
    """Meet one customer in each campaign whose condition and audience they meet now."""
    met = Met()
    as_of = segments.AsOf.at(now, zone)
    # Past events are read only when some campaign's tree asks about them, and only the kinds and
    # days it asks about (a day's margin for windows counted in calendar days).
    asked = events_asked(campaigns)
    events = (
        await repository.recent_events(
            session,
            customer.msisdn,
            EVENT_MEMORY,
            kinds=sorted(asked),
            since=now - timedelta(days=max(asked.values()) + 1),
        )
        if asked
        else []
    )
    for campaign in campaigns:
        if not _fires(campaign, profile, events, as_of):
            continue
        if await _fired_lately(session, campaign, customer.msisdn, now):
            continue
        met.add(await meet(session, campaign, [customer], now=now, source=source))
    return met


def events_asked(campaigns: Sequence[Campaign]) -> dict[str, int]:
    """Return the past-event kinds these campaigns' triggers ask about, each with its longest window
    in days."""
    asked: dict[str, int] = {}
    for campaign in campaigns:
        for kind, days in _trigger_of(campaign).events:
            asked[kind] = max(days, asked.get(kind, 0))
    return asked


def _events_asked(campaign: Campaign) -> list[tuple[str, int]]:
    """Return the (event kind, within days) a campaign's trigger condition and audience ask about."""
    return _event_nodes(campaign.trigger.get("condition")) + _event_nodes(campaign.audience)


def _event_nodes(tree: Any) -> list[tuple[str, int]]:
    if isinstance(tree, dict):
        found = [(str(tree["event"]), int(tree["within_days"]))] if "event" in tree else []
        return found + [node for value in tree.values() for node in _event_nodes(value)]
    if isinstance(tree, list):
        return [node for value in tree for node in _event_nodes(value)]
    return []


def _fires(
    campaign: Campaign, profile: Mapping[str, Any], events: Sequence[Any], as_of: segments.AsOf
) -> bool:
    """Say whether a customer meets a campaign's trigger condition and audience."""
    return all(segments.matches(checked, profile, events, as_of) for checked in _trigger_of(campaign).trees)


@dataclass(frozen=True)
class _Trigger:
    """A triggered campaign's condition and audience, parsed, and the past events they ask about."""

    trees: list[segments.Checked]
    events: list[tuple[str, int]]


# By campaign and version: parsing a tree costs more than evaluating it, and a triggered campaign
# evaluates its trees for every event of its subject.
_TRIGGERS: dict[tuple[str, datetime], _Trigger] = {}
_TRIGGERS_MAX = 256


def _trigger_of(campaign: Campaign) -> _Trigger:
    """Return a campaign's trigger condition and audience parsed (once per campaign version)."""
    key = (campaign.id, campaign.updated_at)
    trigger = _TRIGGERS.get(key)
    if trigger is None:
        trees = [
            segments.parse(tree, root=root)
            for tree, root in (
                (campaign.trigger.get("condition"), "trigger.condition"),
                (campaign.audience, "audience"),
            )
            if tree is not None
        ]
        trigger = _Trigger(trees=trees, events=_events_asked(campaign))
        if len(_TRIGGERS) >= _TRIGGERS_MAX:
            _TRIGGERS.clear()  # campaigns edited or ended since: start again rather than keep them
        _TRIGGERS[key] = trigger
    return trigger


async def _fired_lately(session: AsyncSession, campaign: Campaign, msisdn: str, now: datetime) -> bool:
    """Say whether the trigger already fired for this customer within its once_per_days."""
    days = int(str(campaign.trigger.get("once_per_days") or 0))
    if not days:
        return False
    member = (await repository.members_of(session, campaign.id, [msisdn])).get(msisdn)
    return member is not None and member.last_at > now - timedelta(days=days)


# ── what became of the contacts ──────────────────────────────────────────────────────────────────


async def record_outcome(
    session: AsyncSession, campaign_id: str, customer_ref: str, outcome: str, reason: str | None
) -> bool:
    """Record a contact's news for a campaign's member; later news never gives way to earlier."""
    member = await repository.member_by_ref(session, campaign_id, customer_ref)
    if member is None or member.arm != "treatment":
        return False
    if OUTCOME_RANK[outcome] <= OUTCOME_RANK.get(member.outcome, 0):
        return False
    await repository.set_member_outcome(session, campaign_id, member.msisdn, outcome, reason)
    return True


async def record_answer(
    session: AsyncSession, campaign_id: str, customer_ref: str, text: str, at: datetime
) -> bool:
    """Keep a treatment member's SMS reply to the campaign (a survey's answer); a later reply replaces
    an earlier one, never the reverse."""
    member = await repository.member_by_ref(session, campaign_id, customer_ref)
    if member is None or member.arm != "treatment":
        return False
    if member.answered_at is not None and member.answered_at >= at:
        return False
    await repository.set_member_answer(session, campaign_id, member.msisdn, text.strip()[:160], at)
    return True


async def run_forever(sessions: SessionFactory, *, zone: ZoneInfo, source: str, interval_s: float) -> None:
    """Run due batch campaigns every ``interval_s`` until cancelled; a failed pass is tried again."""
    while True:
        stop_if_cancelled()  # a swallowed cancellation must not keep the loop alive
        try:
            await due_runs(sessions, now=utcnow(), zone=zone, source=source)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("campaign runs failed; trying again in %.0fs", interval_s)
        await asyncio.sleep(interval_s)

"""Handlers for other systems' events: the operator feeds that keep the audience current (and
fire real-time campaign triggers), the contact gateway's news of campaigns' contacts, complaints
filed (customers' past events) and coverage plans completed (the coverage-improved notice).

Each runs inside the inbox's transaction, which also records the event as processed: a redelivered
event changes nothing twice. Feed data that does not match its contract never reaches a handler:
the consumer runner dead-letters it with the reason.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import audience, coverage_care, execution, incidents, repository
from campaigns.settings import CampaignsSettings
from careloop_common.db import utcnow
from careloop_common.events import CloudEvent, EventContract
from careloop_common.events.complaints import ComplaintFiledV1
from careloop_common.events.contact import (
    CallCompletedV1,
    MessageAcceptedV1,
    MessageDeliveredV1,
    MessageFailedV1,
    MessageSubmittedV1,
    MessageSuppressedV1,
    ReplyReceivedV1,
)
from careloop_common.events.coverage import PlanCompletedV1
from careloop_common.events.feeds import FEED_CONTRACTS, LocationUpdatedV1
from careloop_common.inbox import ConsumerSpec, Handler

AUDIENCE = "campaigns-audience"
CONTACT_OUTCOMES = "campaigns-contact-outcomes"
COMPLAINTS = "campaigns-complaints"
REPLIES = "campaigns-replies"
COVERAGE = "campaigns-coverage"
INCIDENT_CALLS = "campaigns-incident-calls"
SOURCE = "/careloop/campaigns"
# What each contact event means for a campaign's member.
OUTCOMES: dict[type[EventContract], str] = {
    MessageAcceptedV1: "accepted",
    MessageSuppressedV1: "suppressed",
    MessageSubmittedV1: "sent",
    MessageDeliveredV1: "delivered",
    MessageFailedV1: "failed",
}


def on_feed(settings: CampaignsSettings) -> Handler:
    """Build the handler that applies each operator feed event to the subscriber it is about, then
    fires the running campaigns the event triggers for that customer (same transaction)."""

    async def handle(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        await audience.apply_feed(session, payload, customer_key=settings.customer_ref_secret)
        await incidents.on_feed(
            session, payload, now=utcnow(), key=settings.customer_ref_secret, source=SOURCE
        )
        msisdn = getattr(payload, "msisdn", None)
        if isinstance(msisdn, str):
            # The profile as the event left it: triggers read the balance the event just set (from
            # the object in memory when the batch read it, else from the flushed row).
            subscriber = repository.locked_subscriber(session, msisdn)
            if subscriber is None:
                await session.flush()
            await execution.fire_triggers(
                session,
                msisdn,
                event.nats_subject(),
                now=utcnow(),
                zone=settings.zone,
                source=SOURCE,
                subscriber=subscriber,
            )

    return handle


async def start_feed_batch(session: AsyncSession, payloads: list[EventContract]) -> None:
    """Read and lock every subscriber a batch of feed events is about, in one query, and collect
    the batch's past events, model marks and call counts to write them at its end."""
    numbers = [m for m in (getattr(p, "msisdn", None) for p in payloads) if isinstance(m, str)]
    await repository.lock_subscribers(session, numbers)
    cell_ids = [p.cell_id for p in payloads if isinstance(p, LocationUpdatedV1) and p.cell_id is not None]
    if cell_ids:
        await repository.read_site_cells(session, cell_ids)
    repository.collect_writes(session)
    campaigns = await repository.all_live_event_campaigns(session)
    await repository.read_members(session, [c.id for c in campaigns], numbers)
    asked = execution.events_asked(campaigns)
    if asked:
        since = utcnow() - timedelta(days=max(asked.values()) + 1)
        await repository.read_recent_events(session, numbers, sorted(asked), since)
    # Every statement would otherwise first flush the subscribers changed so far: one UPDATE per
    # event instead of one per subscriber at the commit. Reads that need the change flush first.
    session.sync_session.autoflush = False


async def finish_feed_batch(session: AsyncSession) -> None:
    """Write what the batch collected, in a few statements, before it commits."""
    await repository.write_locked_subscribers(session)
    pending = await repository.write_collected(session)
    if pending is not None:
        await repository.write_calls(session, pending.calls)


async def on_contact_outcome(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
    """Record what the contact gateway did with a campaign's contact (others are not ours)."""
    campaign_id = getattr(payload, "campaign_id", None)
    customer_ref = getattr(payload, "customer_ref", None)
    outcome = OUTCOMES.get(type(payload))
    if campaign_id is None or customer_ref is None or outcome is None:
        return
    await execution.record_outcome(
        session, campaign_id, customer_ref, outcome, getattr(payload, "reason", None)
    )


async def on_reply(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
    """Keep a customer's SMS reply to a campaign (a survey's answer) on their membership."""
    if isinstance(payload, ReplyReceivedV1) and payload.campaign_id is not None and payload.keyword is None:
        await execution.record_answer(
            session, payload.campaign_id, payload.customer_ref, payload.text, payload.received_at
        )


async def on_complaint(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
    """Record a filed complaint as its customer's past event (segments and conversion goals ask)."""
    if isinstance(payload, ComplaintFiledV1):
        await coverage_care.record_complaint(session, payload)


def on_coverage(settings: CampaignsSettings) -> Handler:
    """Build the handler that tells an area's past coverage complainers its plan was carried out."""

    async def handle(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        if isinstance(payload, PlanCompletedV1):
            await coverage_care.tell_area_improved(
                session, payload, now=utcnow(), zone=settings.zone, source=SOURCE
            )

    return handle


async def on_incident_call(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
    """Record what a major-event care call came to (other calls and messages are not ours)."""
    campaign_id = getattr(payload, "campaign_id", None) or ""
    if not campaign_id.startswith(incidents.CALL_PREFIX) or getattr(payload, "channel", "sms") == "sms":
        return
    if isinstance(payload, CallCompletedV1):
        result, disposition = payload.outcome, payload.disposition
    elif isinstance(payload, MessageSuppressedV1 | MessageFailedV1):
        result, disposition = f"{payload.subject.rsplit('.', 1)[-1]}:{payload.reason}", None
    else:
        return
    await incidents.on_call_result(
        session, campaign_id, payload.customer_ref, result[:48], disposition=disposition, now=utcnow()
    )


def specs(settings: CampaignsSettings | None = None) -> list[ConsumerSpec]:
    """Return the durable consumers this service runs."""
    settings = settings or CampaignsSettings()
    return [
        ConsumerSpec(
            durable=AUDIENCE,
            stream="FEEDS",
            subjects=tuple(contract.subject for contract in FEED_CONTRACTS),
            handler=on_feed(settings),
            batch=256,
            together=True,  # operator feeds arrive by the thousand a second: one commit per batch
            prepare=start_feed_batch,
            finish=finish_feed_batch,
        ),
        ConsumerSpec(
            durable=CONTACT_OUTCOMES,
            stream="CONTACT",
            subjects=tuple(contract.subject for contract in OUTCOMES),
            handler=on_contact_outcome,
        ),
        ConsumerSpec(
            durable=REPLIES,
            stream="CONTACT",
            subjects=(ReplyReceivedV1.subject,),
            handler=on_reply,
        ),
        ConsumerSpec(
            durable=COMPLAINTS,
            stream="COMPLAINTS",
            subjects=(ComplaintFiledV1.subject,),
            handler=on_complaint,
        ),
        ConsumerSpec(
            durable=COVERAGE,
            stream="COVERAGE",
            subjects=(PlanCompletedV1.subject,),
            handler=on_coverage(settings),
        ),
        ConsumerSpec(
            durable=INCIDENT_CALLS,
            stream="CONTACT",
            subjects=(CallCompletedV1.subject, MessageSuppressedV1.subject, MessageFailedV1.subject),
            handler=on_incident_call,
        ),
    ]

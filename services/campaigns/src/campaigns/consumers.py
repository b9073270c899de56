"""Handlers for other systems' events: the operator feeds that keep the audience current (and
fire real-time campaign triggers), and the contact gateway's news of campaigns' contacts.

Each runs inside the inbox's transaction, which also records the event as processed: a redelivered
event changes nothing twice. Feed data that does not match its contract never reaches a handler:
the consumer runner dead-letters it with the reason.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import audience, execution, incidents
from campaigns.settings import CampaignsSettings
from careloop_common.db import utcnow
from careloop_common.events import CloudEvent, EventContract
from careloop_common.events.contact import (
    CallCompletedV1,
    MessageAcceptedV1,
    MessageDeliveredV1,
    MessageFailedV1,
    MessageSubmittedV1,
    MessageSuppressedV1,
)
from careloop_common.events.feeds import FEED_CONTRACTS
from careloop_common.inbox import ConsumerSpec, Handler

AUDIENCE = "campaigns-audience"
CONTACT_OUTCOMES = "campaigns-contact-outcomes"
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
            # The profile as the event left it: triggers read the balance the event just set.
            await session.flush()
            await execution.fire_triggers(
                session, msisdn, event.nats_subject(), now=utcnow(), zone=settings.zone, source=SOURCE
            )

    return handle


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
        ),
        ConsumerSpec(
            durable=CONTACT_OUTCOMES,
            stream="CONTACT",
            subjects=tuple(contract.subject for contract in OUTCOMES),
            handler=on_contact_outcome,
        ),
        ConsumerSpec(
            durable=INCIDENT_CALLS,
            stream="CONTACT",
            subjects=(CallCompletedV1.subject, MessageSuppressedV1.subject, MessageFailedV1.subject),
            handler=on_incident_call,
        ),
    ]

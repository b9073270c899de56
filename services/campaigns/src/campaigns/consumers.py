"""Handlers for other systems' events: the operator feeds that keep the audience current.

Each runs inside the inbox's transaction, which also records the event as processed: a redelivered
event changes nothing twice. Feed data that does not match its contract never reaches a handler:
the consumer runner dead-letters it with the reason.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import audience
from campaigns.settings import CampaignsSettings
from careloop_common.events import CloudEvent, EventContract
from careloop_common.events.feeds import FEED_CONTRACTS
from careloop_common.inbox import ConsumerSpec, Handler

AUDIENCE = "campaigns-audience"


def on_feed(settings: CampaignsSettings) -> Handler:
    """Build the handler that applies each operator feed event to the subscriber it is about."""

    async def handle(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        await audience.apply_feed(session, payload, customer_key=settings.customer_ref_secret)

    return handle


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
        )
    ]

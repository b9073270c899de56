"""Handlers for other services' events and for commands addressed to campaigns."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import execution
from careloop_common.events import EventContract
from careloop_common.events.contact import (
    MessageAcceptedV1,
    MessageDeliveredV1,
    MessageFailedV1,
    MessageSubmittedV1,
    MessageSuppressedV1,
)
from careloop_common.events.envelope import CloudEvent
from careloop_common.inbox import ConsumerSpec

CONTACT_OUTCOMES = "campaigns-contact-outcomes"
# What each contact event means for a campaign's member.
OUTCOMES: dict[type[EventContract], str] = {
    MessageAcceptedV1: "accepted",
    MessageSuppressedV1: "suppressed",
    MessageSubmittedV1: "sent",
    MessageDeliveredV1: "delivered",
    MessageFailedV1: "failed",
}


async def on_contact_outcome(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
    """Record what the contact gateway did with a campaign's contact (others are not ours)."""
    campaign_id = getattr(payload, "campaign_id", None)
    outcome = OUTCOMES.get(type(payload))
    if campaign_id is None or outcome is None:
        return
    reason = getattr(payload, "reason", None)
    await execution.record_outcome(session, campaign_id, payload.customer_ref, outcome, reason)  # type: ignore[attr-defined]


def specs() -> list[ConsumerSpec]:
    """Return the durable consumers this service runs."""
    return [
        ConsumerSpec(
            durable=CONTACT_OUTCOMES,
            stream="CONTACT",
            subjects=tuple(contract.subject for contract in OUTCOMES),
            handler=on_contact_outcome,
        )
    ]

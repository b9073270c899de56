"""The contact gateway's command (``contact.cmd.send``) and the events it publishes (stream CONTACT).

Events carry no message text and no full phone number: subscribers that need the customer match
on ``customer_ref`` (the same keyed pseudonym complaints uses) or ask the contact API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from careloop_common.events.envelope import EventContract, contract

Channel = Literal["sms", "voice_call", "agent_call"]
Purpose = Literal["service", "care"]


@contract
class SendRequestedV1(EventContract):
    """A service asks the contact gateway to reach a customer (a command, not a fact)."""

    subject = "contact.cmd.send"
    version = 1

    idempotency_key: str = Field(min_length=1, max_length=255)
    msisdn: str
    channel: Channel = "sms"
    purpose: Purpose
    priority: int = Field(default=5, ge=1, le=9)
    template_id: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    text: str | None = None
    language: str = "zh-Hant"
    time_zone: str | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    complaint_id: str | None = None
    campaign_id: str | None = None
    rounds: int = Field(default=1, ge=1, le=5)
    round_spacing_s: int = Field(default=3600, ge=60, le=7 * 86400)
    skill: str | None = None


class _ContactFact(EventContract):
    """Fields every message and call event carries, so consumers can route without a lookup."""

    request_id: str
    channel: Channel
    purpose: Purpose
    customer_ref: str
    complaint_id: str | None = None
    campaign_id: str | None = None
    origin: str | None = None
    at: datetime


@contract
class MessageAcceptedV1(_ContactFact):
    """A request passed the contact policy and waits for its window and its turn."""

    subject = "contact.message.accepted"
    version = 1

    due_at: datetime


@contract
class MessageSuppressedV1(_ContactFact):
    """The contact policy refused a request; ``reason`` says which rule."""

    subject = "contact.message.suppressed"
    version = 1

    reason: str


@contract
class MessageSubmittedV1(_ContactFact):
    """Every part of an SMS was accepted by the SMSC."""

    subject = "contact.message.submitted"
    version = 1

    segments: int
    encoding: str
    connector: str


@contract
class MessageDeliveredV1(_ContactFact):
    """Delivery receipts say every part reached the handset."""

    subject = "contact.message.delivered"
    version = 1


@contract
class MessageFailedV1(_ContactFact):
    """A message will not arrive: rejected, undeliverable, expired, or out of attempts."""

    subject = "contact.message.failed"
    version = 1

    reason: str
    smpp_status: int | None = None


@contract
class CallCompletedV1(_ContactFact):
    """A call request reached its final outcome, after one or more rounds."""

    subject = "contact.call.completed"
    version = 1

    outcome: str
    rounds: int
    disposition: str | None = None


@contract
class ReplyReceivedV1(EventContract):
    """A customer replied by SMS (mobile originated); surveys read the answer, opt-out the keyword."""

    subject = "contact.reply.received"
    version = 1

    reply_id: str
    customer_ref: str
    keyword: str | None = None
    text: str
    in_reply_to: str | None = None
    complaint_id: str | None = None
    campaign_id: str | None = None
    received_at: datetime


@contract
class OptOutChangedV1(EventContract):
    """A customer opted out of, or back into, a channel and purpose."""

    subject = "contact.optout.changed"
    version = 1

    customer_ref: str
    channel: Channel
    purpose: Purpose
    opted_out: bool
    source: str
    at: datetime

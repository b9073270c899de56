"""Contact-gateway tables (SQLModel: X(table=True)).

One ``contact_request`` row per message or call, whatever the channel; SMS parts, call attempts,
early receipts, replies, opt-outs and each request's timeline hang off it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, metadata

__all__ = [
    "Communication",
    "ContactRequest",
    "EarlyReceipt",
    "OptOut",
    "Reply",
    "Segment",
    "Template",
    "TimelineEntry",
    "metadata",
]

AUTO_ID = BigInteger().with_variant(Integer, "sqlite")


class ContactRequest(SQLModel, table=True):
    """A message or call someone asked for: who, what, when, under which rules, and where it got."""

    __tablename__ = "contact_request"
    __table_args__ = (
        UniqueConstraint("requested_by", "idempotency_key", name="uq_contact_request_idempotency"),
        # The dispatcher's query: what is due on a channel, service before care, by priority.
        Index("ix_contact_request_due", "channel", "status", "rank", "due_at"),
        # Frequency caps: a customer's recent care contacts on a channel.
        Index("ix_contact_request_caps", "msisdn", "channel", "purpose", "created_at"),
        Index("ix_contact_request_campaign", "campaign_id", "created_at"),
        Index("ix_contact_request_communication", "communication_id"),
    )

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    requested_by: str = Field(sa_column=Column(String(128), nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(255), nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))  # what the key first asked for
    msisdn: str = Field(sa_column=Column(String(20), nullable=False))
    customer_ref: str = Field(sa_column=Column(String(32), nullable=False))
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))  # sms voice_call agent_call
    purpose: str = Field(sa_column=Column(String(8), nullable=False))  # service care
    priority: int = Field(sa_column=Column(Integer, nullable=False))  # 1 (first) .. 9
    rank: int = Field(sa_column=Column(Integer, nullable=False))  # purpose then priority: lower goes first
    language: str = Field(sa_column=Column(String(16), nullable=False))
    template_id: str | None = Field(default=None, sa_column=Column(String(64)))
    variables: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    not_before: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    origin: str | None = Field(default=None, sa_column=Column(String(64)))
    complaint_id: str | None = Field(default=None, sa_column=Column(String(64)))
    campaign_id: str | None = Field(default=None, sa_column=Column(String(64)))
    communication_id: str | None = Field(default=None, sa_column=Column(String(36)))
    # accepted sending submitted delivered completed failed suppressed cancelled
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(64)))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    lease_owner: str | None = Field(default=None, sa_column=Column(String(128)))
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    encoding: str | None = Field(default=None, sa_column=Column(String(8)))
    segments: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    connector: str | None = Field(default=None, sa_column=Column(String(64)))
    smpp_status: int | None = Field(default=None, sa_column=Column(Integer))
    rounds: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))
    round_spacing_s: int = Field(default=3600, sa_column=Column(Integer, nullable=False, default=3600))
    round: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    skill: str | None = Field(default=None, sa_column=Column(String(32)))
    outcome: str | None = Field(default=None, sa_column=Column(String(16)))
    disposition: str | None = Field(default=None, sa_column=Column(String(64)))
    notes: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Segment(SQLModel, table=True):
    """One submit_sm of an SMS (one part of a long text) and what the SMSC said about it."""

    __tablename__ = "sms_segment"
    __table_args__ = (Index("ix_sms_segment_smsc_id", "smsc_message_id"),)

    request_id: str = Field(sa_column=Column(String(36), primary_key=True))
    part: int = Field(sa_column=Column(Integer, primary_key=True))
    connector: str = Field(sa_column=Column(String(64), nullable=False))
    smsc_message_id: str = Field(sa_column=Column(String(65), nullable=False))
    state: str = Field(sa_column=Column(String(8), nullable=False))  # ENROUTE DELIVRD UNDELIV EXPIRED ...
    error: str | None = Field(default=None, sa_column=Column(String(8)))
    submitted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class EarlyReceipt(SQLModel, table=True):
    """A delivery receipt that arrived before we recorded its submit_sm_resp; matched later."""

    __tablename__ = "early_receipt"

    smsc_message_id: str = Field(sa_column=Column(String(65), primary_key=True))
    connector: str = Field(sa_column=Column(String(64), primary_key=True))
    state: str = Field(sa_column=Column(String(8), nullable=False))
    error: str | None = Field(default=None, sa_column=Column(String(8)))
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TimelineEntry(SQLModel, table=True):
    """One step in a request's life: the decision or event, and why."""

    __tablename__ = "contact_timeline"

    id: int | None = Field(default=None, sa_column=Column(AUTO_ID, primary_key=True))
    request_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(64)))
    detail: str | None = Field(default=None, sa_column=Column(String(500)))


class OptOut(SQLModel, table=True):
    """Whether a customer takes contacts of one purpose on one channel, and who said so."""

    __tablename__ = "opt_out"

    msisdn: str = Field(sa_column=Column(String(20), primary_key=True))
    channel: str = Field(sa_column=Column(String(16), primary_key=True))
    purpose: str = Field(sa_column=Column(String(8), primary_key=True))
    opted_out: bool = Field(sa_column=Column(Boolean, nullable=False))
    source: str = Field(sa_column=Column(String(32), nullable=False))  # reply api
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Reply(SQLModel, table=True):
    """A message a customer sent us (MO), tied to the last message we sent them."""

    __tablename__ = "contact_reply"
    __table_args__ = (Index("ix_contact_reply_msisdn", "msisdn", "received_at"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    msisdn: str = Field(sa_column=Column(String(20), nullable=False))
    destination: str = Field(sa_column=Column(String(21), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    keyword: str | None = Field(default=None, sa_column=Column(String(16)))
    in_reply_to: str | None = Field(default=None, sa_column=Column(String(36)))
    connector: str = Field(sa_column=Column(String(64), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Template(SQLModel, table=True):
    """Message wording by id and language, with ``{name}`` placeholders filled from variables."""

    __tablename__ = "message_template"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    language: str = Field(sa_column=Column(String(16), primary_key=True))
    body: str = Field(sa_column=Column(Text, nullable=False))
    purpose: str = Field(sa_column=Column(String(8), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(sa_column=Column(String(128), nullable=False))


class Communication(SQLModel, table=True):
    """A TMF681 communication message: one content to one or more receivers (a request each)."""

    __tablename__ = "communication"
    __table_args__ = (Index("ix_communication_partner", "partner_id", "created_at"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    message_type: str = Field(sa_column=Column(String(16), nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(String(255)))
    description: str | None = Field(default=None, sa_column=Column(String(500)))
    priority: str | None = Field(default=None, sa_column=Column(String(8)))
    sender: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    characteristic: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scheduled_send_time: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    requested_by: str = Field(sa_column=Column(String(128), nullable=False))
    partner_id: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))

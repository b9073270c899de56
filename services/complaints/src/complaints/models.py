"""Complaints tables (SQLModel: XBase / X(table=True)).

A complaint carries the structured coverage complaint form, who owns it, its place in the
lifecycle (TMF621 states), its SLA clocks (deadlines kept as columns so the watcher finds due
work with one indexed query), the answer engineering gave for its area, and its revisit.
Every change is a row in ``complaint_history``: who, when, what and why.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, SmallInteger, String
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, metadata
from careloop_common.hub import HUB_TABLES

__all__ = ["SHARED_TABLES", "Complaint", "ComplaintBase", "HistoryEntry", "RevisitAnswer", "metadata"]

# Tables from careloop_common this database also holds: TMF621 partners' hub subscriptions.
SHARED_TABLES = HUB_TABLES

AUTO_ID = BigInteger().with_variant(Integer, "sqlite")


class ComplaintBase(SQLModel):
    """Fields a complaint is filed with (the coverage complaint form included)."""

    category: str = Field(sa_column=Column(String(32), nullable=False))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    msisdn: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    description: str | None = Field(default=None, sa_column=Column(String(4000)))
    # Where: a point, an address, or both; indoor or outdoor, and the floor.
    lat: float | None = None
    lng: float | None = None
    address: str | None = Field(default=None, sa_column=Column(String(500)))
    indoor: bool | None = Field(default=None, sa_column=Column(Boolean))
    floor: int | None = Field(default=None, sa_column=Column(SmallInteger))
    # When: the first time it happened, and whether it keeps happening.
    occurred_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    recurring: bool | None = Field(default=None, sa_column=Column(Boolean))
    # The handset and the radio generation it was on.
    handset_make: str | None = Field(default=None, sa_column=Column(String(64)))
    handset_model: str | None = Field(default=None, sa_column=Column(String(64)))
    network: str | None = Field(default=None, sa_column=Column(String(8)))
    symptoms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    follow_up: bool = False
    # How and in which language the customer wants to hear from us.
    contact_preference: str = Field(default="sms", sa_column=Column(String(8), nullable=False))
    language: str = Field(default="zh-Hant", sa_column=Column(String(8), nullable=False))


class Complaint(ComplaintBase, table=True):
    """A customer complaint, owned by whoever took it until it is closed or handed over."""

    __tablename__ = "complaint"
    __table_args__ = (
        Index("ix_complaint_partner_created", "partner_id", "created_at"),
        Index("ix_complaint_queue_open", "queue", "status", "priority"),
        Index("ix_complaint_area_status", "area_id", "status"),
    )

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    reference: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    owner: str = Field(sa_column=Column(String(128), nullable=False, index=True))
    partner_id: str | None = Field(default=None, sa_column=Column(String(64)))
    # SHA-256 of the customer's tracking token; the token itself is never stored.
    tracking_token_hash: str | None = Field(default=None, sa_column=Column(String(64), unique=True))
    # Routing: which queue, which region's calendar, which class of customer.
    region: str = Field(default="HK", sa_column=Column(String(8), nullable=False))
    customer_class: str = Field(default="normal", sa_column=Column(String(16), nullable=False))
    priority: str = Field(default="normal", sa_column=Column(String(16), nullable=False))
    queue: str = Field(sa_column=Column(String(64), nullable=False))
    escalated: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    # The coverage area (H3 cell) the complaint's place lies in, and what engineering says of it.
    area_id: str | None = Field(default=None, sa_column=Column(String(32)))
    answer_state: str | None = Field(default=None, sa_column=Column(String(24)))
    answer_text: str | None = Field(default=None, sa_column=Column(String(2000)))
    answer_version: int | None = None
    answer_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Follow-up: when the answer goes back to the owner (third working day after the assessment).
    dispatch_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))
    dispatched_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # SLA clocks: each deadline and its warning instant; None while paused or once met.
    first_response_due: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    next_update_due: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    resolution_due: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The earliest instant the SLA watcher must look at this complaint again (warning or breach).
    sla_check_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))
    first_responded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_update_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Clocks already warned or breached, e.g. ["resolution:warning", "first_response:breached"].
    sla_flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Pauses while pending on the customer: [[start, end|null], ...] as ISO strings.
    pauses: list[list[str | None]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    resolution: str | None = Field(default=None, sa_column=Column(String(2000)))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    first_contact_resolution: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    # Revisit after closing: when it is due, when it was asked, and the answer.
    revisit_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))
    revisit_sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class HistoryEntry(SQLModel, table=True):
    """One change to a complaint: who, when, what (kind, from → to) and why."""

    __tablename__ = "complaint_history"

    id: int | None = Field(default=None, sa_column=Column(AUTO_ID, primary_key=True))
    complaint_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(sa_column=Column(String(128), nullable=False))
    # filed, status_changed, assigned, transferred, answer_attached, dispatched, notice_sent,
    # sla_warning, sla_breached, escalated, note, revisit_sent, revisit_completed
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    from_value: str | None = Field(default=None, sa_column=Column(String(128)))
    to_value: str | None = Field(default=None, sa_column=Column(String(128)))
    reason: str | None = Field(default=None, sa_column=Column(String(2000)))
    # Shown on the customer's portal timeline (staff notes and SLA internals are not).
    customer_visible: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))


class RevisitAnswer(SQLModel, table=True):
    """What the customer said when we asked, after closing, how we did."""

    __tablename__ = "complaint_revisit"

    complaint_id: str = Field(sa_column=Column(String(36), primary_key=True))
    satisfied: bool | None = Field(default=None, sa_column=Column(Boolean))
    score: int | None = Field(default=None, sa_column=Column(SmallInteger))
    comment: str | None = Field(default=None, sa_column=Column(String(1000)))
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    answered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))

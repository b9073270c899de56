"""Complaints tables (SQLModel: XBase / X(table=True))."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, metadata

__all__ = ["Complaint", "ComplaintBase", "metadata"]


class ComplaintBase(SQLModel):
    """Fields a complaint is filed with."""

    category: str = Field(sa_column=Column(String(32), nullable=False))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    msisdn: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    description: str | None = Field(default=None, sa_column=Column(String(4000)))
    lat: float | None = None
    lng: float | None = None
    address: str | None = Field(default=None, sa_column=Column(String(500)))
    network: str | None = Field(default=None, sa_column=Column(String(8)))
    symptoms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    follow_up: bool = False


class Complaint(ComplaintBase, table=True):
    """A customer complaint, owned by whoever took it."""

    __tablename__ = "complaint"
    __table_args__ = (Index("ix_complaint_partner_created", "partner_id", "created_at"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    reference: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    owner: str = Field(sa_column=Column(String(128), nullable=False))
    partner_id: str | None = Field(default=None, sa_column=Column(String(64)))
    # SHA-256 of the customer's tracking token; the token itself is never stored.
    tracking_token_hash: str | None = Field(default=None, sa_column=Column(String(64), unique=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))

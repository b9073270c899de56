"""Coverage-map tables (SQLModel: XBase / X(table=True))."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, metadata

__all__ = ["Investigation", "InvestigationComplaint", "metadata"]


class Investigation(SQLModel, table=True):
    """Engineering's follow-up of one area: many complaints, one investigation."""

    __tablename__ = "investigation"
    __table_args__ = (Index("ix_investigation_area_status", "area_id", "status"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    area_id: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    complaint_count: int = Field(sa_column=Column(Integer, nullable=False))
    high_value_count: int = Field(sa_column=Column(Integer, nullable=False))
    symptom_counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_complaint_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_complaint_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class InvestigationComplaint(SQLModel, table=True):
    """A complaint that joined an investigation (each complaint counts once)."""

    __tablename__ = "investigation_complaint"

    complaint_id: str = Field(sa_column=Column(String(36), primary_key=True))
    investigation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("investigation.id"), nullable=False, index=True)
    )
    reference: str = Field(sa_column=Column(String(20), nullable=False))
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))

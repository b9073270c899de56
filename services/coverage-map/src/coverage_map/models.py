"""Coverage-map tables (SQLModel: X(table=True)).

No table holds a phone number: complaints arrive with a pseudonymous customer reference.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, Date, Float, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, metadata

__all__ = [
    "Area",
    "AreaLevel",
    "AreaWording",
    "Assessment",
    "CellSite",
    "District",
    "ImportJob",
    "ImprovementPlan",
    "Investigation",
    "InvestigationComplaint",
    "metadata",
]


class District(SQLModel, table=True):
    """A coarser H3 cell grouping areas for district views, with its names per language."""

    __tablename__ = "district"

    id: str = Field(sa_column=Column(String(16), primary_key=True))
    names: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Area(SQLModel, table=True):
    """An H3 cell at the configured resolution: the unit coverage is rated and answered in."""

    __tablename__ = "area"

    id: str = Field(sa_column=Column(String(16), primary_key=True))
    district_id: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    lat: float = Field(sa_column=Column(Float, nullable=False))
    lng: float = Field(sa_column=Column(Float, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AreaLevel(SQLModel, table=True):
    """An area's current coverage level for one technology and service, and where it came from."""

    __tablename__ = "area_level"

    area_id: str = Field(sa_column=Column(String(16), primary_key=True))
    technology: str = Field(sa_column=Column(String(4), primary_key=True))  # 2G 3G 4G 5G
    service: str = Field(sa_column=Column(String(8), primary_key=True))  # voice data
    level: str = Field(sa_column=Column(String(8), nullable=False))  # none weak normal good
    source: str = Field(sa_column=Column(String(16), nullable=False))  # survey prediction derived plan
    source_ref: str | None = Field(default=None, sa_column=Column(String(64)))
    observed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_by: str = Field(sa_column=Column(String(128), nullable=False))


class Investigation(SQLModel, table=True):
    """Engineering's follow-up of one area: many complaints, one investigation."""

    __tablename__ = "investigation"
    __table_args__ = (Index("ix_investigation_area_status", "area_id", "status"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    area_id: str = Field(sa_column=Column(String(16), nullable=False))
    district_id: str | None = Field(default=None, sa_column=Column(String(16)))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # open assessed closed
    complaint_count: int = Field(sa_column=Column(Integer, nullable=False))
    customer_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    high_value_count: int = Field(sa_column=Column(Integer, nullable=False))
    symptom_counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_complaint_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_complaint_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    survey_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    assessed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class InvestigationComplaint(SQLModel, table=True):
    """A complaint that joined an investigation (each counts once): also the fact row of hot spots."""

    __tablename__ = "investigation_complaint"
    __table_args__ = (
        Index("ix_investigation_complaint_area_requested", "area_id", "requested_at"),
        Index("ix_investigation_complaint_requested", "requested_at"),
    )

    complaint_id: str = Field(sa_column=Column(String(36), primary_key=True))
    investigation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("investigation.id"), nullable=False, index=True)
    )
    reference: str = Field(sa_column=Column(String(20), nullable=False))
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    area_id: str | None = Field(default=None, sa_column=Column(String(16)))
    district_id: str | None = Field(default=None, sa_column=Column(String(16)))
    customer_ref: str | None = Field(default=None, sa_column=Column(String(64)))
    customer_class: str = Field(
        default="normal", sa_column=Column(String(16), nullable=False, server_default="normal")
    )
    symptoms: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    network: str | None = Field(default=None, sa_column=Column(String(8)))


class Assessment(SQLModel, table=True):
    """Engineering's survey of an area: the levels found per technology, and the findings."""

    __tablename__ = "assessment"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    area_id: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    investigation_id: str | None = Field(default=None, sa_column=Column(String(36)))
    levels: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    findings: str | None = Field(default=None, sa_column=Column(String(4000)))
    assessed_by: str = Field(sa_column=Column(String(128), nullable=False))
    assessed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImprovementPlan(SQLModel, table=True):
    """What engineering will do about an area, by when, and the levels expected after."""

    __tablename__ = "improvement_plan"
    __table_args__ = (Index("ix_improvement_plan_area_status", "area_id", "status"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    area_id: str = Field(sa_column=Column(String(16), nullable=False))
    assessment_id: str | None = Field(default=None, sa_column=Column(String(36)))
    action: str = Field(sa_column=Column(String(16), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(2000)))
    target_date: date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # planned in_progress done cancelled
    expected_levels: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class AreaWording(SQLModel, table=True):
    """What the front line tells a customer about an area, in one language: a draft and the published text."""

    __tablename__ = "area_wording"

    area_id: str = Field(sa_column=Column(String(16), primary_key=True))
    language: str = Field(sa_column=Column(String(8), primary_key=True))  # zh-Hant zh-Hans en
    draft_text: str = Field(sa_column=Column(String(2000), nullable=False))
    published_text: str | None = Field(default=None, sa_column=Column(String(2000)))
    version: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    updated_by: str = Field(sa_column=Column(String(128), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    published_by: str | None = Field(default=None, sa_column=Column(String(128)))
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CellSite(SQLModel, table=True):
    """A cell from an OpenCelliD-layout import; its identity is (radio, mcc, net, area, cell)."""

    __tablename__ = "cell_site"

    radio: str = Field(sa_column=Column(String(8), primary_key=True))
    mcc: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    net: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    area: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    cell: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    lat: float = Field(sa_column=Column(Float, nullable=False))
    lng: float = Field(sa_column=Column(Float, nullable=False))
    range_m: int = Field(sa_column=Column(Integer, nullable=False))
    samples: int = Field(sa_column=Column(Integer, nullable=False))
    average_signal: int | None = Field(default=None, sa_column=Column(Integer))
    area_id: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    import_id: str = Field(sa_column=Column(String(36), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImportJob(SQLModel, table=True):
    """One import of a file: its progress, and the rows refused with their line and reason."""

    __tablename__ = "import_job"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))  # cell_sites coverage_polygons
    filename: str | None = Field(default=None, sa_column=Column(String(300)))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # running done failed
    bytes_total: int | None = Field(default=None, sa_column=Column(BigInteger))
    bytes_read: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_total: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    rows_ok: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    rows_bad: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    areas_updated: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    errors: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

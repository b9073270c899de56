"""Request and response models of the coverage-map API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class InvestigationPublic(BaseModel):
    """An investigation as engineering sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    area_id: str
    status: str
    complaint_count: int
    high_value_count: int
    symptom_counts: dict[str, int]
    first_complaint_at: datetime
    last_complaint_at: datetime
    opened_at: datetime


class InvestigationPage(BaseModel):
    """One page of investigations."""

    items: list[InvestigationPublic]
    total: int
    limit: int
    offset: int


# --- imports ----------------------------------------------------------------------------------------

from pydantic import Field  # noqa: E402


class ImportRowError(BaseModel):
    """A CSV line or GeoJSON feature the import refused, and why."""

    line: int | None = Field(default=None, description="CSV: the line number, 1 being the first (header too)")
    index: int | None = Field(default=None, description="GeoJSON: the feature's position in features, from 0")
    reason: str


class ImportJobSummary(BaseModel):
    """An import's state and counters."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str = Field(description="cell_sites or coverage_polygons")
    filename: str | None
    status: str = Field(description="running, done or failed")
    failure: str | None = Field(default=None, description="why the import failed, when it did")
    bytes_total: int | None
    bytes_read: int
    rows_total: int = Field(description="CSV data lines or GeoJSON features read so far")
    rows_ok: int
    rows_bad: int = Field(description="every refused row counts; at most 1000 are listed in errors")
    areas_updated: int = Field(description="areas that got at least one predicted level from this import")
    created_by: str
    started_at: datetime
    finished_at: datetime | None


class ImportJobPublic(ImportJobSummary):
    """An import with the rows it refused."""

    errors: list[ImportRowError]


class ImportJobPage(BaseModel):
    """One page of imports, newest first."""

    items: list[ImportJobSummary]
    total: int
    limit: int
    offset: int

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

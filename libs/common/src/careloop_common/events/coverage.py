"""Events the coverage-map service publishes (stream COVERAGE)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from careloop_common.events.envelope import EventContract, contract


@contract
class InvestigationOpenedV1(EventContract):
    """Engineering opened an investigation for an area after a first follow-up request."""

    subject = "coverage.investigation.opened"
    version = 1

    investigation_id: str
    area_id: str
    complaint_id: str
    opened_at: datetime


class LevelReading(BaseModel):
    """One coverage level: technology, service and level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    technology: Literal["2G", "3G", "4G", "5G"]
    service: Literal["voice", "data"]
    level: Literal["none", "weak", "normal", "good"]


@contract
class AreaAssessedV1(EventContract):
    """Engineering surveyed an area and recorded its levels."""

    subject = "coverage.area.assessed"
    version = 1

    assessment_id: str
    area_id: str
    district_id: str
    investigation_id: str | None = None
    levels: list[LevelReading]
    assessed_at: datetime


@contract
class PlanScheduledV1(EventContract):
    """An improvement plan for an area was scheduled (or rescheduled)."""

    subject = "coverage.plan.scheduled"
    version = 1

    plan_id: str
    area_id: str
    district_id: str
    action: str
    target_date: date
    expected_levels: list[LevelReading]


@contract
class PlanCompletedV1(EventContract):
    """An improvement plan was carried out; the area's levels are now the expected ones."""

    subject = "coverage.plan.completed"
    version = 1

    plan_id: str
    area_id: str
    district_id: str
    levels: list[LevelReading]
    completed_at: datetime


@contract
class WordingPublishedV1(EventContract):
    """New reply wording for an area was published: what the front line tells the next customer."""

    subject = "coverage.wording.published"
    version = 1

    area_id: str
    district_id: str
    version_number: int
    texts: dict[str, str]  # language -> text
    published_at: datetime

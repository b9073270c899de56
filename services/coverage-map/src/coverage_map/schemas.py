"""Request and response models of the coverage-map API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    district_id: str | None = None
    customer_count: int = 0
    survey_due_at: datetime | None = None
    assessed_at: datetime | None = None
    closed_at: datetime | None = None


class InvestigationPage(BaseModel):
    """One page of investigations."""

    items: list[InvestigationPublic]
    total: int
    limit: int
    offset: int


# --- areas, assessments, plans, wording, lookup ----------------------------------------------------

Technology = Literal["2G", "3G", "4G", "5G"]
ServiceKind = Literal["voice", "data"]
LevelName = Literal["none", "weak", "normal", "good"]
Language = Literal["zh-Hant", "zh-Hans", "en"]
PlanAction = Literal["new_site", "sector_tuning", "indoor_system", "repeater", "capacity"]
PlanStatus = Literal["planned", "in_progress", "done", "cancelled"]


class LevelIn(BaseModel):
    """One coverage level as engineering records it."""

    model_config = ConfigDict(extra="forbid")

    technology: Technology
    service: ServiceKind
    level: LevelName


class LevelOut(BaseModel):
    """An area's level for one technology and service, and where it came from."""

    model_config = ConfigDict(from_attributes=True)

    technology: str
    service: str
    level: str
    source: str
    observed_at: datetime
    recorded_by: str


# Levels as sent: technology -> service -> level, so a technology and service can appear only once.
LevelMap = Annotated[
    dict[Technology, Annotated[dict[ServiceKind, LevelName], Field(min_length=1)]],
    Field(min_length=1, examples=[{"4G": {"voice": "weak", "data": "weak"}}]),
]


def readings(levels: dict[Technology, dict[ServiceKind, LevelName]]) -> list[LevelIn]:
    """Flatten a level map into one reading per technology and service."""
    return [
        LevelIn(technology=tech, service=kind, level=level)
        for tech, by_service in levels.items()
        for kind, level in by_service.items()
    ]


class PlanCreate(BaseModel):
    """An improvement plan: what will be done, by when, and the levels expected after."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "indoor_system",
                    "target_date": "2027-03-31",
                    "description": "Indoor antennas in the station concourse",
                    "expected_levels": {"4G": {"voice": "good"}},
                }
            ]
        },
    )

    action: PlanAction
    target_date: date
    description: str | None = Field(default=None, max_length=2000)
    expected_levels: LevelMap


class PlanUpdate(BaseModel):
    """A change to a plan: move it on, reschedule it, or describe it better."""

    model_config = ConfigDict(extra="forbid")

    status: PlanStatus | None = None
    target_date: date | None = None
    description: str | None = Field(default=None, max_length=2000)


class PlanPublic(BaseModel):
    """An improvement plan as engineering sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    area_id: str
    assessment_id: str | None
    action: str
    description: str | None
    target_date: date
    status: str
    expected_levels: list[dict[str, str]]
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class AssessmentCreate(BaseModel):
    """What engineering found in an area, and optionally the plan to fix it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "levels": {"4G": {"voice": "weak", "data": "weak"}},
                    "findings": "Basement levels of the mall have no indoor coverage",
                    "plan": {
                        "action": "indoor_system",
                        "target_date": "2027-03-31",
                        "expected_levels": {"4G": {"voice": "good"}},
                    },
                }
            ]
        },
    )

    levels: LevelMap
    findings: str | None = Field(default=None, max_length=4000)
    investigation_id: str | None = Field(
        default=None, description="defaults to the area's open investigation"
    )
    plan: PlanCreate | None = None


class AssessmentPublic(BaseModel):
    """A recorded assessment."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    area_id: str
    investigation_id: str | None
    levels: list[dict[str, str]]
    findings: str | None
    assessed_by: str
    assessed_at: datetime


class WordingPublic(BaseModel):
    """An area's reply wording in one language: the draft staff edit and what is published."""

    model_config = ConfigDict(from_attributes=True)

    language: str
    draft_text: str
    published_text: str | None
    version: int
    updated_by: str
    updated_at: datetime
    published_by: str | None
    published_at: datetime | None


class WordingEdit(BaseModel):
    """New draft text for one language."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class WordingPublish(BaseModel):
    """Which languages' drafts to publish (all three when absent)."""

    model_config = ConfigDict(extra="forbid")

    languages: list[Language] | None = Field(default=None, min_length=1)


class AssessmentResult(BaseModel):
    """An assessment with the plan it set and the wording drafted from it."""

    assessment: AssessmentPublic
    plan: PlanPublic | None
    wording: list[WordingPublic]


class InvestigationBrief(BaseModel):
    """The open investigation of an area, in short."""

    id: str
    status: str
    complaint_count: int
    customer_count: int
    opened_at: datetime
    survey_due_at: datetime | None


class AreaDetail(BaseModel):
    """Everything engineering knows about one area."""

    area_id: str
    district_id: str
    district_name: str | None
    lat: float
    lng: float
    levels: list[LevelOut]
    investigation: InvestigationBrief | None
    plans: list[PlanPublic]
    wording: list[WordingPublic]


class LookupAnswer(BaseModel):
    """The answer for a place: the level, any open investigation, the plan, and the wording to read."""

    area_id: str
    district_id: str
    district_name: str | None
    language: str
    levels: list[LevelOut]
    worst_level: str | None
    investigation: InvestigationBrief | None
    plan: PlanPublic | None
    wording: str | None = Field(description="published reply wording in the language asked for")
    wording_version: int | None
    answer: Literal["published", "under_investigation", "unknown"] = Field(
        description="published: read the wording now; under_investigation: engineering is on it; "
        "unknown: nothing known yet, file a follow-up"
    )


class PublicLevel(BaseModel):
    """A level as the public sees it."""

    technology: str
    service: str
    level: str


class PublicPlan(BaseModel):
    """A published improvement plan: what will be fixed where and when (no customer data)."""

    area_id: str
    district_id: str
    district_name: str | None
    lat: float
    lng: float
    action: str
    status: str
    target_month: str
    expected_levels: list[PublicLevel]


class PublicLookup(BaseModel):
    """The coverage checker's answer for a place."""

    area_id: str
    district_name: str | None
    levels: list[PublicLevel]
    plan: PublicPlan | None
    wording: str | None


class PublicPlanPage(BaseModel):
    """One page of published plans."""

    items: list[PublicPlan]
    total: int
    limit: int
    offset: int


class DistrictNames(BaseModel):
    """A district's names per language."""

    model_config = ConfigDict(extra="forbid")

    names: dict[Language, Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1)


class DistrictPublic(BaseModel):
    """A district and its names."""

    id: str
    names: dict[str, str]


class QueueItem(BaseModel):
    """An open investigation in the engineering queue, with its priority and survey target."""

    investigation: InvestigationPublic
    district_name: str | None
    worst_level: str | None
    priority: float
    survey_due_at: datetime
    overdue: bool


class Queue(BaseModel):
    """The engineering queue: open investigations, most urgent first."""

    items: list[QueueItem]
    total: int


# --- hot spots ------------------------------------------------------------------------------------


class HotSpotPublic(BaseModel):
    """One ranked area or district and what customers reported there in the period."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="the area's or district's H3 cell")
    district_id: str | None = Field(description="the area's district (null when ranking districts)")
    lat: float = Field(description="centre of the cell")
    lng: float = Field(description="centre of the cell")
    complaints: int = Field(description="complaints requested in the period")
    customers: int = Field(description="distinct customers behind them (one without a reference counts once)")
    high_value_customers: int = Field(description="distinct customers of class vip, gold or key_account")
    worst_level: Literal["none", "weak", "normal", "good"] | None = Field(
        description="lowest level on record for any technology and service; null when nothing is known"
    )
    open_investigation_id: str | None = Field(description="the area's open investigation (areas only)")
    rank: int = Field(description="1 for the hottest spot")


class HotSpotPage(BaseModel):
    """Hot spots ranked for a period, with the question they answer."""

    group: Literal["area", "district"]
    by: Literal["complaints", "customers", "high_value", "weak"]
    since: datetime
    until: datetime
    district_id: str | None
    limit: int
    items: list[HotSpotPublic]


class HotSpotTrendWeek(BaseModel):
    """One calendar week, Monday 00:00 UTC onwards."""

    model_config = ConfigDict(from_attributes=True)

    week_start: datetime
    complaints: int
    customers: int = Field(description="distinct customers who complained that week")


class HotSpotTrends(BaseModel):
    """Complaints and customers week by week, oldest week first, for an area, a district or everywhere."""

    area_id: str | None
    district_id: str | None
    weeks: list[HotSpotTrendWeek]


class GeoPolygon(BaseModel):
    """A GeoJSON Polygon: one closed exterior ring of [lng, lat] positions."""

    type: Literal["Polygon"] = "Polygon"
    coordinates: list[list[tuple[float, float]]]


class HotSpotFeature(BaseModel):
    """A GeoJSON Feature: a hot spot's cell and its figures."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: GeoPolygon
    properties: HotSpotPublic


class HotSpotFeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946) of ranked hot spots, in rank order."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[HotSpotFeature]


# --- imports ----------------------------------------------------------------------------------------


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

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


# --- hot spots ------------------------------------------------------------------------------------
# Imports stay inside this section so that branches editing the rest of this file never collide.
from typing import Literal  # noqa: E402

from pydantic import Field  # noqa: E402


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

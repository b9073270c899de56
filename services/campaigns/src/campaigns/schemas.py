"""Request and response models of the campaigns API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from campaigns.segments import Condition, SegmentTree
from careloop_common.errors import ProblemError
from careloop_common.inputs import NO_NUL, WHOLE

# --- segments ---------------------------------------------------------------------------------------

SegmentName = Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=128)]
Description = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=2000)]
SegmentId = Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=64)]

# The seeds' segments (DOMAIN.md section 2), as examples in the OpenAPI document.
LOW_BALANCE: JsonDict = {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}}
BIRTHDAY_THIS_WEEK: JsonDict = {"field": "birthday", "op": "within_days", "value": 7}
COVERAGE_COMPLAINERS: JsonDict = {"event": "complaint.coverage", "within_days": 180}
TOP_VALUE: JsonDict = {"field": "value_tier", "op": "=", "value": "top20"}
EXAMPLE_SEGMENT: JsonDict = {
    "name": "Balance below three days' spend",
    "description": "Dynamic balance reminder: remind before the line is suspended for arrears",
    "conditions": {"all": [LOW_BALANCE, {"field": "contact_sms", "op": "=", "value": True}]},
}


class SegmentCreate(BaseModel):
    """A segment to save: a name no other segment has, what it is for, and its conditions."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_SEGMENT]})

    name: SegmentName
    description: Description | None = None
    conditions: SegmentTree = Field(description="the condition tree (docs/segments.md)")


class SegmentUpdate(SegmentCreate):
    """A segment's new name, description and conditions: PUT replaces all three."""


class SegmentPublic(BaseModel):
    """A saved segment."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None
    conditions: Condition
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class SegmentPage(BaseModel):
    """One page of segments, by name."""

    items: list[SegmentPublic]
    total: int
    limit: int
    offset: int


class SegmentPreviewRequest(BaseModel):
    """What to preview: a tree not saved yet, or a saved segment; and how many members to show."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["conditions"]}, {"required": ["segment_id"]}],
            "examples": [
                {"conditions": {"any": [BIRTHDAY_THIS_WEEK, COVERAGE_COMPLAINERS]}, "sample_size": 5},
                {"conditions": TOP_VALUE},
            ],
        },
    )

    conditions: SegmentTree | None = Field(default=None, description="a condition tree (docs/segments.md)")
    segment_id: SegmentId | None = Field(default=None, description="a saved segment instead of a tree")
    sample_size: Annotated[int, Field(ge=0, le=50), WHOLE] = Field(
        default=10, description="how many members to show"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SegmentPreviewRequest:
        """Take exactly one of a tree and a saved segment, and not as null."""
        given = {"conditions", "segment_id"} & self.model_fields_set
        if len(given) != 1 or (self.conditions is None and self.segment_id is None):
            raise ProblemError(
                422, "segment-preview-source", "give either conditions or segment_id (exactly one of them)"
            )
        return self


class SegmentMember(BaseModel):
    """A subscriber in a preview: the number masked to its last four digits, and a few profile fields."""

    msisdn: str = Field(description="masked: the last four digits only", examples=["****4567"])
    brand: str
    plan_id: str
    region: str
    customer_class: str
    language: str
    lifecycle_stage: str | None
    value_tier: str | None


class SegmentPreview(BaseModel):
    """How many subscribers meet a segment now, and the first few of them by number."""

    count: int
    sample: list[SegmentMember]
    today: date = Field(description="the day the day windows counted from (the operator's calendar)")
    now: datetime = Field(description="the instant the event windows counted back from")

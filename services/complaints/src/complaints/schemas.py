"""Request and response models of the complaints API (XCreate / XPublic)."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.config import JsonDict, JsonValue

from careloop_common.inputs import MSISDN, WHOLE, Text


class Category(StrEnum):
    """What the complaint is about."""

    coverage = "coverage"
    billing = "billing"
    service = "service"
    value_added_service = "value_added_service"
    staff = "staff"
    other = "other"


class Channel(StrEnum):
    """Where the complaint was taken."""

    web = "web"
    call_centre = "call_centre"
    shop = "shop"
    email = "email"
    partner_api = "partner_api"


class Symptom(StrEnum):
    """What the customer experienced (coverage complaint form)."""

    no_signal = "no_signal"
    weak_signal = "weak_signal"
    call_drop = "call_drop"
    cannot_call = "cannot_call"
    poor_voice = "poor_voice"
    slow_data = "slow_data"
    no_data = "no_data"
    sms_failure = "sms_failure"


class CustomerClass(StrEnum):
    """The customer's class: VIP and gold take the green channel."""

    normal = "normal"
    silver = "silver"
    gold = "gold"
    vip = "vip"


class Language(StrEnum):
    """Languages the customer hears from us in."""

    zh_hant = "zh-Hant"
    zh_hans = "zh-Hans"
    en = "en"


class ContactPreference(StrEnum):
    """How the customer wants to hear from us."""

    sms = "sms"
    call = "call"


class Network(StrEnum):
    """Radio generation the customer was on."""

    g2 = "2G"
    g3 = "3G"
    g4 = "4G"
    g5 = "5G"


def _given(*names: str) -> JsonDict:
    """JSON Schema: each of ``names`` is present and a number (not null)."""
    return {"required": list(names), "properties": {n: {"type": "number"} for n in names}}


# What _where_for_follow_up enforces, said in the schema so clients (and generated tests) know it.
_LOCATION_RULES: list[JsonValue] = [
    {"if": _given("lat"), "then": _given("lng"), "else": {"not": _given("lng")}},
    {
        "if": {"required": ["follow_up"], "properties": {"follow_up": {"const": True}}},
        "then": _given("lat", "lng"),
    },
]


class ComplaintCreate(BaseModel):
    """A complaint as filed; coverage complaints carry where it happened."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "category": "coverage",
                    "channel": "call_centre",
                    "msisdn": "+85291234567",
                    "lat": 22.2819,
                    "lng": 114.1582,
                    "network": "4G",
                    "symptoms": ["call_drop", "weak_signal"],
                    "description": "Calls drop inside the flat since last week",
                    "follow_up": True,
                }
            ],
            "allOf": _LOCATION_RULES,
        },
    )

    category: Category
    channel: Channel
    msisdn: MSISDN
    description: Text | None = Field(default=None, max_length=4000)
    # Strict: the schema says number and boolean, so "22.3" or 0 are refused, not coerced.
    lat: float | None = Field(default=None, ge=-90, le=90, strict=True)
    lng: float | None = Field(default=None, ge=-180, le=180, strict=True)
    address: Text | None = Field(default=None, max_length=500)
    indoor: bool | None = Field(default=None, strict=True, description="indoors (true) or outdoors (false)")
    floor: Annotated[int, Field(ge=-10, le=200), WHOLE] | None = None
    # Aware only: a time without its offset would be stored at a guessed instant.
    occurred_at: AwareDatetime | None = Field(
        default=None, description="when it (first) happened: in the past, at most five years ago"
    )
    recurring: bool | None = Field(default=None, strict=True, description="it keeps happening (not once)")
    handset_make: Text | None = Field(default=None, max_length=64)
    handset_model: Text | None = Field(default=None, max_length=64)
    network: Network | None = None
    symptoms: list[Symptom] = Field(default_factory=list, max_length=8)
    follow_up: bool = Field(default=False, strict=True, description="ask engineering to investigate the area")
    contact_preference: ContactPreference = ContactPreference.sms
    language: Language = Language.zh_hant
    customer_class: CustomerClass = CustomerClass.normal

    @model_validator(mode="after")
    def _where_for_follow_up(self) -> ComplaintCreate:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("lat and lng go together")
        if self.follow_up and self.lat is None:
            raise ValueError("a follow-up needs the location (lat, lng) where it happened")
        return self


class ComplaintPublic(BaseModel):
    """A complaint as shown to staff and partners: the form, its owner and queue, clocks and answer."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    reference: str
    status: str
    category: str
    channel: str
    msisdn: str
    description: str | None
    lat: float | None
    lng: float | None
    address: str | None
    indoor: bool | None = None
    floor: int | None = None
    occurred_at: datetime | None = None
    recurring: bool | None = None
    handset_make: str | None = None
    handset_model: str | None = None
    network: str | None
    symptoms: list[str]
    follow_up: bool
    contact_preference: str = "sms"
    language: str = "zh-Hant"
    owner: str
    region: str = "HK"
    customer_class: str = "normal"
    priority: str = Field(default="normal", description="high is the green channel")
    queue: str = ""
    escalated: bool = False
    area_id: str | None = Field(default=None, description="the coverage area (H3 cell) it happened in")
    answer_state: str | None = Field(
        default=None,
        description="what coverage-map knew of the area: published (read answer_text to the customer), "
        "under_investigation, unknown, or unavailable (coverage-map did not answer in time)",
    )
    answer_text: str | None = Field(
        default=None, description="engineering's wording, in the customer's language"
    )
    answer_version: int | None = None
    answer_at: datetime | None = None
    dispatch_at: datetime | None = Field(default=None, description="when the answer goes to the owner")
    dispatched_at: datetime | None = None
    first_response_due: datetime | None = None
    next_update_due: datetime | None = None
    resolution_due: datetime | None = None
    resolution: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    first_contact_resolution: bool = False
    revisit_due_at: datetime | None = None
    revisit_sent_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ComplaintFiled(ComplaintPublic):
    """A complaint just filed, with the customer's tracking token (shown this once)."""

    tracking_token: str = Field(description="give it to the customer: it opens this complaint on the portal")


class PortalComplaintCreate(ComplaintCreate):
    """A complaint filed by the customer on the web portal (the channel is always ``web``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "category": "coverage",
                    "msisdn": "+85291234567",
                    "lat": 22.2819,
                    "lng": 114.1582,
                    "network": "4G",
                    "symptoms": ["no_signal"],
                    "description": "No signal in the lift lobby",
                    "follow_up": True,
                }
            ],
            "allOf": _LOCATION_RULES,
        },
    )

    channel: Literal[Channel.web] = Field(default=Channel.web, description="always web on the portal")
    # A customer does not vouch for their own class: the green channel is the care team's to give.
    customer_class: Literal[CustomerClass.normal] = Field(
        default=CustomerClass.normal, description="always normal on the portal"
    )


class PortalReceipt(BaseModel):
    """What the customer keeps after filing on the portal (and engineering's answer, if one is known)."""

    reference: str
    status: str
    created_at: datetime
    tracking_token: str = Field(description="keep it: with it you can follow this complaint")
    answer_state: str | None = None
    answer_text: str | None = Field(default=None, description="what engineering says of the area")


class TimelineStep(BaseModel):
    """One step of a complaint the customer sees on the portal."""

    at: datetime
    kind: str = Field(
        description="filed, assigned, answer_attached, follow_up_requested, plan_scheduled, dispatched, "
        "status_changed, revisit_sent"
    )
    value: str | None = Field(default=None, description="the new status, answer state or planned date")


class CustomerView(BaseModel):
    """A complaint as its customer sees it on the portal (no staff notes, number masked)."""

    reference: str
    status: str
    category: str
    channel: str
    msisdn_masked: str
    symptoms: list[str]
    address: str | None
    created_at: datetime
    updated_at: datetime
    answer_state: str | None = None
    answer_text: str | None = Field(default=None, description="what engineering says of the area")
    expected_by: datetime | None = Field(default=None, description="when we aim to have resolved it")
    steps: list[TimelineStep] = Field(default_factory=list, description="what happened so far, oldest first")


class ComplaintPage(BaseModel):
    """One page of complaints, newest first."""

    items: list[ComplaintPublic]
    total: int
    limit: int
    offset: int


# --- working a complaint --------------------------------------------------------------------------

StatusName = Literal[
    "acknowledged", "inProgress", "pending", "held", "resolved", "closed", "rejected", "cancelled"
]
# Who may own a complaint (a user name, an API key id, or queue:<queue>) and which queue it waits in.
OWNER = r"^[A-Za-z0-9_.:@-]{1,128}$"
QUEUE = r"^[A-Za-z0-9_.-]{1,64}$"


class StatusChange(BaseModel):
    """Move a complaint in its lifecycle (TMF621 states), saying why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"status": "resolved", "reason": "Explained the planned indoor site"}]
        },
    )

    status: StatusName
    reason: Text | None = Field(
        default=None, max_length=2000, description="why; for resolved, the resolution the customer is told"
    )


class Transfer(BaseModel):
    """Hand a complaint to another owner (and queue), with the reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"to_owner": "billing-desk", "reason": "a billing question", "queue": "billing.HK.standard"}
            ]
        },
    )

    to_owner: Annotated[str, StringConstraints(pattern=OWNER)]
    reason: Text = Field(min_length=1, max_length=2000)
    queue: Annotated[str, StringConstraints(pattern=QUEUE)] | None = None


class RevisitCreate(BaseModel):
    """What the customer said when asked, after closing, how we did."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"satisfied": True, "score": 4, "comment": "signal better now"}]},
    )

    satisfied: bool = Field(strict=True)
    score: Annotated[int, Field(ge=1, le=5), WHOLE] | None = Field(
        default=None, description="1 very poor … 5 very good"
    )
    comment: Text | None = Field(default=None, max_length=1000)
    channel: Literal["call", "sms", "visit"] = "call"


class RevisitPublic(BaseModel):
    """A revisit answer."""

    model_config = ConfigDict(from_attributes=True)

    complaint_id: str
    satisfied: bool | None
    score: int | None
    comment: str | None
    channel: str
    answered_at: datetime


class HistoryPublic(BaseModel):
    """One change to a complaint: who, when, what (kind, from → to) and why."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    kind: str
    from_value: str | None
    to_value: str | None
    reason: str | None
    customer_visible: bool


class HistoryPage(BaseModel):
    """A page of a complaint's history, oldest first."""

    items: list[HistoryPublic]
    total: int
    limit: int
    offset: int


class ClockView(BaseModel):
    """Where one SLA clock stands: its deadline, the business time left, and its state."""

    name: Literal["first_response", "next_update", "resolution"]
    state: Literal["ok", "warning", "breached"]
    due_at: datetime | None = Field(description="None while the clock is paused")
    remaining_s: int = Field(description="business seconds left; negative by the overdue time once breached")
    paused: bool


class QueueItem(BaseModel):
    """A complaint in an agent's queue with its SLA timers."""

    id: str
    reference: str
    status: str
    category: str
    priority: str
    customer_class: str
    queue: str
    owner: str
    escalated: bool
    answer_state: str | None
    created_at: datetime
    clocks: list[ClockView]


class QueuePage(BaseModel):
    """Open complaints, green channel first, then by the nearest deadline."""

    items: list[QueueItem]
    total: int
    limit: int
    offset: int


# --- analytics reports (complaints.analytics) ---------------------------------------------------------

# Values a report's query parameters take. Literal types, so the OpenAPI spells each one's values
# inline (an enum $ref in a parameter breaks the schemathesis contract test).
Dimension = Literal["category", "symptom", "channel", "brand", "region", "area", "week"]
RegionName = Literal["HK", "CN"]
CategoryName = Literal["coverage", "billing", "service", "value_added_service", "staff", "other"]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object) -> object:
    """Accept a day as the schema says it (RFC 3339 full-date text), not a number or a week date."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("a date in YYYY-MM-DD form, e.g. 2026-11-30")


Day = Annotated[date, BeforeValidator(_day)]


class ClockCompliance(BaseModel):
    """How one SLA clock fared over the complaints of a report."""

    breached: int = Field(description="complaints whose clock breached")
    compliance: float | None = Field(
        description="share of the complaints whose clock never breached (0 to 1); null when there are none"
    )


class SlaCompliance(BaseModel):
    """Each SLA clock's breaches and compliance."""

    first_response: ClockCompliance
    next_update: ClockCompliance
    resolution: ClockCompliance


class TimeToClose(BaseModel):
    """How long closed complaints took from filing to closing (nearest-rank percentiles, hours)."""

    closed: int = Field(description="closed complaints the percentiles are taken over")
    p50_hours: float | None = Field(description="median; null when none is closed")
    p90_hours: float | None
    p99_hours: float | None


class Figures(BaseModel):
    """The figures of a set of complaints (all of a report, one group, one handler's)."""

    complaints: int = Field(description="complaints filed in the period")
    open: int = Field(description="of them still open (acknowledged, inProgress, pending, held)")
    resolved: int = Field(description="resolved, closed ones included (they were resolved first)")
    closed: int
    first_contact_resolutions: int = Field(description="resolved at the first contact")
    fcr_rate: float | None = Field(
        description="first-contact resolutions ÷ complaints (0 to 1); null when there are none"
    )
    breached: int = Field(description="complaints with at least one clock breached")
    sla: SlaCompliance
    time_to_close: TimeToClose


class Group(Figures):
    """The figures of one group of a breakdown."""

    key: str | None = Field(
        description="the group: a category, symptom, channel, brand (lower case), region, area id or "
        "ISO week (2026-W49); null for complaints without one (no handset make, no area)"
    )


class HandlerFigures(Figures):
    """The figures of the complaints one handler owns."""

    owner: str = Field(description="who owns the complaints (user name, API key id, or portal)")


class Revisits(BaseModel):
    """What customers said when asked after closing."""

    answers: int = Field(description="revisit answers to complaints of the report")
    satisfied: int = Field(description="answers saying satisfied")
    satisfied_share: float | None = Field(
        description="satisfied ÷ answers that said satisfied or not (0 to 1); null when none did"
    )
    scored: int = Field(description="answers with a score")
    mean_score: float | None = Field(description="mean of the scores given; null when none was")


class Summary(Figures):
    """The figures of every complaint a report covers, and the revisits."""

    revisits: Revisits


class AppliedFilters(BaseModel):
    """The filters a report was made with."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(alias="from")
    to: date | None
    region: RegionName | None
    category: CategoryName | None


class SummaryReport(Summary):
    """The figures of every complaint the filters cover."""

    filters: AppliedFilters


class BreakdownReport(BaseModel):
    """One page of a breakdown: weeks in order, other groups largest first."""

    by: Dimension
    filters: AppliedFilters
    items: list[Group]
    total: int = Field(description="groups in the whole breakdown")
    limit: int
    offset: int


class HandlersReport(BaseModel):
    """One page of handlers, busiest first."""

    filters: AppliedFilters
    items: list[HandlerFigures]
    total: int = Field(description="handlers in the whole report")
    limit: int
    offset: int


WholeNumber = Annotated[int, WHOLE]
"""An integer value: 12 or 12.0 (JSON Schema calls both integers), never "12" or true."""

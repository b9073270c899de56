"""Request and response models of the complaints API (XCreate / XPublic)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.config import JsonDict, JsonValue

from careloop_common.inputs import MSISDN, Text, Timestamp


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


def _aware(instant: datetime) -> datetime:
    """Refuse a date-time without an offset (RFC 3339 requires one; stored as UTC it would be a guess)."""
    if instant.utcoffset() is None:
        raise ValueError("a date-time needs a time-zone offset, e.g. 2026-11-30T10:00:00Z")
    return instant


def _whole(value: object) -> object:
    """Take 12.0 as 12: JSON Schema counts it an integer, so a client may well send it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, Field(strict=True), BeforeValidator(_whole)]
"""An integer field: 12 or 12.0, never "12" or true (strict, as the schema says ``integer``).

Bounds go in the ``Field`` before the validator (``Annotated[int, Field(strict=True, ge=…),
BeforeValidator(_whole)]``); put after it they reach the OpenAPI as ``ge``/``le``, not ``minimum``.
"""


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
    floor: Annotated[int, Field(strict=True, ge=-10, le=200), BeforeValidator(_whole)] | None = None
    occurred_at: Annotated[Timestamp, AfterValidator(_aware)] | None = Field(
        default=None, description="when it (first) happened"
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
    """A complaint as shown to staff and partners."""

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
    network: str | None
    symptoms: list[str]
    follow_up: bool
    owner: str
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


class PortalReceipt(BaseModel):
    """What the customer keeps after filing on the portal."""

    reference: str
    status: str
    created_at: datetime
    tracking_token: str = Field(description="keep it: with it you can follow this complaint")


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


class ComplaintPage(BaseModel):
    """One page of complaints, newest first."""

    items: list[ComplaintPublic]
    total: int
    limit: int
    offset: int

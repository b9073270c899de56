"""Request and response models of the contact-gateway API (XCreate / XPublic)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from careloop_common.inputs import MSISDN, NO_NUL, Text, Timestamp


class Channel(StrEnum):
    """How a customer is reached."""

    sms = "sms"
    voice_call = "voice_call"
    agent_call = "agent_call"


class Purpose(StrEnum):
    """Why: service (complaint notices, alerts; never capped) or care (campaigns, surveys; capped)."""

    service = "service"
    care = "care"


class Status(StrEnum):
    """Where a message or call is."""

    accepted = "accepted"
    sending = "sending"
    submitted = "submitted"
    delivered = "delivered"
    completed = "completed"
    failed = "failed"
    suppressed = "suppressed"
    cancelled = "cancelled"


class CallOutcomeIn(StrEnum):
    """What happened on a call an agent placed."""

    answered = "answered"
    no_answer = "no_answer"
    busy = "busy"
    wrong_number = "wrong_number"


Language = Literal["zh-Hant", "zh-Hans", "en"]
TEMPLATE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
TemplateId = Annotated[str, StringConstraints(pattern=TEMPLATE_ID)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Skill = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")]
VariableValue = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=500)]
TimeZoneName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$", max_length=64)
]


def _given(name: str) -> JsonDict:
    """JSON Schema: ``name`` is present and a string (not null)."""
    return {"required": [name], "properties": {name: {"type": "string"}}}


class ContactCreate(BaseModel):
    """What to send or call, to whom, why, and when."""

    model_config = ConfigDict(
        extra="forbid",
        # Content is a template or a text, never both: said here so clients and generated tests know.
        json_schema_extra={"oneOf": [_given("template_id"), _given("text")]},
    )

    msisdn: MSISDN
    channel: Channel = Channel.sms
    purpose: Purpose
    priority: int = Field(default=5, ge=1, le=9, description="1 goes first; service always before care")
    template_id: TemplateId | None = Field(default=None, examples=["complaint.received"])
    variables: dict[str, VariableValue] = Field(default_factory=dict, max_length=20)
    text: Annotated[Text, StringConstraints(min_length=1, max_length=1600)] | None = Field(
        default=None, description="the message itself, when no template is named"
    )
    language: Language = "zh-Hant"
    time_zone: TimeZoneName | None = Field(
        default=None,
        examples=["Asia/Shanghai"],
        description="the customer's IANA time zone; by default the number's, else the platform's",
    )
    not_before: Timestamp | None = Field(default=None, description="send no earlier than this")
    expires_at: Timestamp | None = Field(
        default=None, description="give up after this (default: 48 hours from now)"
    )
    complaint_id: Name | None = None
    campaign_id: Name | None = None
    rounds: int = Field(default=1, ge=1, le=5, description="calls: attempts until answered")
    round_spacing_s: int = Field(default=3600, ge=60, le=7 * 86400, description="calls: wait between rounds")
    skill: Skill | None = Field(default=None, description="agent calls: the skill the agent needs")


class BatchItem(ContactCreate):
    """One request of a batch, with its own idempotency key."""

    idempotency_key: Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=255)]


class BatchCreate(BaseModel):
    """Many requests at once (campaign waves): each is decided on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(min_length=1, max_length=1000)


class TimelineEntryPublic(BaseModel):
    """One step of a request's life."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    status: str
    reason: str | None = None
    detail: str | None = None


class ContactPublic(BaseModel):
    """A message or call and where it is."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    msisdn: str
    channel: Channel
    purpose: Purpose
    priority: int
    language: str
    template_id: str | None = None
    status: Status
    reason: str | None = Field(default=None, description="why it was suppressed or failed")
    due_at: datetime = Field(description="when it is (or was) next tried")
    expires_at: datetime
    time_zone: str
    attempts: int
    segments: int
    encoding: str | None = None
    smpp_status: int | None = None
    rounds: int
    round: int
    outcome: str | None = None
    disposition: str | None = None
    skill: str | None = None
    complaint_id: str | None = None
    campaign_id: str | None = None
    created_at: datetime
    submitted_at: datetime | None = None
    completed_at: datetime | None = None


class ContactDetail(ContactPublic):
    """A message or call with its text and timeline."""

    text: str
    notes: str | None = None
    timeline: list[TimelineEntryPublic]


class ContactPage(BaseModel):
    """A page of messages and calls, newest first."""

    items: list[ContactPublic]
    total: int
    limit: int
    offset: int


class BatchResult(BaseModel):
    """What became of each request of a batch, in order."""

    items: list[ContactPublic]
    accepted: int
    suppressed: int


class OptOutChange(BaseModel):
    """Opt a customer out of (or back into) one purpose on one channel."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    purpose: Purpose
    opted_out: bool


class OptOutPublic(BaseModel):
    """A customer's choice for one channel and purpose."""

    model_config = ConfigDict(from_attributes=True)

    channel: Channel
    purpose: Purpose
    opted_out: bool
    source: str
    changed_at: datetime


class OptOutList(BaseModel):
    """Every channel and purpose a customer chose for (absent: contacts allowed)."""

    msisdn: str
    items: list[OptOutPublic]


class ReplyPublic(BaseModel):
    """A customer's SMS reply."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    msisdn: str
    text: str
    keyword: str | None = None
    in_reply_to: str | None = None
    received_at: datetime


class ReplyPage(BaseModel):
    """A page of replies, newest first."""

    items: list[ReplyPublic]
    total: int
    limit: int
    offset: int


class DialerClaim(BaseModel):
    """An agent asks for the next call they can take."""

    model_config = ConfigDict(extra="forbid")

    skills: list[Skill] = Field(default_factory=list, max_length=20, description="the agent's skills")


class CallTask(BaseModel):
    """A call an agent now holds: whom to call, why, and until when the claim lasts."""

    request: ContactDetail
    lease_until: datetime


class CallOutcomeCreate(BaseModel):
    """What happened on an agent's call."""

    model_config = ConfigDict(extra="forbid")

    outcome: CallOutcomeIn
    disposition: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=64)] | None = Field(
        default=None, examples=["resolved", "callback_requested"]
    )
    notes: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=2000)] | None = None


class TemplateEdit(BaseModel):
    """A template's wording in one language, with ``{name}`` placeholders."""

    model_config = ConfigDict(extra="forbid")

    body: Annotated[Text, StringConstraints(min_length=1, max_length=1600)]
    purpose: Purpose


class TemplatePublic(BaseModel):
    """A template in one language."""

    id: str
    language: str
    body: str
    purpose: str | None = None
    placeholders: list[str]
    built_in: bool


class TemplateList(BaseModel):
    """Every template: built-in and stored (a stored one replaces a built-in)."""

    items: list[TemplatePublic]


class DailyCount(BaseModel):
    """How many requests of a day, channel and campaign ended up in each status."""

    day: str
    channel: str
    campaign_id: str | None = None
    counts: dict[str, int]


class Stats(BaseModel):
    """Counts per day (UTC) for monitoring."""

    items: list[DailyCount]


class ConnectorStatus(BaseModel):
    """One SMSC connector as this replica sees it."""

    name: str
    host: str
    port: int
    bound: bool
    in_flight: int
    window: int
    throughput_per_s: float
    submitted: int
    failures: int
    last_error: str | None = None


class VoiceStatus(BaseModel):
    """The voice platform as this replica sees it."""

    configured: bool
    connected: bool
    calls_in_flight: int


class Connectors(BaseModel):
    """Every outside connection of this replica."""

    smsc: list[ConnectorStatus]
    voice: VoiceStatus

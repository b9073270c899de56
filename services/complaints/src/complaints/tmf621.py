"""TM Forum TMF621 Trouble Ticket v5: partners file and follow complaints through the standard API.

A trouble ticket *is* a complaint; nothing is stored twice. How the two map (``docs/complaints.md``
has the full table):

- ``description`` is the complaint's description, ``status`` its lifecycle state (the same eight
  names), ``priority`` its priority, ``name`` its reference, ``ticketType`` always ``complaint``.
- The customer is the one ``relatedParty`` with role ``customer``: its ``partyOrPartyRole.id`` is
  the customer's number (E.164).
- The coverage complaint form travels as typed ``troubleTicketCharacteristic`` entries
  (``category``, ``symptoms``, ``lat``, ``lng``, ``network``, ``address``, ``language`` …).
- ``severity`` and ``note`` have no column: each is a ``complaint_history`` entry (kind
  ``severity``, kind ``note``), so changing them leaves the same who/when trail as every change.

Filing goes through ``service.file_complaint``, so every intake rule applies (routing, SLA clocks,
events, follow-up). Partners file on channel ``partner_api`` and see only their own tickets.
Status changes go through ``lifecycle.change_status``; DELETE withdraws (cancels) a ticket nobody
has worked on yet and never removes the record.

Hub callbacks: a durable consumer of our own ``complaints.*`` events turns each into the TMF event
partners subscribed to, so a change made on any channel (agent desktop, portal, SLA watcher)
reaches them; the hub's unique (subscription, event id) makes a redelivered event harmless.
Changes only this API makes (severity, notes, description) queue their attribute-change event in
the PATCH's own transaction. ``HubDeliverer`` POSTs and retries.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.config import JsonDict
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common import hub, idempotency
from careloop_common.app import Platform, PlatformDep, SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import utcnow
from careloop_common.errors import PROBLEM_JSON, PROBLEM_RESPONSES, NotFound, Problem, ProblemError
from careloop_common.events import CloudEvent, EventContract
from careloop_common.events.complaints import (
    AnswerAttachedV1,
    ComplaintFiledV1,
    ComplaintResolvedV1,
    StatusChangedV1,
)
from careloop_common.inbox import ConsumerSpec
from careloop_common.inputs import MSISDN, NO_NUL, Limit, Offset, PathId, Timestamp
from complaints import lifecycle, repository, service
from complaints.models import Complaint, HistoryEntry
from complaints.schemas import ComplaintCreate, WholeNumber

log = logging.getLogger(__name__)

PREFIX = "/tmf-api/troubleTicket/v5"
API = "troubleTicket"
MERGE_PATCH = "application/merge-patch+json"
# Notes and severities written through this API: their history entries say so (``from_value``).
SOURCE = "tmf621"
NOTE = "note"
SEVERITY = repository.HISTORY_SEVERITY
STATUS_CHANGED = "status_changed"
HISTORY_KINDS = (STATUS_CHANGED, NOTE, SEVERITY)

router = APIRouter(prefix=PREFIX, tags=["TMF621 trouble ticket"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("complaints:read"))]
Writer = Annotated[Principal, Depends(require_scopes("complaints:write"))]

Status = Literal[
    "acknowledged", "inProgress", "pending", "held", "resolved", "closed", "rejected", "cancelled"
]
Severity = Literal["Critical", "Major", "Minor"]
ChannelId = Literal["web", "call_centre", "shop", "email", "partner_api"]
TicketType = Literal["complaint"]
EventType = Literal[
    "TroubleTicketCreateEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketAttributeValueChangeEvent",
    "TroubleTicketResolvedEvent",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "TroubleTicketCreateEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketAttributeValueChangeEvent",
    "TroubleTicketResolvedEvent",
)

TmfText = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=500)]
Description = Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=4000)]
NoteText = Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=2000)]
Author = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=128)]
Reason = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=2000)]

# --- what partners send ---------------------------------------------------------------------------


class ChannelRefIn(BaseModel):
    """Where the complaint was taken (TMF ChannelRef); partners always file on ``partner_api``."""

    model_config = ConfigDict(populate_by_name=True)

    type_: Literal["ChannelRef"] = Field(alias="@type")
    id: ChannelId


class PartyIn(BaseModel):
    """The customer (TMF PartyRef or PartyRoleRef): careloop knows a customer by their number."""

    model_config = ConfigDict(populate_by_name=True)

    type_: Literal["PartyRef", "PartyRoleRef"] = Field(alias="@type")
    id: MSISDN
    referredType: Literal["Individual", "Customer"] | None = Field(default=None, alias="@referredType")


class RelatedPartyIn(BaseModel):
    """The customer the complaint is about (TMF RelatedPartyRefOrPartyRoleRef, role ``customer``)."""

    model_config = ConfigDict(populate_by_name=True)

    type_: Literal["RelatedPartyRefOrPartyRoleRef"] = Field(alias="@type")
    role: Literal["customer"]
    partyOrPartyRole: PartyIn


class NoteIn(BaseModel):
    """A note to add to the ticket (TMF Note); its id and date are the server's."""

    model_config = ConfigDict(populate_by_name=True)

    type_: Literal["Note"] = Field(alias="@type")
    text: NoteText
    author: Author | None = None


class _CharacteristicIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class StringCharacteristicIn(_CharacteristicIn):
    """A form field given as text (values as the native complaints API takes them)."""

    type_: Literal["StringCharacteristic"] = Field(alias="@type")
    name: Literal[
        "category",
        "address",
        "network",
        "language",
        "contactPreference",
        "customerClass",
        "handsetMake",
        "handsetModel",
        "occurredAt",
    ]
    value: TmfText


class NumberCharacteristicIn(_CharacteristicIn):
    """Where it happened: latitude or longitude in degrees (WGS 84)."""

    type_: Literal["NumberCharacteristic", "FloatCharacteristic"] = Field(alias="@type")
    name: Literal["lat", "lng"]
    value: float = Field(strict=True)


class IntegerCharacteristicIn(_CharacteristicIn):
    """The floor it happened on."""

    type_: Literal["IntegerCharacteristic"] = Field(alias="@type")
    name: Literal["floor"]
    value: WholeNumber


class BooleanCharacteristicIn(_CharacteristicIn):
    """Indoors, recurring, or a follow-up asked of engineering."""

    type_: Literal["BooleanCharacteristic"] = Field(alias="@type")
    name: Literal["indoor", "recurring", "followUp"]
    value: bool = Field(strict=True)


class StringArrayCharacteristicIn(_CharacteristicIn):
    """What the customer experienced (the form's symptoms)."""

    type_: Literal["StringArrayCharacteristic"] = Field(alias="@type")
    name: Literal["symptoms"]
    value: list[TmfText] = Field(max_length=8)


CharacteristicIn = Annotated[
    StringCharacteristicIn
    | NumberCharacteristicIn
    | IntegerCharacteristicIn
    | BooleanCharacteristicIn
    | StringArrayCharacteristicIn,
    Field(discriminator="type_"),
]

# Characteristic name → the complaint form's field.
FORM_FIELDS: dict[str, str] = {
    "category": "category",
    "symptoms": "symptoms",
    "lat": "lat",
    "lng": "lng",
    "address": "address",
    "indoor": "indoor",
    "floor": "floor",
    "occurredAt": "occurred_at",
    "recurring": "recurring",
    "handsetMake": "handset_make",
    "handsetModel": "handset_model",
    "network": "network",
    "followUp": "follow_up",
    "contactPreference": "contact_preference",
    "language": "language",
    "customerClass": "customer_class",
}
CHARACTERISTIC_OF = {field: name for name, field in FORM_FIELDS.items()}


class TroubleTicketCreate(BaseModel):
    """TMF621 TroubleTicket_FVO as careloop takes it: a complaint, its customer and its form.

    Attributes careloop does not keep (attachment, relatedEntity, requestedResolutionDate …) are
    refused by name rather than dropped.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "@type": "TroubleTicket",
                    "description": "Calls drop inside the flat since last week",
                    "severity": "Major",
                    "ticketType": "complaint",
                    "relatedParty": [
                        {
                            "@type": "RelatedPartyRefOrPartyRoleRef",
                            "role": "customer",
                            "partyOrPartyRole": {"@type": "PartyRef", "id": "+85291234567"},
                        }
                    ],
                    "troubleTicketCharacteristic": [
                        {"@type": "StringCharacteristic", "name": "category", "value": "coverage"},
                        {"@type": "StringArrayCharacteristic", "name": "symptoms", "value": ["call_drop"]},
                        {"@type": "NumberCharacteristic", "name": "lat", "value": 22.2819},
                        {"@type": "NumberCharacteristic", "name": "lng", "value": 114.1582},
                        {"@type": "StringCharacteristic", "name": "network", "value": "4G"},
                    ],
                    "note": [{"@type": "Note", "text": "customer prefers a call after 6 pm"}],
                }
            ]
        },
    )

    type_: Literal["TroubleTicket"] = Field(alias="@type")
    description: Description
    severity: Severity
    ticketType: TicketType
    channel: ChannelRefIn | None = Field(default=None, description="partners: partner_api (the default)")
    relatedParty: list[RelatedPartyIn] = Field(min_length=1, max_length=1, description="the customer")
    troubleTicketCharacteristic: list[CharacteristicIn] = Field(default_factory=list, max_length=16)
    note: list[NoteIn] = Field(default_factory=list, max_length=10)


def _refuse_null(value: object) -> object:
    if value is None:
        raise ValueError("null would remove the attribute, and careloop keeps it: send a value")
    return value


T = TypeVar("T")
# An attribute a merge patch may set but not remove: absent means unchanged, null is refused.
Patched = Annotated[T | None, BeforeValidator(_refuse_null)]


def _not_nullable(schema: JsonDict) -> None:
    """Say in the schema what ``_refuse_null`` enforces: no null, and no ``default: null``."""
    schema.pop("default", None)
    branches = schema.pop("anyOf", None)
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1 and isinstance(kept[0], dict):
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept


ABSENT: dict[str, Any] = {"default": None, "json_schema_extra": _not_nullable}


class TroubleTicketPatch(BaseModel):
    """TMF621 TroubleTicket_MVO as careloop takes it (JSON merge patch): what may change.

    ``note`` entries are added (notes are never edited or removed); any other attribute, such as
    ``id``, ``creationDate`` or ``statusChangeHistory``, is the server's and refused by name.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"@type": "TroubleTicket", "status": "inProgress", "statusChangeReason": "site visit booked"}
            ]
        },
    )

    type_: Patched[Literal["TroubleTicket"]] = Field(alias="@type", **ABSENT)
    status: Patched[Status] = Field(**ABSENT)
    statusChangeReason: Patched[Reason] = Field(description="goes with status", **ABSENT)
    description: Patched[Description] = Field(**ABSENT)
    severity: Patched[Severity] = Field(**ABSENT)
    note: Patched[Annotated[list[NoteIn], Field(max_length=10)]] = Field(description="notes to add", **ABSENT)


class HubIn(BaseModel):
    """TMF Hub_FVO: where to POST the events, and which ones (``eventType=A,B``)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "@type": "Hub",
                    "callback": "https://partner.example/listener",
                    "query": "eventType=TroubleTicketStatusChangeEvent,TroubleTicketResolvedEvent",
                }
            ]
        },
    )

    type_: str | None = Field(default=None, alias="@type", max_length=64, pattern=NO_NUL)
    callback: str = Field(max_length=hub.MAX_CALLBACK_LENGTH, pattern=hub.CALLBACK_URL_PATTERN)
    query: str | None = Field(default=None, max_length=500, pattern=hub.HUB_QUERY_PATTERN)


# --- what partners get ----------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ChannelRef(_Out):
    """TMF ChannelRef."""

    type_: Literal["ChannelRef"] = Field(default="ChannelRef", alias="@type")
    id: str
    name: str | None = None


class PartyRef(_Out):
    """TMF PartyRef: the customer, by number."""

    type_: Literal["PartyRef"] = Field(default="PartyRef", alias="@type")
    id: str
    referredType: str | None = Field(default=None, alias="@referredType")


class RelatedParty(_Out):
    """TMF RelatedPartyRefOrPartyRoleRef."""

    type_: Literal["RelatedPartyRefOrPartyRoleRef"] = Field(
        default="RelatedPartyRefOrPartyRoleRef", alias="@type"
    )
    role: str
    partyOrPartyRole: PartyRef


class Note(_Out):
    """TMF Note."""

    type_: Literal["Note"] = Field(default="Note", alias="@type")
    id: str
    author: str | None = None
    date: datetime
    text: str


class StatusChange(_Out):
    """TMF StatusChange: one step of the ticket's status history."""

    type_: Literal["StatusChange"] = Field(default="StatusChange", alias="@type")
    status: Status
    statusChangeDate: datetime
    statusChangeReason: str | None = None


CharacteristicType = Literal[
    "StringCharacteristic",
    "NumberCharacteristic",
    "IntegerCharacteristic",
    "BooleanCharacteristic",
    "StringArrayCharacteristic",
]
CharacteristicValue = bool | int | float | str | list[str]


class Characteristic(_Out):
    """TMF Characteristic (String, Number, Integer, Boolean or StringArray by ``@type``)."""

    type_: CharacteristicType = Field(alias="@type")
    name: str
    value: CharacteristicValue


class TroubleTicket(_Out):
    """TMF621 TroubleTicket (with ``fields``, only the attributes asked for beside id, href, @type)."""

    type_: Literal["TroubleTicket"] = Field(default="TroubleTicket", alias="@type")
    id: str
    href: str
    name: str | None = Field(default=None, description="the complaint's reference, e.g. CMP-7K3QX9T2")
    description: str | None = None
    severity: Severity | None = None
    ticketType: TicketType | None = None
    status: Status | None = None
    statusChangeDate: datetime | None = None
    statusChangeReason: str | None = None
    statusChangeHistory: list[StatusChange] | None = None
    priority: str | None = Field(default=None, description="normal, high (green channel) or urgent")
    creationDate: datetime | None = None
    lastUpdate: datetime | None = None
    expectedResolutionDate: datetime | None = Field(default=None, description="the resolution SLA deadline")
    resolutionDate: datetime | None = None
    channel: ChannelRef | None = None
    relatedParty: list[RelatedParty] | None = None
    note: list[Note] | None = None
    troubleTicketCharacteristic: list[Characteristic] | None = None


class Hub(_Out):
    """TMF Hub: a registered callback."""

    type_: str = Field(default="Hub", alias="@type")
    id: str
    href: str
    callback: str
    query: str | None = None


# Attributes ``fields`` may select; id, href and @type always come.
SELECTABLE = tuple(
    name
    for name in (f.alias or n for n, f in TroubleTicket.model_fields.items())
    if name not in ("id", "href", "@type")
)
_ONE_FIELD = "|".join(re.escape(name) for name in SELECTABLE)
Fields = Annotated[
    str | None,
    Query(
        pattern=rf"^({_ONE_FIELD})(,({_ONE_FIELD}))*$",
        max_length=1000,
        description="comma-separated attributes to return (id, href and @type always come)",
    ),
]
Sort = Literal["creationDate", "-creationDate", "lastUpdate", "-lastUpdate"]
LIST_PARAMETERS = frozenset(
    {
        "fields",
        "offset",
        "limit",
        "sort",
        "status",
        "severity",
        "ticketType",
        "creationDate.gt",
        "creationDate.gte",
        "creationDate.lt",
        "creationDate.lte",
        "lastUpdate.gt",
        "lastUpdate.lt",
    }
)
UNSUPPORTED_MEDIA_TYPE: dict[int | str, dict[str, Any]] = {
    415: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Not a JSON merge patch"}
}
COUNT_HEADERS: dict[str, Any] = {
    "X-Total-Count": {"description": "how many tickets match", "schema": {"type": "integer"}},
    "X-Result-Count": {"description": "how many tickets this page holds", "schema": {"type": "integer"}},
}


def location(what: str) -> dict[str, Any]:
    """Document a response's Location header."""
    return {"Location": {"description": what, "schema": {"type": "string"}}}


CHANNEL_NAMES = {
    "web": "customer web portal",
    "call_centre": "call centre",
    "shop": "shop",
    "email": "email",
    "partner_api": "partner API",
}
# Moves a partner may make on its own tickets: withdraw it, accept the resolution, reopen it or
# answer what it was pending on. Working the ticket (inProgress, held, resolved …) is ours.
PARTNER_MOVES: dict[str, frozenset[str]] = {
    "cancelled": frozenset(lifecycle.OPEN),
    "closed": frozenset({"resolved"}),
    "inProgress": frozenset({"resolved", "pending"}),
}


# --- presenting a complaint as a ticket ------------------------------------------------------------


def href_of(ticket_id: str) -> str:
    """Return a ticket's href (relative: correct behind the gateway and any proxy)."""
    return f"{PREFIX}/troubleTicket/{ticket_id}"


def present(complaint: Complaint, history: Sequence[HistoryEntry], *, partner_view: bool) -> TroubleTicket:
    """Show a complaint as a TMF621 trouble ticket; a partner sees only the notes shared with partners."""
    changes = [e for e in history if e.kind == STATUS_CHANGED and e.to_value]
    severities = [e.to_value for e in history if e.kind == SEVERITY and e.to_value]
    last = changes[-1] if changes else None
    customer = PartyRef(id=complaint.msisdn, referredType="Individual")
    return TroubleTicket(
        id=complaint.id,
        href=href_of(complaint.id),
        name=complaint.reference,
        description=complaint.description,
        severity=cast(Severity, severities[-1]) if severities else None,
        ticketType="complaint",
        status=cast(Status, complaint.status),
        statusChangeDate=last.at if last else complaint.created_at,
        statusChangeReason=last.reason if last else None,
        statusChangeHistory=[
            StatusChange(status="acknowledged", statusChangeDate=complaint.created_at),
            *(_status_change(e) for e in changes),
        ],
        priority=complaint.priority,
        creationDate=complaint.created_at,
        lastUpdate=complaint.updated_at,
        expectedResolutionDate=complaint.resolution_due,
        resolutionDate=complaint.resolved_at,
        channel=ChannelRef(id=complaint.channel, name=CHANNEL_NAMES.get(complaint.channel)),
        relatedParty=[RelatedParty(role="customer", partyOrPartyRole=customer)],
        note=[_note(e) for e in history if e.kind == NOTE and _shared(e, partner_view)],
        troubleTicketCharacteristic=characteristics_of(complaint),
    )


def _status_change(entry: HistoryEntry) -> StatusChange:
    return StatusChange(
        status=cast(Status, entry.to_value), statusChangeDate=entry.at, statusChangeReason=entry.reason
    )


def _shared(entry: HistoryEntry, partner_view: bool) -> bool:
    # Staff notes from the agent desktop may be frank; partners see what was written through TMF621.
    return not partner_view or entry.from_value == SOURCE or entry.customer_visible


def _note(entry: HistoryEntry) -> Note:
    author = entry.to_value or entry.actor
    return Note(id=str(entry.id), author=author, date=entry.at, text=entry.reason or "")


def characteristics_of(complaint: Complaint) -> list[Characteristic]:
    """Return the complaint form as typed characteristics (only what was given)."""
    values: list[tuple[str, CharacteristicValue | None]] = [
        ("category", complaint.category),
        ("symptoms", list(complaint.symptoms) or None),
        ("lat", complaint.lat),
        ("lng", complaint.lng),
        ("address", complaint.address),
        ("indoor", complaint.indoor),
        ("floor", complaint.floor),
        ("occurredAt", utc_text(complaint.occurred_at) if complaint.occurred_at else None),
        ("recurring", complaint.recurring),
        ("handsetMake", complaint.handset_make),
        ("handsetModel", complaint.handset_model),
        ("network", complaint.network),
        ("followUp", complaint.follow_up),
        ("contactPreference", complaint.contact_preference),
        ("language", complaint.language),
        ("areaStatus", complaint.answer_state),  # engineering's answer for the area (read-only)
    ]
    return [
        Characteristic(type_=_characteristic_type(value), name=name, value=value)
        for name, value in values
        if value is not None
    ]


def utc_text(instant: datetime) -> str:
    """Return an instant as RFC 3339 text in UTC (``…Z``)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _characteristic_type(value: CharacteristicValue) -> CharacteristicType:
    if isinstance(value, bool):  # before int: a bool is an int to Python
        return "BooleanCharacteristic"
    if isinstance(value, int):
        return "IntegerCharacteristic"
    if isinstance(value, float):
        return "NumberCharacteristic"
    return "StringArrayCharacteristic" if isinstance(value, list) else "StringCharacteristic"


def as_json(ticket: TroubleTicket, fields: str | None = None) -> dict[str, Any]:
    """Return a ticket's JSON body, cut down to ``fields`` (id, href and @type always stay)."""
    body = ticket.model_dump(mode="json", by_alias=True, exclude_none=True)
    if fields is None:
        return body
    wanted = {"id", "href", "@type", *fields.split(",")}
    return {name: value for name, value in body.items() if name in wanted}


async def tickets_of(
    session: AsyncSession, complaints: Sequence[Complaint], *, partner_view: bool
) -> list[TroubleTicket]:
    """Present complaints as tickets, reading their histories in one query."""
    history = await repository.history_of(session, [c.id for c in complaints], HISTORY_KINDS)
    return [present(c, history[c.id], partner_view=partner_view) for c in complaints]


async def ticket_of(session: AsyncSession, complaint: Complaint, *, partner_view: bool) -> TroubleTicket:
    """Present one complaint as a ticket."""
    return (await tickets_of(session, [complaint], partner_view=partner_view))[0]


# --- filing ----------------------------------------------------------------------------------------


def complaint_form(body: TroubleTicketCreate, principal: Principal) -> ComplaintCreate:
    """Turn a TMF ticket into the complaint form; refuse (422) what the form's rules refuse."""
    channel = body.channel.id if body.channel else "partner_api"
    if principal.partner_id is not None and channel != "partner_api":
        raise ProblemError(
            422, "channel-not-allowed", "partners file on channel partner_api", field="channel"
        )
    names = [c.name for c in body.troubleTicketCharacteristic]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ProblemError(
            422,
            "invalid-characteristic",
            f"characteristic given more than once: {', '.join(repeated)}",
            field="troubleTicketCharacteristic",
        )
    form: dict[str, Any] = {FORM_FIELDS[c.name]: c.value for c in body.troubleTicketCharacteristic}
    form.update(
        channel=channel, msisdn=body.relatedParty[0].partyOrPartyRole.id, description=body.description
    )
    try:
        return ComplaintCreate.model_validate(form)
    except ValidationError as exc:
        raise _form_problem(exc) from None


def _form_problem(exc: ValidationError) -> ProblemError:
    """Name the characteristic behind each of the complaint form's objections."""
    errors = []
    for error in exc.errors():
        loc = error.get("loc", ())
        name = CHARACTERISTIC_OF.get(str(loc[0])) if loc else None
        errors.append(
            {
                "field": f"troubleTicketCharacteristic.{name}" if name else "troubleTicketCharacteristic",
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "invalid")),
            }
        )
    listed = ", ".join(e["field"].removeprefix("troubleTicketCharacteristic.") for e in errors[:5])
    return ProblemError(422, "invalid-characteristic", f"the complaint form refuses: {listed}", errors=errors)


def add_note(session: AsyncSession, complaint: Complaint, note: NoteIn, *, by: str, now: datetime) -> None:
    """Add a note shared with the partner to the complaint's history."""
    lifecycle.record(
        session, complaint, NOTE, actor=by, at=now, from_value=SOURCE, to_value=note.author, reason=note.text
    )


def set_severity(
    session: AsyncSession, complaint: Complaint, severity: str, *, before: str | None, by: str, now: datetime
) -> None:
    """Record the ticket's severity (a history entry: severity has no column of its own)."""
    lifecycle.record(session, complaint, SEVERITY, actor=by, at=now, from_value=before, to_value=severity)


# --- routes -----------------------------------------------------------------------------------------


async def _visible(session: AsyncSession, ticket_id: str, principal: Principal) -> Complaint:
    """Return a complaint the caller may see (a partner: only its own), or 404."""
    complaint = await repository.get(session, ticket_id, principal.partner_id)
    if complaint is None:
        raise NotFound("trouble ticket", ticket_id)
    return complaint


async def _locked(session: AsyncSession, ticket_id: str, principal: Principal) -> Complaint:
    """Return a complaint the caller may change, locked until the request commits, or 404."""
    complaint = await repository.get_for_update(session, ticket_id, principal.partner_id)
    if complaint is None:
        raise NotFound("trouble ticket", ticket_id)
    return complaint


def _partner_view(principal: Principal) -> bool:
    return principal.partner_id is not None


@router.post(
    "/troubleTicket",
    status_code=201,
    response_model=TroubleTicket,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses={201: {"headers": location("the new ticket")}},
    summary="Create a trouble ticket: file a complaint (TMF621)",
)
async def create_trouble_ticket(
    body: TroubleTicketCreate,
    request: Request,
    session: SessionDep,
    state: PlatformDep,
    principal: Writer,
    fields: Fields = None,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> JSONResponse:
    """File a complaint under every intake rule; the answer carries the customer's tracking token once."""
    if idempotency_key:
        asked = body.model_dump(mode="json", by_alias=True)
        print_ = idempotency.fingerprint("POST", request.url.path, asked)
        prior = await idempotency.replay(session, principal.subject, idempotency_key, print_)
        if prior is not None:
            return _created(prior[1], fields, status=prior[0])
    data = complaint_form(body, principal)
    complaint, token = await service.file_complaint(
        session, data, principal, state.source, state.settings.customer_ref_secret
    )
    now = complaint.created_at
    set_severity(session, complaint, body.severity, before=None, by=principal.subject, now=now)
    for note in body.note:
        add_note(session, complaint, note, by=principal.subject, now=now)
    ticket = await ticket_of(session, complaint, partner_view=_partner_view(principal))
    # Shown this once, like the native API's tracking_token: the customer follows it on the portal.
    tracking = Characteristic(type_="StringCharacteristic", name="trackingToken", value=token)
    ticket.troubleTicketCharacteristic = [*(ticket.troubleTicketCharacteristic or []), tracking]
    out = as_json(ticket)
    if idempotency_key:
        idempotency.remember(session, principal.subject, idempotency_key, print_, 201, out)
    return _created(out, fields)


def _created(body: dict[str, Any], fields: str | None, status: int = 201) -> JSONResponse:
    selected = body if fields is None else as_json(TroubleTicket.model_validate(body), fields)
    return JSONResponse(selected, status_code=status, headers={"Location": href_of(str(body["id"]))})


@router.get(
    "/troubleTicket",
    response_model=list[TroubleTicket],
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses={200: {"headers": COUNT_HEADERS}},
    summary="List trouble tickets (TMF621)",
)
async def list_trouble_tickets(
    request: Request,
    session: SessionDep,
    principal: Reader,
    fields: Fields = None,
    offset: Offset = 0,
    limit: Limit = 50,
    sort: Sort = "-creationDate",
    status: Status | None = None,
    severity: Severity | None = None,
    ticket_type: Annotated[TicketType | None, Query(alias="ticketType")] = None,
    created_gt: Annotated[Timestamp | None, Query(alias="creationDate.gt")] = None,
    created_gte: Annotated[Timestamp | None, Query(alias="creationDate.gte")] = None,
    created_lt: Annotated[Timestamp | None, Query(alias="creationDate.lt")] = None,
    created_lte: Annotated[Timestamp | None, Query(alias="creationDate.lte")] = None,
    updated_gt: Annotated[Timestamp | None, Query(alias="lastUpdate.gt")] = None,
    updated_lt: Annotated[Timestamp | None, Query(alias="lastUpdate.lt")] = None,
) -> JSONResponse:
    """List tickets (a partner sees its own), filtered by attribute; totals in X-Total-Count."""
    unknown = sorted(set(request.query_params) - LIST_PARAMETERS)
    if unknown:
        # A filter we ignored would answer with tickets the partner did not ask for.
        raise ProblemError(
            422,
            "unsupported-filter",
            f"cannot filter by {', '.join(unknown)}; supported: {', '.join(sorted(LIST_PARAMETERS))}",
        )
    bounds = (created_gt, created_gte, created_lt, created_lte, updated_gt, updated_lt)
    if any(b is not None and b.utcoffset() is None for b in bounds):
        raise ProblemError(422, "rule-violated", "date filters need a time-zone offset, e.g. Z")
    where = repository.TicketFilter(
        partner_id=principal.partner_id,
        status=status,
        severity=severity,
        created_gt=created_gt,
        created_gte=created_gte,
        created_lt=created_lt,
        created_lte=created_lte,
        updated_gt=updated_gt,
        updated_lt=updated_lt,
    )
    rows, total = await repository.ticket_page(session, where, sort=sort, limit=limit, offset=offset)
    tickets = await tickets_of(session, rows, partner_view=_partner_view(principal))
    return JSONResponse(
        [as_json(t, fields) for t in tickets],
        headers={"X-Total-Count": str(total), "X-Result-Count": str(len(tickets))},
    )


@router.get(
    "/troubleTicket/{ticket_id}",
    response_model=TroubleTicket,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    summary="Get a trouble ticket (TMF621)",
)
async def get_trouble_ticket(
    ticket_id: PathId, session: SessionDep, principal: Reader, fields: Fields = None
) -> JSONResponse:
    """Return one ticket with its status history and notes (a partner: only its own)."""
    complaint = await _visible(session, ticket_id, principal)
    ticket = await ticket_of(session, complaint, partner_view=_partner_view(principal))
    return JSONResponse(as_json(ticket, fields))


async def merge_patch_only(request: Request) -> None:
    """Refuse a PATCH body that is not a JSON merge patch (415, saying which type to send)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MERGE_PATCH:
        raise ProblemError(
            415,
            "unsupported-media-type",
            f"send the changes as {MERGE_PATCH} (RFC 7396)",
            headers={"Accept-Patch": MERGE_PATCH},
        )


@router.patch(
    "/troubleTicket/{ticket_id}",
    response_model=TroubleTicket,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses=UNSUPPORTED_MEDIA_TYPE,
    summary="Update a trouble ticket: status, description, severity, notes (TMF621)",
)
async def patch_trouble_ticket(
    ticket_id: PathId,
    session: SessionDep,
    state: PlatformDep,
    principal: Writer,
    _: Annotated[None, Depends(merge_patch_only)],
    body: Annotated[TroubleTicketPatch, Body(media_type=MERGE_PATCH)],
    fields: Fields = None,
) -> JSONResponse:
    """Move the ticket in its lifecycle (409 when it may not go there) and change what may change."""
    if body.statusChangeReason is not None and body.status is None:
        raise ProblemError(
            422, "rule-violated", "statusChangeReason goes with status", field="statusChangeReason"
        )
    complaint = await _locked(session, ticket_id, principal)
    before = await ticket_of(session, complaint, partner_view=True)
    changed = _attributes_changed(body, before)
    if changed and complaint.status in lifecycle.ENDED:
        raise ProblemError(
            409, "ticket-ended", f"a {complaint.status} ticket cannot change", current=complaint.status
        )
    now = utcnow()
    if body.status is not None and body.status != complaint.status:
        _check_partner_move(principal, complaint.status, body.status)
        lifecycle.change_status(
            session,
            complaint,
            body.status,
            by=principal.subject,
            now=now,
            source=state.source,
            reason=body.statusChangeReason,
        )
    _apply_attributes(session, complaint, body, before, by=principal.subject, now=now)
    after = await ticket_of(session, complaint, partner_view=True)
    if changed:
        # No complaint event stands for these changes: queue the hub event with them, in this transaction.
        await raise_event(session, complaint, "TroubleTicketAttributeValueChangeEvent", after, at=now)
    if not _partner_view(principal):
        after = await ticket_of(session, complaint, partner_view=False)
    return JSONResponse(as_json(after, fields))


def _attributes_changed(body: TroubleTicketPatch, before: TroubleTicket) -> list[str]:
    """Name the attributes (besides status) the patch changes."""
    changed = []
    if body.description is not None and body.description != before.description:
        changed.append("description")
    if body.severity is not None and body.severity != before.severity:
        changed.append("severity")
    if body.note:
        changed.append("note")
    return changed


def _apply_attributes(
    session: AsyncSession,
    complaint: Complaint,
    body: TroubleTicketPatch,
    before: TroubleTicket,
    *,
    by: str,
    now: datetime,
) -> None:
    """Change the description and severity, add the notes; each leaves its history entry."""
    if body.description is not None and body.description != complaint.description:
        complaint.description = body.description
        lifecycle.record(session, complaint, "updated", actor=by, at=now, to_value="description")
    if body.severity is not None and body.severity != before.severity:
        set_severity(session, complaint, body.severity, before=before.severity, by=by, now=now)
    for note in body.note or []:
        add_note(session, complaint, note, by=by, now=now)


def _check_partner_move(principal: Principal, current: str, to: str) -> None:
    """Refuse (403) a move only our staff make; an illegal one is left to the lifecycle (409)."""
    if principal.partner_id is None:
        return
    partner_may = current in PARTNER_MOVES.get(to, frozenset())
    if not partner_may and (to not in PARTNER_MOVES or to in lifecycle.TRANSITIONS[current]):
        raise ProblemError(
            403,
            "status-not-allowed",
            "partners withdraw a ticket (cancelled), accept its resolution (closed), or reopen it or "
            "answer what it waits on (inProgress); working it is the care team's",
            allowed=sorted(PARTNER_MOVES),
        )


@router.delete(
    "/troubleTicket/{ticket_id}",
    status_code=204,
    summary="Withdraw a trouble ticket not yet worked on (TMF621)",
)
async def delete_trouble_ticket(
    ticket_id: PathId, session: SessionDep, state: PlatformDep, principal: Writer
) -> Response:
    """Cancel a ticket still acknowledged (409 once work has started); the record is kept."""
    complaint = await _locked(session, ticket_id, principal)
    if complaint.status != "acknowledged":
        raise ProblemError(
            409,
            "ticket-in-progress",
            f"only an acknowledged ticket can be withdrawn; this one is {complaint.status}",
            current=complaint.status,
        )
    lifecycle.change_status(
        session,
        complaint,
        "cancelled",
        by=principal.subject,
        now=utcnow(),
        source=state.source,
        reason="withdrawn by the filer (TMF621 DELETE)",
    )
    return Response(status_code=204)


# --- hub -------------------------------------------------------------------------------------------


def _hub(subscription: hub.HubSubscription) -> dict[str, Any]:
    return {**hub.hub_to_tmf(subscription), "href": f"{PREFIX}/hub/{subscription.id}"}


@router.post(
    "/hub",
    status_code=201,
    response_model=Hub,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    responses={201: {"headers": location("the new subscription")}},
    summary="Subscribe to trouble ticket events (TMF621 hub)",
)
async def create_hub(body: HubIn, session: SessionDep, principal: Writer) -> JSONResponse:
    """Register a callback for ticket events (a partner hears of its own tickets only)."""
    wanted = hub.event_types_of(body.query)
    unknown = sorted((wanted or frozenset()) - set(EVENT_TYPES))
    if unknown:
        raise ProblemError(
            422,
            "unsupported-query",
            f"no such event type: {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
            field="query",
        )
    subscription = await hub.create_subscription(
        session, API, body.callback, query=body.query, partner_id=principal.partner_id
    )
    resource = _hub(subscription)
    return JSONResponse(resource, status_code=201, headers={"Location": resource["href"]})


@router.get(
    "/hub/{hub_id}",
    response_model=Hub,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    summary="Get an event subscription (TMF621 hub)",
)
async def get_hub(hub_id: PathId, session: SessionDep, principal: Reader) -> JSONResponse:
    """Return a subscription (a partner: only its own)."""
    subscription = await hub.get_subscription(session, API, hub_id, partner_id=principal.partner_id)
    return JSONResponse(_hub(subscription))


@router.delete("/hub/{hub_id}", status_code=204, summary="Unsubscribe (TMF621 hub)")
async def delete_hub(hub_id: PathId, session: SessionDep, principal: Writer) -> Response:
    """Remove a subscription and drop what is still queued for it."""
    await hub.delete_subscription(session, API, hub_id, partner_id=principal.partner_id)
    return Response(status_code=204)


# --- hub events ------------------------------------------------------------------------------------


def event_body(event_type: EventType, event_id: str, at: datetime, ticket: TroubleTicket) -> dict[str, Any]:
    """Return the body a hub callback receives (TMF TroubleTicket…Event)."""
    return {
        "@type": event_type,
        "eventId": event_id,
        "eventTime": utc_text(at),
        "eventType": event_type,
        "event": {"troubleTicket": as_json(ticket)},
    }


async def raise_event(
    session: AsyncSession,
    complaint: Complaint,
    event_type: EventType,
    ticket: TroubleTicket,
    *,
    at: datetime,
    event_id: str | None = None,
) -> int:
    """Queue a ticket event for every subscription that wants it, in the caller's transaction."""
    event_id = event_id or str(uuid.uuid4())
    return await hub.enqueue_hub_event(
        session, API, event_type, event_body(event_type, event_id, at, ticket), event_id, complaint.partner_id
    )


# Which complaint event becomes which ticket event.
HUB_EVENTS: dict[str, EventType] = {
    ComplaintFiledV1.subject: "TroubleTicketCreateEvent",
    StatusChangedV1.subject: "TroubleTicketStatusChangeEvent",
    ComplaintResolvedV1.subject: "TroubleTicketResolvedEvent",
    AnswerAttachedV1.subject: "TroubleTicketAttributeValueChangeEvent",
}
HUB_CONSUMER = "complaints-tmf621-hub"


def as_of(ticket: TroubleTicket, payload: EventContract) -> TroubleTicket:
    """Show the status an event reports, even if the ticket has moved on since."""
    if isinstance(payload, StatusChangedV1):
        return ticket.model_copy(
            update={
                "status": payload.to_status,
                "statusChangeDate": payload.at,
                "statusChangeReason": payload.reason,
            }
        )
    if isinstance(payload, ComplaintResolvedV1):
        return ticket.model_copy(update={"status": "resolved", "resolutionDate": payload.at})
    return ticket


async def on_complaint_event(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
    """Turn one of our complaint events into the TMF event hub subscribers receive."""
    event_type = HUB_EVENTS.get(event.nats_subject())
    complaint_id = getattr(payload, "complaint_id", None)
    if event_type is None or not isinstance(complaint_id, str):
        return
    if not await hub.anyone_wants(session, API, event_type):
        return  # the common case: no partner listens, so no ticket is built for nobody
    complaint = await repository.get(session, complaint_id, None)
    if complaint is None:
        log.warning("%s names complaint %s, which is not here: no hub event", event.type, complaint_id)
        return
    ticket = as_of(await ticket_of(session, complaint, partner_view=True), payload)
    # The complaint event's id is the hub event's id: a redelivered event queues nothing twice.
    await raise_event(session, complaint, event_type, ticket, at=event.time, event_id=event.id)


def consumer_specs() -> list[ConsumerSpec]:
    """Return the durable consumer that feeds the TMF621 hub from our own complaint events."""
    return [
        ConsumerSpec(
            durable=HUB_CONSUMER,
            stream="COMPLAINTS",
            subjects=tuple(HUB_EVENTS),
            handler=on_complaint_event,
            # One event per filing at least: one commit per fetched batch, not per event.
            together=True,
        )
    ]


# --- the deliverer ---------------------------------------------------------------------------------

DELIVERER = "tmf621-hub-deliverer"


async def start_hub(platform: Platform) -> None:
    """Start POSTing queued hub events to partners' callbacks (with the other background work)."""
    if not platform.settings.run_background:
        return
    deliverer = hub.HubDeliverer(sessions=platform.sessions, service=platform.settings.service_name)
    await deliverer.start()
    platform.extras[DELIVERER] = deliverer


async def stop_hub(platform: Platform) -> None:
    """Stop the deliverer after the batch in flight; what is left is sent by the next start."""
    deliverer = platform.extras.pop(DELIVERER, None)
    if isinstance(deliverer, hub.HubDeliverer):
        await deliverer.stop()

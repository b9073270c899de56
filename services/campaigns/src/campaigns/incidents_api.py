"""Routes of major-event care under /campaigns/v1/incidents (incidents.py does the work)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from campaigns import cell_sites, incidents, repository
from campaigns.models import Incident, IncidentPerson
from campaigns.schemas import CELL_ID_MAX, E164, LANGUAGES
from campaigns.settings import CampaignsSettings
from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import utcnow
from careloop_common.errors import PROBLEM_RESPONSES, ProblemError
from careloop_common.inputs import NO_NUL, WHOLE, Limit, Offset, PathId, Timestamp

router = APIRouter(prefix="/campaigns/v1/incidents", tags=["incidents"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("campaigns:read"))]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=NO_NUL)]
IncidentId = PathId
MsisdnPath = Annotated[str, Path(pattern=E164, description="the person's number in E.164")]


def manager(principal: Reader) -> Principal:
    """Admit those who run campaigns (campaigns:write) or approve them (campaigns:approve)."""
    if not (principal.has_scope("campaigns:write") or principal.has_scope("campaigns:approve")):
        raise ProblemError(
            403, "forbidden", "incidents are managed with campaigns:write or campaigns:approve"
        )
    return principal


Manager = Annotated[Principal, Depends(manager)]


async def campaigns_settings(request: Request) -> CampaignsSettings:
    """Return the service's settings (dependency)."""
    settings: CampaignsSettings = request.app.state.platform.settings
    return settings


Settings = Annotated[CampaignsSettings, Depends(campaigns_settings)]


# --- schemas -----------------------------------------------------------------------------------------


class IncidentArea(BaseModel):
    """Where: a GeoJSON Polygon or MultiPolygon ([lng, lat]), H3 cells of resolution 8 or coarser, or
    network cell ids of the cell-site registry (exactly one of the three)."""

    model_config = ConfigDict(extra="forbid")

    polygon: dict[str, Any] | None = Field(
        default=None,
        examples=[
            {"type": "Polygon", "coordinates": [[[103.3, 30.9], [103.6, 30.9], [103.6, 31.2], [103.3, 30.9]]]}
        ],
    )
    cells: list[Annotated[str, StringConstraints(max_length=16, pattern=NO_NUL)]] | None = Field(
        default=None, max_length=incidents.MAX_DECLARED_CELLS
    )
    network_cells: list[Annotated[str, StringConstraints(max_length=CELL_ID_MAX, pattern=NO_NUL)]] | None = (
        Field(
            default=None,
            max_length=incidents.MAX_DECLARED_CELLS,
            description="network cell ids (e.g. 460-00-1234567-12), resolved through the cell-site registry",
        )
    )


class IncidentCreate(BaseModel):
    """A major event to care for: where, when, what the calls say, and how they are made."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    area: IncidentArea
    starts_at: Timestamp = Field(description="the window begins: who was in the area from then on")
    ends_at: Timestamp = Field(description="the window ends: no one joins after it")
    content: dict[Literal[LANGUAGES], Text] = Field(  # type: ignore[valid-type]
        min_length=1, description="what the call says (the agent's script) by language"
    )
    channel: Literal["agent_call", "voice_call"] = Field(
        default="agent_call", description="agents at the dialer, or automated calls on the voice platform"
    )
    rounds: Annotated[int, Field(ge=1, le=5), WHOLE] = Field(
        default=3, description="calls to the unreachable"
    )
    round_gap_s: Annotated[int, Field(ge=1, le=7 * 86_400), WHOLE] = Field(
        default=3600, description="seconds between a round left unanswered and the next"
    )
    contacts_per_person: Annotated[int, Field(ge=0, le=20), WHOLE] = Field(
        default=5, description="closest contacts (by calls) of each affected subscriber also called"
    )
    credit_limit: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = Field(
        default=None, description="the credit limit billing is asked to hold; none: billing's own"
    )


class IncidentPublic(BaseModel):
    """An incident as stored, with how many people are at each outcome."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: Literal["active", "closed"]
    area: dict[str, Any]
    cells: list[str] = Field(description="the area as compacted H3 cells")
    starts_at: datetime
    ends_at: datetime
    content: dict[str, str]
    channel: str
    rounds: int
    round_gap_s: int
    contacts_per_person: int
    credit_limit: float | None
    created_by: str
    created_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    by_outcome: dict[str, int] = Field(default_factory=dict)


class IncidentPage(BaseModel):
    """A page of incidents, newest first."""

    items: list[IncidentPublic]
    total: int


class PersonPublic(BaseModel):
    """Someone an incident cares for and what became of them."""

    model_config = ConfigDict(from_attributes=True)

    msisdn: str
    customer_ref: str
    role: Literal["affected", "contact"]
    via: str = Field(description="located, roaming, entered (during the window) or contact")
    contact_of: str | None
    language: str
    outcome: Literal["calling", "answered", "safe", "needs_help", "unreachable"]
    rounds: int = Field(description="call rounds placed")
    next_round_at: datetime | None
    last_call: str | None = Field(description="what the last round came to (answered, no_answer, busy …)")
    credit_protected: bool
    note: str | None
    outcome_by: str | None
    outcome_at: datetime | None
    added_at: datetime


class PersonPage(BaseModel):
    """A page of an incident's people."""

    items: list[PersonPublic]
    total: int


class OutcomeRecord(BaseModel):
    """What staff learnt of a person."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["safe", "needs_help", "unreachable"]
    note: Text | None = None


class ReportDay(BaseModel):
    """One day of an incident in the operator's calendar."""

    day: date
    added: int
    calls: int
    answered: int
    safe: int
    needs_help: int
    unreachable: int


class IncidentReport(BaseModel):
    """An incident's daily report."""

    incident_id: str
    name: str
    status: str
    time_zone: str
    days: list[ReportDay]
    people: int
    affected: int
    contacts: int
    credit_protected: int
    calls: int
    by_outcome: dict[str, int]
    unreachable_after_rounds: dict[str, int] = Field(description="rounds placed → people left unreachable")


# --- routes ------------------------------------------------------------------------------------------


async def _public(session: SessionDep, incident: Incident) -> IncidentPublic:
    answer = IncidentPublic.model_validate(incident)
    answer.by_outcome = await repository.incident_outcome_counts(session, incident.id)
    return answer


async def _area(session: SessionDep, given: IncidentArea) -> incidents.Area:
    """Return the declared area as cells; exactly one of polygon, cells and network_cells must be given."""
    forms = [given.polygon, given.cells, given.network_cells]
    if sum(form is not None for form in forms) != 1:
        raise ProblemError(
            422, "invalid-area", "give the area as exactly one of a polygon, cells or network_cells"
        )
    if given.polygon is not None:
        return incidents.area_from_polygon(given.polygon)
    if given.network_cells is not None:
        return await cell_sites.area_from_network_cells(session, given.network_cells)
    return incidents.area_from_cells(given.cells or [])


@router.post(
    "",
    response_model=IncidentPublic,
    status_code=201,
    summary="Declare a major event",
)
async def declare_incident(
    body: IncidentCreate,
    session: SessionDep,
    state: PlatformDep,
    settings: Settings,
    principal: Manager,
    response: Response,
) -> IncidentPublic:
    """Declare an incident: everyone in the area so far and their closest contacts are added, their
    credit protected, and round 1 of the care calls placed."""
    area = await _area(session, body.area)
    if body.starts_at.tzinfo is None or body.ends_at.tzinfo is None:
        # RFC 3339 instants carry their offset; a naive one would be a guess at the zone.
        raise ProblemError(422, "invalid-window", "starts_at and ends_at need their UTC offset")
    if body.ends_at <= body.starts_at:
        raise ProblemError(422, "invalid-window", "the window must end after it starts")
    values = body.model_dump(exclude={"area"})
    values["area"] = body.area.model_dump(exclude_none=True)
    incident = await incidents.declare(
        session,
        values,
        area,
        by=principal.subject,
        now=utcnow(),
        key=settings.customer_ref_secret,
        source=state.source,
    )
    response.headers["Location"] = f"{router.prefix}/{incident.id}"
    return await _public(session, incident)


@router.get("", response_model=IncidentPage, summary="List incidents")
async def list_incidents(
    session: SessionDep,
    _: Reader,
    status: Annotated[Literal["active", "closed"] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> IncidentPage:
    """List incidents, newest first."""
    rows, total = await repository.incidents_page(session, status=status, limit=limit, offset=offset)
    return IncidentPage(items=[await _public(session, row) for row in rows], total=total)


@router.get("/{incident_id}", response_model=IncidentPublic, summary="Get an incident")
async def get_incident(incident_id: IncidentId, session: SessionDep, _: Reader) -> IncidentPublic:
    """Return an incident with its counts by outcome."""
    return await _public(session, await incidents.get(session, incident_id))


@router.get("/{incident_id}/people", response_model=PersonPage, summary="The people an incident cares for")
async def incident_people(
    incident_id: IncidentId,
    session: SessionDep,
    _: Reader,
    outcome: Annotated[
        Literal["calling", "answered", "safe", "needs_help", "unreachable"] | None, Query()
    ] = None,
    role: Annotated[Literal["affected", "contact"] | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PersonPage:
    """List the people (affected subscribers first, then contacts) with their outcome and rounds."""
    await incidents.get(session, incident_id)
    rows, total = await repository.incident_people_page(
        session, incident_id, outcome=outcome, role=role, limit=limit, offset=offset
    )
    return PersonPage(items=[PersonPublic.model_validate(row) for row in rows], total=total)


@router.post(
    "/{incident_id}/people/{msisdn}/outcome",
    response_model=PersonPublic,
    summary="Record what became of a person",
)
async def record_person_outcome(
    incident_id: IncidentId, msisdn: MsisdnPath, body: OutcomeRecord, session: SessionDep, principal: Manager
) -> PersonPublic:
    """Record safe, needs help or unreachable (after a call back, a visit …); no more rounds follow."""
    incident = await incidents.get(session, incident_id)
    person: IncidentPerson = await incidents.record_outcome(
        session, incident, msisdn, body.outcome, body.note, by=principal.subject, now=utcnow()
    )
    return PersonPublic.model_validate(person)


@router.post("/{incident_id}/close", response_model=IncidentPublic, summary="Close an incident")
async def close_incident(incident_id: IncidentId, session: SessionDep, principal: Manager) -> IncidentPublic:
    """Close an incident: no one joins and no further rounds are placed."""
    incident = await incidents.get(session, incident_id, for_update=True)
    await incidents.close(session, incident, by=principal.subject, now=utcnow())
    return await _public(session, incident)


@router.get("/{incident_id}/report", response_model=IncidentReport, summary="An incident's daily report")
async def incident_report(
    incident_id: IncidentId, session: SessionDep, settings: Settings, _: Reader
) -> IncidentReport:
    """Count people added, calls placed and outcomes per day (operator's calendar) and in all."""
    incident = await incidents.get(session, incident_id)
    found = await incidents.report(session, incident, settings.zone)
    return IncidentReport(
        incident_id=incident.id,
        name=incident.name,
        status=incident.status,
        time_zone=settings.time_zone,
        days=[ReportDay(**day) for day in found.days],
        people=found.people,
        affected=found.affected,
        contacts=found.contacts,
        credit_protected=found.credit_protected,
        calls=found.calls,
        by_outcome=found.by_outcome,
        unreachable_after_rounds=found.unreachable_after_rounds,
    )

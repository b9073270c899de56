"""Routes of the contact-gateway service under /contact/v1."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.app import SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import on_commit, utcnow
from careloop_common.errors import PROBLEM_RESPONSES, NotFound, ProblemError
from careloop_common.inputs import NO_NUL, Limit, Offset, PathId, Timestamp, to_e164
from contact_gateway import repository, service, templates
from contact_gateway.models import ContactRequest, Template
from contact_gateway.runtime import Runtime, runtime
from contact_gateway.schemas import (
    TEMPLATE_ID,
    BatchCreate,
    BatchResult,
    CallOutcomeCreate,
    CallTask,
    Connectors,
    ConnectorStatus,
    ContactCreate,
    ContactDetail,
    ContactPage,
    ContactPublic,
    DailyCount,
    DialerClaim,
    Language,
    OptOutChange,
    OptOutList,
    OptOutPublic,
    ReplyPage,
    ReplyPublic,
    Stats,
    Status,
    TemplateEdit,
    TemplateList,
    TemplatePublic,
    TimelineEntryPublic,
    VoiceStatus,
)

router = APIRouter(prefix="/contact/v1", tags=["contact"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("contact:read"))]
Writer = Annotated[Principal, Depends(require_scopes("contact:write"))]
Dialer = Annotated[Principal, Depends(require_scopes("contact:dial"))]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
# Plain literals, not the enums: a $ref in a query parameter trips schema bundling in clients.
StatusName = Literal[
    "accepted", "sending", "submitted", "delivered", "completed", "failed", "suppressed", "cancelled"
]
ChannelName = Literal["sms", "voice_call", "agent_call"]
E164Query = Annotated[str, Query(pattern=r"^\+[1-9][0-9]{3,14}$", description="the customer's number, E.164")]


def e164(msisdn: str) -> str:
    """Return a valid E.164 number, or raise a 422 naming it (the pattern cannot check numbering plans)."""
    try:
        return to_e164(msisdn)
    except ValueError as exc:
        raise ProblemError(422, "invalid-number", str(exc), field="msisdn") from exc


RequiredKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=NO_NUL,
        description="Any unique string; the same key never sends twice and returns the first request.",
    ),
]


async def detail(session: AsyncSession, request: ContactRequest) -> ContactDetail:
    """Return a request with its text and timeline."""
    steps = await repository.timeline(session, request.id)
    return ContactDetail.model_validate(
        {
            **ContactPublic.model_validate(request).model_dump(),
            "text": request.text,
            "notes": request.notes,
            "timeline": [TimelineEntryPublic.model_validate(s) for s in steps],
        }
    )


async def existing(session: AsyncSession, request_id: str) -> ContactRequest:
    """Return a request or raise 404."""
    request = await repository.get(session, request_id)
    if request is None:
        raise NotFound("message or call", request_id)
    return request


@router.post(
    "/requests",
    response_model=ContactDetail,
    status_code=201,
    summary="Send a message or place a call",
    responses={200: {"model": ContactDetail, "description": "The request this idempotency key already made"}},
)
async def create_request(
    body: ContactCreate,
    key: RequiredKey,
    session: SessionDep,
    principal: Writer,
    rt: RuntimeDep,
    response: Response,
) -> ContactDetail:
    """Decide a request under the contact policy and queue it; suppressed requests say why."""
    request, created = await service.request_contact(
        session, body, rules=rt.rules, requested_by=principal.subject, idempotency_key=key, origin="api"
    )
    if not created:
        response.status_code = 200
    on_commit(session, rt.wake)
    return await detail(session, request)


@router.post("/request-batches", response_model=BatchResult, summary="Send many messages or calls at once")
async def create_batch(
    body: BatchCreate, session: SessionDep, principal: Writer, rt: RuntimeDep
) -> BatchResult:
    """Decide each request of a batch on its own (a campaign wave); all are recorded together."""
    outcomes = await service.request_contacts(
        session,
        [service.Intake(item, item.idempotency_key) for item in body.items],
        rules=rt.rules,
        requested_by=principal.subject,
        origin="api",
    )
    items = [ContactPublic.model_validate(request) for request, _ in outcomes]
    on_commit(session, rt.wake)
    return BatchResult(
        items=items,
        accepted=sum(1 for i in items if i.status != Status.suppressed),
        suppressed=sum(1 for i in items if i.status == Status.suppressed),
    )


@router.get("/requests", response_model=ContactPage, summary="List messages and calls")
async def list_requests(
    session: SessionDep,
    _: Reader,
    msisdn: Annotated[str | None, Query(max_length=32, pattern=r"^\+[1-9][0-9]{3,14}$")] = None,
    campaign_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    complaint_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    status: StatusName | None = None,
    channel: ChannelName | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ContactPage:
    """List messages and calls, newest first."""
    items, total = await repository.page(
        session,
        msisdn=msisdn,
        campaign_id=campaign_id,
        complaint_id=complaint_id,
        status=status,
        channel=channel,
        limit=limit,
        offset=offset,
    )
    return ContactPage(
        items=[ContactPublic.model_validate(i) for i in items], total=total, limit=limit, offset=offset
    )


@router.get("/requests/{request_id}", response_model=ContactDetail, summary="Get a message or call")
async def get_request(request_id: PathId, session: SessionDep, _: Reader) -> ContactDetail:
    """Return a message or call with its timeline."""
    return await detail(session, await existing(session, request_id))


@router.post(
    "/requests/{request_id}/cancel", response_model=ContactDetail, summary="Cancel a waiting request"
)
async def cancel_request(request_id: PathId, session: SessionDep, principal: Writer) -> ContactDetail:
    """Cancel a message or call that has not gone out yet (409 once it has)."""
    request = await service.cancel(session, await existing(session, request_id), principal.subject)
    return await detail(session, request)


@router.get("/opt-outs", response_model=OptOutList, summary="A customer's opt-outs")
async def get_opt_outs(msisdn: E164Query, session: SessionDep, _: Reader) -> OptOutList:
    """Return every channel and purpose a customer opted out of or back into."""
    msisdn = e164(msisdn)
    rows = await repository.opt_outs(session, msisdn)
    return OptOutList(msisdn=msisdn, items=[OptOutPublic.model_validate(r) for r in rows])


@router.put("/opt-outs", response_model=OptOutPublic, summary="Opt a customer out or back in")
async def put_opt_out(
    msisdn: E164Query,
    body: OptOutChange,
    session: SessionDep,
    principal: Writer,
    rt: RuntimeDep,
) -> OptOutPublic:
    """Record a customer's choice for one channel and purpose (as they told an agent)."""
    msisdn = e164(msisdn)
    row = await service.set_opt_out(
        session,
        msisdn,
        body.channel.value,
        body.purpose.value,
        body.opted_out,
        source=f"api:{principal.subject}"[:32],
        rules=rt.rules,
        now=utcnow(),
    )
    return OptOutPublic.model_validate(row)


@router.get("/replies", response_model=ReplyPage, summary="Customers' SMS replies")
async def list_replies(
    session: SessionDep,
    _: Reader,
    msisdn: Annotated[str | None, Query(max_length=32, pattern=r"^\+[1-9][0-9]{3,14}$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ReplyPage:
    """List replies, newest first."""
    items, total = await repository.replies(session, msisdn, limit, offset)
    return ReplyPage(
        items=[ReplyPublic.model_validate(r) for r in items], total=total, limit=limit, offset=offset
    )


@router.post(
    "/dialer/claim",
    response_model=CallTask,
    summary="Take the next agent call",
    responses={204: {"description": "No call waits for these skills"}},
)
async def claim_call(
    body: DialerClaim, session: SessionDep, agent: Dialer, rt: RuntimeDep
) -> CallTask | Response:
    """Claim the next due agent call this agent's skills allow, with a lease; 204 when none waits."""
    now = utcnow()
    lease_until = now + timedelta(seconds=rt.agent_lease_s)
    request = await repository.claim_agent_call(session, body.skills, now, agent.subject, lease_until)
    if request is None:
        return Response(status_code=204)
    service.start_round(session, request, agent.subject, now)
    await session.flush()
    return CallTask(request=await detail(session, request), lease_until=lease_until)


async def held_call(session: AsyncSession, request_id: str, agent: Principal) -> ContactRequest:
    """Return an agent call this agent holds now, or raise 404/409."""
    request = await existing(session, request_id)
    if request.channel != "agent_call":
        raise NotFound("agent call", request_id)
    if request.status != "sending" or request.lease_owner != agent.subject:
        raise ProblemError(
            409, "not-held", "this call is not held by you (never claimed, finished, or the claim lapsed)"
        )
    return request


@router.post(
    "/calls/{request_id}/outcome", response_model=ContactDetail, summary="Record an agent call's outcome"
)
async def record_outcome(
    request_id: PathId, body: CallOutcomeCreate, session: SessionDep, agent: Dialer, rt: RuntimeDep
) -> ContactDetail:
    """Record what happened on a held call: answered ends it; otherwise the next round is queued."""
    request = await held_call(session, request_id, agent)
    service.record_call_outcome(
        session,
        request,
        body.outcome.value,
        rules=rt.rules,
        now=utcnow(),
        disposition=body.disposition,
        notes=body.notes,
    )
    await session.flush()
    return await detail(session, request)


@router.post("/calls/{request_id}/release", response_model=ContactDetail, summary="Give a held call back")
async def release_call(request_id: PathId, session: SessionDep, agent: Dialer) -> ContactDetail:
    """Put a held call back in the queue untried (the agent cannot take it after all)."""
    request = await held_call(session, request_id, agent)
    request.round -= 1
    service.requeue(session, request, utcnow(), f"released by {agent.subject}")
    await session.flush()
    return await detail(session, request)


@router.get("/templates", response_model=TemplateList, summary="Message templates")
async def list_templates(session: SessionDep, _: Reader) -> TemplateList:
    """List every template: stored ones and the built-in ones they have not replaced."""
    stored = {(t.id, t.language): t for t in await repository.stored_templates(session)}
    items = [_template_public(t) for t in stored.values()]
    for template_id, bodies in templates.BUILT_IN.items():
        for language, body in bodies.items():
            if (template_id, language) not in stored:
                items.append(
                    TemplatePublic(
                        id=template_id,
                        language=language,
                        body=body,
                        placeholders=templates.placeholders(body),
                        built_in=True,
                    )
                )
    return TemplateList(items=sorted(items, key=lambda t: (t.id, t.language)))


def _template_public(template: Template) -> TemplatePublic:
    return TemplatePublic(
        id=template.id,
        language=template.language,
        body=template.body,
        purpose=template.purpose,
        placeholders=templates.placeholders(template.body),
        built_in=False,
    )


@router.put("/templates/{template_id}/{language}", response_model=TemplatePublic, summary="Write a template")
async def put_template(
    template_id: Annotated[str, Path(pattern=TEMPLATE_ID, description="the template's id")],
    language: Language,
    body: TemplateEdit,
    session: SessionDep,
    principal: Writer,
) -> TemplatePublic:
    """Store a template's wording in one language (replacing a built-in one of the same id)."""
    try:
        templates.check_body(body.body)
    except ValueError as exc:
        raise ProblemError(422, "not-a-template", str(exc), field="body") from exc
    row = await repository.stored_template(session, template_id, language)
    now = utcnow()
    if row is None:
        row = Template(
            id=template_id,
            language=language,
            body=body.body,
            purpose=body.purpose.value,
            updated_at=now,
            updated_by=principal.subject,
        )
        repository.add(session, row)
    else:
        row.body, row.purpose, row.updated_at, row.updated_by = (
            body.body,
            body.purpose.value,
            now,
            principal.subject,
        )
    await session.flush()
    return _template_public(row)


@router.get("/stats", response_model=Stats, summary="Counts per day for monitoring")
async def stats(
    session: SessionDep,
    _: Reader,
    since: Annotated[Timestamp | None, Query(description="from (default: 7 days ago)")] = None,
    until: Annotated[Timestamp | None, Query(description="until (default: now)")] = None,
    campaign_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
) -> Stats:
    """Count messages and calls per UTC day, channel and campaign, by status."""
    end = until or utcnow()
    start = since or end - timedelta(days=7)
    if start.tzinfo is None or end.tzinfo is None:
        raise ProblemError(422, "rule-violated", "since and until need a time-zone offset, e.g. Z")
    grouped: dict[tuple[str, str, str | None], dict[str, int]] = {}
    for day, channel, campaign, status, count in await repository.daily_counts(
        session, start, end, campaign_id
    ):
        grouped.setdefault((day, channel, campaign), {})[status] = count
    return Stats(
        items=[
            DailyCount(day=d, channel=c, campaign_id=cid, counts=counts)
            for (d, c, cid), counts in grouped.items()
        ]
    )


@router.get("/connectors", response_model=Connectors, summary="SMSC binds and the voice platform")
async def connectors(_: Reader, rt: RuntimeDep) -> Connectors:
    """Say which SMSCs this replica is bound to and whether the voice platform is connected."""
    return Connectors(
        smsc=[
            ConnectorStatus(
                name=c.name,
                host=c.config.host,
                port=c.config.port,
                bound=c.bound,
                in_flight=c.in_flight,
                window=c.config.window,
                throughput_per_s=c.config.throughput,
                submitted=c.submitted,
                failures=c.failures,
                last_error=c.last_error,
            )
            for c in rt.pool.connectors
        ],
        voice=VoiceStatus(
            configured=rt.voice is not None,
            connected=bool(rt.voice and rt.voice.connected),
            calls_in_flight=rt.voice.in_flight if rt.voice else 0,
        ),
    )

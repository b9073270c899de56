"""TM Forum TMF681 Communication v4: partners send SMS through the standard API.

A communication message has one content and one or more receivers; each receiver becomes one of
our requests (same contact policy, same queue, same receipts). Its state is read from theirs:

- ``initial``: nothing has gone out yet; ``inProgress``: some went, some are still under way;
- ``completed``: delivered to every receiver; ``cancelled``: every receiver cancelled;
- ``failed``: all done, but not every receiver got it (suppressed, undeliverable, expired).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.app import SessionDep
from careloop_common.auth import Principal, require_scopes
from careloop_common.db import on_commit, utcnow
from careloop_common.errors import PROBLEM_RESPONSES, NotFound, ProblemError
from careloop_common.inputs import MSISDN, NO_NUL, Limit, Offset, PathId, Timestamp
from contact_gateway import repository, service
from contact_gateway.models import Communication, ContactRequest
from contact_gateway.runtime import Runtime, runtime
from contact_gateway.schemas import ContactCreate

PREFIX = "/tmf-api/communicationManagement/v4"
router = APIRouter(prefix=PREFIX, tags=["TMF681 communication"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("contact:read"))]
Writer = Annotated[Principal, Depends(require_scopes("contact:write"))]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
TmfText = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=255)]
State = Literal["initial", "inProgress", "completed", "cancelled", "failed"]


class Receiver(BaseModel):
    """Who receives the message (TMF681 Receiver); careloop sends SMS, so a phone number."""

    model_config = ConfigDict(populate_by_name=True)

    id: TmfText | None = None
    name: TmfText | None = None
    phoneNumber: MSISDN


class Sender(BaseModel):
    """Who sends it (TMF681 Sender); its phone number or name becomes the SMS source address."""

    id: TmfText | None = None
    name: TmfText | None = None
    phoneNumber: TmfText | None = None


class Characteristic(BaseModel):
    """A name/value pair; careloop reads ``purpose`` (service, care), ``campaignId``, ``complaintId``."""

    name: TmfText
    value: TmfText


class CommunicationMessageCreate(BaseModel):
    """TMF681 CommunicationMessage_Create, as careloop supports it (messageType SMS)."""

    model_config = ConfigDict(extra="ignore")

    content: Annotated[str, StringConstraints(pattern=NO_NUL, min_length=1, max_length=1600)]
    messageType: Literal["SMS", "sms"]
    receiver: list[Receiver] = Field(min_length=1, max_length=100)
    sender: Sender
    subject: TmfText | None = None
    description: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=500)] | None = None
    priority: Annotated[str, StringConstraints(pattern=r"^[1-9]$")] | None = Field(
        default=None, description="1 (first) to 9"
    )
    scheduledSendTime: Timestamp | None = None
    characteristic: list[Characteristic] = Field(default_factory=list, max_length=20)


class CommunicationMessage(BaseModel):
    """TMF681 CommunicationMessage."""

    id: str
    href: str
    content: str
    messageType: str
    subject: str | None = None
    description: str | None = None
    priority: str | None = None
    scheduledSendTime: datetime | None = None
    sendTime: datetime | None = None
    sendTimeComplete: datetime | None = None
    tryTimes: int = 0
    state: State
    receiver: list[dict[str, Any]]
    sender: dict[str, Any]
    characteristic: list[Characteristic]
    type_: str = Field(default="CommunicationMessage", alias="@type")

    model_config = ConfigDict(populate_by_name=True)


def state_of(statuses: Sequence[str]) -> State:
    """Map our receivers' statuses to the TMF681 state of the whole message."""
    final = {"delivered", "completed", "failed", "suppressed", "cancelled"}
    if all(s in ("delivered", "completed") for s in statuses):
        return "completed"
    if all(s in final for s in statuses):
        return "cancelled" if all(s == "cancelled" for s in statuses) else "failed"
    if all(s == "accepted" for s in statuses):
        return "initial"
    return "inProgress"


def _characteristic(message: CommunicationMessageCreate, name: str) -> str | None:
    return next((c.value for c in message.characteristic if c.name == name), None)


def present(
    request: Request, communication: Communication, receivers: Sequence[ContactRequest]
) -> CommunicationMessage:
    """Return the TMF view of a communication and its receivers' requests."""
    sent = [r.submitted_at for r in receivers if r.submitted_at]
    state = state_of([r.status for r in receivers])
    done = [r.completed_at for r in receivers if r.completed_at]
    return CommunicationMessage(
        id=communication.id,
        href=str(request.base_url).rstrip("/") + f"{PREFIX}/communicationMessage/{communication.id}",
        content=communication.content,
        messageType=communication.message_type,
        subject=communication.subject,
        description=communication.description,
        priority=communication.priority,
        scheduledSendTime=communication.scheduled_send_time,
        sendTime=min(sent) if sent else None,
        sendTimeComplete=max(done) if done and state in ("completed", "failed", "cancelled") else None,
        tryTimes=max((r.attempts for r in receivers), default=0),
        state=state,
        receiver=[
            {
                "id": r.id,
                "phoneNumber": r.msisdn,
                "@type": "Receiver",
                "careloopStatus": r.status,
                "careloopReason": r.reason,
            }
            for r in receivers
        ],
        sender=communication.sender,
        characteristic=[Characteristic.model_validate(c) for c in communication.characteristic],
    )


async def _visible(session: AsyncSession, communication_id: str, principal: Principal) -> Communication:
    """Return a communication the caller may see (a partner sees only its own), or 404."""
    found = await repository.get_communication(session, communication_id)
    if found is None or (principal.partner_id is not None and found.partner_id != principal.partner_id):
        raise NotFound("communication message", communication_id)
    return found


@router.post(
    "/communicationMessage",
    response_model=CommunicationMessage,
    response_model_by_alias=True,
    status_code=201,
    summary="Send a communication message (TMF681)",
)
async def create_communication_message(
    body: CommunicationMessageCreate,
    request: Request,
    session: SessionDep,
    principal: Writer,
    rt: RuntimeDep,
    key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200, pattern=NO_NUL)] = None,
) -> CommunicationMessage:
    """Queue an SMS to every receiver under the contact policy; its state follows their receipts."""
    if key:
        first_key = f"tmf681:{key}:0"
        first = (await repository.by_idempotency_keys(session, principal.subject, [first_key])).get(first_key)
        if first is not None and first.communication_id:
            # A retry of a message already taken: answer with it, create nothing.
            known = await _visible(session, first.communication_id, principal)
            return present(request, known, (await repository.receivers_of(session, [known.id]))[known.id])
    purpose = _characteristic(body, "purpose") or "service"
    if purpose not in ("service", "care"):
        raise ProblemError(
            422, "rule-violated", "characteristic purpose must be service or care", field="characteristic"
        )
    communication = Communication(
        id=str(uuid.uuid4()),
        message_type="SMS",
        content=body.content,
        subject=body.subject,
        description=body.description,
        priority=body.priority,
        sender=body.sender.model_dump(exclude_none=True),
        characteristic=[c.model_dump() for c in body.characteristic],
        scheduled_send_time=body.scheduledSendTime,
        requested_by=principal.subject,
        partner_id=principal.partner_id,
        created_at=utcnow(),
    )
    repository.add(session, communication)
    intakes = [
        # Without a key each receiver is its own request; with one, a retry finds the first.
        service.Intake(
            ContactCreate(
                msisdn=receiver.phoneNumber,
                purpose=purpose,
                priority=int(body.priority or 5),
                text=body.content,
                not_before=body.scheduledSendTime,
                campaign_id=_characteristic(body, "campaignId"),
                complaint_id=_characteristic(body, "complaintId"),
            ),
            f"tmf681:{key}:{index}" if key else f"tmf681:{communication.id}:{index}",
        )
        for index, receiver in enumerate(body.receiver)
    ]
    outcomes = await service.request_contacts(
        session,
        intakes,
        rules=rt.rules,
        requested_by=principal.subject,
        origin="tmf681",
        communication_id=communication.id,
    )
    receivers = [contact for contact, _ in outcomes]
    on_commit(session, rt.wake)
    return present(request, communication, receivers)


@router.get(
    "/communicationMessage",
    response_model=list[CommunicationMessage],
    response_model_by_alias=True,
    summary="List communication messages (TMF681)",
)
async def list_communication_messages(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Reader,
    offset: Offset = 0,
    limit: Limit = 50,
) -> list[CommunicationMessage]:
    """List communication messages, newest first (a partner sees its own); totals in headers."""
    rows, total = await repository.communications(session, principal.partner_id, limit, offset)
    receivers = await repository.receivers_of(session, [c.id for c in rows])
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Result-Count"] = str(len(rows))
    return [present(request, c, receivers[c.id]) for c in rows]


@router.get(
    "/communicationMessage/{message_id}",
    response_model=CommunicationMessage,
    response_model_by_alias=True,
    summary="Get a communication message (TMF681)",
)
async def get_communication_message(
    message_id: PathId, request: Request, session: SessionDep, principal: Reader
) -> CommunicationMessage:
    """Return a communication message with its state and receivers."""
    communication = await _visible(session, message_id, principal)
    return present(request, communication, (await repository.receivers_of(session, [message_id]))[message_id])


@router.delete(
    "/communicationMessage/{message_id}", status_code=204, summary="Cancel a communication message (TMF681)"
)
async def delete_communication_message(
    message_id: PathId, session: SessionDep, principal: Writer
) -> Response:
    """Cancel every receiver not yet sent to (409 when none is still waiting)."""
    await _visible(session, message_id, principal)
    waiting = [
        r
        for r in (await repository.receivers_of(session, [message_id]))[message_id]
        if r.status == "accepted"
    ]
    if not waiting:
        raise ProblemError(409, "conflict", "nothing of this message is still waiting to be sent")
    for receiver in waiting:
        await service.cancel(session, receiver, principal.subject)
    return Response(status_code=204)

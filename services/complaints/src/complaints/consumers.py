"""Handlers for other services' events: engineering's answers and plans, and revisit answers.

Each runs inside the inbox's transaction, which also records the event as processed: a redelivered
event changes nothing twice.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.db import utcnow
from careloop_common.events import CloudEvent, EventContract, MalformedEvent
from careloop_common.events.contact import CallCompletedV1, ReplyReceivedV1
from careloop_common.events.coverage import PlanScheduledV1, WordingPublishedV1
from careloop_common.inbox import ConsumerSpec, Handler
from complaints import service
from complaints.settings import ComplaintsSettings

COVERAGE_ANSWERS = "complaints-coverage-answers"
REVISIT_ANSWERS = "complaints-revisit-answers"


def on_coverage(settings: ComplaintsSettings) -> Handler:
    """Build the handler for published wording (answers follow-ups) and scheduled plans (timeline)."""
    source = f"/careloop/{settings.service_name}"

    async def handle(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        if isinstance(payload, WordingPublishedV1):
            await service.attach_published_wording(
                session, payload, dispatch_days=settings.dispatch_working_days, now=utcnow(), source=source
            )
        elif isinstance(payload, PlanScheduledV1):
            await service.note_planned_fix(session, payload, now=utcnow())
        else:
            raise MalformedEvent(f"{COVERAGE_ANSWERS} cannot handle {event.type}")

    return handle


def on_contact(settings: ComplaintsSettings) -> Handler:
    """Build the handler that reads revisit answers from SMS replies and call dispositions."""
    source = f"/careloop/{settings.service_name}"

    async def handle(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        if isinstance(payload, ReplyReceivedV1):
            await service.revisit_reply(session, payload, source=source)
        elif isinstance(payload, CallCompletedV1):
            await service.revisit_call(session, payload, source=source)
        else:
            raise MalformedEvent(f"{REVISIT_ANSWERS} cannot handle {event.type}")

    return handle


def specs(settings: ComplaintsSettings | None = None) -> list[ConsumerSpec]:
    """Return the durable consumers this service runs."""
    settings = settings or ComplaintsSettings()
    return [
        ConsumerSpec(
            durable=COVERAGE_ANSWERS,
            stream="COVERAGE",
            subjects=(WordingPublishedV1.subject, PlanScheduledV1.subject),
            handler=on_coverage(settings),
        ),
        ConsumerSpec(
            durable=REVISIT_ANSWERS,
            stream="CONTACT",
            subjects=(ReplyReceivedV1.subject, CallCompletedV1.subject),
            handler=on_contact(settings),
        ),
    ]

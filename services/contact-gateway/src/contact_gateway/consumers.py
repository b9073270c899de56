"""Handlers for other services' events and for commands addressed to contact-gateway."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.db import on_commit
from careloop_common.errors import ProblemError
from careloop_common.events import CloudEvent, EventContract, MalformedEvent
from careloop_common.events.contact import SendRequestedV1
from careloop_common.inbox import ConsumerSpec
from contact_gateway import service
from contact_gateway.schemas import ContactCreate
from contact_gateway.settings import ContactGatewaySettings

log = logging.getLogger(__name__)

SEND_COMMANDS = "contact-gateway-send"
Waker = Callable[[], None]


def on_send(
    settings: ContactGatewaySettings, wake: Callable[[], Waker | None]
) -> Callable[[AsyncSession, CloudEvent, EventContract], Awaitable[None]]:
    """Build the handler that takes send commands from other services."""
    rules = service.Rules.from_settings(settings)

    async def handle(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        if not isinstance(payload, SendRequestedV1):
            raise MalformedEvent(f"{SEND_COMMANDS} cannot handle {event.type}")
        try:
            data = ContactCreate.model_validate(payload.model_dump(exclude={"idempotency_key"}))
            request, _ = await service.request_contact(
                session,
                data,
                rules=rules,
                requested_by=event.source,
                idempotency_key=payload.idempotency_key,
                origin=event.source.rsplit("/", 1)[-1],
            )
        except ProblemError as exc:
            # A command no retry can fix: dead-letter it with the rule it broke, so the sender sees why.
            raise MalformedEvent(f"send command {event.id} refused ({exc.slug}): {exc}") from exc
        except ValidationError as exc:
            raise MalformedEvent(f"send command {event.id} refused (validation-error): {exc}") from exc
        waker = wake()
        if waker is not None:
            on_commit(session, waker)
        log.debug("send command %s became %s (%s)", event.id, request.id, request.status)

    return handle


def specs(
    settings: ContactGatewaySettings | None = None, wake: Callable[[], Waker | None] = lambda: None
) -> list[ConsumerSpec]:
    """Return the durable consumers this service runs."""
    settings = settings or ContactGatewaySettings()
    return [
        ConsumerSpec(
            durable=SEND_COMMANDS,
            stream="CONTACT",
            subjects=(SendRequestedV1.subject,),
            handler=on_send(settings, wake),
        )
    ]

"""Handlers for other services' events and for commands addressed to coverage-map."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.events import CloudEvent, EventContract, MalformedEvent
from careloop_common.events.complaints import FollowUpRequestedV1
from careloop_common.inbox import ConsumerSpec
from coverage_map import service
from coverage_map.settings import CoverageSettings

FOLLOW_UPS = "coverage-map-follow-ups"


def on_follow_up(
    settings: CoverageSettings,
) -> Callable[[AsyncSession, CloudEvent, EventContract], Awaitable[None]]:
    """Build the handler that turns follow-up requests into investigations."""

    async def handle(session: AsyncSession, event: CloudEvent, payload: EventContract) -> None:
        if not isinstance(payload, FollowUpRequestedV1):
            raise MalformedEvent(f"{FOLLOW_UPS} cannot handle {event.type}")
        grid = service.Grid(settings.h3_resolution, settings.district_resolution)
        await service.record_follow_up(
            session, payload, grid=grid, source=f"/careloop/{settings.service_name}"
        )

    return handle


def specs(settings: CoverageSettings | None = None) -> list[ConsumerSpec]:
    """Return the durable consumers this service runs."""
    settings = settings or CoverageSettings()
    return [
        ConsumerSpec(
            durable=FOLLOW_UPS,
            stream="COMPLAINTS",
            subjects=(FollowUpRequestedV1.subject,),
            handler=on_follow_up(settings),
        )
    ]

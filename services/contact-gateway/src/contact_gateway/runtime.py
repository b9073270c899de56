"""What a running contact gateway holds beyond the platform: SMSC binds, the voice platform, the
dispatchers, the receipt writer and the sweeper; started and stopped with the service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request

from careloop_common.app import Platform
from contact_gateway import dispatch, service
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.smpp import ConnectorPool, parse_urls
from contact_gateway.voice import AriVoicePlatform

log = logging.getLogger(__name__)

EXTRA = "contact"
Waker = Callable[[], None]


# At shutdown, how long the receipts and replies already taken from the SMSCs may take to be written.
INBOUND_FLUSH_S = 10.0


@dataclass
class Runtime:
    """The outside connections and background workers of one replica."""

    rules: service.Rules
    pool: ConnectorPool
    voice: AriVoicePlatform | None
    sms: dispatch.SmsDispatcher
    inbound: dispatch.InboundWriter
    calls: dispatch.VoiceDispatcher | None
    sweeper: dispatch.Sweeper
    agent_lease_s: float
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    inbound_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Tell the dispatchers new work was committed."""
        self.sms.wake()
        if self.calls is not None:
            self.calls.wake()


def runtime_of(request: Request) -> Runtime:
    """Return the running service's Runtime."""
    value: Runtime = request.app.state.platform.extras[EXTRA]
    return value


async def runtime(request: Request) -> Runtime:
    """Return the running service's Runtime (dependency)."""
    return runtime_of(request)


def build(settings: ContactGatewaySettings, platform: Platform) -> Runtime:
    """Wire the connectors and workers from settings."""
    rules = service.Rules.from_settings(settings)
    pool = ConnectorPool(parse_urls(settings.smsc_urls))
    voice = AriVoicePlatform.from_url(settings.voice_url) if settings.voice_url else None
    sms = dispatch.SmsDispatcher(
        platform.sessions,
        pool,
        rules,
        batch=settings.dispatch_batch,
        poll_s=settings.dispatch_poll_s,
        lease_s=settings.send_lease_s,
    )
    calls = (
        dispatch.VoiceDispatcher(
            platform.sessions, voice, rules, poll_s=settings.dispatch_poll_s, lease_s=settings.send_lease_s
        )
        if voice is not None
        else None
    )
    inbound = dispatch.InboundWriter(platform.sessions, rules)
    sweeper = dispatch.Sweeper(platform.sessions, rules, settings.receipt_match_s, sms.wake)
    return Runtime(rules, pool, voice, sms, inbound, calls, sweeper, settings.agent_lease_s)


def lifecycle(
    settings: ContactGatewaySettings,
) -> tuple[Callable[[Platform], Awaitable[None]], Callable[[Platform], Awaitable[None]]]:
    """Return the service's start and stop hooks."""

    async def start(platform: Platform) -> None:
        runtime = build(settings, platform)
        platform.extras[EXTRA] = runtime
        if not settings.run_background:
            return
        runtime.pool.start(runtime.inbound.on_deliver)
        runtime.inbound_task = asyncio.create_task(runtime.inbound.run(), name="contact-inbound")
        workers: list[tuple[str, Awaitable[None]]] = [
            ("contact-sms-dispatch", runtime.sms.run()),
            ("contact-sweeper", runtime.sweeper.run()),
        ]
        if runtime.voice is not None and runtime.calls is not None:
            await runtime.voice.start(runtime.calls.on_result)
            workers.append(("contact-voice-dispatch", runtime.calls.run()))
        runtime.tasks = [asyncio.create_task(work, name=name) for name, work in workers]  # type: ignore[arg-type]
        if not runtime.pool.connectors:
            log.warning("no SMSC configured (CONTACT_SMSC_URLS): SMS wait in the queue")

    async def stop(platform: Platform) -> None:
        runtime: Runtime | None = platform.extras.get(EXTRA)
        if runtime is None:
            return
        for task in runtime.tasks:
            task.cancel()
        await asyncio.gather(*runtime.tasks, return_exceptions=True)
        # The SMSCs have had an answer for every receipt and reply smpp34 took: unbind first, so
        # the connectors hand those on, and write them before the writer stops.
        await runtime.pool.stop()
        if runtime.inbound_task is not None:
            await runtime.inbound.flush(INBOUND_FLUSH_S)
            runtime.inbound_task.cancel()
            await asyncio.gather(runtime.inbound_task, return_exceptions=True)
        if runtime.voice is not None:
            await runtime.voice.stop()

    return start, stop

"""NATS JetStream: one connection per process, streams declared idempotently, traced publishes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, PubAck, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry import propagate, trace

from careloop_common.events.envelope import CloudEvent

log = logging.getLogger(__name__)
tracer = trace.get_tracer("careloop.bus")

DAY_S = 86_400.0
# Publishes with the same Nats-Msg-Id inside this window are stored once: it must outlast any
# outage a relay can retry through without having marked its rows sent.
DUPLICATE_WINDOW_S = 2 * 3600.0
DEAD_LETTER_PREFIX = "deadletter"


@dataclass(frozen=True)
class StreamSpec:
    """One JetStream stream: its name, subjects and retention limits."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: float = 14 * DAY_S
    # -1: bounded by age and by the server's max_file_store. A byte limit would be reserved
    # against free disk when the stream is created and fail on small volumes.
    max_bytes: int = -1
    duplicate_window_s: float = DUPLICATE_WINDOW_S

    def config(self, replicas: int = 1) -> StreamConfig:
        """Return the JetStream configuration for this stream, kept on ``replicas`` servers."""
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_s,
            max_bytes=self.max_bytes,
            duplicate_window=self.duplicate_window_s,
            num_replicas=replicas,
        )


# One stream per producer (ARCHITECTURE.md), plus the dead letters every consumer may write.
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("COMPLAINTS", ("complaints.>",)),
    StreamSpec("COVERAGE", ("coverage.>",)),
    StreamSpec("CAMPAIGNS", ("campaigns.>",)),
    StreamSpec("CONTACT", ("contact.>",)),
    StreamSpec("FEEDS", ("feeds.>",), max_age_s=7 * DAY_S),
    StreamSpec("DEADLETTER", (f"{DEAD_LETTER_PREFIX}.>",), max_age_s=30 * DAY_S),
)


def dead_letter_subject(consumer: str) -> str:
    """Return the subject a consumer's dead letters go to."""
    return f"{DEAD_LETTER_PREFIX}.{consumer}"


@dataclass(frozen=True)
class Outbound:
    """An event serialised already (as the outbox keeps it), ready to publish as it is."""

    subject: str
    event_id: str  # also the Nats-Msg-Id: JetStream stores a repeat once
    payload: bytes
    headers: Mapping[str, str]


@dataclass
class Bus:
    """A NATS connection with JetStream that reconnects for as long as the process lives."""

    url: str
    name: str
    connect_timeout_s: float = 2.0
    # How many servers of a NATS cluster keep each stream (3 on the Kubernetes cluster, 1 alone).
    stream_replicas: int = 1
    nc: NATS | None = None
    _js: JetStreamContext | None = None
    _streams_ready: bool = False
    _connect_task: asyncio.Task[None] | None = None

    @property
    def js(self) -> JetStreamContext:
        """Return the JetStream context, connecting first if needed."""
        if self._js is None:
            raise RuntimeError("bus is not connected; call connect() first")
        return self._js

    @property
    def connected(self) -> bool:
        """Tell whether the NATS connection is up right now."""
        return self.nc is not None and self.nc.is_connected

    async def connect(self) -> None:
        """Connect and declare the streams, waiting at most ``connect_timeout_s``.

        nats-py's first connect retries forever when reconnects are unlimited, so it runs as a
        task: a service whose broker is away still starts (not ready) and connects when it can.
        """
        if self._connect_task is None:
            self._connect_task = asyncio.create_task(self._connect_and_declare(), name="nats-connect")
        done, _ = await asyncio.wait({self._connect_task}, timeout=self.connect_timeout_s)
        if not done:
            log.warning("NATS at %s not reachable yet; still trying in the background", self.url)

    async def _connect_and_declare(self) -> None:
        self.nc = await nats.connect(
            servers=[u.strip() for u in self.url.split(",")],
            name=self.name,
            connect_timeout=self.connect_timeout_s,
            reconnect_time_wait=0.5,
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            ping_interval=10,
            max_outstanding_pings=3,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnect,
            reconnected_cb=self._on_reconnect,
        )
        self._js = self.nc.jetstream(timeout=5.0)
        await self.ensure_streams()
        log.info("connected to NATS at %s", self.url)

    async def ensure_streams(self, specs: tuple[StreamSpec, ...] = STREAMS) -> bool:
        """Create or update every stream; return False (and retry later) if the broker is away."""
        if self._streams_ready:
            return True
        if not self.connected:
            return False
        try:
            for spec in specs:
                await declare_stream(self.js, spec, self.stream_replicas)
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("streams not declared yet: %s", exc)
            return False
        self._streams_ready = True
        return True

    async def publish(self, event: CloudEvent, extra_headers: Mapping[str, str] | None = None) -> int:
        """Publish one event, wait for JetStream's ack and return the stream sequence.

        ``Nats-Msg-Id`` is the event id, so a publish retried after a lost ack is stored once.
        """
        ack = await self.publish_acked(event, extra_headers=extra_headers)
        return int(ack.seq)

    async def publish_acked(
        self,
        event: CloudEvent,
        *,
        msg_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> PubAck:
        """Publish one event and return JetStream's ack (``duplicate`` is set for a repeat ``msg_id``)."""
        if not self._streams_ready and not await self.ensure_streams():
            raise ConnectionError("JetStream is not available")
        subject = event.nats_subject()
        with _publish_span(subject, event.id, msg_id or event.id, extra_headers or {}) as headers:
            return await self.js.publish(subject, event.to_json(), headers=headers)

    async def publish_batch(
        self,
        messages: Sequence[Outbound],
        *,
        timeout_s: float = 10.0,
    ) -> list[PubAck | BaseException]:
        """Publish many serialised events without waiting for each ack in turn; each one's ack or error.

        The messages leave in order on one connection and JetStream acks them as it stores them,
        so a batch costs about one round trip instead of one per event.
        """
        if not self._streams_ready and not await self.ensure_streams():
            raise ConnectionError("JetStream is not available")
        pending: list[asyncio.Future[PubAck] | BaseException] = []
        for message in messages:
            try:
                pending.append(await self._publish_async(message))
            except Exception as exc:  # a dead connection fails this and every later one
                pending.append(exc)
        # One wait for the whole batch: a wait_for per message costs a task each.
        waiting = [p for p in pending if isinstance(p, asyncio.Future)]
        if waiting:
            await asyncio.wait(waiting, timeout=timeout_s)
        return [_ack_of(p, timeout_s) for p in pending]

    async def _publish_async(self, message: Outbound) -> asyncio.Future[PubAck]:
        with _publish_span(message.subject, message.event_id, message.event_id, message.headers) as headers:
            return await self.js.publish_async(message.subject, message.payload, headers=headers)

    async def close(self) -> None:
        """Flush and close the connection.

        No drain: unacked messages are redelivered to another replica and unsent events stay in
        the outbox, so closing promptly loses nothing.
        """
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
            await asyncio.gather(self._connect_task, return_exceptions=True)
        if self.nc is not None:
            nc, self.nc, self._js = self.nc, None, None
            with contextlib.suppress(Exception):
                if nc.is_connected:
                    await nc.flush(timeout=1)
            await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def _on_disconnect(self) -> None:
        log.warning("nats disconnected; reconnecting")

    async def _on_reconnect(self) -> None:
        log.info("nats reconnected")


async def declare_stream(js: JetStreamContext, spec: StreamSpec, replicas: int = 1) -> None:
    """Create a stream, or update it in place when it exists with other limits."""
    config = spec.config(replicas)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            # Another replica created it between our lookup and our add.
            pass
    await js.update_stream(config)


def _ack_of(pending: asyncio.Future[PubAck] | BaseException, timeout_s: float) -> PubAck | BaseException:
    """Return one async publish's ack or what failed it; one still unacked is given up on."""
    if isinstance(pending, BaseException):
        return pending
    if not pending.done():
        pending.cancel()
        return TimeoutError(f"no ack from JetStream within {timeout_s}s")
    if pending.cancelled():
        return asyncio.CancelledError()
    return pending.exception() or pending.result()


@contextlib.contextmanager
def _publish_span(
    subject: str, event_id: str, msg_id: str, extra_headers: Mapping[str, str]
) -> Iterator[dict[str, str]]:
    """Open a publish span and yield the message headers that carry it on.

    The outbox stored the writer's trace context: the publish span continues that trace, and the
    consumer's span will be a child of the publish span.
    """
    headers = {"Nats-Msg-Id": msg_id, "Content-Type": "application/cloudevents+json"}
    parent = propagate.extract(dict(extra_headers))
    with tracer.start_as_current_span(
        f"{subject} publish", context=parent, kind=trace.SpanKind.PRODUCER
    ) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.destination.name", subject)
        span.set_attribute("messaging.message.id", event_id)
        propagate.inject(headers)
        yield headers

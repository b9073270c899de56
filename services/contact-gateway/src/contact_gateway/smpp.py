"""SMSC connectors: SMPP 3.4 transceiver binds with keep-alive, reconnect, a submit window, a rate
limit and failover between the SMSCs listed in ``CONTACT_SMSC_URLS``.

The protocol itself (framing, sequence numbers, enquire_link timers, the codec) is smpp34's Rust
core; this module decides when to bind, how fast to send, and what an answer means for a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import smpp34

log = logging.getLogger(__name__)

# SMPP command_status values worth another try (on this or another SMSC); anything else is final.
TRANSIENT_STATUSES = frozenset(
    {
        0x00000008,  # ESME_RSYSERR: system error
        0x00000014,  # ESME_RMSGQFUL: message queue full
        0x00000058,  # ESME_RTHROTTLED: throttling error
        0x00000064,  # ESME_RX_T_APPN: temporary application error
    }
)
STATUS_NAMES = {
    0x00000001: "ESME_RINVMSGLEN",
    0x00000008: "ESME_RSYSERR",
    0x0000000A: "ESME_RINVSRCADR",
    0x0000000B: "ESME_RINVDSTADR",
    0x00000014: "ESME_RMSGQFUL",
    0x00000045: "ESME_RSUBMITFAIL",
    0x00000058: "ESME_RTHROTTLED",
    0x00000064: "ESME_RX_T_APPN",
    0x00000065: "ESME_RX_P_APPN",
}

# Submits in a row left without a response (or refused by smpp34 as a broken session) before the
# session is taken for dead and bound again.
UNANSWERED_LIMIT = 3

# deliver_sm (receipts, replies) smpp34 may hold for us before it gives up on the session. Each
# await of next() hands over one event per turn of the event loop, so a loop busy with a burst of
# work falls behind the SMSC's receipts; smpp34's default (about 1,000) then ends the session
# without telling the reader. Held events are small: 64k is a few megabytes at most.
DEFAULT_INBOUND_CAPACITY = 65_536

# Once a session is released, how long its reader waits for another queued event before it
# stops: smpp34 hands queued events over at once, so a quiet spell this long means none is left.
_DRAIN_QUIET_S = 0.2
# How long an unbind waits for the SMSC's unbind_resp.
_UNBIND_TIMEOUT_S = 2.0

DeliverHandler = Callable[[str, smpp34.DeliverSmEvent], Awaitable[None]]


@dataclass(frozen=True)
class SmscConfig:
    """One SMSC to bind to, read from an ``smpp://`` URL."""

    name: str
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    throughput: float = 0.0  # submit_sm per second; 0: as fast as the window allows
    window: int = 10
    source: str = ""
    response_timeout_s: float = 10.0
    inbound_capacity: int = DEFAULT_INBOUND_CAPACITY

    @classmethod
    def parse(cls, url: str) -> SmscConfig:
        """Read ``smpp://user:pass@host:2775?throughput=100&window=10&source=1000&system_type=&inbound=``."""
        parts = urlsplit(url.strip())
        if parts.scheme != "smpp" or not parts.hostname:
            raise ValueError(f"not an smpp://user:pass@host:port URL: {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        port = parts.port or 2775
        # SMPP 3.4 fields are C-strings of fixed maximum size; smpp34 fails a bind past them.
        if len(unquote(parts.username or "")) > 15 or len(unquote(parts.password or "")) > 8:
            raise ValueError(
                f"SMPP system_id is at most 15 characters and password at most 8: {parts.hostname}"
            )
        return cls(
            name=query.get("name", f"{parts.hostname}:{port}"),
            host=parts.hostname,
            port=port,
            system_id=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            system_type=query.get("system_type", ""),
            throughput=float(query.get("throughput", 0)),
            window=max(1, int(query.get("window", 10))),
            source=query.get("source", ""),
            response_timeout_s=float(query.get("timeout", 10)),
            inbound_capacity=max(1, int(query.get("inbound", DEFAULT_INBOUND_CAPACITY))),
        )


def parse_urls(text: str) -> list[SmscConfig]:
    """Read a comma-separated list of SMSC URLs, in failover order."""
    return [SmscConfig.parse(url) for url in text.split(",") if url.strip()]


@dataclass(frozen=True)
class SubmitOutcome:
    """What one submit_sm came to."""

    connector: str
    message_id: str | None = None
    status: int | None = None  # the SMPP command_status, when the SMSC answered with an error
    error: str | None = None
    transient: bool = False

    @property
    def ok(self) -> bool:
        """Say whether the SMSC took the part."""
        return self.message_id is not None


class RateLimiter:
    """Spaces calls evenly to at most ``rate`` per second (0: no limit)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the next call may go."""
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Connector:
    """One bound (or binding) session with an SMSC.

    smpp34 answers each deliver_sm (a receipt, a reply) as it queues it for us, so once a session
    has taken an event only our reader can keep it: the reader is never cancelled while it may
    still hand events over (see _next_event), and a session we give up on is drained, not dropped.
    """

    config: SmscConfig
    reconnect_max_s: float = 30.0
    # How long a released session's reader may take to hand over what smpp34 queued before it is
    # stopped anyway (only an on_deliver that hangs takes that long).
    drain_max_s: float = 2.0
    submitted: int = 0
    failures: int = 0
    last_error: str | None = None
    _session: smpp34.Smsc | None = None
    _client: smpp34.Client | None = None
    _bound: asyncio.Event = field(default_factory=asyncio.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _in_flight: int = 0
    _unanswered: int = 0
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._window = asyncio.Semaphore(self.config.window)
        self._rate = RateLimiter(self.config.throughput)

    @property
    def name(self) -> str:
        """Return the connector's name (host:port unless the URL names it)."""
        return self.config.name

    @property
    def bound(self) -> bool:
        """Say whether the session is bound now."""
        return self._session is not None

    @property
    def in_flight(self) -> int:
        """Return how many submits wait for their response."""
        return self._in_flight

    async def wait_bound(self, timeout_s: float) -> bool:
        """Wait until bound, at most ``timeout_s``; say whether it is."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._bound.wait(), timeout_s)
        return self.bound

    async def run(self, on_deliver: DeliverHandler) -> None:
        """Bind, read deliver_sm until the bind drops, and bind again with backoff, until stopped."""
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._bind()
                backoff = 0.5
                await self._read_until_dropped(on_deliver)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a refused connection or bind, a broken session
                self.last_error = str(exc)
                log.warning("smsc %s: %s; binding again in %.1fs", self.name, exc, backoff)
            finally:
                self._unbound()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, self.reconnect_max_s)

    def stop_soon(self) -> None:
        """Release the session (its reader hands on what the SMSC already sent) and bind no more."""
        self._stopping.set()
        self._release()

    async def stop(self) -> None:
        """Stop a connector whose run() is not awaited by a pool: release, unbind and close."""
        self.stop_soon()
        await self.close()

    async def close(self) -> None:
        """Release the client and wait for what runs beside the reader (unbinds, late events)."""
        self._unbound()
        if self._background:
            await asyncio.wait(self._background, timeout=self.drain_max_s)

    async def _bind(self) -> None:
        config = self.config
        self._client = smpp34.Client(
            config.host,
            config.port,
            config.system_id,
            config.password,
            bind_type="TRX",
            system_type=config.system_type,
            window_size=config.window,
            inbound_capacity=config.inbound_capacity,
            connect_timeout_ms=5000,
        )
        session = await self._client.connect()
        if self._stopping.is_set():  # stopped while binding: this session is not wanted
            self._background_task(self._unbind_quietly(session))
            return
        self._released = asyncio.Event()
        self._session = session
        self._bound.set()
        log.info("smsc %s: bound as %s (window %d)", self.name, config.system_id, config.window)

    async def _read_until_dropped(self, on_deliver: DeliverHandler) -> None:
        """Read the session until it ends, or until it is released and drained (see _release)."""
        session, released = self._session, self._released
        if session is None:
            return
        reader = asyncio.ensure_future(self._read(session, released, on_deliver))
        try:
            # Returns when the reader ends however it ends, or when the session is released.
            await _first_of(reader, released)
            if not reader.done():
                await asyncio.wait({reader}, timeout=self.drain_max_s)
            if not reader.done():
                log.warning("smsc %s: the reader of a released session is stuck; stopping it", self.name)
        finally:
            reader.cancel()
        if not reader.cancelled():
            reader.result()  # raises what broke the session, if anything did

    async def _read(
        self, session: smpp34.Smsc, released: asyncio.Event | None, on_deliver: DeliverHandler
    ) -> None:
        """Hand each event of the session to on_deliver until it ends (or, once released, goes quiet)."""
        while True:
            event = await self._next_event(session, released, on_deliver)
            if event is None:
                return
            if isinstance(event, smpp34.Disconnected):
                if released is not None and not released.is_set():
                    self.last_error = "the SMSC closed the session"
                    log.warning("smsc %s: session closed", self.name)
                return
            try:
                await on_deliver(self.name, event)
            except Exception:
                log.exception("smsc %s: handling a deliver_sm failed", self.name)

    async def _next_event(
        self, session: smpp34.Smsc, released: asyncio.Event | None, on_deliver: DeliverHandler
    ) -> smpp34.DeliverSmEvent | smpp34.Disconnected | None:
        """Return the session's next event, or None once it is released (None: already) and quiet.

        Cancelling a pending next() can lose the event smpp34 is handing over, which the SMSC
        already has an answer for, so a next() that is no longer awaited is never cancelled: what
        it brings later goes to on_deliver all the same (see _take_late_event).
        """
        pending = asyncio.ensure_future(session.next())
        try:
            if released is not None and not released.is_set():
                await _first_of(pending, released)
            if not pending.done():  # released: smpp34 hands queued events over at once
                await asyncio.wait({pending}, timeout=_DRAIN_QUIET_S)
        except asyncio.CancelledError:
            self._leave(pending, session, on_deliver)
            raise
        if pending.done():
            return pending.result()
        self._leave(pending, session, on_deliver)
        return None

    def _leave(self, pending: asyncio.Future[Any], session: smpp34.Smsc, on_deliver: DeliverHandler) -> None:
        """Stop awaiting a next() without cancelling it; an event it still brings is read on."""

        def take(future: asyncio.Future[Any]) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            event = future.result()
            if not isinstance(event, smpp34.Disconnected):
                self._background_task(self._take_late_event(session, event, on_deliver))

        pending.add_done_callback(take)

    async def _take_late_event(
        self, session: smpp34.Smsc, event: smpp34.DeliverSmEvent, on_deliver: DeliverHandler
    ) -> None:
        """Hand on an event a released session brought after its reader stopped, and what follows it."""
        log.info("smsc %s: a deliver_sm came on a released session; handing it on", self.name)
        try:
            await on_deliver(self.name, event)
        except Exception:
            log.exception("smsc %s: handling a deliver_sm failed", self.name)
        await self._read(session, None, on_deliver)

    def _release(self) -> None:
        """Send nothing more on the current session and unbind it; its reader drains it meanwhile."""
        session = self._session
        self._session = None
        self._bound.clear()
        self._released.set()
        if session is not None:
            self._background_task(self._unbind_quietly(session))

    async def _unbind_quietly(self, session: smpp34.Smsc) -> None:
        """Unbind a session we are done with; a wedged SMSC that never answers is left to close."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.unbind(), _UNBIND_TIMEOUT_S)

    def _background_task(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work beside the reader, keeping a reference so it is not collected midway."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _unbound(self) -> None:
        self._session = None
        self._bound.clear()
        self._released.set()
        client, self._client = self._client, None
        if client is not None:
            # smpp34 hands back a future, not a coroutine; release the old client in the background.
            stopping = asyncio.ensure_future(client.stop())
            stopping.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)

    async def submit(
        self,
        destination: str,
        body: bytes,
        *,
        source: str,
        data_coding: int,
        esm_class: int,
        priority_flag: int = 0,
        validity_period: str = "",
    ) -> SubmitOutcome:
        """Send one submit_sm within the window and the rate limit, and say what came of it."""
        async with self._window:
            session = self._session
            if session is None:
                return SubmitOutcome(self.name, error="not bound", transient=True)
            await self._rate.wait()
            self._in_flight += 1
            try:
                response = await asyncio.wait_for(
                    session.submit_sm(
                        destination,
                        body,
                        source_addr=source or self.config.source,
                        source_addr_ton=5 if source and not source.isdigit() else 0,
                        dest_addr_ton=1,
                        dest_addr_npi=1,
                        data_coding=data_coding,
                        esm_class=esm_class,
                        priority_flag=priority_flag,
                        validity_period=validity_period,
                        registered_delivery=1,
                    ),
                    self.config.response_timeout_s,
                )
            except TimeoutError:
                # The SMSC may have taken it; retrying risks a duplicate, not retrying risks a loss.
                # We retry: a customer getting a notice twice is better than never.
                self._note_unanswered(session, "no submit_sm_resp in time")
                return self._failed("no submit_sm_resp in time")
            except smpp34.SmppError as exc:
                # Not an answer from the SMSC (that is a submit_sm_resp with its status) but smpp34
                # refusing the send: the session is broken on our side, even if next() never says so.
                self._note_unanswered(session, f"session error: {exc}")
                return self._failed(f"session error: {exc}")
            finally:
                self._in_flight -= 1
        self._unanswered = 0
        if response.is_success and response.message_id:
            self.submitted += 1
            return SubmitOutcome(self.name, message_id=response.message_id)
        status = response.command_status
        self.failures += 1
        return SubmitOutcome(
            self.name,
            status=status,
            error=STATUS_NAMES.get(status, f"command_status 0x{status:08X}"),
            transient=status in TRANSIENT_STATUSES,
        )

    def _note_unanswered(self, session: smpp34.Smsc, why: str) -> None:
        """Count submits in a row without a response; a session that stops answering is released.

        A wedged SMSC can keep the TCP session and its enquire_links alive while answering no
        submit, and smpp34 can give up on a session without ending its reader: either way the bind
        looks up and takes all the traffic. Releasing it lets the pool fail over to another SMSC
        while this one binds again. Submits of a session already released do not count against
        the next one.
        """
        if session is not self._session:
            return
        self._unanswered += 1
        if self._unanswered < UNANSWERED_LIMIT:
            return
        self._unanswered = 0
        self.last_error = f"no answer to {UNANSWERED_LIMIT} submits in a row ({why}); binding again"
        log.warning("smsc %s: %s", self.name, self.last_error)
        self._release()

    def _failed(self, error: str) -> SubmitOutcome:
        self.failures += 1
        self.last_error = error
        return SubmitOutcome(self.name, error=error, transient=True)


async def _first_of(work: asyncio.Future[Any], released: asyncio.Event) -> None:
    """Wait until the work is done or the event is set, without cancelling the work."""
    waiting = asyncio.ensure_future(released.wait())
    try:
        await asyncio.wait({work, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()  # also when the caller is cancelled: no waiter left behind


class ConnectorPool:
    """The SMSCs in failover order: the first bound one takes the traffic."""

    def __init__(self, configs: list[SmscConfig]) -> None:
        self.connectors = [Connector(config) for config in configs]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, on_deliver: DeliverHandler) -> None:
        """Start binding every connector in the background."""
        self._tasks = [asyncio.create_task(c.run(on_deliver), name=f"smsc-{c.name}") for c in self.connectors]

    async def stop(self) -> None:
        """Unbind every connector, letting each hand on what its SMSC already sent, then stop them."""
        for connector in self.connectors:
            connector.stop_soon()
        if self._tasks:
            # A reader drains within its drain_max_s; the margin covers a bind still under way.
            await asyncio.wait(self._tasks, timeout=max(c.drain_max_s for c in self.connectors) + 1)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self.connectors), return_exceptions=True)

    @property
    def any_bound(self) -> bool:
        """Say whether at least one SMSC is bound."""
        return any(c.bound for c in self.connectors)

    def pick(self, avoid: str | None = None) -> Connector | None:
        """Return the first bound connector (other than ``avoid`` when there is a choice)."""
        bound = [c for c in self.connectors if c.bound]
        preferred = [c for c in bound if c.name != avoid]
        choice = preferred or bound
        return choice[0] if choice else None

    def get(self, name: str) -> Connector | None:
        """Return a connector by name."""
        return next((c for c in self.connectors if c.name == name), None)

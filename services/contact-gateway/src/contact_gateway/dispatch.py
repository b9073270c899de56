"""The dispatchers: take due requests from the database, hand them to the SMSCs or the voice
platform, and record what came back; plus the sweeper that keeps the queue honest.

A message is claimed with a lease before it is sent and recorded after, each in its own short
transaction: no database connection is held while waiting on an SMSC. Parts the SMSC took are
recorded per part, so a retry never sends a part twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter

from careloop_common.db import SessionFactory, transaction, utcnow
from contact_gateway import repository, service
from contact_gateway.encoding import EncodedSms, Receipt, decode_short_message, encode_sms, parse_receipt
from contact_gateway.smpp import ConnectorPool, SubmitOutcome
from contact_gateway.voice import AriVoicePlatform, CallRejected, CallResult, VoiceUnavailable

log = logging.getLogger(__name__)

SUBMITS = Counter("careloop_contact_submits_total", "submit_sm answers", ["connector", "result"])
RECEIPTS = Counter("careloop_contact_receipts_total", "delivery receipts received", ["state"])
REPLIES = Counter("careloop_contact_replies_total", "customer replies received")

QUICK_RETRIES = 3  # tries per part within one attempt (throttling, a bind lost mid-send)


def owner_name() -> str:
    """Return a name for this replica's leases."""
    return f"{socket.gethostname()}:{os.getpid()}"


def concat_reference(request_id: str) -> int:
    """Return the message's concatenation reference: the same on every retry, so parts reassemble."""
    return zlib.crc32(request_id.encode()) & 0xFF


@dataclass
class Claimed:
    """A message this dispatcher holds: what to send, what its events say, which parts already went."""

    id: str
    msisdn: str
    text: str
    channel: str
    purpose: str
    customer_ref: str
    complaint_id: str | None
    campaign_id: str | None
    origin: str | None
    expires_at: datetime
    done_parts: set[int]


@dataclass
class Attempt:
    """What one attempt at a message came to."""

    claimed: Claimed
    encoded: EncodedSms
    submitted: list[tuple[int, SubmitOutcome]] = field(default_factory=list)
    failure: SubmitOutcome | None = None


class SmsDispatcher:
    """Moves due SMS from the database to the SMSCs, a batch at a time."""

    def __init__(
        self,
        sessions: SessionFactory,
        pool: ConnectorPool,
        rules: service.Rules,
        *,
        batch: int,
        poll_s: float,
        lease_s: float,
        owner: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.pool = pool
        self.rules = rules
        self.batch = batch
        self.poll_s = poll_s
        self.lease = timedelta(seconds=lease_s)
        self.owner = owner or owner_name()
        self._wake = asyncio.Event()
        self._batches = asyncio.Semaphore(2)  # one batch sending while the next is claimed
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look for work now (new requests were committed)."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and send until cancelled, surviving database and SMSC outages."""
        try:
            while True:
                try:
                    await self._pass()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("sms dispatch pass failed; trying again")
                    await asyncio.sleep(self.poll_s)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _pass(self) -> None:
        if not self.pool.any_bound:
            await self._idle()
            return
        await self._batches.acquire()
        try:
            claimed = await self._claim()
        except BaseException:
            self._batches.release()
            raise
        if not claimed:
            self._batches.release()
            await self._idle()
            return
        task = asyncio.create_task(self._send_and_record(claimed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_s)
        self._wake.clear()

    async def _claim(self) -> list[Claimed]:
        async with transaction(self.sessions) as session:
            now = utcnow()
            rows = await repository.claim_due_messages(session, now, self.batch, self.owner, now + self.lease)
            if not rows:
                return []
            opted_out = await repository.opted_out_among(
                session, {(r.msisdn, r.channel, r.purpose) for r in rows}
            )
            done = await repository.segments_of(session, [r.id for r in rows])
            expired = {r.id for r in rows if r.expires_at <= now}
            refused = {r.id for r in rows if (r.msisdn, r.channel, r.purpose) in opted_out} - expired
            claimed = [
                Claimed(**row._asdict(), done_parts={s.part for s in done[row.id]})
                for row in rows
                if row.id not in expired | refused
            ]
            # What can no longer go is the exception: the ORM path records it.
            for request in (await repository.requests_by_ids(session, expired | refused)).values():
                if request.id in expired:
                    service.expire(session, request, now)
                else:
                    service.suppress_late(session, request, "opted_out", now)
            return claimed

    async def _send_and_record(self, claimed: list[Claimed]) -> None:
        try:
            attempts = await asyncio.gather(*(self._send(c) for c in claimed))
            await self._record(attempts)
        except Exception:
            # The lease lapses and the sweeper puts them back; parts recorded stay recorded.
            log.exception("recording a batch of %d messages failed", len(claimed))
        finally:
            self._batches.release()
            self.wake()

    async def _send(self, claimed: Claimed) -> Attempt:
        encoded = encode_sms(claimed.text, concat_reference(claimed.id))
        attempt = Attempt(claimed, encoded)
        for part, body in enumerate(encoded.parts, start=1):
            if part in claimed.done_parts:
                continue
            outcome = await self._submit_part(claimed, encoded, body)
            if not outcome.ok:
                attempt.failure = outcome
                break
            attempt.submitted.append((part, outcome))
        return attempt

    async def _submit_part(self, claimed: Claimed, encoded: EncodedSms, body: bytes) -> SubmitOutcome:
        """Submit one part, retrying quickly on throttling or a lost bind, on another SMSC if one is up."""
        outcome = SubmitOutcome("-", error="no SMSC bound", transient=True)
        avoid: str | None = None
        for attempt in range(QUICK_RETRIES):
            connector = self.pool.pick(avoid)
            if connector is None:
                if not await self._any_bound_soon():
                    break
                continue
            outcome = await connector.submit(
                claimed.msisdn.lstrip("+"),
                body,
                source=self.rules.sender_id,
                data_coding=encoded.data_coding,
                esm_class=encoded.esm_class,
                priority_flag=1 if claimed.purpose == "service" else 0,
            )
            SUBMITS.labels(connector.name, "ok" if outcome.ok else (outcome.error or "error")).inc()
            if outcome.ok or not outcome.transient:
                return outcome
            avoid = connector.name
            await asyncio.sleep(0.1 * 2**attempt)
        return outcome

    async def _any_bound_soon(self) -> bool:
        for connector in self.pool.connectors:
            if await connector.wait_bound(0.5):
                return True
        return False

    async def _record(self, attempts: list[Attempt]) -> None:
        async with transaction(self.sessions) as session:
            now = utcnow()
            sent = [a for a in attempts if a.failure is None and a.submitted]
            await service.record_sent(
                session,
                [service.Sent(a.claimed, a.encoded.encoding, a.encoded.segments, a.submitted) for a in sent],
                now,
            )
            # Failures, and retries whose parts had all gone before, take the ORM path.
            others = [a for a in attempts if a.failure is not None or not a.submitted]
            requests = await repository.requests_by_ids(session, [a.claimed.id for a in others])
            segments = []
            for attempt in others:
                request = requests[attempt.claimed.id]
                segments += service.record_attempt(
                    session,
                    request,
                    parts=attempt.encoded.segments,
                    encoding=attempt.encoded.encoding,
                    submitted=attempt.submitted,
                    failure=attempt.failure,
                    rules=self.rules,
                    now=now,
                )
            await session.flush()
            await service.match_early_receipts(session, segments, now)


class InboundWriter:
    """Writes receipts and replies from the SMSCs to the database in batches."""

    def __init__(self, sessions: SessionFactory, rules: service.Rules, flush_s: float = 0.05) -> None:
        self.sessions = sessions
        self.rules = rules
        self.flush_s = flush_s
        self._queue: asyncio.Queue[tuple[str, Receipt | tuple[str, str, str]]] = asyncio.Queue()

    async def on_deliver(self, connector: str, event: object) -> None:
        """Take a deliver_sm from a connector: a receipt (esm_class 0x04) or a customer's reply."""
        esm_class = getattr(event, "esm_class", 0)
        body: bytes = getattr(event, "short_message", b"")
        tlvs = [(t.tag, t.value) for t in getattr(event, "tlvs", [])]
        if esm_class & 0x3C == 0x04:
            receipt = parse_receipt(body, tlvs)
            if receipt is not None:
                RECEIPTS.labels(receipt.state).inc()
                self._queue.put_nowait((connector, receipt))
            return
        text = decode_short_message(body, getattr(event, "data_coding", 0), esm_class)
        source = getattr(event, "source_addr", "")
        msisdn = source if source.startswith("+") else f"+{source}"
        REPLIES.inc()
        self._queue.put_nowait((connector, (msisdn, getattr(event, "destination_addr", ""), text)))

    async def run(self) -> None:
        """Write what arrives until cancelled; a failed batch is retried, never dropped."""
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(self.flush_s)  # let a burst gather into one transaction
            while not self._queue.empty() and len(batch) < 1000:
                batch.append(self._queue.get_nowait())
            await self._write_until_done(batch)
            for _ in batch:
                self._queue.task_done()

    async def flush(self, timeout_s: float) -> bool:
        """Wait until everything handed over so far is written, at most timeout_s; say whether it was."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except TimeoutError:
            log.warning("%d receipts/replies not written at shutdown", self._queue.qsize())
            return False
        return True

    async def _write_until_done(self, batch: list[tuple[str, Receipt | tuple[str, str, str]]]) -> None:
        delay = 0.2
        while True:
            try:
                await self._write(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing %d receipts/replies failed; retrying in %.1fs", len(batch), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _write(self, batch: list[tuple[str, Receipt | tuple[str, str, str]]]) -> None:
        async with transaction(self.sessions) as session:
            now = utcnow()
            receipts = [(c, item) for c, item in batch if isinstance(item, Receipt)]
            await service.apply_receipts(session, receipts, now)
            for connector, item in batch:
                if not isinstance(item, Receipt):
                    msisdn, destination, text = item
                    await service.record_reply(
                        session,
                        connector=connector,
                        msisdn=msisdn,
                        destination=destination,
                        text=text,
                        rules=self.rules,
                        now=now,
                    )


class VoiceDispatcher:
    """Places due automated calls through the voice platform and records their outcomes."""

    def __init__(
        self,
        sessions: SessionFactory,
        voice: AriVoicePlatform,
        rules: service.Rules,
        *,
        poll_s: float,
        lease_s: float,
        owner: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.voice = voice
        self.rules = rules
        self.poll_s = poll_s
        self.lease = timedelta(seconds=lease_s)
        self.owner = owner or owner_name()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for work now."""
        self._wake.set()

    async def run(self) -> None:
        """Place due calls until cancelled."""
        while True:
            try:
                placed = await self._pass() if self.voice.connected else 0
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("voice dispatch pass failed; trying again")
                placed = 0
            if not placed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()

    async def _pass(self) -> int:
        async with transaction(self.sessions) as session:
            now = utcnow()
            rows = await repository.claim_due(session, "voice_call", now, 50, self.owner, now + self.lease)
            opted_out = await repository.opted_out_among(
                session, {(r.msisdn, r.channel, r.purpose) for r in rows}
            )
            calls = []
            for row in rows:
                if row.expires_at <= now:
                    service.expire(session, row, now)
                elif (row.msisdn, row.channel, row.purpose) in opted_out:
                    service.suppress_late(session, row, "opted_out", now)
                else:
                    service.start_round(session, row, "the dialer", now)
                    calls.append((row.id, row.round, row.msisdn, row.template_id))
        for request_id, round_, msisdn, template_id in calls:
            await self._place(request_id, round_, msisdn, template_id)
        return len(calls)

    async def _place(self, request_id: str, round_: int, msisdn: str, template_id: str | None) -> None:
        announcement = f"sound:careloop-{template_id or 'notice'}"
        try:
            await self.voice.originate(call_id(request_id, round_), msisdn, announcement=announcement)
        except VoiceUnavailable as exc:
            await self._requeue(request_id, str(exc))
        except CallRejected as exc:
            await self.on_result_for(
                request_id, "failed", f"the voice platform refused the call: {exc}", final=True
            )

    async def _requeue(self, request_id: str, detail: str) -> None:
        async with transaction(self.sessions) as session:
            request = await repository.get(session, request_id)
            if request is not None and request.status == "sending":
                request.round -= 1
                service.requeue(session, request, utcnow() + timedelta(seconds=self.poll_s), detail)

    async def on_result(self, result: CallResult) -> None:
        """Record a call result from the voice platform."""
        request_id, _, round_ = result.call_id.rpartition("-r")
        await self.on_result_for(request_id, result.outcome.value, result.cause_text, round_=int(round_ or 0))

    async def on_result_for(
        self,
        request_id: str,
        outcome: str,
        detail: str | None,
        round_: int | None = None,
        final: bool = False,
    ) -> None:
        """Record one round's outcome, once (a repeated or stale result changes nothing)."""
        async with transaction(self.sessions) as session:
            request = await repository.get(session, request_id)
            if (
                request is None
                or request.status != "sending"
                or (round_ is not None and round_ != request.round)
            ):
                return
            service.record_call_outcome(
                session, request, outcome, rules=self.rules, now=utcnow(), detail=detail, final=final
            )


def call_id(request_id: str, round_: int) -> str:
    """Return the voice platform's id of one round of a call (results find their round by it)."""
    return f"{request_id}-r{round_}"


class Sweeper:
    """Housekeeping: lapsed leases back in the queue, expired waits failed, early receipts matched."""

    def __init__(
        self, sessions: SessionFactory, rules: service.Rules, every_s: float, wake: Callable[[], None]
    ) -> None:
        self.sessions = sessions
        self.rules = rules
        self.every_s = every_s
        self.wake = wake

    async def run(self) -> None:
        """Sweep until cancelled."""
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("contact sweep failed")

    async def sweep(self) -> None:
        """Run one sweep."""
        async with transaction(self.sessions) as session:
            now = utcnow()
            requeued = 0
            for request in await repository.lapsed_leases(session, ("sms",), now):
                # The dispatcher holding it died: parts it recorded stay; the rest go again.
                service.requeue(session, request, now, "the dispatcher holding it stopped")
                requeued += 1
            for request in await repository.lapsed_leases(session, ("voice_call",), now):
                service.record_call_outcome(
                    session,
                    request,
                    "failed",
                    rules=self.rules,
                    now=now,
                    detail="no result from the voice platform",
                )
            for request in await repository.expired_waiting(session, now):
                service.expire(session, request, now)
            await service.rematch_early_receipts(session, now - timedelta(seconds=1), now)
            await repository.delete_early_receipts_before(session, now - timedelta(days=7))
        if requeued:
            self.wake()

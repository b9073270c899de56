"""An SMSC stand-in speaking real SMPP 3.4 over a socket, for tests, benchmarks and `careloop up`.

It accepts any bind, answers submit_sm, sends delivery receipts (Appendix B text and TLVs) and can
push mobile-originated messages. Tests switch its misbehaviours at run time: throttling, permanent
rejects, failed receipts, a bind dropped mid-submit, a receipt that beats its submit_sm_resp.

Run it alone: ``python -m contact_gateway.standins.smsc --host 127.0.0.1 --port 2775``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import signal
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Annotated, Any, Self

import smpp34
import typer

# The package re-exports these constants with a runtime loop that type checkers cannot follow.
from smpp34._smpp34 import ESME_RTHROTTLED

from careloop_common.telemetry import configure_logging
from contact_gateway.encoding import (
    ACCEPTD,
    DELIVRD,
    ENROUTE,
    ESM_CLASS_RECEIPT,
    STATE_CODES,
    TLV_MESSAGE_STATE,
    TLV_RECEIPTED_MESSAGE_ID,
    decode_short_message,
    encode_sms,
    format_receipt,
    split_udh,
)

log = logging.getLogger("contact_gateway.standins.smsc")  # not __name__: that is "__main__" under -m

_LOG_EVERY = 1_000
_FLUSH_BEFORE_DROP_S = 0.1
_UNBIND_TIMEOUT_S = 1.0
_SUCCESSFUL_STATES = {DELIVRD, ACCEPTD, ENROUTE}


@dataclass(slots=True)
class Submitted:
    """One submit_sm the stand-in accepted."""

    session_id: str
    system_id: str
    source: str
    destination: str
    data_coding: int
    esm_class: int
    body: bytes
    message_id: str
    registered_delivery: int
    received_at: float
    tlvs: tuple[tuple[int, bytes], ...]


class SmscStandIn:
    """An SMPP 3.4 SMSC on host:port that accepts any system_id and password.

    ``accepted`` holds every accepted submit, or with ``keep`` set at least the last ``keep`` of them
    (a long demo or benchmark must not grow without bound); ``accepted_count`` counts them all.
    ``receipts_taken`` holds (message id, time) of each receipt an ESME acknowledged, bounded the same
    way: a gateway that dies right after acknowledging one can never learn it again.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2775,
        *,
        system_id: str = "CARELOOP-SIM",
        receipt_delay_s: float = 0.05,
        keep: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.system_id = system_id
        self.receipt_delay_s = receipt_delay_s
        self.keep = keep
        self.accepted: list[Submitted] = []
        self.accepted_count = 0
        self.receipts_taken: deque[tuple[str, float]] = deque(maxlen=keep)
        self.rejected = 0
        self.binds = 0
        self.receipts_before_response = False
        self.max_rate_per_s: float | None = None
        self._server: smpp34.Server | None = None
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._esmes: dict[str, smpp34.Esme] = {}
        self._accepted_grew = asyncio.Event()
        self._message_ids = itertools.count(1)
        self._mo_references = itertools.count(secrets.randbelow(256))
        self._run_id = secrets.token_hex(4)  # ids stay unique across restarts of the stand-in
        self._throttle_left = 0
        self._throttle_status = ESME_RTHROTTLED
        self._failing: dict[str, int] = {}
        self._receipt_states: dict[str, str] = {}
        self._drop_next_bind = False
        # While hung, submits are held unanswered on a session that stays up.
        self.hung = False
        self._unanswered: list[smpp34.SubmitSmEvent] = []
        # Sessions being dropped, with the submits that arrived on them meanwhile (never answered).
        self._dropping: dict[str, list[smpp34.SubmitSmEvent]] = {}
        self._held_receipts: dict[str, deque[Submitted]] = {}
        self._tokens = float("inf")
        self._refilled_at = time.monotonic()

    # ── lifecycle ──────────────────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        """Listen for binds and start answering them."""
        if self._server is not None:
            raise RuntimeError("the stand-in SMSC is already running")
        server = smpp34.Server(self.host, self.port, system_id=self.system_id)
        await server.start()
        self._server = server
        self._pump = asyncio.create_task(self._pump_events(server), name="smsc-standin-pump")

    async def stop(self) -> None:
        """Unbind every session, drop pending receipts and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Server.stop() only closes the listener: bound sessions would carry on without us.
        await asyncio.gather(*(self._unbind(esme) for esme in list(self._esmes.values())))
        self._esmes.clear()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def sessions(self) -> int:
        """Return how many ESME sessions are bound."""
        return len(self._esmes)

    # ── behaviours switched by tests ───────────────────────────────────────────────────────────

    def throttle_next(self, n: int, status: int = ESME_RTHROTTLED) -> None:
        """Reject the next n submits with status (ESME_RTHROTTLED unless told otherwise)."""
        self._throttle_left = n
        self._throttle_status = status

    def fail_destination(self, msisdn_suffix: str, status: int) -> None:
        """Reject every submit to a destination ending in msisdn_suffix with status."""
        self._failing[msisdn_suffix] = status

    def receipt_state_for(self, msisdn_suffix: str, state: str) -> None:
        """Report state (for example UNDELIV or EXPIRED) in receipts for destinations ending so."""
        if state not in STATE_CODES:
            raise ValueError(f"unknown receipt state {state!r}")
        self._receipt_states[msisdn_suffix] = state

    def drop_bind_on_next_submit(self) -> None:
        """Unbind the session of the next submit without answering it, as a crashing SMSC would."""
        self._drop_next_bind = True

    def hang(self) -> None:
        """Stop answering submits while keeping the session up, as a wedged SMSC does."""
        self.hung = True

    def recover(self) -> None:
        """Answer submits again (those held while hung stay unanswered: they were lost)."""
        self.hung = False

    # ── traffic ────────────────────────────────────────────────────────────────────────────────

    async def send_mo(self, source: str, destination: str, text: str) -> None:
        """Deliver a mobile-originated text to a bound session that can receive, in parts if long."""
        esme = next((esme for esme in self._esmes.values() if esme.can_receive), None)
        if esme is None:
            raise RuntimeError("no bound session can receive a deliver_sm")
        sms = encode_sms(text, reference=next(self._mo_references) % 256)
        for part in sms.parts:
            response = await esme.deliver_sm(
                destination, part, source_addr=source, esm_class=sms.esm_class, data_coding=sms.data_coding
            )
            if not response.is_success:
                raise RuntimeError(f"the ESME refused the deliver_sm: status {response.command_status:#x}")

    async def wait_for_accepted(self, count: int, timeout_s: float = 10.0) -> None:
        """Return once count submits have been accepted in all; raise TimeoutError after timeout_s."""
        try:
            async with asyncio.timeout(timeout_s):
                while self.accepted_count < count:
                    self._accepted_grew.clear()
                    await self._accepted_grew.wait()
        except TimeoutError:
            raise TimeoutError(
                f"{self.accepted_count} of {count} submits accepted in {timeout_s} s"
            ) from None

    def messages(self) -> list[tuple[str, str]]:
        """Return (destination, text) of each whole message accepted, parts joined, in completion order."""
        complete: list[tuple[str, str]] = []
        pending: dict[tuple[str, str, int, int], dict[int, Submitted]] = {}
        for submitted in self.accepted:
            concatenation, _ = split_udh(submitted.body, submitted.esm_class)
            if concatenation is None:
                complete.append((submitted.destination, _text_of([submitted])))
                continue
            key = (submitted.source, submitted.destination, concatenation.reference, concatenation.total)
            parts = pending.setdefault(key, {})
            parts[concatenation.sequence] = submitted
            if len(parts) == concatenation.total:
                del pending[key]
                complete.append((submitted.destination, _text_of([parts[seq] for seq in sorted(parts)])))
        return complete

    # ── the event pump ─────────────────────────────────────────────────────────────────────────

    async def _pump_events(self, server: smpp34.Server) -> None:
        """Take every server event in order; one task, so decisions never race each other."""
        while True:
            try:
                event = await server.next()
            except smpp34.SmppError:
                log.exception("stand-in SMSC stopped taking events")
                return
            try:
                await self._handle(event)
            except Exception:
                log.exception("stand-in SMSC failed on a %s", type(event).__name__)

    async def _handle(self, event: smpp34.Esme | smpp34.SubmitSmEvent | smpp34.Unbound) -> None:
        """Track sessions and answer submits."""
        if isinstance(event, smpp34.Esme):
            self._esmes[event.session_id] = event
            self.binds += 1
            log.info("ESME %s bound (session %s)", event.system_id, event.session_id)
            if event.can_receive:
                self._release_held_receipts(event)
        elif isinstance(event, smpp34.Unbound):
            self._esmes.pop(event.session_id, None)
            log.info("session %s unbound", event.session_id)
        else:
            await self._on_submit(event)

    async def _on_submit(self, event: smpp34.SubmitSmEvent) -> None:
        """Drop the bind, reject, or accept (with a receipt when one is asked for)."""
        if event.session_id in self._dropping:
            # A connection going down takes nothing more: like bytes lost with a reset socket.
            self._dropping[event.session_id].append(event)
            return
        if self.hung:
            self._unanswered.append(event)
            return
        if self._drop_next_bind:
            self._drop_next_bind = False
            self._spawn(self._drop_session(event))
            return
        status = self._rejection_for(event.destination_addr)
        if status is not None:
            event.reject(status)
            self.rejected += 1
            return
        submitted = self._submitted(event)
        wants_receipt = bool(submitted.registered_delivery & 0x01)
        if wants_receipt and self.receipts_before_response:
            await self._send_receipt(submitted)  # awaited on purpose: the receipt must beat the resp
        event.accept(submitted.message_id)
        self._record(submitted)
        if wants_receipt and not self.receipts_before_response:
            self._spawn(self._send_receipt_later(submitted))

    def _rejection_for(self, destination: str) -> int | None:
        """Return the status to reject a submit to destination with, or None to accept it."""
        if self._throttle_left > 0:
            self._throttle_left -= 1
            return self._throttle_status
        if not self._within_rate():
            return ESME_RTHROTTLED
        suffix = _longest_suffix(destination, self._failing)
        return None if suffix is None else self._failing[suffix]

    def _within_rate(self) -> bool:
        """Take a token from a bucket holding one second's worth at max_rate_per_s."""
        rate = self.max_rate_per_s
        now = time.monotonic()
        elapsed, self._refilled_at = now - self._refilled_at, now
        if rate is None:
            return True
        self._tokens = min(max(rate, 1.0), self._tokens + elapsed * rate)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _submitted(self, event: smpp34.SubmitSmEvent) -> Submitted:
        """Return the record of a submit about to be accepted, with a fresh message id."""
        esme = self._esmes.get(event.session_id)
        return Submitted(
            session_id=event.session_id,
            system_id=esme.system_id if esme is not None else "",
            source=event.source_addr,
            destination=event.destination_addr,
            data_coding=event.data_coding,
            esm_class=event.esm_class,
            body=event.short_message,
            message_id=f"{self._run_id}{next(self._message_ids):08x}",
            registered_delivery=event.registered_delivery,
            received_at=time.time(),
            tlvs=tuple((tlv.tag, tlv.value) for tlv in event.tlvs),
        )

    def _record(self, submitted: Submitted) -> None:
        """Remember an accepted submit, forgetting the oldest beyond ``keep``, and wake waiters."""
        self.accepted.append(submitted)
        self.accepted_count += 1
        if self.keep is not None and len(self.accepted) > 2 * self.keep:
            del self.accepted[: -self.keep]  # in batches, so trimming stays cheap per message
        self._accepted_grew.set()
        if self.accepted_count % _LOG_EVERY == 0:
            log.info(
                "%d submits accepted, %d rejected, %d sessions bound",
                self.accepted_count,
                self.rejected,
                self.sessions,
            )

    # ── receipts and dropped binds ─────────────────────────────────────────────────────────────

    async def _send_receipt_later(self, submitted: Submitted) -> None:
        """Send the receipt after the configured delay, as a real network would."""
        await asyncio.sleep(self.receipt_delay_s)
        await self._send_receipt(submitted)

    async def _send_receipt(self, submitted: Submitted) -> None:
        """Send a deliver_sm receipt (Appendix B text plus TLVs), or hold it until the ESME binds again."""
        esme = self._receiver_for(submitted)
        if esme is None or not await self._deliver_receipt(esme, submitted):
            # A real SMSC keeps undelivered receipts and retries, so a gateway that rebinds still learns;
            # with ``keep`` set, only that many, so an ESME that never receives cannot grow our memory.
            held = self._held_receipts.setdefault(submitted.system_id, deque(maxlen=self.keep))
            held.append(submitted)

    async def _deliver_receipt(self, esme: smpp34.Esme, submitted: Submitted) -> bool:
        """Push the receipt for submitted to esme; tell whether the ESME took it."""
        state = self._receipt_state(submitted.destination)
        # Any non-zero err says "failed"; its meaning is SMSC-specific, so one value serves.
        error = "000" if state in _SUCCESSFUL_STATES else "001"
        receipt = format_receipt(
            submitted.message_id,
            state,
            error=error,
            submitted_at=datetime.fromtimestamp(submitted.received_at, UTC),
            done_at=datetime.now(UTC),
            text=_preview(submitted),
        )
        tlvs = [
            smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, submitted.message_id.encode("ascii") + b"\x00"),
            smpp34.Tlv(TLV_MESSAGE_STATE, bytes([STATE_CODES[state]])),
        ]
        try:
            response = await esme.deliver_sm(
                submitted.source,
                receipt,
                source_addr=submitted.destination,
                esm_class=ESM_CLASS_RECEIPT,
                tlvs=tlvs,
            )
        except smpp34.SmppError as exc:  # the session ended, or the ESME is not reading (its queue is full)
            log.debug("receipt for %s not delivered: %s", submitted.message_id, exc)
            return False
        if response.is_success:
            self.receipts_taken.append((submitted.message_id, time.time()))
        return response.is_success

    def _release_held_receipts(self, esme: smpp34.Esme) -> None:
        """Send the receipts held for this ESME's system_id now that it can receive again."""
        held = self._held_receipts.pop(esme.system_id, deque())
        if held:
            log.info("sending %d held receipts to %s", len(held), esme.system_id)
        for submitted in held:
            self._spawn(self._send_receipt(submitted))

    def _receipt_state(self, destination: str) -> str:
        """Return the state receipts report for destination: DELIVRD unless a test said otherwise."""
        suffix = _longest_suffix(destination, self._receipt_states)
        return DELIVRD if suffix is None else self._receipt_states[suffix]

    def _receiver_for(self, submitted: Submitted) -> smpp34.Esme | None:
        """Return the submit's own session if it receives, else another receiving bind of the same ESME."""
        own = self._esmes.get(submitted.session_id)
        if own is not None and own.can_receive:
            return own
        return next(
            (
                esme
                for esme in self._esmes.values()
                if esme.system_id == submitted.system_id and esme.can_receive
            ),
            None,
        )

    async def _drop_session(self, event: smpp34.SubmitSmEvent) -> None:
        """Unbind the submit's session, holding the unanswered event until the session is gone.

        Dropping the event earlier would make smpp34 answer it with ESME_RSYSERR while the bind lives.
        """
        self._dropping[event.session_id] = [event]
        try:
            # Let the answers to what it already took reach the wire first: smpp34 would otherwise
            # send the unbind ahead of queued submit_sm_resps, and an ESME cannot tell those
            # (taken, answer lost) from submits that never arrived.
            await asyncio.sleep(_FLUSH_BEFORE_DROP_S)
            esme = self._esmes.get(event.session_id)
            if esme is not None:
                await self._unbind(esme)
        finally:
            self._dropping.pop(event.session_id, None)

    async def _unbind(self, esme: smpp34.Esme) -> None:
        """Unbind a session, giving up after a short wait if the ESME does not answer."""
        with contextlib.suppress(smpp34.SmppError, TimeoutError):
            async with asyncio.timeout(_UNBIND_TIMEOUT_S):
                await esme.unbind()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work beside the pump, keeping a reference so it is neither collected nor forgotten at stop."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _longest_suffix(number: str, suffixes: dict[str, Any]) -> str | None:
    """Return the longest of suffixes that number ends with, so specific rules beat broad ones."""
    matching = [suffix for suffix in suffixes if number.endswith(suffix)]
    return max(matching, key=len) if matching else None


def _text_of(parts: list[Submitted]) -> str:
    """Decode parts (in order) as one text: join the octets first, so a split character survives."""
    octets = b"".join(split_udh(part.body, part.esm_class)[1] for part in parts)
    return decode_short_message(octets, parts[0].data_coding)


def _preview(submitted: Submitted) -> str:
    """Return the first characters of a submit's text for the receipt, or "" if it does not decode."""
    try:
        return decode_short_message(submitted.body, submitted.data_coding, submitted.esm_class)[:20]
    except ValueError:
        return ""


# ── command line ───────────────────────────────────────────────────────────────────────────────

cli = typer.Typer(add_completion=False, help="Run a stand-in SMSC speaking SMPP 3.4.")


@cli.command()
def main(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on")] = 2775,
    receipt_delay: Annotated[float, typer.Option(min=0.0, help="seconds before a delivery receipt")] = 0.5,
    system_id: Annotated[str, typer.Option(help="system_id the SMSC answers binds with")] = "CARELOOP-SIM",
    keep: Annotated[int, typer.Option(min=1, help="accepted submits to remember")] = 10_000,
    json_logs: Annotated[bool, typer.Option("--json-logs/--plain-logs", help="log JSON lines")] = True,
) -> None:
    """Run the stand-in SMSC until SIGTERM or SIGINT."""
    configure_logging("smsc-standin", json_logs=json_logs)
    smsc = SmscStandIn(host, port, system_id=system_id, receipt_delay_s=receipt_delay, keep=keep)
    try:
        asyncio.run(serve(smsc))
    except smpp34.SmppError as exc:  # most often: the port is taken
        log.error("stand-in SMSC could not start: %s", exc)
        raise typer.Exit(1) from exc


async def serve(smsc: SmscStandIn) -> None:
    """Run smsc until the process gets SIGTERM or SIGINT, then unbind everyone and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with smsc:
        log.info("stand-in SMSC %s listening on %s:%d", smsc.system_id, smsc.host, smsc.port)
        await stop.wait()
    log.info("stand-in SMSC stopped: %d submits accepted, %d rejected", smsc.accepted_count, smsc.rejected)


if __name__ == "__main__":
    cli()

"""Fault drills for "nothing lost, nothing doubled" in the contact gateway.

1. Crash: the gateway (uvicorn in a child process) is killed with SIGKILL mid-send and restarted on
   its database; and killed again while NATS is down, so what it held for the broker dies with it.
2. NATS outage: the broker stops mid-run and comes back on the same port and store, once briefly
   and once for longer than the relay waits for an ack (so it publishes rows again).
3. Commands delivered again: the same event, the same key as a new event, after a restart, and the
   whole stream replayed to a reset durable consumer.

Real parts throughout: nats-server, SMPP to the SMSC stand-in on a socket, SQLite (and PostgreSQL
when CARELOOP_TEST_POSTGRES_URL is set). What counts is read where it lands: the texts the SMSC
took, the events the CONTACT stream holds, the gateway's own tables. A restarted gateway relays
only once the dead one's outbox lease (15 s) lapses, so the process drills and the long outage are
marked slow (``-m slow``); the short outage and the command drill run by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError
from sqlalchemy import text

from careloop_common.db import create_engine
from careloop_common.events import CloudEvent, new_event
from careloop_common.events.contact import SendRequestedV1
from careloop_common.natsserver import NatsServer, free_port
from careloop_common.testing import (
    TEST_PRINCIPAL_SECRET,
    auth_headers,
    running_app,
    service_settings,
    wait_until,
)
from contact_gateway.consumers import SEND_COMMANDS
from contact_gateway.main import create_app
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.standins.smsc import SmscStandIn

FACTS = ("accepted", "submitted", "delivered")
NO_QUIET_HOURS = {"service": "", "care": ""}


def writer() -> dict[str, str]:
    """Return fresh credentials: a principal lives 60 s, a drill may last longer."""
    return auth_headers("contact:read", "contact:write", subject="drill")


def items(prefix: str, count: int) -> list[dict[str, Any]]:
    """Return batch items with a text of their own each, so the SMSC's log says which went how often."""
    return [
        {
            "msisdn": f"+8529123{i:04d}",
            "purpose": "service",
            "text": f"{prefix} notice {i:04d}",
            "idempotency_key": f"{prefix}-{i}",
        }
        for i in range(count)
    ]


async def post_batch(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> dict[str, str]:
    """Queue a batch; return request id → text."""
    response = await client.post("/contact/v1/request-batches", json={"items": batch}, headers=writer())
    assert response.status_code == 200, response.text
    answered = response.json()["items"]
    assert [item["status"] for item in answered] == ["accepted"] * len(batch)
    return {item["id"]: asked["text"] for item, asked in zip(answered, batch, strict=True)}


def smsc_url(port: int) -> str:
    """Return the connector URL: 100 submits a second, so a few hundred take seconds to send."""
    return f"smpp://careloop:secret@127.0.0.1:{port}?window=10&throughput=100"


class Ledger:
    """The gateway's own tables, read directly: what it recorded, whatever its API says."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)

    async def _rows(self, sql: str, **params: str) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())

    async def statuses(self) -> dict[str, str]:
        """Return request id → status."""
        return {row[0]: row[1] for row in await self._rows("SELECT id, status FROM contact_request")}

    async def smsc_ids(self) -> dict[str, set[str]]:
        """Return request id → the SMSC message ids of its recorded parts."""
        found: dict[str, set[str]] = {}
        for request_id, message_id in await self._rows("SELECT request_id, smsc_message_id FROM sms_segment"):
            found.setdefault(request_id, set()).add(message_id)
        return found

    async def unsent_events(self) -> int:
        """Return how many outbox rows wait for JetStream."""
        [(count,)] = await self._rows("SELECT count(*) FROM outbox_message WHERE sent_at IS NULL")
        return int(count)

    async def relay_failed(self) -> bool:
        """Say whether the relay has noted a failed publish on a row it has not sent yet."""
        [(count,)] = await self._rows(
            "SELECT count(*) FROM outbox_message WHERE sent_at IS NULL AND last_error IS NOT NULL"
        )
        return bool(count)

    async def published_again(self) -> int:
        """Return how many outbox rows took more than one publish."""
        [(count,)] = await self._rows("SELECT count(*) FROM outbox_message WHERE attempts > 1")
        return int(count)

    async def processed(self, consumer: str) -> list[str]:
        """Return the event ids a consumer recorded as applied."""
        rows = await self._rows(
            "SELECT event_id FROM inbox_processed_event WHERE consumer = :consumer", consumer=consumer
        )
        return sorted(row[0] for row in rows)

    async def close(self) -> None:
        """Release the connections."""
        await self.engine.dispose()


async def stream_events(nats_url: str, subject: str = "contact.message.>") -> list[tuple[str, CloudEvent]]:
    """Return (Nats-Msg-Id, event) of every message the CONTACT stream holds on subject, in order."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.pull_subscribe(
            subject, stream="CONTACT", config=ConsumerConfig(ack_policy=AckPolicy.NONE)
        )
        total = (await subscription.consumer_info()).num_pending or 0
        found: list[tuple[str, CloudEvent]] = []
        while len(found) < total:
            for message in await subscription.fetch(min(256, total - len(found)), timeout=5):
                found.append(
                    ((message.headers or {}).get("Nats-Msg-Id", ""), CloudEvent.from_json(message.data))
                )
        await subscription.unsubscribe()
        return found
    finally:
        await connection.close()


def facts_per_request(found: list[tuple[str, CloudEvent]]) -> Counter[tuple[str, str]]:
    """Count distinct events per (request id, fact), after checking the stream stored each event once."""
    stored = Counter(event.id for _, event in found)
    assert [msg_id for msg_id, event in found if msg_id != event.id] == [], "Nats-Msg-Id is the event id"
    assert {event_id: n for event_id, n in stored.items() if n > 1} == {}, "an event stored twice"
    return Counter((str(event.data["request_id"]), event.type.split(".")[2]) for _, event in found)


def expected_facts(
    request_ids: set[str], without_delivered: Collection[str] = ()
) -> Counter[tuple[str, str]]:
    """Return one accepted, one submitted and one delivered event per request."""
    return Counter(
        (request_id, fact)
        for request_id in request_ids
        for fact in FACTS
        if not (fact == "delivered" and request_id in without_delivered)
    )


# ── 1. crash ──────────────────────────────────────────────────────────────────────────────────

CRASH_MESSAGES = 300
CRASH_BATCH = 20  # CONTACT_DISPATCH_BATCH; the dispatcher has at most two batches out at once


class GatewayProcess:
    """The contact gateway served by uvicorn in a child process, as it is deployed."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start uvicorn (the factory runs migrations, binds the SMSC, connects NATS)."""
        command = [sys.executable, "-m", "uvicorn", "contact_gateway.main:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    async def ready(self) -> None:
        """Wait until /readyz says the database and NATS answer."""

        async def answers() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, f"the gateway died; see {self.log}"
            try:
                async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
                    return (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(
            answers, timeout_s=90, interval_s=0.1, message=f"the gateway to be ready ({self.log})"
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed, leases stay held."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop politely, or kill after a while."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def gateway_env(database_url: str, nats_url: str, smsc_port: int, home: Path) -> dict[str, str]:
    """Return the environment of a gateway process (as bench/contact_throughput.py starts it)."""
    return {
        **os.environ,
        "CARELOOP_HOME": str(home),
        "CARELOOP_NATS_URL": nats_url,
        "CARELOOP_PRINCIPAL_SECRET": TEST_PRINCIPAL_SECRET,
        "CARELOOP_CUSTOMER_REF_SECRET": "drill-customer-ref-secret",
        "CARELOOP_LOG_JSON": "false",
        "CARELOOP_OUTBOX_POLL_INTERVAL_S": "0.1",
        "CONTACT_DATABASE_URL": database_url,
        "CONTACT_SMSC_URLS": smsc_url(smsc_port),
        "CONTACT_QUIET_HOURS": '{"service": "", "care": ""}',
        "CONTACT_DISPATCH_BATCH": str(CRASH_BATCH),
        "CONTACT_DISPATCH_POLL_S": "0.05",
        # Far longer than a batch takes to go out (0.4 s), so only the crash lets a lease lapse; the
        # successor waits out the dead relay's 15 s lease anyway.
        "CONTACT_SEND_LEASE_S": "10",
        "CONTACT_RECEIPT_MATCH_S": "0.5",
        "CONTACT_RETRY_BASE_S": "0.2",
        "CONTACT_LOG_LEVEL": "WARNING",
    }


@contextlib.asynccontextmanager
async def two_lives(
    database_url: str, nats_url: str, smsc: SmscStandIn, tmp_path: Path
) -> AsyncIterator[tuple[GatewayProcess, GatewayProcess]]:
    """Yield a started gateway process and the one that will replace it on the same database."""
    env = gateway_env(database_url, nats_url, smsc.port, tmp_path / "home")
    first = GatewayProcess(env, tmp_path / "gateway.log")
    second = GatewayProcess(env, tmp_path / "gateway.log")
    try:
        first.start()
        await first.ready()
        yield first, second
    finally:
        first.kill()
        second.stop()


async def drained(ledger: Ledger, done: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    """Wait until every request is done and the outbox is empty; return request id → status.

    A restarted gateway relays only once the dead one's relay lease (15 s) has lapsed.
    """

    async def check() -> dict[str, str] | None:
        statuses = await ledger.statuses()
        if done(statuses) and not await ledger.unsent_events():
            return statuses
        return None

    found: dict[str, str] = await wait_until(
        check, timeout_s=90, interval_s=0.2, message="the gateway to settle"
    )
    return found


@pytest.mark.slow
async def test_a_gateway_killed_mid_send_loses_nothing_and_doubles_only_what_was_in_flight(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    ledger = Ledger(database_url)
    try:
        async with (
            SmscStandIn(port=free_port(), receipt_delay_s=0.05) as smsc,
            two_lives(database_url, nats_url, smsc, tmp_path) as (first, second),
        ):
            async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
                texts = await post_batch(client, items("crash", CRASH_MESSAGES))

            async def sending() -> bool:
                return smsc.accepted_count >= CRASH_MESSAGES // 3

            await wait_until(sending, message="the gateway to be sending")
            first.kill()
            sent_before_kill = smsc.accepted_count
            assert sent_before_kill < CRASH_MESSAGES, "everything went before the kill: nothing was drilled"

            # What the dead gateway had committed: the facts its successor must honour.
            at_crash = await ledger.statuses()
            recorded = {rid for rid, status in at_crash.items() if status in ("submitted", "delivered")}
            in_flight = {rid for rid, status in at_crash.items() if status == "sending"}
            parts_at_crash = await ledger.smsc_ids()
            restarted_at = time.time()
            second.start()

            def receipt_lost() -> set[str]:
                """Return the recorded messages whose receipt the dead process took but never wrote.

                smpp34 acknowledges a deliver_sm as it reads it, so such a receipt is gone
                (docs/contact.md) and its message stays submitted. Only these may.
                """
                taken = {message_id for message_id, at in smsc.receipts_taken if at < restarted_at}
                return {
                    rid
                    for rid in recorded
                    if at_crash[rid] == "submitted" and parts_at_crash.get(rid, set()) <= taken
                }

            def settled(statuses: dict[str, str]) -> bool:
                lost = receipt_lost()
                return all(
                    status == "delivered" or (status == "submitted" and rid in lost)
                    for rid, status in statuses.items()
                )

            final = await drained(ledger, settled)
            found = await stream_events(nats_url)
    finally:
        await ledger.close()

    assert set(final) == set(texts)
    stuck = {rid for rid, status in final.items() if status != "delivered"}
    assert stuck <= receipt_lost()
    sent = Counter(text for _, text in smsc.messages())
    assert set(sent) == set(texts.values()), "every message reached the SMSC, and nothing else did"
    doubled = {rid for rid, message in texts.items() if sent[message] > 1}
    assert max(sent.values()) <= 2
    assert not doubled & recorded, "a message recorded as submitted before the crash was sent again"
    assert doubled <= in_flight, "only messages in flight at the crash may go twice"
    assert len(in_flight) <= 2 * CRASH_BATCH
    assert facts_per_request(found) == expected_facts(set(texts), without_delivered=stuck)
    print(
        f"\ncrash drill: killed after {sent_before_kill}/{CRASH_MESSAGES} submits; at the crash "
        f"{len(recorded)} recorded, {len(in_flight)} in flight; {len(doubled)} sent twice; "
        f"{len(stuck)} left submitted (receipt taken by the dead process, never written)"
    )


@pytest.mark.slow
async def test_a_gateway_killed_during_a_nats_outage_loses_no_event(
    database_url: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    ledger = Ledger(database_url)
    try:
        async with (
            SmscStandIn(port=free_port(), receipt_delay_s=0.05) as smsc,
            two_lives(database_url, nats_server.url, smsc, tmp_path) as (first, second),
        ):
            async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
                texts = await post_batch(client, items("before", 100))

                async def sending() -> bool:
                    return smsc.accepted_count >= 20

                await wait_until(sending, message="the gateway to be sending")
                await asyncio.to_thread(nats_server.stop)
                texts |= await post_batch(client, items("during", 50))

            async def delivered() -> bool:
                statuses = await ledger.statuses()
                return all(statuses.get(rid) == "delivered" for rid in texts)

            await wait_until(delivered, timeout_s=30, message="delivery during the outage")
            assert await ledger.unsent_events() > 0, "the events should be waiting in the outbox"
            # Whatever the dead process held in memory for the broker dies with it.
            first.kill()
            await asyncio.to_thread(nats_server.start)
            second.start()
            await drained(ledger, lambda s: set(s.values()) == {"delivered"})
            found = await stream_events(nats_server.url)
    finally:
        await ledger.close()

    assert facts_per_request(found) == expected_facts(set(texts))
    assert Counter(text for _, text in smsc.messages()) == Counter(texts.values())


# ── 2. NATS outage ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "past_ack_timeout",
    [
        pytest.param(False, id="short"),
        # Longer than the relay waits for an ack (10 s): it gives up and publishes the rows again,
        # while the first copies still sit in the client's buffer; JetStream must store one of each.
        pytest.param(True, id="past-ack-timeout", marks=pytest.mark.slow),
    ],
)
async def test_a_nats_outage_mid_run_loses_and_doubles_no_event(
    database_url: str, nats_server: NatsServer, past_ack_timeout: bool
) -> None:
    ledger = Ledger(database_url)
    try:
        async with SmscStandIn(port=free_port(), receipt_delay_s=0.05) as smsc:
            settings = service_settings(
                ContactGatewaySettings,
                database_url,
                nats_server.url,
                smsc_urls=smsc_url(smsc.port),
                quiet_hours=NO_QUIET_HOURS,
                dispatch_poll_s=0.05,
                receipt_match_s=0.3,
                retry_base_s=0.2,
            )
            async with running_app(create_app(settings)) as client:
                texts = await post_batch(client, items("before", 100))

                async def sending() -> bool:
                    return smsc.accepted_count >= 20

                await wait_until(sending, message="the gateway to be sending")
                await asyncio.to_thread(nats_server.stop)
                # The broker is down: intake still answers (its events wait in the outbox) ...
                texts |= await post_batch(client, items("during", 60))
                for i in range(5):
                    body = {
                        "msisdn": f"+852912399{i:02d}",
                        "purpose": "service",
                        "text": f"single notice {i}",
                    }
                    response = await client.post(
                        "/contact/v1/requests",
                        json=body,
                        headers={**writer(), "Idempotency-Key": f"single-{i}"},
                    )
                    assert response.status_code == 201, response.text
                    texts[response.json()["id"]] = body["text"]

                async def not_ready() -> bool:
                    response = await client.get("/readyz")
                    return response.status_code == 503 and response.json()["checks"]["nats"] is False

                await wait_until(not_ready, message="/readyz to say NATS is away")

                # ... and sending and receipts go on without it.
                async def all_delivered() -> bool:
                    statuses = await ledger.statuses()
                    return all(statuses.get(rid) == "delivered" for rid in texts)

                await wait_until(all_delivered, timeout_s=30, message="delivery during the outage")
                assert await ledger.unsent_events() > 0, "the events should be waiting in the outbox"
                if past_ack_timeout:
                    await wait_until(
                        ledger.relay_failed, timeout_s=40, message="the relay to give up on an ack"
                    )

                await asyncio.to_thread(nats_server.start)  # the same port and store
                texts |= await post_batch(client, items("after", 40))

                async def caught_up() -> bool:
                    return await all_delivered() and not await ledger.unsent_events()

                await wait_until(caught_up, timeout_s=60, message="the outbox to drain after the outage")
                found = await stream_events(nats_server.url)
                published_again = await ledger.published_again()
    finally:
        await ledger.close()

    assert facts_per_request(found) == expected_facts(set(texts))
    assert Counter(text for _, text in smsc.messages()) == Counter(texts.values())
    if past_ack_timeout:
        assert published_again > 0, "the relay should have published some events more than once"


# ── 3. commands delivered again ──────────────────────────────────────────────────────────────


async def test_a_send_command_delivered_again_makes_one_request_and_one_sms(
    database_url: str, nats_url: str
) -> None:
    command = SendRequestedV1(
        idempotency_key="complaint-c-drill-resolved",
        msisdn="+85291234567",
        purpose="service",
        text="Your complaint CMP-DRILL is resolved.",
        complaint_id="c-drill",
    )
    source = "/careloop/complaints"
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    ledger = Ledger(database_url)

    async def publish(event_id: str, msg_id: str | None = None) -> None:
        """Publish the command as event event_id; a msg_id of its own gets it past JetStream's dedupe."""
        event = new_event(command, source=source, event_id=event_id)
        await js.publish(command.subject, event.to_json(), headers={"Nats-Msg-Id": msg_id or event_id})

    async def caught_up() -> bool:
        """Say whether the service's durable consumer has applied and acked every command."""
        try:
            info = await js.consumer_info("CONTACT", SEND_COMMANDS)
        except NotFoundError:
            return False
        return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq)

    async def the_request(client: httpx.AsyncClient, status: str | None = None) -> dict[str, Any]:
        page = (
            await client.get("/contact/v1/requests", params={"complaint_id": "c-drill"}, headers=writer())
        ).json()
        assert page["total"] <= 1, page
        return page["items"][0] if page["total"] and status in (None, page["items"][0]["status"]) else {}

    try:
        async with SmscStandIn(port=free_port(), receipt_delay_s=0.05) as smsc:
            settings = service_settings(
                ContactGatewaySettings,
                database_url,
                nats_url,
                smsc_urls=smsc_url(smsc.port),
                quiet_hours=NO_QUIET_HOURS,
                dispatch_poll_s=0.05,
            )
            async with running_app(create_app(settings)) as client:
                await publish("cmd-a")
                await publish("cmd-a", "cmd-a/again")  # the same event once more (a sender's retry)
                await publish("cmd-b")  # the same command as a new event: only its key says so
                await wait_until(caught_up, message="the commands to be applied")
                request = await wait_until(lambda: the_request(client, "delivered"), message="delivery")
                # Leave nothing for the relay: a restarted one waits out the old one's lease (15 s).
                await wait_until(lambda: _no_unsent(ledger), message="the outbox to drain")
            # A restart, and the same command again, both ways.
            async with running_app(create_app(settings)) as client:
                await publish("cmd-a", "cmd-a/after-restart")
                await publish("cmd-c")
                await wait_until(caught_up, message="the repeated commands to be applied")
            # The durable consumer is lost: JetStream replays every command from the start.
            await js.delete_consumer("CONTACT", SEND_COMMANDS)
            async with running_app(create_app(settings)) as client:
                await wait_until(caught_up, message="the replayed commands to be applied")
                assert (await the_request(client))["id"] == request["id"]
                assert await _no_unsent(ledger)
                processed = await ledger.processed(SEND_COMMANDS)
        dead_letters = (await js.stream_info("DEADLETTER")).state.messages
        stored = (await js.stream_info("CONTACT", subjects_filter=command.subject)).state.subjects or {}
    finally:
        await ledger.close()
        await connection.close()

    assert stored.get(command.subject) == 5, "five copies of the one command reached the stream"
    assert dead_letters == 0, "a repeated command is a duplicate, not a failure"
    assert processed == ["cmd-a", "cmd-b", "cmd-c"], "each event applied once, however often delivered"
    assert [text for _, text in smsc.messages()] == [command.text]
    assert facts_per_request(await stream_events(nats_url)) == expected_facts({request["id"]})


async def _no_unsent(ledger: Ledger) -> bool:
    """Say whether the outbox is empty."""
    return not await ledger.unsent_events()

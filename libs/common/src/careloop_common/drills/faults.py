"""The drills: each puts a load through the gateway, breaks one thing in the middle of it, mends it,
waits for the platform to settle and counts. A drill passes when nothing was lost or doubled and no
request was answered with a 500."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats

from careloop_common.drills.ledger import Ledger, Tally, rows
from careloop_common.drills.load import Load
from careloop_common.drills.platform import DrillPlatform
from careloop_common.events.contact import SendRequestedV1
from careloop_common.launcher.parts import ALL_PARTS

# The share of the load accepted before the fault is injected: the rest arrives during and after it.
FAULT_AT = 0.3


@dataclass
class Outcome:
    """One drill's result."""

    name: str
    tally: Tally
    seconds: float
    server_errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)  # what the fault itself showed
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Nothing lost, nothing doubled, no 500, nothing the fault's own checks refused."""
        return (
            self.tally.lost == 0
            and self.tally.duplicated == 0
            and self.server_errors == 0
            and not self.failures
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON-ready data."""
        return {
            "name": self.name,
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            **self.tally.as_dict(),
            "server_errors": self.server_errors,
            "statuses": self.statuses,
            "findings": self.findings,
            "failures": self.failures,
        }


Fault = Callable[[DrillPlatform, Load, Ledger, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Drill:
    """A fault, and how many seconds the load is spread over so that it runs on through the fault."""

    fault: Fault
    span_s: float


async def run_drill(
    platform: DrillPlatform, name: str, drill: Drill, load: Load, settle_s: float = 120.0
) -> Outcome:
    """Run the load, inject the fault once the load is under way, settle, count."""
    assert platform.smsc is not None
    load.pace_s = drill.span_s / max(load.complaints, load.sends)
    started = time.monotonic()
    ledger = Ledger(platform.home, platform.nats_url, platform.smsc)
    findings: dict[str, Any] = {}
    failures: list[str] = []
    driving = asyncio.create_task(load.run(platform.gateway_url, platform.admin_key))
    try:
        await drill.fault(platform, load, ledger, findings)
    except FaultRefused as exc:
        failures.append(str(exc))
    await driving
    await platform.ready()
    tally = await settle(ledger, load, settle_s)
    if load.transport_errors:
        findings["connections refused or cut (retried)"] = load.transport_errors
    if load.server_errors:
        failures.append(f"{load.server_errors} answers were 500: {load.problems[:3]}")
    return Outcome(
        name=name,
        tally=tally,
        seconds=time.monotonic() - started,
        server_errors=load.server_errors,
        statuses={str(code): n for code, n in sorted(load.statuses.items())},
        findings=findings,
        failures=failures,
    )


class FaultRefused(AssertionError):
    """The fault's own check failed (for example a read-only database answered 500, not 503)."""


async def settle(ledger: Ledger, load: Load, timeout_s: float) -> Tally:
    """Wait until nothing is missing (or the time is up); return the final count, streams included."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tally = await ledger.count(load, streams=False)
        if tally.lost == 0:
            break
        await asyncio.sleep(0.5)
    # Late duplicates (a redelivery after the count looked complete) would show now.
    await asyncio.sleep(1.0)
    return await ledger.count(load)


# ── the faults ──────────────────────────────────────────────────────────────────────────────────


def kill(service: str) -> Fault:
    """SIGKILL a service while the load is under way, then start it again on the same database."""

    async def fault(platform: DrillPlatform, load: Load, ledger: Ledger, findings: dict[str, Any]) -> None:
        await load.progress(FAULT_AT)
        await platform.kill(service)
        findings["killed after accepted"] = load.accepted
        if service == "contact-gateway":
            # Submitted but not yet recorded: SMPP has no idempotency key, so these may go twice.
            sending = rows(
                platform.database(service), "SELECT id FROM contact_request WHERE status = 'sending'"
            )
            ledger.in_flight = {request_id for (request_id,) in sending}
            findings["in flight at the kill"] = len(ledger.in_flight)
        await asyncio.sleep(1.0)
        await platform.restart(service)

    return fault


def nats_outage(seconds: float) -> Fault:
    """Stop nats-server for ``seconds`` under load, then start it on the same port and store."""

    async def fault(platform: DrillPlatform, load: Load, ledger: Ledger, findings: dict[str, Any]) -> None:
        await load.progress(FAULT_AT)
        await platform.stop_nats()
        findings["broker stopped after accepted"] = load.accepted
        await asyncio.sleep(seconds)
        findings["accepted while the broker was down"] = (
            load.accepted - findings["broker stopped after accepted"]
        )
        await platform.start_nats()

    return fault


def smsc_outage(seconds: float) -> Fault:
    """Take the SMSC away (binds refused, sessions dropped) for ``seconds``, then bring it back."""

    async def fault(platform: DrillPlatform, load: Load, ledger: Ledger, findings: dict[str, Any]) -> None:
        assert platform.smsc is not None
        await load.progress(FAULT_AT)
        taken = platform.smsc.accepted_count
        await platform.smsc.stop()
        await asyncio.sleep(seconds)
        await platform.smsc.start()
        findings["SMSC down for s"] = seconds
        findings["SMSC took before the outage"] = taken

    return fault


def smsc_throttle(rate_per_s: float = 5.0, rejects: int = 30) -> Fault:
    """Answer ESME_RTHROTTLED: the next ``rejects`` submits, then anything above ``rate_per_s``."""

    async def fault(platform: DrillPlatform, load: Load, ledger: Ledger, findings: dict[str, Any]) -> None:
        assert platform.smsc is not None
        await load.progress(FAULT_AT)
        platform.smsc.throttle_next(rejects)
        platform.smsc.max_rate_per_s = rate_per_s
        await load.progress(1.0)
        await _until(lambda: platform.smsc is not None and platform.smsc.rejected >= rejects, 60)
        platform.smsc.max_rate_per_s = None
        findings["throttled submits"] = platform.smsc.rejected

    return fault


# A message no consumer can read, and well-formed events no handler accepts, on the subjects the
# load's own events travel on: each must be parked as a dead letter while the rest flows past.
POISON = (
    ("complaints.complaint.follow_up_requested", b"\x00\xffnot an event"),
    ("contact.cmd.send", b'{"specversion": "1.0", "id": "x"}'),
)


def poison_event() -> Fault:
    """Publish poison on the subjects coverage-map and the contact gateway consume, under load."""

    async def fault(platform: DrillPlatform, load: Load, ledger: Ledger, findings: dict[str, Any]) -> None:
        await load.progress(FAULT_AT)
        before = await _dead_letters(platform.nats_url)
        connection = await nats.connect(platform.nats_url)
        try:
            js = connection.jetstream()
            for subject, data in POISON:
                await js.publish(subject, data, headers={"Nats-Msg-Id": f"poison-{uuid.uuid4()}"})
            await js.publish("contact.cmd.send", _wrong_command(), headers={"Nats-Msg-Id": str(uuid.uuid4())})
        finally:
            await connection.close()
        wanted = len(POISON) + 1

        async def parked() -> int:
            return await _dead_letters(platform.nats_url) - before

        await _until_async(lambda: _at_least(parked, wanted), 90)
        findings["poison published"] = wanted
        findings["poison dead-lettered"] = await parked()
        if findings["poison dead-lettered"] != wanted:
            raise FaultRefused(f"{wanted} poison messages, {findings['poison dead-lettered']} dead letters")

    return fault


def _wrong_command() -> bytes:
    """A well-formed CloudEvent whose payload breaks the send command's contract (no msisdn)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/careloop/drill",
            "type": SendRequestedV1.event_type(),
            "time": "2026-01-01T00:00:00Z",
            "datacontenttype": "application/json",
            "data": {"purpose": "service"},
        }
    ).encode()


async def _dead_letters(nats_url: str) -> int:
    """Return how many dead letters the DEADLETTER stream holds."""
    connection = await nats.connect(nats_url)
    try:
        info = await connection.jetstream().stream_info("DEADLETTER")
        return int(info.state.messages)
    finally:
        await connection.close()


def db_readonly(service: str = "complaints", seconds: float = 4.0) -> Fault:
    """Make a service's SQLite files immutable under load: writes must be 503 problems, not 500s, and
    the database must be whole (integrity_check ok) once it is writable again."""

    async def fault(platform: DrillPlatform, load: Load, ledger: Ledger, findings: dict[str, Any]) -> None:
        if shutil.which("chattr") is None:
            raise FaultRefused("chattr not found: cannot make the database unwritable (even for root)")
        await load.progress(FAULT_AT)
        # Not the -shm file: SQLite maps it, and a mapped page that cannot be written is a SIGBUS,
        # which no disk does to a program. The database and its write-ahead log are what a full or
        # read-only disk refuses.
        files = [
            p for p in platform.home.glob(f"{service}.db*") if p.is_file() and not p.name.endswith("-shm")
        ]
        seen_before = dict(load.statuses)
        # chattr +i: root ignores file modes, not the immutable flag.
        _chattr("+i", files)
        try:
            await asyncio.sleep(seconds)
        finally:
            _chattr("-i", files)
        during = {
            str(c): n - seen_before.get(c, 0) for c, n in load.statuses.items() if n != seen_before.get(c, 0)
        }
        findings["statuses while unwritable"] = during
        await platform.ready()
        [(verdict,)] = rows(platform.database(service), "PRAGMA integrity_check")
        findings["integrity_check"] = verdict
        if verdict != "ok":
            raise FaultRefused(f"{service}.db is damaged: {verdict}")
        if "503" not in during:
            raise FaultRefused(f"no 503 while {service}.db was unwritable (saw {during})")

    return fault


def _chattr(flag: str, files: list[Any]) -> None:
    chattr = shutil.which("chattr") or "/usr/bin/chattr"
    subprocess.run([chattr, flag, *map(str, files)], check=True, capture_output=True)


async def _until(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:  # noqa: ASYNC110 - another system's counter
        await asyncio.sleep(0.1)


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted


async def _until_async(check: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls the broker
        await asyncio.sleep(0.2)


# ── the catalogue ───────────────────────────────────────────────────────────────────────────────

KILLABLE = tuple(part.name for part in ALL_PARTS)


def catalogue(seconds: float) -> dict[str, Drill]:
    """Return every drill by name; ``seconds`` is how long the NATS and SMSC outages last."""
    drills = {f"kill-{name}": Drill(kill(name), span_s=8.0) for name in KILLABLE}
    drills["nats-outage"] = Drill(nats_outage(seconds), span_s=seconds + 4.0)
    drills["smsc-outage"] = Drill(smsc_outage(min(seconds, 10.0)), span_s=min(seconds, 10.0) + 4.0)
    drills["smsc-throttle"] = Drill(smsc_throttle(), span_s=6.0)
    drills["poison-event"] = Drill(poison_event(), span_s=4.0)
    drills["db-readonly"] = Drill(db_readonly(), span_s=8.0)
    return drills

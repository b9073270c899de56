"""Count what a drill's load became, where it landed: each service's own tables, the JetStream streams,
the texts the SMSC took. Never the services' word for it, so a bug in an API cannot hide a loss."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from careloop_common.drills.load import Load

# The complaint's own facts and its command to the contact gateway: one each per complaint.
COMPLAINT_SUBJECTS = ("complaints.complaint.filed", "complaints.complaint.follow_up_requested")
SEND_COMMAND = "contact.cmd.send"
SUBMITTED = "contact.message.submitted"
SERVICES_WITH_OUTBOX = ("complaints", "coverage-map", "campaigns", "contact-gateway", "gateway")
RECORDED = ("submitted", "delivered")  # what the gateway records once the SMSC has taken a message


@dataclass
class Tally:
    """What a drill counted; ``lost`` and ``duplicated`` must both end at zero."""

    accepted: int = 0
    published: int = 0
    applied: int = 0
    sent: int = 0
    duplicated: int = 0
    lost: int = 0
    resent_in_flight: int = 0  # SMS the SMSC took twice because a kill -9 cut a submit short (SMPP)
    notes: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # what is lost, for the report
    doubled: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the tally as JSON-ready data."""
        return asdict(self)


def rows(database: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """Read rows from a service's SQLite file without writing to it."""
    if not database.exists():
        return []
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return list(connection.execute(sql, tuple(params)).fetchall())
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the service has not migrated yet
            return []
        raise
    finally:
        connection.close()


def _in(values: Collection[str]) -> str:
    """Return the placeholders of an IN list (only these are formatted into the drills' SQL)."""
    return ",".join("?" * len(values)) or "NULL"


async def stream_events(
    nats_url: str, stream: str, subjects: tuple[str, ...]
) -> list[tuple[str, dict[str, Any]]]:
    """Return (Nats-Msg-Id, event) of every message a stream holds on the subjects, in order."""
    connection = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        js = connection.jetstream(timeout=10)
        found: list[tuple[str, dict[str, Any]]] = []
        for subject in subjects:
            subscription = await js.pull_subscribe(
                subject,
                stream=stream,
                config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
            )
            total = (await subscription.consumer_info()).num_pending or 0
            taken = 0
            while taken < total:
                for message in await subscription.fetch(min(256, total - taken), timeout=10):
                    taken += 1
                    headers = message.headers or {}
                    try:
                        event = json.loads(message.data)
                    except ValueError:
                        continue  # a poison message the drill put there itself
                    if isinstance(event, dict):
                        found.append((headers.get("Nats-Msg-Id", ""), event))
            await subscription.unsubscribe()
        return found
    finally:
        await connection.close()


@dataclass
class Ledger:
    """Counts one load on one platform (home: the SQLite files; nats_url; the stand-in SMSC)."""

    home: Path
    nats_url: str
    smsc: Any
    in_flight: set[str] = field(default_factory=set)  # contact request ids 'sending' at a kill -9

    def db(self, service: str) -> Path:
        """Return a service's SQLite file."""
        return self.home / f"{service}.db"

    async def count(self, load: Load, *, streams: bool = True) -> Tally:
        """Count the load's effects; ``streams`` also reads JetStream (slower: done once at the end)."""
        tally, scope = await asyncio.to_thread(self._count_tables, load)
        if streams:
            await self._count_streams(scope, self._expected_events(tally), tally)
        return tally

    def _count_tables(self, load: Load) -> tuple[Tally, set[str]]:
        """Count from the tables; return the tally and the load's complaint and contact request ids."""
        tally = Tally(accepted=load.accepted)
        for key in load.given_up:
            tally.lost += 1
            tally.missing.append(f"request {key} never accepted")
        complaint_ids = self._complaints(load, tally)
        self._follow_ups(load, complaint_ids, tally)
        requests = self._contact_requests(load, complaint_ids, tally)
        self._sms(requests, tally)
        self._unsent_events(tally)
        return tally, {*complaint_ids, *(request[0] for request in requests)}

    def _complaints(self, load: Load, tally: Tally) -> dict[str, str]:
        """Each accepted complaint stored once; return complaint id → msisdn."""
        numbers = list(load.filed)
        stored = rows(
            self.db("complaints"),
            f"SELECT id, msisdn FROM complaint WHERE msisdn IN ({_in(numbers)})",  # noqa: S608
            numbers,
        )
        per_number = Counter(msisdn for _, msisdn in stored)
        for msisdn in numbers:
            if per_number[msisdn] == 0:
                tally.lost += 1
                tally.missing.append(f"complaint of {msisdn} accepted but not stored")
            elif per_number[msisdn] > 1:
                tally.duplicated += per_number[msisdn] - 1
                tally.doubled.append(f"complaint of {msisdn} stored {per_number[msisdn]} times")
        tally.notes["complaints stored"] = len(stored)
        return dict(stored)

    def _follow_ups(self, load: Load, complaint_ids: dict[str, str], tally: Tally) -> None:
        """Each complaint that asked for a follow-up joined coverage-map's investigation once."""
        wanted = [cid for cid, msisdn in complaint_ids.items() if load.filed.get(msisdn, {}).get("follow_up")]
        linked = rows(
            self.db("coverage-map"),
            f"SELECT complaint_id FROM investigation_complaint WHERE complaint_id IN ({_in(wanted)})",  # noqa: S608
            wanted,
        )
        per_complaint = Counter(cid for (cid,) in linked)
        for cid in wanted:
            if per_complaint[cid] == 0:
                tally.lost += 1
                tally.missing.append(f"follow-up of complaint {cid} not applied by coverage-map")
        tally.applied += len(per_complaint)
        tally.notes["follow-ups applied"] = len(per_complaint)

    def _contact_requests(
        self, load: Load, complaint_ids: dict[str, str], tally: Tally
    ) -> list[tuple[str, str, str, str]]:
        """Each complaint's acknowledgement and each accepted send made one contact request.

        Returns (request id, msisdn, text, status) of them all.
        """
        numbers = [*complaint_ids.values(), *load.sent]
        columns = "id, msisdn, complaint_id, text, status"
        query = f"SELECT {columns} FROM contact_request WHERE msisdn IN ({_in(numbers)})"  # noqa: S608
        found = rows(self.db("contact-gateway"), query, numbers)
        acks = Counter(cid for _, _, cid, _, _ in found if cid)
        for cid in complaint_ids:
            if acks[cid] == 0:
                tally.lost += 1
                tally.missing.append(f"no acknowledgement requested for complaint {cid}")
            elif acks[cid] > 1:
                tally.duplicated += acks[cid] - 1
                tally.doubled.append(f"complaint {cid} acknowledged {acks[cid]} times")
        tally.applied += len(acks)
        tally.notes["acknowledgements requested"] = len(acks)
        sends = Counter(msisdn for _, msisdn, cid, _, _ in found if not cid)
        for msisdn in load.sent:
            if sends[msisdn] == 0:
                tally.lost += 1
                tally.missing.append(f"send to {msisdn} accepted but not recorded")
            elif sends[msisdn] > 1:
                tally.duplicated += sends[msisdn] - 1
                tally.doubled.append(f"send to {msisdn} recorded {sends[msisdn]} times")
        return [(rid, msisdn, text, status) for rid, msisdn, _, text, status in found]

    def _sms(self, requests: list[tuple[str, str, str, str]], tally: Tally) -> None:
        """Each contact request reached the SMSC once (a kill -9 mid-submit may send one twice)."""
        copies = Counter(self.smsc.messages())
        for request_id, msisdn, text, status in requests:
            taken = copies[(msisdn.lstrip("+"), text)]
            if taken == 0:
                tally.lost += 1
                tally.missing.append(f"request {request_id} to {msisdn} not at the SMSC ({status})")
                continue
            tally.sent += 1
            if taken > 1 and request_id in self.in_flight:
                tally.resent_in_flight += taken - 1
            elif taken > 1:
                tally.duplicated += taken - 1
                tally.doubled.append(f"request {request_id} to {msisdn} sent {taken} times")
            if status not in RECORDED:
                # At the SMSC but not (yet) on the gateway's books, so its submitted event is not
                # staged: a request a kill -9 cut short stays 'sending' until its successor settles it.
                tally.lost += 1
                tally.missing.append(f"request {request_id} at the SMSC but {status}")
        tally.notes["SMSC rejected (throttled or down)"] = self.smsc.rejected

    @staticmethod
    def _expected_events(tally: Tally) -> dict[str, int]:
        """Return how many events of each kind the stored effects imply (at least)."""
        return {
            "complaints.complaint.filed": tally.notes["complaints stored"],
            "complaints.complaint.follow_up_requested": tally.notes["follow-ups applied"],
            SEND_COMMAND: tally.notes["acknowledgements requested"],
            SUBMITTED: tally.sent,
        }

    def _unsent_events(self, tally: Tally) -> None:
        """Every event staged in an outbox reached JetStream (until it does, it counts as lost)."""
        for service in SERVICES_WITH_OUTBOX:
            [(unsent,)] = rows(
                self.db(service), "SELECT count(*) FROM outbox_message WHERE sent_at IS NULL"
            ) or [(0,)]
            if unsent:
                tally.lost += unsent
                tally.missing.append(f"{unsent} events of {service} not yet published")

    async def _count_streams(self, scope: set[str], expected: dict[str, int], tally: Tally) -> None:
        """Count the events about the load's complaints and messages; one stored twice is a duplicate."""
        found = await stream_events(self.nats_url, "COMPLAINTS", COMPLAINT_SUBJECTS)
        found += await stream_events(self.nats_url, "CONTACT", (SEND_COMMAND, SUBMITTED))
        ours = [
            event
            for _, event in found
            if _data(event).get("complaint_id") in scope or _data(event).get("request_id") in scope
        ]
        stored = Counter(str(event.get("id")) for event in ours)
        tally.published = len(stored)
        for event_id, times in stored.items():
            if times > 1:
                tally.duplicated += times - 1
                tally.doubled.append(f"event {event_id} stored {times} times")
        by_type = Counter(str(event.get("type")).rsplit(".v", 1)[0] for event in ours)
        tally.notes["events by type"] = dict(by_type)
        for subject, wanted in expected.items():
            if by_type[subject] < wanted:
                tally.lost += wanted - by_type[subject]
                tally.missing.append(f"{wanted - by_type[subject]} {subject} events not in the stream")


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}

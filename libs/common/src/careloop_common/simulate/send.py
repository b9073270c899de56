"""Where simulated traffic goes: a file, NATS JetStream or the gateway's API, paced and bounded.

A live run sends at most ``count`` items and stops after ``duration_s`` whichever comes first,
and only to this machine (a loopback address or ``localhost``): the simulator is a load source,
and load goes nowhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from careloop_common.bus import Bus, Outbound
from careloop_common.events.envelope import CloudEvent

T = TypeVar("T")
MAX_COUNT = 10_000_000
MAX_DURATION_S = 3_600.0
API_BATCH = 500  # events a POST /feeds/v1/events (the gateway takes up to 1,000 by default)
NATS_BATCH = 1_000


class NotLocal(ValueError):
    """A target that is not on this machine: the simulator sends nowhere else."""


def require_local(url: str) -> str:
    """Return ``url`` if every host in it is a loopback address or localhost, else raise NotLocal."""
    for part in url.split(","):
        host = urlsplit(part.strip()).hostname or ""
        if host == "localhost":
            continue
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise NotLocal(f"{part.strip()!r} is not on this machine: use 127.0.0.1 or localhost")
    return url


@dataclass
class Sent:
    """What a run sent: how many, how many were refused or failed, by kind, and how long it took."""

    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def note_failure(self, reason: str) -> None:
        """Count a failure and keep the first few reasons to show."""
        self.failed += 1
        if len(self.problems) < 5:
            self.problems.append(reason)

    @property
    def rate(self) -> float:
        """Return items sent a second."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


async def paced(
    source: Iterable[T], *, rate: float, count: int, duration_s: float, batch: int
) -> AsyncIterator[list[T]]:
    """Yield batches from ``source`` so that about ``rate`` items a second leave; stop at either bound.

    Items are due at ``i / rate`` after the start; each batch holds what is due (at most ``batch``),
    so a slow sink falls behind and catches up rather than drifting.
    """
    items: Iterator[T] = iter(source)
    started = time.monotonic()
    taken = 0
    while taken < count:
        elapsed = time.monotonic() - started
        if elapsed >= duration_s:
            return
        due = min(count, int(elapsed * rate) + 1)
        if due <= taken:
            await asyncio.sleep(min((taken - elapsed * rate) / rate, duration_s - elapsed) + 0.0005)
            continue
        size = min(batch, due - taken)
        chunk = [next(items) for _ in range(size)]
        taken += size
        yield chunk


def write_jsonl(path: Path, lines: Iterable[bytes], count: int) -> int:
    """Write the first ``count`` items as JSON lines (no pacing: a file takes them all at once)."""
    written = 0
    with path.open("wb") as file:
        for line in lines:
            if written >= count:
                break
            file.write(line + b"\n")
            written += 1
    return written


def event_lines(events: Iterable[CloudEvent]) -> Iterator[bytes]:
    """Return each event's envelope as compact JSON bytes."""
    return (event.to_json() for event in events)


async def to_nats(
    url: str, events: Iterable[CloudEvent], *, rate: float, count: int, duration_s: float
) -> Sent:
    """Publish events to JetStream (stream FEEDS), each acked; Nats-Msg-Id is the event id."""
    bus = Bus(url=require_local(url), name="careloop-simulate", connect_timeout_s=5.0)
    await bus.connect()
    if not bus.connected or not await bus.ensure_streams():
        await bus.close()
        raise ConnectionError(f"NATS at {url} is not reachable")
    report = Sent()
    started = time.monotonic()
    try:
        async for chunk in paced(events, rate=rate, count=count, duration_s=duration_s, batch=NATS_BATCH):
            messages = [Outbound(e.nats_subject(), e.id, e.to_json(), {}) for e in chunk]
            for event, ack in zip(chunk, await bus.publish_batch(messages), strict=True):
                if isinstance(ack, BaseException):
                    report.note_failure(f"{event.type}: {ack!r}")
                else:
                    report.sent += 1
                    report.kinds[event.type] += 1
    finally:
        report.seconds = time.monotonic() - started
        await bus.close()
    return report


async def to_feeds_api(
    url: str, api_key: str, events: Iterable[CloudEvent], *, rate: float, count: int, duration_s: float
) -> Sent:
    """POST events in batches to the gateway's ``/feeds/v1/events`` (scope ``feeds:write``)."""
    report = Sent()
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=require_local(url), headers=headers, timeout=30) as client:
        async for chunk in paced(events, rate=rate, count=count, duration_s=duration_s, batch=API_BATCH):
            body = [event.model_dump(mode="json", exclude_none=True) for event in chunk]
            response = await client.post("/feeds/v1/events", json=body)
            if response.status_code == 202:
                report.sent += len(chunk)
                report.kinds.update(event.type for event in chunk)
            else:
                for _ in chunk:
                    report.note_failure(f"{response.status_code}: {response.text[:200]}")
    report.seconds = time.monotonic() - started
    return report


async def to_complaints_api(
    url: str,
    api_key: str,
    complaints: Iterable[dict[str, Any]],
    *,
    rate: float,
    count: int,
    duration_s: float,
    key_prefix: str,
    concurrency: int = 8,
) -> Sent:
    """File complaints through the gateway, each with an Idempotency-Key so a rerun files none twice."""
    report = Sent()
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {api_key}"}
    numbered = enumerate(complaints)
    async with httpx.AsyncClient(base_url=require_local(url), headers=headers, timeout=30) as client:

        async def file(number: int, body: dict[str, Any]) -> None:
            response = await client.post(
                "/complaints/v1/complaints", json=body, headers={"Idempotency-Key": f"{key_prefix}-{number}"}
            )
            if response.status_code in (200, 201):
                report.sent += 1
                report.kinds[str(body["category"])] += 1
            else:
                report.note_failure(f"{response.status_code}: {response.text[:200]}")

        async for chunk in paced(numbered, rate=rate, count=count, duration_s=duration_s, batch=concurrency):
            await asyncio.gather(*(file(number, body) for number, body in chunk))
    report.seconds = time.monotonic() - started
    return report

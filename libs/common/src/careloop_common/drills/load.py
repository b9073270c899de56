"""The load a drill puts through the gateway: complaints filed at the call centre and SMS sent through
the contact gateway, each with an Idempotency-Key, each retried with the same key until it is accepted
(as a well-behaved client does through an outage), so every accepted request has one expected effect."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

# Points in Hong Kong no engineer has assessed yet: each complaint asks coverage-map for a follow-up.
PLACES = ((22.3817, 114.1880), (22.3193, 114.1694), (22.2783, 114.1747), (22.4445, 114.0222))

_blocks = itertools.count(100 + secrets.randbelow(700))  # a number block per load, unique in a process


@dataclass
class Load:
    """Requests of one drill; ``block`` keeps its numbers apart from other drills on the same platform."""

    complaints: int = 30
    sends: int = 30
    pace_s: float = 0.1  # between two requests of one kind, so a fault lands in the middle of the load
    deadline_s: float = 180.0  # a request still refused after this long is given up (and counted)
    block: int = field(default_factory=lambda: next(_blocks))
    filed: dict[str, dict[str, Any]] = field(default_factory=dict)  # complaint msisdn → answer
    sent: dict[str, str] = field(default_factory=dict)  # send msisdn → text
    given_up: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # every HTTP status seen, retries included
    transport_errors: int = 0
    problems: list[str] = field(default_factory=list)  # 5xx bodies, to show what a 500 said

    def complaint_msisdn(self, i: int) -> str:
        """Return the caller of complaint i (one number per complaint: the ledger keys on it)."""
        return f"+8529{self.block:03d}{i:04d}"

    def send_msisdn(self, i: int) -> str:
        """Return the recipient of send i."""
        return f"+8526{self.block:03d}{i:04d}"

    @property
    def requested(self) -> int:
        """Return how many requests the load makes."""
        return self.complaints + self.sends

    @property
    def accepted(self) -> int:
        """Return how many were accepted so far."""
        return len(self.filed) + len(self.sent)

    @property
    def server_errors(self) -> int:
        """Return how many answers were a 500 (a bug: faults must give 502/503/504 problems)."""
        return self.statuses[500]

    async def run(self, gateway_url: str, admin_key: str) -> None:
        """Send every request, complaints and SMS side by side, each until accepted or the deadline."""
        headers = {"Authorization": f"Bearer {admin_key}"}
        async with httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=15) as client:
            await asyncio.gather(self._file_complaints(client), self._send_messages(client))

    async def progress(self, share: float) -> None:
        """Return once ``share`` of the requests have been accepted."""
        while self.accepted < share * self.requested:  # noqa: ASYNC110 - many tasks add to the count
            await asyncio.sleep(0.05)

    async def _file_complaints(self, client: httpx.AsyncClient) -> None:
        tasks = []
        for i in range(self.complaints):
            lat, lng = PLACES[i % len(PLACES)]
            msisdn = self.complaint_msisdn(i)
            body = {
                "category": "coverage",
                "channel": "call_centre",
                "msisdn": msisdn,
                "lat": lat,
                "lng": lng,
                "network": "4G",
                "symptoms": ["weak_signal"],
                "language": "en",
            }
            key = f"drill-complaint-{self.block}-{i}"
            tasks.append(asyncio.create_task(self._file(client, body, key)))
            await asyncio.sleep(self.pace_s)
        await asyncio.gather(*tasks)

    async def _file(self, client: httpx.AsyncClient, body: dict[str, Any], key: str) -> None:
        answer = await self._until_accepted(client, "/complaints/v1/complaints", body, key)
        if answer is not None:
            self.filed[body["msisdn"]] = answer

    async def _send_messages(self, client: httpx.AsyncClient) -> None:
        tasks = []
        for i in range(self.sends):
            text = f"careloop drill {self.block} message {i:04d}"
            body = {"msisdn": self.send_msisdn(i), "purpose": "service", "text": text, "language": "en"}
            key = f"drill-send-{self.block}-{i}"
            tasks.append(asyncio.create_task(self._send(client, body, key)))
            await asyncio.sleep(self.pace_s)
        await asyncio.gather(*tasks)

    async def _send(self, client: httpx.AsyncClient, body: dict[str, Any], key: str) -> None:
        if await self._until_accepted(client, "/contact/v1/requests", body, key) is not None:
            self.sent[body["msisdn"]] = body["text"]

    async def _until_accepted(
        self, client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str
    ) -> dict[str, Any] | None:
        """POST with one key until a 200/201; back off on anything else (a fault is under way)."""
        give_up_at = time.monotonic() + self.deadline_s
        pause = 0.2
        while time.monotonic() < give_up_at:
            try:
                response = await client.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError:
                self.transport_errors += 1
            else:
                self.statuses[response.status_code] += 1
                if response.status_code in (200, 201):
                    answer: dict[str, Any] = response.json()
                    return answer
                if response.status_code >= 500:
                    with contextlib.suppress(ValueError):
                        self.problems.append(f"{response.status_code} {path}: {response.text[:300]}")
                elif response.status_code not in (409, 429):
                    # A 4xx other than "busy" will not change on retry: the drill's own mistake.
                    self.problems.append(f"{response.status_code} {path}: {response.text[:300]}")
                    break
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 2.0)
        self.given_up.append(key)
        return None

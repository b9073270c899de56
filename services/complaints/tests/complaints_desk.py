"""Helpers for the complaints tests: the service under test and ways to read what it wrote.

Background work is off (no relay, no consumers, no scheduler), so the events and commands a step
staged stay readable in the outbox, and the tests drive the scheduler and consumers themselves: the
scheduler with an injected ``now``, consumers through the inbox runner's own ``apply`` (the
idempotent path a delivery takes). Principals are minted per call: they expire after 60 s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from careloop_common.db import SessionFactory
from careloop_common.events import EventContract, new_event
from careloop_common.natsserver import free_port
from careloop_common.outbox import OutboxMessage
from careloop_common.testing import auth_headers, service_settings
from complaints import scheduler
from complaints.models import Complaint, HistoryEntry
from complaints.settings import ComplaintsSettings

COVERAGE_FORM: dict[str, Any] = {
    "category": "coverage",
    "channel": "call_centre",
    "msisdn": "+852 9123 4567",
    "lat": 22.2819,
    "lng": 114.1582,
    "network": "4G",
    "symptoms": ["call_drop"],
    "follow_up": True,
}
BILLING_FORM: dict[str, Any] = {
    "category": "billing",
    "channel": "call_centre",
    "msisdn": "+85291234567",
    "description": "charged twice for roaming",
}


def agent(name: str = "agent-7") -> dict[str, str]:
    """Return an agent's principal (read and write), minted now."""
    return auth_headers("complaints:read", "complaints:write", subject=name, roles=("agent",))


def supervisor(name: str = "sue") -> dict[str, str]:
    """Return a supervisor's principal, minted now."""
    return auth_headers(
        "complaints:read", "complaints:write", "complaints:supervise", subject=name, roles=("supervisor",)
    )


def partner(partner_id: str = "acme") -> dict[str, str]:
    """Return a partner API key's principal, minted now."""
    return auth_headers(
        "complaints:read", "complaints:write", subject=f"key-{partner_id}", partner_id=partner_id
    )


@dataclass
class Desk:
    """The running complaints service and ways to read what it wrote."""

    client: httpx.AsyncClient
    app: FastAPI

    @property
    def sessions(self) -> SessionFactory:
        """Return the service's session factory."""
        factory: SessionFactory = self.app.state.platform.sessions
        return factory

    @property
    def source(self) -> str:
        """Return the service's CloudEvents source."""
        return str(self.app.state.platform.source)

    async def file(
        self, form: dict[str, Any] | None = None, headers: dict[str, str] | None = None, **change: Any
    ) -> dict[str, Any]:
        """File a complaint through the API and return the 201 body."""
        response = await self.client.post(
            "/complaints/v1/complaints",
            json={**(form or COVERAGE_FORM), **change},
            headers=headers or agent(),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def move(
        self, complaint_id: str, status: str, headers: dict[str, str] | None = None, reason: str | None = None
    ) -> httpx.Response:
        """Ask for a status change through the API."""
        body: dict[str, Any] = {"status": status}
        if reason is not None:
            body["reason"] = reason
        return await self.client.post(
            f"/complaints/v1/complaints/{complaint_id}/status", json=body, headers=headers or agent()
        )

    async def row(self, complaint_id: str) -> Complaint:
        """Return the complaint's row as stored."""
        async with self.sessions() as session:
            complaint = await session.get(Complaint, complaint_id)
            assert complaint is not None
            return complaint

    async def history(self, complaint_id: str) -> list[HistoryEntry]:
        """Return the complaint's history rows, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(HistoryEntry)
                .where(col(HistoryEntry.complaint_id) == complaint_id)
                .order_by(col(HistoryEntry.at), col(HistoryEntry.id))
            )
            return list(rows)

    async def kinds(self, complaint_id: str) -> list[str]:
        """Return the kinds of the complaint's history, oldest first."""
        return [entry.kind for entry in await self.history(complaint_id)]

    async def outbox(self, subject: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Return (subject, data) of every staged event, oldest first; only one subject if given."""
        async with self.sessions() as session:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if subject is not None:
                query = query.where(col(OutboxMessage.subject) == subject)
            rows = await session.scalars(query)
            return [(row.subject, json.loads(row.payload)["data"]) for row in rows]

    async def events(self, subject: str, complaint_id: str | None = None) -> list[dict[str, Any]]:
        """Return the data of the staged events with a subject (of one complaint, if given)."""
        return [
            data
            for _, data in await self.outbox(subject)
            if complaint_id is None or data.get("complaint_id") == complaint_id
        ]

    async def notices(self, complaint_id: str) -> list[dict[str, Any]]:
        """Return the contact.cmd.send commands staged for a complaint, oldest first."""
        return await self.events("contact.cmd.send", complaint_id)

    async def tick(self, now: datetime) -> scheduler.PassCounts:
        """Run one scheduler pass at ``now``."""
        return await scheduler.run_once(self.sessions, now=now, source=self.source)

    async def deliver(self, durable: str, payload: EventContract, event_id: str | None = None) -> bool:
        """Hand an event to one of the service's consumers as a delivery would; False if a duplicate."""
        [runner] = [r for r in self.app.state.platform.consumers if r.spec.durable == durable]
        event = new_event(payload, source="/careloop/test", event_id=event_id)
        applied: bool = await runner.apply(event, payload)
        return applied


def desk_settings(database_url: str, nats_url: str, **overrides: Any) -> ComplaintsSettings:
    """Return complaints settings for a test: background work off, coverage-map nowhere unless given."""
    values: dict[str, Any] = {
        "run_background": False,
        "coverage_url": f"http://127.0.0.1:{free_port()}",
    }
    values.update(overrides)
    return service_settings(ComplaintsSettings, database_url, nats_url, **values)

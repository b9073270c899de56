"""Demo data, loaded through the gateway's public API exactly as a user or partner would send it."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from careloop_common.simulate import population as demo

AUDIENCE_IMPORT_TIMEOUT_S = 180.0

# Coverage complaints around Hong Kong, several in the same blocks so investigations gather them.
DEMO_COMPLAINTS: list[dict[str, object]] = [
    {
        "category": "coverage",
        "channel": "call_centre",
        "msisdn": "+85291234567",
        "lat": 22.2819,
        "lng": 114.1582,
        "network": "4G",
        "symptoms": ["call_drop", "weak_signal"],
        "follow_up": True,
        "description": "Calls drop in the office on the 20th floor since Monday",
    },
    {
        "category": "coverage",
        "channel": "web",
        "msisdn": "+85298765432",
        "lat": 22.2821,
        "lng": 114.1585,
        "network": "5G",
        "symptoms": ["slow_data"],
        "follow_up": True,
        "description": "Data crawls at lunchtime near the station exit",
    },
    {
        "category": "coverage",
        "channel": "shop",
        "msisdn": "+85261234567",
        "lat": 22.3193,
        "lng": 114.1694,
        "network": "4G",
        "symptoms": ["no_signal"],
        "follow_up": True,
        "address": "Mong Kok, basement car park",
    },
    {
        "category": "coverage",
        "channel": "call_centre",
        "msisdn": "+85251234567",
        "lat": 22.3964,
        "lng": 114.1095,
        "network": "4G",
        "symptoms": ["poor_voice", "call_drop"],
        "follow_up": True,
    },
    {
        "category": "billing",
        "channel": "email",
        "msisdn": "+85290123456",
        "description": "Charged twice for the roaming pass in October",
    },
]


# One local staff user per role, so every console can be tried. Demo only: change or disable them
# (PATCH /gateway/v1/users/<name>) on anything reachable by others.
# Network cells at the demo complaints' places and in Fuzhou: an incident can be declared by them
# (campaigns' cell-site registry), and network feeds may name them by cell id.
DEMO_CELL_SITES: list[dict[str, object]] = [
    {"cell_id": "454-06-1001-11", "lat": 22.2819, "lng": 114.1582, "name": "Central"},
    {"cell_id": "454-06-1001-12", "lat": 22.2821, "lng": 114.1588, "name": "Central east"},
    {"cell_id": "454-06-2002-21", "lat": 22.3193, "lng": 114.1694, "name": "Mong Kok"},
    {"cell_id": "454-06-3003-31", "lat": 22.3964, "lng": 114.1095, "name": "Tsuen Wan"},
    {"cell_id": "460-00-1234567-12", "lat": 26.0745, "lng": 119.2965, "name": "Fuzhou Gulou"},
]

DEMO_PASSWORD = "careloop-demo-password"  # noqa: S105 - published demo credential
DEMO_USERS: list[dict[str, object]] = [
    {"username": "agent", "display_name": "Ada Agent", "roles": ["agent"]},
    {"username": "engineer", "display_name": "Eli Engineer", "roles": ["engineer"]},
    {"username": "marketer", "display_name": "Mia Marketer", "roles": ["marketer"]},
    {"username": "supervisor", "display_name": "Sam Supervisor", "roles": ["supervisor"]},
    {"username": "admin", "display_name": "Ari Admin", "roles": ["admin"]},
]


class DemoDataError(RuntimeError):
    """The platform refused a demo record (a bug in the demo data or in the platform)."""


@dataclass(frozen=True)
class DemoLoaded:
    """What the demo load put in."""

    complaints: int
    plans: int
    subscribers: int
    cell_sites: int = 0

    def __str__(self) -> str:
        """Say it in one line."""
        return (
            f"{self.complaints} complaints, {self.plans} plans, {self.subscribers:,} subscribers, "
            f"{self.cell_sites} cell sites"
        )


def load_demo(gateway_url: str, admin_key: str) -> DemoLoaded:
    """Create the demo staff users, file the demo complaints and load the audience (idempotently)."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=10) as client:
        filed = _file_complaints(client)
        plans, subscribers = _load_audience(client)
        sites = _load_cell_sites(client)
    return DemoLoaded(filed, plans, subscribers, sites)


def _file_complaints(client: httpx.Client) -> int:
    """Create the demo users and file the demo complaints; return how many were filed."""
    filed = 0
    for user in DEMO_USERS:
        response = client.post("/gateway/v1/users", json={**user, "password": DEMO_PASSWORD})
        if response.status_code not in (201, 409):  # 409: made by an earlier, interrupted load
            raise DemoDataError(
                f"demo user {user['username']} refused ({response.status_code}): {response.text}"
            )
    for number, complaint in enumerate(DEMO_COMPLAINTS):
        response = client.post(
            "/complaints/v1/complaints",
            json=complaint,
            headers={"Idempotency-Key": f"demo-complaint-{number}"},
        )
        if response.status_code >= 400:
            raise DemoDataError(f"demo complaint {number} refused ({response.status_code}): {response.text}")
        filed += 1
    return filed


def _load_audience(client: httpx.Client) -> tuple[int, int]:
    """Put the demo plan catalogue and import the generated audience as a file; return the counts.

    The rows come from the shared simulator (seeded, so every demo has the same subscribers).
    """
    for plan_id, terms in demo.DEMO_PLANS.items():
        response = client.put(f"/campaigns/v1/plans/{plan_id}", json=terms)
        if response.status_code not in (200, 201):
            raise DemoDataError(f"demo plan {plan_id} refused ({response.status_code}): {response.text}")
    with tempfile.TemporaryDirectory(prefix="careloop-demo-") as folder:
        path = Path(folder) / "demo-audience.csv"
        demo.write_csv(path, demo.audience_rows())
        with path.open("rb") as file:
            response = client.post("/campaigns/v1/imports", files={"file": (path.name, file, "text/csv")})
    if response.status_code != 202:
        raise DemoDataError(f"demo audience refused ({response.status_code}): {response.text}")
    job = _finished(client, response.headers["location"])
    if job["status"] != "done" or job["rows_rejected"]:
        raise DemoDataError(
            f"demo audience import {job['status']}: {job.get('failure') or job['errors'][:3]}"
        )
    return len(demo.DEMO_PLANS), int(job["rows_imported"])


def _load_cell_sites(client: httpx.Client) -> int:
    """Register the demo network cells with campaigns; return how many."""
    response = client.put("/campaigns/v1/cell-sites", json={"items": DEMO_CELL_SITES})
    if response.status_code != 200:
        raise DemoDataError(f"demo cell sites refused ({response.status_code}): {response.text}")
    return int(response.json()["upserted"])


def _finished(client: httpx.Client, location: str) -> dict[str, Any]:
    """Wait for an import job to end and return it."""
    deadline = time.monotonic() + AUDIENCE_IMPORT_TIMEOUT_S
    while True:
        job: dict[str, Any] = client.get(location).json()
        if job["status"] != "running":
            return job
        if time.monotonic() > deadline:
            raise DemoDataError(f"demo audience import still running after {AUDIENCE_IMPORT_TIMEOUT_S:.0f} s")
        time.sleep(0.25)

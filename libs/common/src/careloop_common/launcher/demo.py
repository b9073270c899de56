"""Demo data, loaded through the gateway's public API exactly as a user or partner would send it."""

from __future__ import annotations

import httpx

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


def load_demo(gateway_url: str, admin_key: str) -> int:
    """Create the demo staff users and file the demo complaints through the gateway (idempotently).

    Returns how many complaints were filed.
    """
    headers = {"Authorization": f"Bearer {admin_key}"}
    filed = 0
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=10) as client:
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
                raise DemoDataError(
                    f"demo complaint {number} refused ({response.status_code}): {response.text}"
                )
            filed += 1
    return filed

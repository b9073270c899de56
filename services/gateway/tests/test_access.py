"""Access control through the gateway on real sockets: API keys, staff logins, OIDC, tracking tokens,
partner isolation, the access-control matrix, rate limits shared by replicas, headers, the merged
OpenAPI and feed ingest. Every service runs for real on its own database; NATS is real."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import h3
import httpx
import jwt
import nats
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from campaigns.main import create_app as campaigns_app
from campaigns.settings import CampaignsSettings
from careloop_common.natsserver import NatsServer, free_port
from careloop_common.testing import LiveServer, service_settings, wait_until
from complaints.main import create_app as complaints_app
from complaints.settings import ComplaintsSettings
from contact_gateway.main import create_app as contact_app
from contact_gateway.settings import ContactGatewaySettings
from coverage_map.main import create_app as coverage_app
from coverage_map.settings import CoverageSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0001"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PASSWORD = "a long enough password 42"
ROLES = ("agent", "engineer", "marketer", "supervisor", "admin")
FORM = {
    "category": "coverage",
    "channel": "partner_api",
    "msisdn": "+85291234567",
    "lat": 22.2819,
    "lng": 114.1582,
    "network": "4G",
    "symptoms": ["call_drop"],
    "follow_up": False,
}
PORTAL_FORM = {k: v for k, v in FORM.items() if k != "channel"}


def bearer(token: str) -> dict[str, str]:
    """Return an Authorization header for a bearer credential."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Stack:
    """A running platform: every service and one or more gateway replicas, one NATS."""

    client: httpx.AsyncClient
    urls: dict[str, str]
    gateway_db: str
    nats_url: str
    replicas: list[httpx.AsyncClient] = field(default_factory=list)


def _gateway_settings(urls: dict[str, str], db: str, nats_url: str, **overrides: Any) -> GatewaySettings:
    return service_settings(
        GatewaySettings,
        db,
        nats_url,
        admin_api_key=ADMIN_KEY,
        complaints_url=urls["complaints"],
        coverage_map_url=urls["coverage-map"],
        campaigns_url=urls["campaigns"],
        contact_gateway_url=urls["contact-gateway"],
        web_url=f"http://127.0.0.1:{free_port()}",
        **{
            "rate_limit_window_s": 10**9,  # one window for the whole test: no boundary to straddle
            "rate_limit_sync_interval_s": 0.05,
            "rate_limit_anonymous": 10_000,  # the matrix alone makes hundreds of anonymous calls
            **overrides,
        },
    )


async def start_stack(
    stack: AsyncExitStack, database_url: str, sqlite_url: str, nats_url: str, replicas: int = 1, **gw: Any
) -> Stack:
    """Start the four services and ``replicas`` gateways sharing one database and one NATS."""
    apps: dict[str, FastAPI] = {
        "complaints": complaints_app(service_settings(ComplaintsSettings, database_url, nats_url)),
        "coverage-map": coverage_app(
            service_settings(CoverageSettings, sqlite_url.replace("test.db", "coverage.db"), nats_url)
        ),
        "campaigns": campaigns_app(
            service_settings(CampaignsSettings, sqlite_url.replace("test.db", "campaigns.db"), nats_url)
        ),
        "contact-gateway": contact_app(
            service_settings(ContactGatewaySettings, sqlite_url.replace("test.db", "contact.db"), nats_url)
        ),
    }
    urls = {}
    for name, app in apps.items():
        urls[name] = (await stack.enter_async_context(LiveServer(app))).url
    gateway_db = sqlite_url.replace("test.db", "gateway.db")
    clients = []
    for _ in range(replicas):
        server = await stack.enter_async_context(
            LiveServer(gateway_app(_gateway_settings(urls, gateway_db, nats_url, **gw)))
        )
        clients.append(await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=15)))
        urls.setdefault("gateway", server.url)
    return Stack(clients[0], urls, gateway_db, nats_url, clients)


@pytest.fixture
async def platform(database_url: str, sqlite_url: str, nats_url: str) -> AsyncIterator[Stack]:
    """One gateway in front of every service."""
    async with AsyncExitStack() as stack:
        yield await start_stack(stack, database_url, sqlite_url, nats_url)


async def make_key(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """Create an API key through the admin API."""
    response = await client.post("/gateway/v1/api-keys", headers=ADMIN, json={"name": "test", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_user(client: httpx.AsyncClient, username: str, roles: list[str]) -> None:
    """Create a staff user through the admin API."""
    response = await client.post(
        "/gateway/v1/users",
        headers=ADMIN,
        json={"username": username, "display_name": username.title(), "roles": roles, "password": PASSWORD},
    )
    assert response.status_code == 201, response.text


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Log in as a staff user."""
    return await client.post("/gateway/v1/login", json={"username": username, "password": password})


async def staff_token(client: httpx.AsyncClient, role: str) -> str:
    """Create a user with one role and return a fresh token for them."""
    await make_user(client, f"{role}-user", [role])
    response = await login(client, f"{role}-user")
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Check that a response is the expected RFC 9457 problem document."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["type"] == f"urn:careloop:problem:{slug}"
    assert body["status"] == status
    return body


# --- API keys -------------------------------------------------------------------------------------


async def test_api_key_lifecycle_create_use_rotate_revoke(platform: Stack) -> None:
    client = platform.client
    key = await make_key(client, partner_id="acme", scopes=["complaints:read", "complaints:write"])
    assert key["token"].startswith(f"clk_{key['id']}_")
    assert key["partner_id"] == "acme"
    me = await client.get("/gateway/v1/me", headers=bearer(key["token"]))
    assert me.status_code == 200
    assert me.json() == {
        "subject": f"key:{key['id']}",
        "kind": "api_key",
        "roles": ["partner"],
        "scopes": ["complaints:read", "complaints:write"],
        "partner_id": "acme",
    }

    listed = await client.get("/gateway/v1/api-keys", headers=ADMIN)
    assert [k["id"] for k in listed.json()["items"]] == [key["id"]]
    assert "token" not in listed.text
    assert key["token"].split("_", 2)[2] not in listed.text

    # Only a hash of the secret is stored.
    engine = create_async_engine(platform.gateway_db)
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret_hash FROM api_key"))).scalar_one()
    await engine.dispose()
    assert len(stored) == 64
    assert key["token"] not in stored

    rotated = await client.post(
        f"/gateway/v1/api-keys/{key['id']}/rotate", headers=ADMIN, json={"grace_seconds": 600}
    )
    assert rotated.status_code == 200, rotated.text
    new_token = rotated.json()["token"]
    assert new_token != key["token"]
    for token in (key["token"], new_token):  # the old one works during the grace period
        assert (await client.get("/gateway/v1/me", headers=bearer(token))).status_code == 200

    again = await client.post(f"/gateway/v1/api-keys/{key['id']}/rotate", headers=ADMIN, json={})
    newest = again.json()["token"]
    assert_problem(await client.get("/gateway/v1/me", headers=bearer(new_token)), 401, "unauthorized")
    assert (await client.get("/gateway/v1/me", headers=bearer(newest))).status_code == 200

    revoked = await client.delete(f"/gateway/v1/api-keys/{key['id']}", headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    body = assert_problem(await client.get("/gateway/v1/me", headers=bearer(newest)), 401, "unauthorized")
    assert "revoked" in body["detail"]
    assert (
        await client.post(f"/gateway/v1/api-keys/{key['id']}/rotate", headers=ADMIN, json={})
    ).status_code == 409


async def test_api_key_requests_are_validated(platform: Stack) -> None:
    client = platform.client
    unknown = await client.post(
        "/gateway/v1/api-keys", headers=ADMIN, json={"name": "x", "scopes": ["complaints:everything"]}
    )
    body = assert_problem(unknown, 422, "validation-error")
    assert "unknown scope" in json.dumps(body["errors"])
    past = await client.post(
        "/gateway/v1/api-keys",
        headers=ADMIN,
        json={"name": "x", "scopes": ["complaints:read"], "expires_at": "2001-01-01T00:00:00Z"},
    )
    assert_problem(past, 422, "rule-violated")
    assert (await client.get("/gateway/v1/api-keys", headers=ADMIN)).json()["total"] == 0  # nothing half-made
    assert_problem(await client.get("/gateway/v1/api-keys/nope", headers=ADMIN), 404, "not-found")
    wrong = await client.get("/gateway/v1/me", headers=bearer("clk_0123456789ab_not-the-secret"))
    assert_problem(wrong, 401, "unauthorized")
    assert "invalid_token" in wrong.headers["www-authenticate"]
    assert_problem(
        await client.get("/gateway/v1/me", headers={"Authorization": "Basic abc"}), 401, "unauthorized"
    )


# --- staff users and tokens -----------------------------------------------------------------------


async def test_staff_login_roles_and_disabling(platform: Stack) -> None:
    client = platform.client
    await make_user(client, "mei", ["agent"])
    assert_problem(await login(client, "mei", "wrong password here"), 401, "unauthorized")
    assert_problem(await login(client, "nobody"), 401, "unauthorized")
    response = await login(client, "mei")
    assert response.status_code == 200, response.text
    issued = response.json()
    assert issued["roles"] == ["agent"]
    assert "complaints:write" in issued["scopes"]
    token = issued["access_token"]
    me = await client.get("/gateway/v1/me", headers=bearer(token))
    assert me.json()["subject"] == "mei"
    assert me.json()["kind"] == "staff"

    engine = create_async_engine(platform.gateway_db)
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT password_hash FROM staff_user"))).scalar_one()
    await engine.dispose()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored

    # A role change applies to tokens already issued; disabling stops them.
    promoted = await client.patch("/gateway/v1/users/mei", headers=ADMIN, json={"roles": ["engineer"]})
    assert promoted.status_code == 200
    assert "coverage:write" in (await client.get("/gateway/v1/me", headers=bearer(token))).json()["scopes"]
    await client.patch("/gateway/v1/users/mei", headers=ADMIN, json={"disabled": True})
    assert_problem(await client.get("/gateway/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert_problem(await login(client, "mei"), 401, "unauthorized")

    duplicate = await client.post(
        "/gateway/v1/users",
        headers=ADMIN,
        json={"username": "mei", "display_name": "Mei", "roles": ["agent"], "password": PASSWORD},
    )
    assert_problem(duplicate, 409, "conflict")
    short = await client.post(
        "/gateway/v1/users",
        headers=ADMIN,
        json={"username": "kai", "display_name": "Kai", "roles": ["wizard"], "password": "short"},
    )
    assert_problem(short, 422, "validation-error")


async def test_tokens_from_a_trusted_oidc_issuer(database_url: str, sqlite_url: str, nats_url: str) -> None:
    """A corporate identity provider's tokens are accepted, checked against its published keys."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    idp = FastAPI()

    @idp.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    issuer = "https://idp.example.test/realms/care"

    def token(signer: rsa.RSAPrivateKey, roles: list[str], audience: str = "careloop") -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": "u-17",
            "preferred_username": "lin",
            "realm_access": {"roles": roles},
            "iat": now,
            "exp": now + 300,
        }
        return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "k1"})

    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(LiveServer(idp))
        platform = await start_stack(
            stack,
            database_url,
            sqlite_url,
            nats_url,
            oidc_issuer=issuer,
            oidc_jwks_url=f"{server.url}/jwks",
            oidc_roles_claim="realm_access.roles",
        )
        client = platform.client
        engineer = bearer(token(key, ["engineer"]))
        me = await client.get("/gateway/v1/me", headers=engineer)
        assert me.status_code == 200, me.text
        assert me.json()["subject"] == "lin"
        assert me.json()["roles"] == ["engineer"]
        assert (await client.get("/coverage/v1/investigations", headers=engineer)).status_code == 200
        assert_problem(
            await client.post("/complaints/v1/complaints", headers=engineer, json=FORM), 403, "forbidden"
        )
        forged = bearer(token(other, ["admin"]))
        assert_problem(await client.get("/gateway/v1/me", headers=forged), 401, "unauthorized")
        wrong_audience = bearer(token(key, ["admin"], audience="someone-else"))
        assert_problem(await client.get("/gateway/v1/me", headers=wrong_audience), 401, "unauthorized")


# --- tracking tokens and partner isolation -------------------------------------------------------


async def test_tracking_token_opens_one_complaint_only(platform: Stack) -> None:
    client = platform.client
    receipts = []
    for symptom in ("no_signal", "slow_data"):
        response = await client.post(
            "/complaints/v1/portal/complaints", json={**PORTAL_FORM, "symptoms": [symptom]}
        )
        assert response.status_code == 201, response.text
        receipts.append(response.json())
    for receipt, symptom in zip(receipts, ("no_signal", "slow_data"), strict=True):
        mine = await client.get("/complaints/v1/portal/complaint", headers=bearer(receipt["tracking_token"]))
        assert mine.status_code == 200, mine.text
        assert mine.json()["reference"] == receipt["reference"]
        assert mine.json()["symptoms"] == [symptom]
        assert mine.json()["msisdn_masked"] == "+852******67"
        assert "msisdn" not in mine.json()

    token = bearer(receipts[0]["tracking_token"])
    assert_problem(await client.get("/complaints/v1/complaints", headers=token), 403, "forbidden")
    assert_problem(await client.get("/coverage/v1/investigations", headers=token), 403, "forbidden")
    tampered = bearer(receipts[0]["tracking_token"][:-2] + "xx")
    assert_problem(await client.get("/complaints/v1/portal/complaint", headers=tampered), 404, "not-found")
    assert_problem(await client.get("/complaints/v1/portal/complaint"), 401, "unauthorized")
    # Staff-filed complaints get a token for the customer too.
    filed = await client.post("/complaints/v1/complaints", headers=ADMIN, json=FORM)
    opened = await client.get(
        "/complaints/v1/portal/complaint", headers=bearer(filed.json()["tracking_token"])
    )
    assert opened.json()["reference"] == filed.json()["reference"]


async def test_partners_never_see_each_others_complaints(platform: Stack) -> None:
    client = platform.client
    scopes = ["complaints:read", "complaints:write"]
    acme = bearer((await make_key(client, partner_id="acme", scopes=scopes))["token"])
    globex = bearer((await make_key(client, partner_id="globex", scopes=scopes))["token"])
    acme_ids = [
        (await client.post("/complaints/v1/complaints", headers=acme, json=FORM)).json()["id"]
        for _ in range(2)
    ]
    globex_id = (await client.post("/complaints/v1/complaints", headers=globex, json=FORM)).json()["id"]

    acme_list = (await client.get("/complaints/v1/complaints", headers=acme)).json()
    assert sorted(c["id"] for c in acme_list["items"]) == sorted(acme_ids)
    assert acme_list["total"] == 2
    globex_list = (await client.get("/complaints/v1/complaints", headers=globex)).json()
    assert [c["id"] for c in globex_list["items"]] == [globex_id]
    for complaint_id in acme_ids:
        assert_problem(
            await client.get(f"/complaints/v1/complaints/{complaint_id}", headers=globex), 404, "not-found"
        )
    assert (await client.get(f"/complaints/v1/complaints/{globex_id}", headers=globex)).status_code == 200
    # Staff see every partner's complaints.
    agent = bearer(await staff_token(client, "agent"))
    assert (await client.get("/complaints/v1/complaints", headers=agent)).json()["total"] == 3


# --- the access-control matrix --------------------------------------------------------------------

EVERYONE = {"anonymous", "customer", "partner", "feeds", *ROLES}
AUTHENTICATED = EVERYONE - {"anonymous"}
COMPLAINT_READERS = {"agent", "engineer", "supervisor", "admin", "partner"}
COMPLAINT_WRITERS = {"agent", "supervisor", "admin", "partner"}
COMPLAINT_TAKERS = {"agent", "supervisor", "admin"}  # partners file complaints; care staff take them
COVERAGE_READERS = {"agent", "engineer", "marketer", "supervisor", "admin"}
COVERAGE_WRITERS = {"engineer", "admin"}
CAMPAIGN_READERS = {"marketer", "supervisor", "admin"}
CAMPAIGN_WRITERS = {"marketer", "admin"}  # supervisors approve campaigns; they do not run them
CAMPAIGN_MOVERS = CAMPAIGN_WRITERS | {"supervisor"}  # marketers submit and run, supervisors approve
CONTACT_READERS = {"agent", "marketer", "supervisor", "admin"}
CONTACT_WRITERS = {"admin"}  # other services send through commands; partners get keys with contact:write
CONTACT_DIALERS = {"agent", "supervisor", "admin"}
TMF681 = "/tmf-api/communicationManagement/v4/communicationMessage"
TMF621 = "/tmf-api/troubleTicket/v5"

# Every operation the gateway publishes, and who may call it. A new route fails the test until it
# is added here: access is decided on purpose, not by accident.
MATRIX: dict[tuple[str, str], set[str]] = {
    ("POST", "/complaints/v1/complaints"): COMPLAINT_WRITERS,
    ("GET", "/complaints/v1/complaints"): COMPLAINT_READERS,
    ("GET", "/complaints/v1/complaints/{complaint_id}"): COMPLAINT_READERS,
    ("GET", "/complaints/v1/complaints/{complaint_id}/history"): COMPLAINT_READERS,
    ("POST", "/complaints/v1/complaints/{complaint_id}/status"): COMPLAINT_WRITERS,
    ("POST", "/complaints/v1/complaints/{complaint_id}/transfer"): COMPLAINT_WRITERS,
    ("POST", "/complaints/v1/complaints/{complaint_id}/take"): COMPLAINT_TAKERS,
    ("POST", "/complaints/v1/complaints/{complaint_id}/revisit"): COMPLAINT_WRITERS,
    ("GET", "/complaints/v1/queue"): COMPLAINT_READERS,
    ("GET", "/complaints/v1/reports/summary"): COMPLAINT_READERS,
    ("GET", "/complaints/v1/reports/breakdown"): COMPLAINT_READERS,
    ("GET", "/complaints/v1/reports/breakdown.csv"): COMPLAINT_READERS,
    ("GET", "/complaints/v1/reports/handlers"): COMPLAINT_READERS,
    ("POST", "/complaints/v1/portal/complaints"): {"anonymous", "customer", "admin"},
    ("GET", "/complaints/v1/portal/complaint"): {"customer"},
    ("POST", TMF621 + "/troubleTicket"): COMPLAINT_WRITERS,
    ("GET", TMF621 + "/troubleTicket"): COMPLAINT_READERS,
    ("GET", TMF621 + "/troubleTicket/{ticket_id}"): COMPLAINT_READERS,
    ("PATCH", TMF621 + "/troubleTicket/{ticket_id}"): COMPLAINT_WRITERS,
    ("DELETE", TMF621 + "/troubleTicket/{ticket_id}"): COMPLAINT_WRITERS,
    ("POST", TMF621 + "/hub"): COMPLAINT_WRITERS,
    ("GET", TMF621 + "/hub/{hub_id}"): COMPLAINT_READERS,
    ("DELETE", TMF621 + "/hub/{hub_id}"): COMPLAINT_WRITERS,
    ("GET", "/coverage/v1/investigations"): COVERAGE_READERS,
    ("GET", "/coverage/v1/investigations/{investigation_id}"): COVERAGE_READERS,
    ("GET", "/coverage/v1/queue"): COVERAGE_READERS,
    ("GET", "/coverage/v1/lookup"): COVERAGE_READERS,
    ("GET", "/coverage/v1/areas/{area_id}/lookup"): COVERAGE_READERS,
    ("GET", "/coverage/v1/areas/{area_id}"): COVERAGE_READERS,
    ("POST", "/coverage/v1/areas/{area_id}/assessments"): COVERAGE_WRITERS,
    ("POST", "/coverage/v1/areas/{area_id}/plans"): COVERAGE_WRITERS,
    ("PATCH", "/coverage/v1/plans/{plan_id}"): COVERAGE_WRITERS,
    ("PUT", "/coverage/v1/areas/{area_id}/wording/drafts/{language}"): COVERAGE_WRITERS,
    ("POST", "/coverage/v1/areas/{area_id}/wording/publish"): COVERAGE_WRITERS,
    ("PUT", "/coverage/v1/districts/{district_id}"): COVERAGE_WRITERS,
    ("GET", "/coverage/v1/hotspots"): COVERAGE_READERS,
    ("GET", "/coverage/v1/hotspots/trends"): COVERAGE_READERS,
    ("GET", "/coverage/v1/hotspots/geojson"): COVERAGE_READERS,
    ("GET", "/coverage/v1/public/lookup"): EVERYONE,
    ("GET", "/coverage/v1/public/plans"): EVERYONE,
    ("POST", "/coverage/v1/cell-site-imports"): COVERAGE_WRITERS,
    ("POST", "/coverage/v1/coverage-polygon-imports"): COVERAGE_WRITERS,
    ("GET", "/coverage/v1/imports"): COVERAGE_READERS,
    ("GET", "/coverage/v1/imports/{import_id}"): COVERAGE_READERS,
    ("GET", "/campaigns/v1/plans"): CAMPAIGN_READERS,
    ("PUT", "/campaigns/v1/plans/{plan_id}"): CAMPAIGN_WRITERS,
    ("POST", "/campaigns/v1/models/recompute"): CAMPAIGN_WRITERS,
    ("GET", "/campaigns/v1/subscribers/{msisdn}/models"): CAMPAIGN_READERS,
    ("POST", "/campaigns/v1/campaigns"): CAMPAIGN_WRITERS,
    ("GET", "/campaigns/v1/campaigns"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/campaigns/{campaign_id}"): CAMPAIGN_READERS,
    ("PATCH", "/campaigns/v1/campaigns/{campaign_id}"): CAMPAIGN_WRITERS,
    ("POST", "/campaigns/v1/campaigns/{campaign_id}/moves"): CAMPAIGN_MOVERS,
    ("GET", "/campaigns/v1/campaigns/{campaign_id}/steps"): CAMPAIGN_READERS,
    ("POST", "/campaigns/v1/campaigns/{campaign_id}/runs"): CAMPAIGN_WRITERS,
    ("GET", "/campaigns/v1/campaigns/{campaign_id}/counts"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/campaigns/{campaign_id}/evaluation"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/contact-frequency"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/catalogue"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/subscribers/{msisdn}"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/subscribers/{msisdn}/summary"): {"agent", "supervisor", "admin"},
    ("POST", "/campaigns/v1/imports"): CAMPAIGN_WRITERS,
    ("GET", "/campaigns/v1/imports/{import_id}"): CAMPAIGN_READERS,
    ("POST", "/campaigns/v1/segments"): CAMPAIGN_WRITERS,
    ("GET", "/campaigns/v1/segments"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/segments/{segment_id}"): CAMPAIGN_READERS,
    ("PUT", "/campaigns/v1/segments/{segment_id}"): CAMPAIGN_WRITERS,
    ("POST", "/campaigns/v1/segments/preview"): CAMPAIGN_READERS,  # a query sent as a body
    # Major-event care: declared, closed and recorded by those who run or approve campaigns.
    ("POST", "/campaigns/v1/incidents"): CAMPAIGN_MOVERS,
    ("GET", "/campaigns/v1/incidents"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/incidents/{incident_id}"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/incidents/{incident_id}/people"): CAMPAIGN_READERS,
    ("POST", "/campaigns/v1/incidents/{incident_id}/people/{msisdn}/outcome"): CAMPAIGN_MOVERS,
    ("POST", "/campaigns/v1/incidents/{incident_id}/close"): CAMPAIGN_MOVERS,
    ("GET", "/campaigns/v1/incidents/{incident_id}/report"): CAMPAIGN_READERS,
    # The cell-site registry incidents resolve network cells through: configuration, like plans.
    ("PUT", "/campaigns/v1/cell-sites"): CAMPAIGN_WRITERS,
    ("GET", "/campaigns/v1/cell-sites"): CAMPAIGN_READERS,
    ("GET", "/campaigns/v1/cell-sites/{cell_id}"): CAMPAIGN_READERS,
    ("POST", "/contact/v1/requests"): CONTACT_WRITERS,
    ("POST", "/contact/v1/request-batches"): CONTACT_WRITERS,
    ("GET", "/contact/v1/requests"): CONTACT_READERS,
    ("GET", "/contact/v1/requests/{request_id}"): CONTACT_READERS,
    ("POST", "/contact/v1/requests/{request_id}/cancel"): CONTACT_WRITERS,
    ("GET", "/contact/v1/opt-outs"): CONTACT_READERS,
    ("PUT", "/contact/v1/opt-outs"): CONTACT_WRITERS,
    ("GET", "/contact/v1/replies"): CONTACT_READERS,
    ("POST", "/contact/v1/dialer/claim"): CONTACT_DIALERS,
    ("POST", "/contact/v1/calls/{request_id}/outcome"): CONTACT_DIALERS,
    ("POST", "/contact/v1/calls/{request_id}/release"): CONTACT_DIALERS,
    ("GET", "/contact/v1/templates"): CONTACT_READERS,
    ("PUT", "/contact/v1/templates/{template_id}/{language}"): CONTACT_WRITERS,
    ("GET", "/contact/v1/stats"): CONTACT_READERS,
    ("GET", "/contact/v1/connectors"): CONTACT_READERS,
    ("POST", TMF681): CONTACT_WRITERS,
    ("GET", TMF681): CONTACT_READERS,
    ("GET", TMF681 + "/{message_id}"): CONTACT_READERS,
    ("DELETE", TMF681 + "/{message_id}"): CONTACT_WRITERS,
    ("POST", "/feeds/v1/events"): {"feeds", "admin"},
    ("POST", "/gateway/v1/login"): EVERYONE,
    ("GET", "/gateway/v1/me"): AUTHENTICATED,
    ("POST", "/gateway/v1/api-keys"): {"admin"},
    ("GET", "/gateway/v1/api-keys"): {"admin"},
    ("GET", "/gateway/v1/api-keys/{key_id}"): {"admin"},
    ("POST", "/gateway/v1/api-keys/{key_id}/rotate"): {"admin"},
    ("DELETE", "/gateway/v1/api-keys/{key_id}"): {"admin"},
    ("POST", "/gateway/v1/users"): {"admin"},
    ("GET", "/gateway/v1/users"): {"admin"},
    ("GET", "/gateway/v1/users/{username}"): {"admin"},
    ("PATCH", "/gateway/v1/users/{username}"): {"admin"},
}


async def test_access_control_matrix(platform: Stack) -> None:
    """Every published route by every kind of caller: allowed means past authorization, denied 401/403."""
    client = platform.client
    callers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in ROLES:
        callers[role] = bearer(await staff_token(client, role))
    partner = await make_key(client, partner_id="acme", scopes=["complaints:read", "complaints:write"])
    callers["partner"] = bearer(partner["token"])
    callers["feeds"] = bearer((await make_key(client, name="bss", scopes=["feeds:write"]))["token"])
    receipt = (await client.post("/complaints/v1/portal/complaints", json=PORTAL_FORM)).json()
    callers["customer"] = bearer(receipt["tracking_token"])
    filed_response = await client.post("/complaints/v1/complaints", headers=callers["partner"], json=FORM)
    assert filed_response.status_code == 201, filed_response.text
    filed = filed_response.json()
    values = {
        "complaint_id": filed["id"],
        "ticket_id": filed["id"],
        "hub_id": "none",
        "investigation_id": "none",
        "import_id": "none",
        "key_id": partner["id"],
        "username": "agent-user",
        "area_id": h3.latlng_to_cell(FORM["lat"], FORM["lng"], 8),
        "district_id": h3.latlng_to_cell(FORM["lat"], FORM["lng"], 6),
        "plan_id": "none",
        "language": "en",
        "request_id": "none",
        "message_id": "none",
        "template_id": "x",
        "msisdn": "+85291234567",
        "campaign_id": "00000000-0000-0000-0000-000000000000",
        "segment_id": "none",
        "incident_id": "none",
        "cell_id": "460-00-1234567-12",
    }

    published = await whole_openapi(client)
    operations = {
        (method.upper(), path)
        for path, item in published["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations == set(MATRIX), f"routes missing from the matrix: {operations ^ set(MATRIX)}"

    wrong: list[str] = []
    for (method, template), allowed in sorted(MATRIX.items()):
        path = template.format(**values)
        for name, headers in callers.items():
            if method == "DELETE" or path.endswith("/rotate"):
                # Send the change to a key made for this request, so the matrix does not revoke its own.
                spare = await make_key(client, scopes=["complaints:read"])
                path = template.format(**{**values, "key_id": spare["id"]})
            body: dict[str, object] | None = {} if method in ("POST", "PATCH", "PUT") else None
            response = await client.request(method, path, headers=headers, json=body)
            denied = response.status_code in (401, 403)
            if denied == (name in allowed) or response.status_code >= 500:
                wrong.append(f"{method} {template} as {name}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


async def test_services_enforce_scopes_themselves(platform: Stack) -> None:
    """Defence in depth: a service called directly, bypassing the gateway, still refuses."""
    async with httpx.AsyncClient(base_url=platform.urls["complaints"]) as direct:
        assert_problem(await direct.get("/complaints/v1/complaints"), 401, "unauthorized")
        assert_problem(
            await direct.get("/complaints/v1/complaints", headers={"X-Careloop-Principal": "forged"}),
            401,
            "unauthorized",
        )


async def test_a_read_only_key_previews_a_segment_but_cannot_save_one(platform: Stack) -> None:
    """A segment preview is a read sent as a POST: campaigns:read is enough; saving is not."""
    key = await make_key(platform.client, scopes=["campaigns:read"])
    tree = {"conditions": {"field": "balance", "op": "<", "value": 10}}
    preview = await platform.client.post(
        "/campaigns/v1/segments/preview", headers=bearer(key["token"]), json=tree
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["count"] == 0
    saved = await platform.client.post(
        "/campaigns/v1/segments", headers=bearer(key["token"]), json={"name": "low", **tree}
    )
    assert_problem(saved, 403, "forbidden")


# --- rate limits ----------------------------------------------------------------------------------


async def test_rate_limit_is_shared_by_gateway_replicas(
    database_url: str, sqlite_url: str, nats_url: str
) -> None:
    async with AsyncExitStack() as stack:
        platform = await start_stack(stack, database_url, sqlite_url, nats_url, replicas=2)
        one, two = platform.replicas
        key = await make_key(one, scopes=["complaints:read"], rate_limit_per_minute=5)
        headers = bearer(key["token"])
        for remaining in (4, 3, 2):
            response = await one.get("/gateway/v1/me", headers=headers)
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "5"
            assert response.headers["ratelimit-remaining"] == str(remaining)

        nc = await nats.connect(nats_url)
        kv = await nc.jetstream().key_value("RATELIMITS")

        async def flushed() -> bool:
            try:
                keys = await kv.keys()
            except nats.js.errors.NoKeysError:
                return False
            return any([int((await kv.get(k)).value or b"0") == 3 for k in keys])

        await wait_until(flushed, message="replica one's count in the shared bucket")
        await nc.close()
        # Replica two has never seen this key, yet knows three are spent.
        for _ in range(2):
            assert (await two.get("/gateway/v1/me", headers=headers)).status_code == 200
        refused = await two.get("/gateway/v1/me", headers=headers)
        assert_problem(refused, 429, "rate-limited")
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["ratelimit-remaining"] == "0"
        # Another caller is not affected.
        assert (await two.get("/gateway/v1/me", headers=ADMIN)).status_code == 200


async def test_anonymous_portal_calls_are_limited_per_client_ip(
    database_url: str, sqlite_url: str, nats_url: str
) -> None:
    async with AsyncExitStack() as stack:
        platform = await start_stack(stack, database_url, sqlite_url, nats_url, rate_limit_anonymous=3)
        client = platform.client
        statuses = [
            (await client.post("/complaints/v1/portal/complaints", json=PORTAL_FORM)).status_code
            for _ in range(4)
        ]
        assert statuses == [201, 201, 201, 429]
        assert_problem(await login(client, "someone"), 429, "rate-limited")  # logins count as anonymous
        # Staff are limited by who they are, not where they call from.
        assert (await client.get("/complaints/v1/complaints", headers=ADMIN)).status_code == 200


# --- headers, CORS, logs --------------------------------------------------------------------------


async def test_security_headers_request_ids_and_cors(platform: Stack) -> None:
    client = platform.client
    response = await client.get("/gateway/v1/me", headers=ADMIN)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert len(response.headers["x-request-id"]) >= 16
    refused = await client.get("/gateway/v1/me")
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["x-request-id"]
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "careloop API" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert (await client.get("/docs/assets/docs.js")).status_code == 200

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = await client.options(
        "/complaints/v1/complaints", headers={"Origin": "http://localhost:8080", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8080"
    evil = await client.options(
        "/complaints/v1/complaints", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in evil.headers


async def test_access_log_has_no_secrets_or_full_numbers(
    platform: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    client = platform.client
    key = await make_key(client, scopes=["complaints:read"])
    with caplog.at_level(logging.INFO, logger="careloop.access"):
        await client.get("/complaints/v1/complaints?msisdn=%2B85291234567", headers=bearer(key["token"]))
        await client.get("/contact/v1/opt-outs?msisdn=%2B85291234567", headers=ADMIN)
    lines = [r for r in caplog.records if r.name == "careloop.access"]
    assert len(lines) >= 2
    text_logged = " ".join(json.dumps(r.__dict__, default=str) for r in lines)
    assert "91234567" not in text_logged
    assert key["token"] not in text_logged
    assert key["token"].split("_", 2)[2] not in text_logged
    assert ADMIN_KEY not in text_logged
    assert f"key:{key['id']}" in text_logged  # who called is still recorded


# --- the merged OpenAPI ---------------------------------------------------------------------------


async def whole_openapi(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the merged OpenAPI once it holds every service's part: a service builds its own
    document at the first request, which on a busy machine can outlast the gateway's 3 s wait (the
    gateway then marks the service unavailable in the document and asks again next time)."""

    async def whole() -> dict[str, Any] | None:
        document: dict[str, Any] = (await client.get("/openapi.json", headers=headers)).json()
        return None if "x-careloop-unavailable" in document["info"] else document

    document: dict[str, Any] = await wait_until(whole, timeout_s=60, message="every service's OpenAPI")
    return document


async def test_one_merged_openapi_marks_what_the_caller_may_call(platform: Stack) -> None:
    client = platform.client
    document = await whole_openapi(client)
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert "/complaints/v1/complaints" in paths
    assert "/coverage/v1/investigations" in paths
    assert "/gateway/v1/api-keys" in paths
    assert "/feeds/v1/events" in paths
    assert not any(p in paths for p in ("/healthz", "/readyz", "/metrics"))
    assert set(document["components"]["securitySchemes"]) == {"apiKey", "staffToken", "trackingToken"}
    post = paths["/complaints/v1/complaints"]["post"]
    assert post["x-careloop-scopes"] == ["complaints:write"]
    assert {"apiKey": ["complaints:write"]} in post["security"]
    assert "x-careloop-allowed" not in post  # anonymous: nothing to mark
    refs = json.dumps(document)
    for ref in {r.split('"')[0] for r in refs.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in document["components"]["schemas"], f"dangling $ref {ref}"

    partner = await make_key(client, partner_id="acme", scopes=["complaints:read"])
    marked = (await client.get("/openapi.json", headers=bearer(partner["token"]))).json()
    assert marked["info"]["x-careloop-caller"]["partner_id"] == "acme"
    assert marked["paths"]["/complaints/v1/complaints"]["get"]["x-careloop-allowed"] is True
    assert marked["paths"]["/complaints/v1/complaints"]["post"]["x-careloop-allowed"] is False
    assert marked["paths"]["/coverage/v1/investigations"]["get"]["x-careloop-allowed"] is False


# --- feed ingest ----------------------------------------------------------------------------------


def feed_event(number: int, **overrides: Any) -> dict[str, Any]:
    """Return a balance-changed feed event as a CloudEvents envelope."""
    return {
        "specversion": "1.0",
        "id": f"bal-{number}",
        "source": "/operator/bss",
        "type": "feeds.bss.balance_changed.v1",
        "time": "2026-11-23T08:00:00Z",
        "data": {"msisdn": "+85291234567", "balance": 12.5 + number, "at": "2026-11-23T08:00:00Z"},
        **overrides,
    }


async def stored_feed_events(nats_url: str) -> int:
    """Count the messages on the FEEDS stream."""
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info("FEEDS")).state.messages)
    finally:
        await nc.close()


async def test_feed_batches_land_on_the_feeds_stream_once(platform: Stack) -> None:
    client = platform.client
    feeds = bearer((await make_key(client, name="bss", scopes=["feeds:write"]))["token"])
    batch = [feed_event(n) for n in range(3)]
    first = await client.post("/feeds/v1/events", headers=feeds, json=batch)
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 3, "duplicates": 0}
    again = await client.post("/feeds/v1/events", headers=feeds, json=[*batch, feed_event(3)])
    assert again.json() == {"accepted": 1, "duplicates": 3}
    assert await stored_feed_events(platform.nats_url) == 4

    half_bad = [feed_event(10), feed_event(11, type="billing.balance")]
    assert_problem(
        await client.post("/feeds/v1/events", headers=feeds, json=half_bad), 422, "validation-error"
    )
    assert_problem(await client.post("/feeds/v1/events", headers=feeds, json=[]), 422, "validation-error")
    assert await stored_feed_events(platform.nats_url) == 4  # nothing of a refused batch was stored


async def test_feed_ingest_without_a_broker_is_a_503_and_a_resend_stores_once(
    database_url: str, sqlite_url: str, tmp_path: Any
) -> None:
    port = free_port()
    nats_server = NatsServer(store_dir=tmp_path / "js", port=port)
    nats_server.start()
    url = f"nats://127.0.0.1:{port}"
    try:
        async with AsyncExitStack() as stack:
            platform = await start_stack(stack, database_url, sqlite_url, url)
            feeds = bearer((await make_key(platform.client, scopes=["feeds:write"]))["token"])
            nats_server.stop()
            down = await platform.client.post("/feeds/v1/events", headers=feeds, json=[feed_event(1)])
            assert_problem(down, 503, "service-unavailable")
            nats_server.start()

            async def accepted() -> httpx.Response | None:
                response = await platform.client.post("/feeds/v1/events", headers=feeds, json=[feed_event(1)])
                return response if response.status_code == 202 else None

            response = await wait_until(accepted, message="ingest after the broker came back")
            assert response.json()["accepted"] + response.json()["duplicates"] == 1
            assert await stored_feed_events(url) == 1
    finally:
        nats_server.stop()

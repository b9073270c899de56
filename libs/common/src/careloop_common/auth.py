"""The signed principal: who is calling, as vouched for by the gateway, checked again by services."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.routing import BaseRoute

from careloop_common.errors import ProblemError

PRINCIPAL_HEADER = "X-Careloop-Principal"
# The one scope a portal customer holds: their own complaint, through its tracking token.
PORTAL_SCOPE = "complaints:portal"
ALGORITHM = "HS256"
ISSUER = "careloop-gateway"
# Short: a principal is minted per request by the gateway and never stored.
TTL_S = 60

Role = Literal["agent", "engineer", "marketer", "supervisor", "admin", "partner", "customer", "system"]


class Principal(BaseModel):
    """The authenticated caller of one request."""

    subject: str = Field(description="user name, API key id or portal tracking token id")
    kind: Literal["staff", "api_key", "customer", "service"]
    roles: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    partner_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        """Tell whether the principal holds a scope (``admin`` holds all)."""
        return "admin" in self.roles or scope in self.scopes or "*" in self.scopes


def sign_principal(principal: Principal, secret: str, ttl_s: int = TTL_S) -> str:
    """Mint the header value the gateway forwards to services."""
    now = int(time.time())
    claims = {**principal.model_dump(), "iss": ISSUER, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class PrincipalSigner:
    """Signs principals for forwarding, reusing a token while more than half its life remains.

    A caller making many requests gets one signature per half-TTL instead of one per request.
    """

    def __init__(self, secret: str, ttl_s: int = TTL_S) -> None:
        self.secret = secret
        self.ttl_s = ttl_s
        self._tokens: dict[str, tuple[float, str]] = {}

    def sign(self, principal: Principal) -> str:
        """Return a signed token for the principal, fresh enough to outlive one forwarded call."""
        key = principal.model_dump_json()
        now = time.time()
        hit = self._tokens.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if len(self._tokens) > 10_000:
            self._tokens.clear()  # many distinct callers: start again rather than grow
        token = sign_principal(principal, self.secret, self.ttl_s)
        self._tokens[key] = (now + self.ttl_s / 2, token)
        return token


def verify_principal(token: str, secret: str) -> Principal:
    """Check a forwarded principal's signature and expiry; raise a 401 problem if it fails.

    A token the gateway reuses (PrincipalSigner) is checked once and then served from a small cache
    until it expires: the signature check costs more than the rest of a small request's routing.
    """
    key = (token, secret)
    hit = _VERIFIED.get(key)
    if hit is not None and hit[0] > time.time():
        return hit[1].model_copy(deep=True)  # callers may change theirs
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "iat", "iss"]}
        )
    except jwt.PyJWTError as exc:
        raise ProblemError(401, "unauthorized", f"principal rejected: {exc}") from exc
    principal = Principal.model_validate({k: v for k, v in claims.items() if k in Principal.model_fields})
    if len(_VERIFIED) > 10_000:
        _VERIFIED.clear()  # many distinct tokens: start again rather than grow
    _VERIFIED[key] = (float(claims["exp"]), principal.model_copy(deep=True))
    return principal


_VERIFIED: dict[tuple[str, str], tuple[float, Principal]] = {}


async def current_principal(request: Request) -> Principal:
    """Read and verify the principal the gateway forwarded (dependency)."""
    token = request.headers.get(PRINCIPAL_HEADER)
    if not token:
        raise ProblemError(401, "unauthorized", "no credentials: call through the gateway with a bearer key")
    secret: str = request.app.state.platform.settings.principal_secret
    return verify_principal(token, secret)


def require_scopes(
    *scopes: str, source: Callable[..., Awaitable[Principal | None]] = current_principal
) -> Callable[..., Awaitable[Principal]]:
    """Build a dependency that admits a principal holding every one of ``scopes``.

    ``source`` finds the principal: in services the forwarded header; the gateway passes the one
    its edge admitted.
    """

    # A default, not Annotated: with postponed annotations a local name like ``source`` cannot be
    # resolved from the signature's text.
    async def check(principal: Principal | None = Depends(source)) -> Principal:
        if principal is None:
            raise ProblemError(401, "unauthorized", "credentials required")
        missing = [s for s in scopes if not principal.has_scope(s)]
        if missing:
            raise ProblemError(
                403, "forbidden", f"missing scope: {', '.join(missing)}", required_scopes=missing
            )
        return principal

    # Read back when the OpenAPI document is built, so every operation says what it requires.
    check.careloop_scopes = scopes  # type: ignore[attr-defined]
    return check


def route_scopes(route: APIRoute) -> list[str] | None:
    """Return the scopes a route's ``require_scopes`` dependencies demand; None if it needs no principal."""
    found: list[str] = []
    needs_principal = False
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call is current_principal:
            needs_principal = True
        if hasattr(dependant.call, "careloop_scopes"):
            needs_principal = True  # even require_scopes() with no scope wants a caller
        for scope in getattr(dependant.call, "careloop_scopes", ()):
            if scope not in found:
                found.append(scope)
        pending.extend(dependant.dependencies)
    return found if needs_principal else None


def document_scopes(routes: Iterable[BaseRoute], openapi: dict[str, Any]) -> dict[str, Any]:
    """Add each operation's required scopes (``x-careloop-scopes``) to a service's OpenAPI document.

    No security scheme is declared here: callers never send the principal header themselves, and
    the gateway's merged document declares the public bearer schemes with these scopes.
    """
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        scopes = route_scopes(route)
        if scopes is None:
            continue
        for method in route.methods or ():
            operation = openapi.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation["x-careloop-scopes"] = scopes
    return openapi


# Every scope there is, with what it lets a caller do (API keys may hold only these).
SCOPES: dict[str, str] = {
    "complaints:read": "read complaints and their timelines",
    "complaints:write": "file and work complaints",
    "complaints:supervise": "reassign, escalate and close complaints for a team",
    PORTAL_SCOPE: "file a complaint on the portal and follow it with its tracking token",
    "coverage:read": "read areas, ratings, plans and hot spots",
    "coverage:write": "assess areas, plan fixes and write reply wording",
    "campaigns:read": "read campaigns, segments, audiences and results",
    "campaigns:write": "draft and run care campaigns",
    "campaigns:approve": "approve or reject campaign plans",
    "subscribers:read": "read a subscriber's summary: the call centre's screen pop",
    "contact:read": "read messages, calls and delivery status",
    "contact:write": "send messages and place calls, manage opt-outs and templates",
    "contact:dial": "take calls from the agents' dialer queue and record their outcomes",
    "feeds:write": "ingest operator feed events",
    "gateway:admin": "manage API keys and staff users",
}

# What each staff role may do. Admin holds every scope.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "agent": (
        "complaints:read",
        "complaints:write",
        "coverage:read",
        "contact:read",
        "contact:dial",
        "subscribers:read",
    ),
    "engineer": ("coverage:read", "coverage:write", "complaints:read"),
    "marketer": ("campaigns:read", "campaigns:write", "contact:read", "coverage:read"),
    "supervisor": (
        "complaints:read",
        "complaints:write",
        "complaints:supervise",
        "coverage:read",
        "campaigns:read",
        "campaigns:approve",
        "contact:read",
        "contact:dial",
        "subscribers:read",
    ),
    "admin": ("*",),
}
STAFF_ROLES = tuple(ROLE_SCOPES)


def scopes_for_roles(roles: Iterable[str]) -> list[str]:
    """Return the scopes staff roles grant (the gateway uses this for staff tokens)."""
    out: list[str] = []
    for role in roles:
        for scope in ROLE_SCOPES.get(role, ()):
            if scope not in out:
                out.append(scope)
    return out

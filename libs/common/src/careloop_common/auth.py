"""The signed principal: who is calling, as vouched for by the gateway, checked again by services."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from careloop_common.errors import ProblemError

PRINCIPAL_HEADER = "X-Careloop-Principal"
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


def verify_principal(token: str, secret: str) -> Principal:
    """Check a forwarded principal's signature and expiry; raise a 401 problem if it fails."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "iat", "iss"]}
        )
    except jwt.PyJWTError as exc:
        raise ProblemError(401, "unauthorized", f"principal rejected: {exc}") from exc
    return Principal.model_validate({k: v for k, v in claims.items() if k in Principal.model_fields})


def current_principal(request: Request) -> Principal:
    """Read and verify the principal the gateway forwarded (dependency)."""
    token = request.headers.get(PRINCIPAL_HEADER)
    if not token:
        raise ProblemError(401, "unauthorized", "no credentials: call through the gateway with a bearer key")
    secret: str = request.app.state.platform.settings.principal_secret
    return verify_principal(token, secret)


def require_scopes(*scopes: str) -> Callable[..., Principal]:
    """Build a dependency that admits a principal holding every one of ``scopes``."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        missing = [s for s in scopes if not principal.has_scope(s)]
        if missing:
            raise ProblemError(
                403, "forbidden", f"missing scope: {', '.join(missing)}", required_scopes=missing
            )
        return principal

    return check


def scopes_for_roles(roles: Iterable[str]) -> list[str]:
    """Return the scopes staff roles grant (the gateway uses this for staff tokens)."""
    grants = {
        "agent": ["complaints:read", "complaints:write", "coverage:read", "contact:read"],
        "engineer": ["coverage:read", "coverage:write", "complaints:read"],
        "marketer": ["campaigns:read", "campaigns:write", "contact:read"],
        "supervisor": [
            "complaints:read",
            "complaints:write",
            "complaints:supervise",
            "coverage:read",
            "campaigns:read",
            "campaigns:approve",
            "contact:read",
        ],
        "admin": ["*"],
    }
    out: list[str] = []
    for role in roles:
        for scope in grants.get(role, []):
            if scope not in out:
                out.append(scope)
    return out

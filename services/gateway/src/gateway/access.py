"""Who is calling and what they may reach: route groups, scopes, and the caller's credentials."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import jwt

from careloop_common.auth import PORTAL_SCOPE, Principal, scopes_for_roles
from careloop_common.db import SessionFactory, utcnow
from careloop_common.errors import ProblemError
from gateway import credentials, repository
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RouteGroup:
    """A path prefix, the service that owns it, and the scopes reading and writing need (any one of)."""

    prefix: str
    upstream: str | None  # None: the gateway answers itself
    read: frozenset[str]
    write: frozenset[str]
    anonymous: bool = False  # portal calls: no credentials needed, limited per client IP

    def owns(self, path: str) -> bool:
        """Tell whether a path falls under this group."""
        return path == self.prefix or path.startswith(self.prefix + "/")

    def scopes_for(self, method: str) -> frozenset[str]:
        """Return the scopes, any one of which admits this method."""
        return self.read if method in SAFE_METHODS else self.write


def _group(prefix: str, upstream: str | None, read: set[str], write: set[str], **kw: bool) -> RouteGroup:
    return RouteGroup(prefix, upstream, frozenset(read), frozenset(write), **kw)


_COMPLAINTS = ({"complaints:read"}, {"complaints:write", "complaints:supervise"})
_CONTACT = ({"contact:read"}, {"contact:write", "contact:dial"})

# Most specific prefix first: the first group that owns a path decides.
ROUTE_GROUPS: tuple[RouteGroup, ...] = (
    _group("/complaints/v1/portal", "complaints", {PORTAL_SCOPE}, {PORTAL_SCOPE}, anonymous=True),
    _group("/complaints/v1", "complaints", *_COMPLAINTS),
    _group("/tmf-api/troubleTicket/v5", "complaints", *_COMPLAINTS),
    _group("/coverage/v1/public", "coverage-map", set(), set(), anonymous=True),
    _group("/coverage/v1", "coverage-map", {"coverage:read"}, {"coverage:write"}),
    # The call centre reads a subscriber's summary (subscribers:read); the service checks which route.
    _group(
        "/campaigns/v1/subscribers",
        "campaigns",
        {"campaigns:read", "subscribers:read"},
        {"campaigns:write", "campaigns:approve"},
    ),
    # A segment preview is a question sent as a body (the tree): POST, but reading only.
    _group("/campaigns/v1/segments/preview", "campaigns", {"campaigns:read"}, {"campaigns:read"}),
    _group("/campaigns/v1", "campaigns", {"campaigns:read"}, {"campaigns:write", "campaigns:approve"}),
    _group("/contact/v1", "contact-gateway", *_CONTACT),
    _group("/tmf-api/communicationManagement/v4", "contact-gateway", *_CONTACT),
    _group("/feeds/v1", None, {"feeds:write"}, {"feeds:write"}),
    _group("/gateway/v1/login", None, set(), set(), anonymous=True),
    _group("/gateway/v1/me", None, set(), set()),
    _group("/gateway/v1", None, {"gateway:admin"}, {"gateway:admin"}),
)


def group_for(path: str) -> RouteGroup | None:
    """Return the route group that owns a path; None for pages, docs and health."""
    for group in ROUTE_GROUPS:
        if group.owns(path):
            return group
    return None


def anonymous_customer() -> Principal:
    """Return the principal of a portal visitor without credentials."""
    return Principal(subject="anonymous", kind="customer", roles=["customer"], scopes=[PORTAL_SCOPE])


def authorize(principal: Principal | None, group: RouteGroup, method: str) -> Principal | None:
    """Admit or refuse a caller for a route group: 401 without credentials, 403 without a scope."""
    if principal is None:
        if group.anonymous:
            return anonymous_customer() if group.upstream else None
        raise unauthorized("credentials required: send 'Authorization: Bearer <API key or token>'")
    needed = group.scopes_for(method)
    if needed and not any(principal.has_scope(scope) for scope in needed):
        raise ProblemError(
            403,
            "forbidden",
            f"this credential may not {method} {group.prefix}: it needs one of {', '.join(sorted(needed))}",
            required_scopes=sorted(needed),
        )
    return principal


def unauthorized(detail: str, error: str | None = None) -> ProblemError:
    """Return a 401 problem with the WWW-Authenticate challenge."""
    challenge = 'Bearer realm="careloop"' + (f', error="{error}"' if error else "")
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


@dataclass
class Caller:
    """An authenticated principal and the rate limit that applies to it."""

    principal: Principal
    limit_key: str | None  # None: not limited (the platform's bootstrap admin key)
    limit: int


@dataclass
class _Cached:
    value: Caller | None
    until: float


@dataclass
class Authenticator:
    """Turns a bearer credential into a caller, asking the database at most every few seconds."""

    settings: GatewaySettings
    sessions: SessionFactory
    oidc: credentials.OidcVerifier | None = None
    _cache: dict[str, _Cached] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: GatewaySettings, sessions: SessionFactory) -> Authenticator:
        """Build the authenticator, trusting the OIDC issuer when one is configured."""
        oidc = None
        if settings.oidc_issuer and settings.oidc_jwks_url:
            oidc = credentials.OidcVerifier(
                settings.oidc_issuer,
                settings.oidc_audience,
                settings.oidc_jwks_url,
                settings.oidc_roles_claim,
                settings.oidc_username_claim,
            )
        return cls(settings, sessions, oidc)

    async def identify(self, authorization: str | None) -> Caller | None:
        """Return the caller behind an Authorization header; None when anonymous; 401 when wrong."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("use 'Authorization: Bearer <API key or token>'")
        if token.startswith(credentials.TRACKING_PREFIX):
            return self._customer(token)
        admin = self.settings.admin_api_key
        if admin and hmac.compare_digest(token.encode(), admin.encode()):
            return Caller(Principal(subject="admin", kind="api_key", roles=["admin"], scopes=["*"]), None, 0)
        caller = await self._cached(token, self._lookup)
        if caller is None:
            raise unauthorized("unknown, expired or revoked credentials", "invalid_token")
        return caller

    def forget(self) -> None:
        """Drop every cached credential on this replica (after a revocation or role change)."""
        self._cache.clear()

    def _customer(self, token: str) -> Caller:
        """A tracking token: the one complaint it names is all it reaches (checked by complaints)."""
        if len(token) > 200:
            raise unauthorized("malformed tracking token", "invalid_token")
        digest = credentials.hash_secret(token)
        principal = Principal(
            subject=f"trk:{digest}", kind="customer", roles=["customer"], scopes=[PORTAL_SCOPE]
        )
        return Caller(principal, None, self.settings.rate_limit_anonymous)

    async def _cached(self, token: str, load: Callable[[str], Awaitable[Caller | None]]) -> Caller | None:
        key = credentials.hash_secret(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit.until > now:
            return hit.value
        value = await load(token)
        if len(self._cache) > 10_000:
            self._cache.clear()  # a flood of distinct wrong tokens must not grow memory
        self._cache[key] = _Cached(value, now + self.settings.credential_cache_s)
        return value

    async def _lookup(self, token: str) -> Caller | None:
        parsed = credentials.parse_api_key(token)
        if parsed is not None:
            return await self._api_key(*parsed)
        return await self._staff(token)

    async def _api_key(self, key_id: str, secret: str) -> Caller | None:
        async with self.sessions() as session:
            key = await repository.get_api_key(session, key_id)
        if key is None or key.revoked_at is not None:
            return None
        now = utcnow()
        if key.expires_at is not None and key.expires_at <= now:
            return None
        current = credentials.secret_matches(secret, key.secret_hash)
        previous = _still_valid(key.previous_valid_until, now) and credentials.secret_matches(
            secret, key.previous_secret_hash
        )
        if not (current or previous):
            return None
        principal = Principal(
            subject=f"key:{key.id}",
            kind="api_key",
            roles=["partner"] if key.partner_id else [],
            scopes=list(key.scopes),
            partner_id=key.partner_id,
        )
        return Caller(
            principal, f"key:{key.id}", key.rate_limit_per_minute or self.settings.rate_limit_api_key
        )

    async def _staff(self, token: str) -> Caller | None:
        issuer = credentials.unverified_issuer(token)
        try:
            if issuer == credentials.STAFF_ISSUER:
                claims = credentials.verify_staff_token(token, self.settings.token_secret)
                return await self._local_staff(str(claims["sub"]))
            if self.oidc is not None and issuer == self.oidc.issuer:
                username, roles = await self.oidc.verify(token)
                return self._staff_caller(username, roles)
        except (jwt.PyJWTError, OSError) as exc:
            log.info("staff token rejected: %s", exc)
        return None

    async def _local_staff(self, username: str) -> Caller | None:
        """A local user's token counts only while the account exists and is enabled; roles are read now."""
        async with self.sessions() as session:
            user = await repository.get_user(session, username)
        if user is None or user.disabled:
            return None
        return self._staff_caller(user.username, list(user.roles))

    def _staff_caller(self, username: str, roles: list[str]) -> Caller:
        principal = Principal(subject=username, kind="staff", roles=roles, scopes=scopes_for_roles(roles))
        return Caller(principal, f"user:{username}", self.settings.rate_limit_staff)


def _still_valid(until: datetime | None, now: datetime) -> bool:
    return until is not None and until > now


def client_ip(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """Return the caller's IP: the socket peer, or the last untrusted hop of X-Forwarded-For."""
    if not peer:
        return "unknown"
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in trusted]
    if not networks or not forwarded_for or not _in(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in(hop, networks):
            return hop
    return hops[0] if hops else peer


def _in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)

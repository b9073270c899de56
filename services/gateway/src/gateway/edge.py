"""The gateway's edge: authenticate, rate-limit and authorize API calls; security headers; access log.

Pure ASGI rather than BaseHTTPMiddleware: bodies stream through untouched and nothing is buffered.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careloop_common.auth import Principal
from careloop_common.errors import ProblemError, problem_response
from careloop_common.telemetry import redact
from gateway.access import Authenticator, Caller, RouteGroup, authorize, client_ip, group_for
from gateway.ratelimit import SharedRateLimiter
from gateway.settings import GatewaySettings

access_log = logging.getLogger("careloop.access")

_API_CSP = b"default-src 'none'; frame-ancestors 'none'"
_PAGE_CSP = (
    b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    b"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), payment=(), geolocation=(self)"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class EdgeMiddleware:
    """Admit or refuse each API call before it reaches a route, and dress every response."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings) -> None:
        self.app = app
        self.settings = settings
        self._authenticator: Authenticator | None = None
        self._limiter: SharedRateLimiter | None = None

    def _parts(self, scope: Scope) -> tuple[Authenticator, SharedRateLimiter]:
        """Return the authenticator and limiter the app opened at startup."""
        if self._authenticator is None or self._limiter is None:
            extras = scope["app"].state.platform.extras
            self._authenticator, self._limiter = extras["authenticator"], extras["limiter"]
        return self._authenticator, self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP exchange."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        peer = scope["client"][0] if scope.get("client") else None
        ip = client_ip(peer, headers.get("x-forwarded-for"), self.settings.trusted_proxies)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["client_ip"] = ip
        group = group_for(scope["path"])
        outcome = {"status": 500, "subject": "-"}
        extra: list[tuple[bytes, bytes]] = []

        async def dressed(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                message["headers"] = self._dress(list(message.get("headers", [])), group is not None, extra)
            await send(message)

        try:
            if group is not None:
                try:
                    limit_headers = await self._admit(scope, headers, group, ip)
                except ProblemError as exc:
                    response = problem_response(
                        exc.status,
                        exc.slug,
                        exc.detail,
                        instance=scope["path"],
                        headers=exc.headers,
                        **exc.extra,
                    )
                    await response(scope, receive, dressed)
                    return
                finally:
                    outcome["subject"] = _subject(state.get("principal"))
                extra.extend((k.lower().encode(), v.encode()) for k, v in limit_headers.items())
            await self.app(scope, receive, dressed)
        finally:
            self._log(scope, ip, outcome, started)

    async def _admit(
        self, scope: Scope, headers: dict[str, str], group: RouteGroup, ip: str
    ) -> dict[str, str]:
        """Authenticate, count against the caller's rate limit, then check the route group's scopes."""
        state = scope["state"]
        authenticator, limiter = self._parts(scope)
        caller: Caller | None = await authenticator.identify(headers.get("authorization"))
        state["principal"] = caller.principal if caller else None
        limit_headers: dict[str, str] = {}
        limit_key, limit = self._limit_for(caller, ip)
        if limit_key is not None:
            decision = await limiter.hit(limit_key, limit)
            limit_headers = decision.headers()
            if not decision.allowed:
                raise ProblemError(
                    429,
                    "rate-limited",
                    f"too many requests: {limit} per {self.settings.rate_limit_window_s}s; "
                    f"try again in {decision.reset_s}s",
                    headers=limit_headers,
                )
        state["principal"] = authorize(caller.principal if caller else None, group, scope["method"])
        return limit_headers

    def _limit_for(self, caller: Caller | None, ip: str) -> tuple[str | None, int]:
        """Return the rate-limit identity and limit: the key or user, else the client IP."""
        if caller is None or caller.principal.kind == "customer":
            return f"ip:{ip}", self.settings.rate_limit_anonymous
        return caller.limit_key, caller.limit

    def _dress(
        self, headers: list[tuple[bytes, bytes]], api: bool, extra: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """Add security headers (keeping any the upstream chose) and the rate-limit headers."""
        present = {name.lower() for name, _ in headers}
        wanted = list(_ALWAYS)
        wanted.append((b"content-security-policy", _API_CSP if api else _PAGE_CSP))
        if api:
            wanted.append((b"cache-control", b"no-store"))
        if self.settings.hsts:
            wanted.append(_HSTS)
        headers.extend((name, value) for name, value in wanted if name not in present)
        headers.extend(extra)
        return headers

    def _log(self, scope: Scope, ip: str, outcome: dict[str, Any], started: float) -> None:
        """Write one access-log line: no credentials, no full phone numbers, no tokens."""
        query = scope.get("query_string", b"").decode("latin-1")
        access_log.info(
            "%s %s %s",
            scope["method"],
            redact(scope["path"]),
            outcome["status"],
            extra={
                "http_method": scope["method"],
                "http_path": redact(scope["path"]),
                "http_query": redact(query) if query else None,
                "http_status": outcome["status"],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "client_ip": ip,
                "principal": outcome["subject"],
            },
        )


def _headers(scope: Scope) -> dict[str, str]:
    """Return the request headers we read, by lower-case name."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = name.decode("latin-1").lower()
        if key in ("authorization", "x-forwarded-for"):
            out[key] = value.decode("latin-1")
    return out


def _subject(principal: Principal | None) -> str:
    """Name the caller in the access log without revealing a credential."""
    if principal is None:
        return "-"
    if principal.kind == "customer":
        return principal.subject[:16]  # "trk:" + a hash prefix, never the token
    return principal.subject

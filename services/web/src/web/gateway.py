"""How the pages call the platform: only through the gateway, server-side, with httpx.

Staff calls carry the signed-in user's own bearer token (from their session), so the gateway and
the services check that user's scopes exactly as for any other client; portal calls carry no
credential, or the customer's tracking token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from careloop_common.telemetry import request_id_var


@dataclass
class GatewayError(Exception):
    """The gateway answered with a problem (or could not be reached: status 503, slug unreachable)."""

    status: int
    title: str
    detail: str = ""
    slug: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        """Say it in one line."""
        return f"{self.status} {self.title}: {self.detail}"

    @classmethod
    def from_response(cls, response: httpx.Response) -> GatewayError:
        """Read an RFC 9457 problem (or whatever came) from a refused call."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        slug = str(body.get("type", "")).rsplit(":", 1)[-1]
        return cls(
            status=response.status_code,
            title=str(body.get("title") or response.reason_phrase or "error"),
            detail=str(body.get("detail") or ""),
            slug=slug,
            errors=[e for e in body.get("errors") or [] if isinstance(e, dict)],
        )

    def field_messages(self) -> dict[str, str]:
        """Map each invalid field's last path part to its message (for showing beside the input)."""
        out: dict[str, str] = {}
        for error in self.errors:
            name = str(error.get("field", "")).rsplit(".", 1)[-1]
            out.setdefault(name, str(error.get("message", "")))
        return out


class Gateway:
    """A pooled client for the gateway; every call names the credential it is made with."""

    def __init__(self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None):
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        """Close the pool."""
        await self.client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        credential: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        forwarded_for: str | None = None,
    ) -> Any:
        """Call the gateway and return the JSON body; raise GatewayError on a problem or no answer."""
        sent = {"X-Request-ID": request_id_var.get() or ""}
        if credential:
            sent["Authorization"] = f"Bearer {credential}"
        if forwarded_for:
            # Believed only where the gateway lists this service in GATEWAY_TRUSTED_PROXIES.
            sent["X-Forwarded-For"] = forwarded_for
        sent.update(headers or {})
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.client.request(method, path, params=clean, json=json, headers=sent)
        except httpx.HTTPError as exc:
            raise GatewayError(
                503, "unreachable", f"the platform did not answer ({type(exc).__name__})", slug="unreachable"
            ) from exc
        if response.status_code >= 400:
            raise GatewayError.from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, path: str, credential: str | None = None, **params: Any) -> Any:
        """GET with query parameters (empty ones left out)."""
        return await self.call("GET", path, credential, params=params)

    async def post(self, path: str, credential: str | None = None, body: Any = None, **kw: Any) -> Any:
        """POST a JSON body."""
        return await self.call("POST", path, credential, json=body if body is not None else {}, **kw)

"""One OpenAPI 3.1 document for the whole platform, merged from every service's own document.

Each service documents the scopes an operation needs (``x-careloop-scopes``); the merged document
replaces the internal principal header with the gateway's public bearer schemes, and, for an
authenticated caller, marks each operation with whether that caller may use it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from careloop_common.auth import SCOPES, Principal
from gateway.access import ROUTE_GROUPS, group_for
from gateway.proxy import Upstreams

log = logging.getLogger(__name__)

API_UPSTREAMS = ("complaints", "coverage-map", "campaigns", "contact-gateway")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

SECURITY_SCHEMES: dict[str, Any] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "careloop API key (clk_…)",
        "description": "Partners and systems: a key issued by an administrator with scopes and a partner id.",
    },
    "staffToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Staff: POST /gateway/v1/login returns a token whose scopes follow the user's roles.",
    },
    "trackingToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "careloop tracking token (trk_…)",
        "description": "Portal customers: the token given with a filed complaint reaches that one only.",
    },
}


@dataclass
class MergedOpenAPI:
    """Fetches each service's document, merges them with the gateway's own, and caches the result."""

    upstreams: Upstreams
    gateway_document: dict[str, Any]
    cache_s: float
    _documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    _fetched_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def document(self, principal: Principal | None) -> dict[str, Any]:
        """Return the merged document, annotated with what ``principal`` may call."""
        await self._refresh()
        merged = merge({"gateway": self.gateway_document, **self._documents}, self._missing())
        return annotate(merged, principal)

    def _missing(self) -> list[str]:
        return [name for name in API_UPSTREAMS if name not in self._documents]

    async def _refresh(self) -> None:
        """Fetch service documents when the cache is stale; keep the last good copy of any that fail."""
        if time.monotonic() - self._fetched_at < self.cache_s and not self._missing():
            return
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.cache_s and not self._missing():
                return
            answers = await asyncio.gather(*(self._fetch(name) for name in API_UPSTREAMS))
            for name, document in zip(API_UPSTREAMS, answers, strict=True):
                if document is not None:
                    self._documents[name] = document
            self._fetched_at = time.monotonic()

    async def _fetch(self, name: str) -> dict[str, Any] | None:
        url = f"{self.upstreams.urls[name]}/openapi.json"
        try:
            async with self.upstreams.session.get(url, timeout=aiohttp.ClientTimeout(total=3)) as response:
                if response.status != 200:
                    return None
                document: dict[str, Any] = await response.json()
                return document
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("no OpenAPI document from %s: %s", name, exc)
            return None


def merge(documents: dict[str, dict[str, Any]], missing: list[str]) -> dict[str, Any]:
    """Merge service documents into one: public paths only, schemas renamed where they clash."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "careloop API",
            "version": "1",
            "description": _DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
        "tags": [],
    }
    if missing:
        merged["info"]["x-careloop-unavailable"] = missing
    schemas: dict[str, Any] = merged["components"]["schemas"]
    for service, original in documents.items():
        document = copy.deepcopy(original)
        renames = _clashing_schemas(document, schemas, service)
        if renames:
            document = _rename_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = schema
        for path, item in document.get("paths", {}).items():
            group = group_for(path)
            if group is None:
                continue  # health, metrics and other internal routes stay internal
            merged["paths"][path] = _public_operations(item, anonymous=group.anonymous)
        for tag in document.get("tags", []):
            if tag["name"] not in {t["name"] for t in merged["tags"]}:
                merged["tags"].append(tag)
    return merged


def annotate(document: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    """Mark each operation with ``x-careloop-allowed`` for this caller (when one is known)."""
    if principal is None:
        return document
    document["info"]["x-careloop-caller"] = {
        "subject": principal.subject,
        "kind": principal.kind,
        "roles": principal.roles,
        "scopes": principal.scopes,
        "partner_id": principal.partner_id,
    }
    for path, item in document["paths"].items():
        group = group_for(path)
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            needed = operation.get("x-careloop-scopes", [])
            group_ok = (
                group is None
                or not group.scopes_for(method.upper())
                or any(principal.has_scope(s) for s in group.scopes_for(method.upper()))
            )
            operation["x-careloop-allowed"] = group_ok and all(principal.has_scope(s) for s in needed)
    return document


def _public_operations(item: dict[str, Any], anonymous: bool) -> dict[str, Any]:
    """Swap the internal principal header for the gateway's public bearer schemes."""
    for method in _METHODS:
        operation = item.get(method)
        if operation is None:
            continue
        if anonymous:
            operation["x-careloop-public"] = True  # the gateway lets callers without credentials in
        scopes = operation.get("x-careloop-scopes")
        if scopes is None:
            operation.pop("security", None)
            continue
        schemes = ["trackingToken"] if scopes == ["complaints:portal"] else ["apiKey", "staffToken"]
        operation["security"] = [{scheme: scopes} for scheme in schemes]
        if anonymous:
            operation["security"].append({})
    return item


def _clashing_schemas(document: dict[str, Any], merged: dict[str, Any], service: str) -> dict[str, str]:
    """Return new names for this document's schemas that clash with different ones already merged."""
    prefix = "".join(part.capitalize() for part in service.split("-"))
    renames: dict[str, str] = {}
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if name in merged and merged[name] != schema:
            renames[name] = f"{prefix}{name}"
    return renames


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    """Rewrite every ``$ref`` to a renamed schema."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                name = value.rsplit("/", 1)[1]
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def _scope_table() -> str:
    rows = "\n".join(f"| `{scope}` | {what} |" for scope, what in SCOPES.items())
    return f"| scope | allows |\n|---|---|\n{rows}"


def _group_table() -> str:
    rows = "\n".join(
        f"| `{g.prefix}` | {', '.join(sorted(g.read)) or 'any caller'} | "
        f"{', '.join(sorted(g.write)) or 'any caller'} |"
        for g in ROUTE_GROUPS
    )
    return f"| path | read (any of) | write (any of) |\n|---|---|---|\n{rows}"


_DESCRIPTION = f"""The careloop platform behind one gateway.

Send `Authorization: Bearer <credential>`: an API key (partners and systems), a staff token from
`POST /gateway/v1/login`, or a complaint's tracking token (portal customers). Errors are
RFC 9457 problem documents. Rate limits answer `429` with `Retry-After`; every response carries
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`. Writes accept `Idempotency-Key`.

Partners see only their own data. `x-careloop-scopes` on an operation names the scopes it needs;
when you fetch this document with your credential, `x-careloop-allowed` says whether you may call it.

{_group_table()}

{_scope_table()}
"""

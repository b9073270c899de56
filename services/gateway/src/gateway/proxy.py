"""Streaming reverse proxy to the upstream services over pooled keep-alive connections (aiohttp).

aiohttp rather than httpx on this hot path: httpx's pool costs about 3x throughput as a proxy,
aiohttp's client 3-8% (BASELINES.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from careloop_common.errors import problem_response

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 §7.6.1) and ones the gateway sets itself.
_DROP_REQUEST = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "x-careloop-principal",
        "authorization",
    }
)
_DROP_RESPONSE = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "server",
        "date",
        "x-request-id",
    }
)


class Upstreams:
    """One pooled HTTP client for every upstream service."""

    def __init__(
        self, urls: dict[str, str], *, timeout_s: float, connect_timeout_s: float, pool: int
    ) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s, sock_read=timeout_s)
        self.pool = pool
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the connection pool."""
        connector = aiohttp.TCPConnector(
            limit=self.pool, limit_per_host=self.pool, keepalive_timeout=30, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """Return the open client session."""
        assert self._session is not None, "Upstreams.start() was not awaited"
        return self._session

    async def ready(self, name: str) -> bool:
        """Tell whether an upstream's /readyz answers 200."""
        try:
            async with self.session.get(
                f"{self.urls[name]}/readyz", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def forward(self, name: str, request: Request, headers: dict[str, str]) -> Response:
        """Send the request to an upstream with its body streamed, and stream the answer back."""
        url = self.urls[name] + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        out_headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        out_headers.update(headers)
        has_body = (
            request.method not in ("GET", "HEAD", "OPTIONS", "DELETE") or "content-length" in request.headers
        )
        try:
            upstream = await self.session.request(
                request.method,
                url,
                headers=out_headers,
                data=_body(request) if has_body else None,
                allow_redirects=False,
            )
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            log.warning("upstream %s unreachable: %s", name, exc)
            return problem_response(
                503,
                "service-unavailable",
                f"the {name} service is not available",
                instance=request.url.path,
                headers={"Retry-After": "5"},
            )
        except TimeoutError:
            return problem_response(
                504,
                "gateway-timeout",
                f"the {name} service did not answer in time",
                instance=request.url.path,
            )
        response_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_RESPONSE}
        if upstream.content_length is not None and upstream.content_length < 256 * 1024:
            # Small answers (nearly all): read once, send with a length — cheaper than chunking.
            try:
                body = await upstream.read()
            finally:
                upstream.release()
            return Response(body, status_code=upstream.status, headers=response_headers)
        return StreamingResponse(
            _chunks(upstream),
            status_code=upstream.status,
            headers=response_headers,
            background=BackgroundTask(upstream.release),
        )


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _chunks(upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.content.iter_chunked(64 * 1024):
            yield chunk
    except (aiohttp.ClientError, asyncio.CancelledError):
        upstream.close()
        raise

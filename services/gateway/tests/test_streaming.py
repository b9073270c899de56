"""The gateway streams bodies both ways instead of buffering them: a large upload reaches the service
while the client is still sending, and a large answer is passed on as it comes.

The upstream here is a stand-in for "a service with a large-body route" (no careloop route takes
uploads yet); the gateway under test is the real one on real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, service_settings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

ADMIN_KEY = "test-admin-key-with-enough-entropy-0002"
CHUNK = b"x" * 65_536


def upstream_app(first_chunk_seen: asyncio.Event) -> FastAPI:
    """A service stand-in that counts an upload as it arrives and sends a large answer in pieces."""
    app = FastAPI()

    @app.post("/campaigns/v1/imports")
    async def upload(request: Request) -> dict[str, int]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received and not first_chunk_seen.is_set():
                first_chunk_seen.set()
        return {"received": received}

    @app.get("/campaigns/v1/exports")
    async def export() -> StreamingResponse:
        async def pieces() -> AsyncIterator[bytes]:
            for _ in range(64):  # 4 MiB
                yield CHUNK

        return StreamingResponse(pieces(), media_type="text/csv")

    return app


async def test_uploads_and_answers_stream_through_the_gateway(sqlite_url: str, nats_url: str) -> None:
    first_chunk_seen = asyncio.Event()
    async with LiveServer(upstream_app(first_chunk_seen)) as upstream:
        down = f"http://127.0.0.1:{free_port()}"
        settings = service_settings(
            GatewaySettings,
            sqlite_url,
            nats_url,
            admin_api_key=ADMIN_KEY,
            campaigns_url=upstream.url,
            complaints_url=down,
            coverage_map_url=down,
            contact_gateway_url=down,
            web_url=down,
        )
        async with (
            LiveServer(gateway_app(settings)) as gateway,
            httpx.AsyncClient(
                base_url=gateway.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
            ) as client,
        ):

            async def body() -> AsyncIterator[bytes]:
                yield CHUNK
                # The rest is sent only once the service has the first piece: a gateway that
                # buffered the whole upload would never pass it on, and this would time out.
                await asyncio.wait_for(first_chunk_seen.wait(), timeout=10)
                for _ in range(31):
                    yield CHUNK

            uploaded = await client.post("/campaigns/v1/imports", content=body())
            assert uploaded.status_code == 200, uploaded.text
            assert uploaded.json() == {"received": 32 * len(CHUNK)}

            async with client.stream("GET", "/campaigns/v1/exports") as answer:
                assert answer.status_code == 200
                assert "content-length" not in answer.headers  # passed on as it came, not gathered
                total = sum([len(chunk) async for chunk in answer.aiter_bytes()])
            assert total == 64 * len(CHUNK)

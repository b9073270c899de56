"""The gateway's routes: everything not its own is forwarded to the service that owns the path."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from careloop_common.auth import PRINCIPAL_HEADER, sign_principal
from careloop_common.telemetry import request_id_var
from gateway import service
from gateway.proxy import Upstreams

router = APIRouter()


def upstreams(request: Request) -> Upstreams:
    """Return the gateway's upstream pool."""
    pool: Upstreams = request.app.state.platform.extras["upstreams"]
    return pool


@router.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def forward(request: Request, path: str) -> Response:
    """Authenticate the caller and forward the request to the service that owns the path."""
    settings = request.app.state.platform.settings
    principal = service.authenticate(request.headers.get("authorization"), settings.admin_api_key)
    name = service.upstream_for(request.url.path) or "web"
    headers = {"X-Request-ID": request_id_var.get() or ""}
    client = request.client.host if request.client else ""
    forwarded_for = request.headers.get("x-forwarded-for")
    headers["X-Forwarded-For"] = f"{forwarded_for}, {client}" if forwarded_for else client
    if principal is not None:
        headers[PRINCIPAL_HEADER] = sign_principal(principal, settings.principal_secret)
    return await upstreams(request).forward(name, request, headers)

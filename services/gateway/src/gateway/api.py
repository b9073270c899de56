"""The gateway's routes: its own API (login, keys, users, feeds, the merged OpenAPI and docs page);
everything else is forwarded to the service that owns the path, or to the web pages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from opentelemetry import propagate
from starlette.responses import Response
from starlette.routing import Match

from careloop_common.app import PlatformDep, SessionDep
from careloop_common.auth import PRINCIPAL_HEADER, Principal, PrincipalSigner, require_scopes
from careloop_common.errors import PROBLEM_RESPONSES, NotFound, ProblemError
from careloop_common.inputs import NO_NUL, Limit, Offset, PathId
from careloop_common.telemetry import request_id_var
from gateway import repository, service
from gateway.access import Authenticator, group_for
from gateway.openapi import MergedOpenAPI
from gateway.proxy import Upstreams
from gateway.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPage,
    ApiKeyPublic,
    ApiKeyRotate,
    FeedEvent,
    FeedIngestResult,
    LoginRequest,
    Me,
    TokenResponse,
    UserCreate,
    UserPage,
    UserPublic,
    UserUpdate,
)

STATIC = Path(__file__).parent / "static"
MAX_FEED_BATCH = 10_000  # the schema's bound; GATEWAY_FEEDS_MAX_BATCH may set a lower one

router = APIRouter(responses=PROBLEM_RESPONSES)
forwarding = APIRouter()


def admitted(request: Request) -> Principal | None:
    """Return the principal the edge middleware admitted for this request."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


async def caller(request: Request) -> Principal | None:
    """Return the admitted principal (dependency; async so FastAPI does not hop to a thread)."""
    return admitted(request)


# Checked again after the edge middleware admitted the caller (defence in depth).
Admin = Annotated[Principal, Depends(require_scopes("gateway:admin", source=caller))]
AnyCaller = Annotated[Principal, Depends(require_scopes(source=caller))]
FeedWriter = Annotated[Principal, Depends(require_scopes("feeds:write", source=caller))]


def authenticator(request: Request) -> Authenticator:
    """Return the gateway's authenticator."""
    value: Authenticator = request.app.state.platform.extras["authenticator"]
    return value


@router.post("/gateway/v1/login", response_model=TokenResponse, tags=["access"], summary="Log in (staff)")
async def login(body: LoginRequest, session: SessionDep, state: PlatformDep) -> TokenResponse:
    """Exchange a staff user name and password for a bearer token."""
    return await service.login(session, body.username, body.password, state.settings)  # type: ignore[arg-type]


@router.get("/gateway/v1/me", response_model=Me, tags=["access"], summary="Who am I")
async def me(principal: AnyCaller) -> Me:
    """Return who the gateway takes the caller to be and the scopes they hold."""
    return Me(**principal.model_dump())


@router.post(
    "/gateway/v1/api-keys",
    status_code=201,
    response_model=ApiKeyIssued,
    tags=["access"],
    summary="Create an API key",
)
async def create_api_key(body: ApiKeyCreate, session: SessionDep, principal: Admin) -> JSONResponse:
    """Issue an API key; the token in the answer is shown this once."""
    issued = await service.create_api_key(session, body, principal)
    return JSONResponse(
        issued.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/gateway/v1/api-keys/{issued.id}", "Cache-Control": "no-store"},
    )


@router.get("/gateway/v1/api-keys", response_model=ApiKeyPage, tags=["access"], summary="List API keys")
async def list_api_keys(
    session: SessionDep,
    _: Admin,
    partner_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    include_revoked: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ApiKeyPage:
    """List API keys newest first (never their secrets)."""
    items, total = await repository.page_api_keys(session, partner_id, include_revoked, limit, offset)
    return ApiKeyPage(
        items=[ApiKeyPublic.model_validate(k) for k in items], total=total, limit=limit, offset=offset
    )


@router.get(
    "/gateway/v1/api-keys/{key_id}", response_model=ApiKeyPublic, tags=["access"], summary="Get an API key"
)
async def get_api_key(key_id: PathId, session: SessionDep, _: Admin) -> ApiKeyPublic:
    """Return one API key (never its secret)."""
    key = await repository.get_api_key(session, key_id)
    if key is None:
        raise NotFound("api key", key_id)
    return ApiKeyPublic.model_validate(key)


@router.post(
    "/gateway/v1/api-keys/{key_id}/rotate",
    response_model=ApiKeyIssued,
    tags=["access"],
    summary="Rotate an API key",
)
async def rotate_api_key(
    key_id: PathId, body: ApiKeyRotate, session: SessionDep, request: Request, _: Admin
) -> JSONResponse:
    """Give a key a new secret; the old one keeps working for the grace period asked for."""
    issued = await service.rotate_api_key(session, key_id, body.grace_seconds)
    authenticator(request).forget()
    return JSONResponse(issued.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.delete(
    "/gateway/v1/api-keys/{key_id}", response_model=ApiKeyPublic, tags=["access"], summary="Revoke an API key"
)
async def revoke_api_key(key_id: PathId, session: SessionDep, request: Request, _: Admin) -> ApiKeyPublic:
    """Revoke a key: refused here at once, on other gateway replicas within the credential cache time."""
    key = await service.revoke_api_key(session, key_id)
    authenticator(request).forget()
    return ApiKeyPublic.model_validate(key)


@router.post(
    "/gateway/v1/users", status_code=201, response_model=UserPublic, tags=["access"], summary="Create a user"
)
async def create_user(body: UserCreate, session: SessionDep, _: Admin) -> UserPublic:
    """Create a local staff account with roles."""
    return UserPublic.model_validate(await service.create_user(session, body))


@router.get("/gateway/v1/users", response_model=UserPage, tags=["access"], summary="List users")
async def list_users(session: SessionDep, _: Admin, limit: Limit = 50, offset: Offset = 0) -> UserPage:
    """List local staff accounts."""
    items, total = await repository.page_users(session, limit, offset)
    return UserPage(
        items=[UserPublic.model_validate(u) for u in items], total=total, limit=limit, offset=offset
    )


@router.get("/gateway/v1/users/{username}", response_model=UserPublic, tags=["access"], summary="Get a user")
async def get_user(username: PathId, session: SessionDep, _: Admin) -> UserPublic:
    """Return one staff account."""
    user = await repository.get_user(session, username)
    if user is None:
        raise NotFound("user", username)
    return UserPublic.model_validate(user)


@router.patch(
    "/gateway/v1/users/{username}", response_model=UserPublic, tags=["access"], summary="Change a user"
)
async def update_user(
    username: PathId, body: UserUpdate, session: SessionDep, request: Request, _: Admin
) -> UserPublic:
    """Change a staff account's name, roles or password, or disable it."""
    user = await service.update_user(session, username, body)
    authenticator(request).forget()
    return UserPublic.model_validate(user)


@router.post(
    "/feeds/v1/events",
    status_code=202,
    response_model=FeedIngestResult,
    tags=["feeds"],
    summary="Ingest operator feed events",
    responses={503: {"description": "the event store is away; send the batch again"}},
)
async def ingest_feed_events(
    body: Annotated[list[FeedEvent], Body(min_length=1, max_length=MAX_FEED_BATCH)],
    state: PlatformDep,
    _: FeedWriter,
) -> FeedIngestResult:
    """Put a batch of CloudEvents on the FEEDS stream: all validated first, each stored once."""
    envelopes = service.validate_feed_batch(body, state.settings.feeds_max_batch)  # type: ignore[attr-defined]
    return await service.ingest_feed(state.bus, envelopes)


@forwarding.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    """Return the merged OpenAPI document, marked with what the caller may call."""
    found = await authenticator(request).identify(request.headers.get("authorization"))
    merged: MergedOpenAPI = request.app.state.platform.extras["openapi"]
    return JSONResponse(await merged.document(found.principal if found else None))


@forwarding.get("/docs", include_in_schema=False)
async def docs_page() -> FileResponse:
    """Serve the API docs page for partners."""
    return FileResponse(STATIC / "docs.html", media_type="text/html")


@forwarding.get("/docs/assets/{name}", include_in_schema=False)
async def docs_asset(name: str) -> FileResponse:
    """Serve the docs page's script and style sheet."""
    assets = {"docs.js": "text/javascript", "docs.css": "text/css"}
    if name not in assets:
        raise NotFound("asset", name)
    return FileResponse(STATIC / name, media_type=assets[name])


@forwarding.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def forward(request: Request, path: str) -> Response:
    """Forward the request, with the admitted principal signed, to the service that owns the path."""
    group = group_for(request.url.path)
    if group is not None and group.upstream is None:
        raise _no_such_route(request)
    state: Any = request.app.state.platform
    headers = {"X-Request-ID": request_id_var.get() or ""}
    client = request.client.host if request.client else ""
    forwarded_for = request.headers.get("x-forwarded-for")
    headers["X-Forwarded-For"] = f"{forwarded_for}, {client}" if forwarded_for else client
    propagate.inject(headers)  # the service's spans join the caller's trace (no-op when tracing is off)
    principal = admitted(request)
    if principal is not None:
        signer: PrincipalSigner = state.extras["signer"]
        headers[PRINCIPAL_HEADER] = signer.sign(principal)
    upstreams: Upstreams = state.extras["upstreams"]
    return await upstreams.forward(group.upstream if group and group.upstream else "web", request, headers)


def _no_such_route(request: Request) -> ProblemError:
    """A gateway path the gateway itself answers: 405 naming the methods it has, else 404."""
    allowed = sorted(
        {
            method
            for route in router.routes
            if isinstance(route, APIRoute) and route.matches(request.scope)[0] == Match.PARTIAL
            for method in route.methods or ()
        }
    )
    if allowed:
        return ProblemError(
            405,
            "method-not-allowed",
            f"{request.method} is not allowed here",
            headers={"Allow": ", ".join(allowed)},
        )
    return NotFound("route", request.url.path)

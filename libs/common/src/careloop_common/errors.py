"""RFC 9457 problem details for every error a client can see; never a stack trace."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:careloop:problem:"


class FieldError(BaseModel):
    """One invalid input: where it is, what is wrong."""

    field: str = Field(description="dotted path of the offending field, e.g. body.location.lat")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="stable URI naming the kind of problem", examples=["urn:careloop:problem:not-found"]
    )
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise to answer with a problem document; ``slug`` becomes the stable type URI."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or slug)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra


class NotFound(ProblemError):
    """The resource does not exist (or the caller may not know it does)."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(404, "not-found", f"{what} {key!r} was not found")


class Conflict(ProblemError):
    """The request conflicts with the resource's current state."""

    def __init__(self, detail: str, slug: str = "conflict", **extra: Any) -> None:
        super().__init__(409, slug, detail, **extra)


# The problem types a client may see, with one line each, for the docs and the OpenAPI schema.
STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": HTTPStatus(status).phrase}
    for status in (400, 401, 403, 404, 409, 422)
}
"""Responses every route may give, for ``responses=``; the OpenAPI shows them as problem documents.

400 is a body that cannot be read at all (not UTF-8); 422 one that is not JSON or not valid input.
"""


def problem_response(
    status: int,
    slug: str | None = None,
    detail: str | None = None,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or STATUS_SLUGS.get(status, "error")),
        "title": title or _phrase(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Turn pydantic's validation errors into named fields a person can act on."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("function-after", "function-before")]
        out.append(
            {
                "field": ".".join(loc) or "body",
                "message": str(err.get("msg", "invalid")),
                "type": str(err.get("type", "invalid")),
            }
        )
    return out


def document_problems_as_problem_json(app: FastAPI) -> None:
    """Describe problem responses in the app's OpenAPI under ``application/problem+json``, as they are sent.

    FastAPI files a response's ``model`` under ``application/json`` whatever media types the response
    names, so a client (or a contract test) reading the OpenAPI would expect JSON and find no schema
    for what actually arrives. A response that names ``application/problem+json`` gets its model there.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    if not isinstance(operation, dict):
                        continue
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if PROBLEM_JSON in content and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Return every method some route of the app serves on the request's path (for ``Allow``)."""
    scope = request.scope
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        probe = {
            "type": scope["type"],
            "method": method,
            "path": scope["path"],
            "root_path": scope.get("root_path", ""),
            "headers": scope.get("headers", []),
            "query_string": b"",
        }
        if any(route.matches(probe)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error on this app with a problem document, and document them as such."""
    document_problems_as_problem_json(app)

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            exc.status,
            exc.slug,
            exc.detail,
            title=exc.title,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc)
        names = ", ".join(e["field"] for e in errors[:5])
        return problem_response(
            422, "validation-error", f"invalid input: {names}", instance=request.url.path, errors=errors
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            # The router names only the methods of the first route on the path; the resource has more.
            headers["Allow"] = ", ".join(allowed)
        return problem_response(exc.status_code, None, detail, instance=request.url.path, headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal-error",
            "an unexpected error occurred; it has been logged",
            instance=request.url.path,
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)

"""Property-based API tests: schemathesis sends each API requests generated from its own OpenAPI.

Every target runs for real (migrations, NATS, a database, uvicorn on a socket) and is called twice:
as an admin, so generated input reaches validation and storage deep inside, and with no credentials.
Every response must be documented (status, media type, body schema), no input may cause a 5xx,
and every error must be an RFC 9457 problem document.

A target is anything that serves an OpenAPI document and its operations on a base URL, with headers
that make a caller an admin; to fuzz the gateway's merged API, add one to ``TARGETS`` (see there).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import phonenumbers
import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.result import Err
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from campaigns.main import create_app as campaigns_app
from campaigns.settings import CampaignsSettings
from careloop_common.errors import PROBLEM_JSON
from careloop_common.testing import LiveServer, auth_headers, service_settings
from complaints.main import create_app as complaints_app
from complaints.settings import ComplaintsSettings
from contact_gateway.main import create_app as contact_gateway_app
from contact_gateway.settings import ContactGatewaySettings
from coverage_map.main import create_app as coverage_map_app
from coverage_map.settings import CoverageSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

# Generated requests per operation (valid and invalid ones together), besides the documented examples
# and the boundary cases schemathesis derives from the schema (its coverage phase).
MAX_EXAMPLES = 30

Caller = Literal["admin", "anonymous"]

# The services run in this process (on another thread), and asyncpg picks a host with the global
# `random` while Hypothesis generates; Hypothesis then suspects the strategies. Generation does not
# use it, so runs stay reproducible.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning"
)


# --- what is fuzzed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A running API: where it answers and how an admin calls it."""

    base_url: str
    admin_headers: Callable[[], dict[str, str]]
    """Fresh on every call: signed principals expire after a minute."""


@dataclass(frozen=True)
class Backing:
    """What a target runs on: the test's database, NATS, and SQLite files for any further parts."""

    database_url: str
    """The parametrized backend (SQLite, and PostgreSQL when configured) for the part under test."""
    sqlite_url: str
    nats_url: str

    def sqlite(self, name: str) -> str:
        """Return a SQLite database of its own for another part (migrations share a version table)."""
        return self.sqlite_url.replace("test.db", f"{name}.db")


@dataclass(frozen=True)
class Target:
    """An API to fuzz: how to serve it, where its OpenAPI is, and which paths answer anyone."""

    name: str
    serve: Callable[[Backing], contextlib.AbstractAsyncContextManager[Endpoint]]
    schema_path: str = "/openapi.json"
    public_paths: frozenset[str] = field(default_factory=lambda: frozenset({"/healthz", "/readyz"}))
    max_examples: int = MAX_EXAMPLES
    backends: Literal["all", "sqlite"] = "all"
    # Without credentials every operation outside public_paths stops at the door (401), so a few
    # requests per operation prove it; public operations get the admin's number of examples.
    anonymous_examples: int = 10
    # Paths this API only forwards to another target, which fuzzes them fully on every backend:
    # a few requests each prove the door and the proxy (the gateway's own routes get max_examples).
    forwarded_prefixes: tuple[str, ...] = ()
    forwarded_examples: int = 3


def admin_principal() -> dict[str, str]:
    """Return the signed principal the gateway forwards for an admin."""
    return auth_headers("*", roles=("admin",), subject="fuzz-admin")


def service(name: str, build: Callable[[str, str], FastAPI]) -> Target:
    """Return a target serving one service on its own, called as the gateway would call it."""

    @contextlib.asynccontextmanager
    async def serve(backing: Backing) -> AsyncIterator[Endpoint]:
        async with LiveServer(build(backing.database_url, backing.nats_url)) as server:
            yield Endpoint(base_url=server.url, admin_headers=admin_principal)

    return Target(name=name, serve=serve)


GATEWAY_KEY = "fuzz-admin-key-with-enough-entropy-0001"


@contextlib.asynccontextmanager
async def serve_gateway(backing: Backing) -> AsyncIterator[Endpoint]:
    """Serve every service and the gateway in front: the merged API, called with the admin key."""
    builders: dict[str, Callable[[str, str], FastAPI]] = {
        "complaints": lambda db, nats: complaints_app(service_settings(ComplaintsSettings, db, nats)),
        "coverage-map": lambda db, nats: coverage_map_app(service_settings(CoverageSettings, db, nats)),
        "campaigns": lambda db, nats: campaigns_app(service_settings(CampaignsSettings, db, nats)),
        "contact-gateway": lambda db, nats: contact_gateway_app(
            service_settings(ContactGatewaySettings, db, nats)
        ),
    }
    async with contextlib.AsyncExitStack() as stack:
        urls = {}
        for name, build in builders.items():
            db = backing.database_url if name == "complaints" else backing.sqlite(name)
            urls[name] = (await stack.enter_async_context(LiveServer(build(db, backing.nats_url)))).url
        settings = service_settings(
            GatewaySettings,
            backing.sqlite("gateway"),
            backing.nats_url,
            admin_api_key=GATEWAY_KEY,
            complaints_url=urls["complaints"],
            coverage_map_url=urls["coverage-map"],
            campaigns_url=urls["campaigns"],
            contact_gateway_url=urls["contact-gateway"],
            rate_limit_anonymous=1_000_000,  # the fuzzer is one client making thousands of calls
        )
        gateway = await stack.enter_async_context(LiveServer(gateway_app(settings)))
        yield Endpoint(gateway.url, admin_headers=lambda: {"Authorization": f"Bearer {GATEWAY_KEY}"})


TARGETS = [
    service("complaints", lambda db, nats: complaints_app(service_settings(ComplaintsSettings, db, nats))),
    service("coverage-map", lambda db, nats: coverage_map_app(service_settings(CoverageSettings, db, nats))),
    service("campaigns", lambda db, nats: campaigns_app(service_settings(CampaignsSettings, db, nats))),
    service(
        "contact-gateway",
        lambda db, nats: contact_gateway_app(service_settings(ContactGatewaySettings, db, nats)),
    ),
    Target(
        "gateway",
        serve=lambda backing: serve_gateway(backing),
        public_paths=frozenset(
            {
                "/gateway/v1/login",
                "/complaints/v1/portal/complaints",
                "/complaints/v1/portal/complaint",
                "/coverage/v1/public/lookup",
                "/coverage/v1/public/plans",
            }
        ),
        # The services behind it are fuzzed on every backend above; through the gateway, fewer
        # examples on SQLite prove the door (auth, proxying, its own routes) without redoing that.
        max_examples=15,
        backends="sqlite",
        anonymous_examples=3,
        forwarded_prefixes=("/complaints/", "/coverage/", "/campaigns/", "/contact/", "/tmf-api/"),
    ),
]


# --- how requests are generated ---------------------------------------------------------------

# The schema says "format: phone" (a number in international form); random strings almost never are
# one, so without this every filing would stop at validation and nothing behind it would be reached.
_PHONE_NUMBERS = sorted(
    {
        phonenumbers.format_number(number, style)
        for region in ("HK", "GB", "US", "SG", "DE", "AU")
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
        if (number := phonenumbers.example_number_for_type(region, kind)) is not None
        for style in (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    }
)
schemathesis.openapi.format("phone", st.sampled_from(_PHONE_NUMBERS))


# NUL (PostgreSQL text refuses it), a right-to-left override, a 4-byte character (MySQL's utf8),
# quoting and escapes, whitespace only, and an SQL-looking string.
HOSTILE_STRINGS = [
    "\x00",
    "a\x00b",
    "\u202e",
    "\U0001f4a5",
    "'",
    '"',
    "\\",
    "%00",
    " ",
    "'); DROP TABLE x;--",
]
# Past 32-bit, past 64-bit signed and unsigned: where Python's unbounded ints meet a database's.
HOSTILE_INTEGERS = [2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64]


HOSTILE_PROBABILITY = 0.15


def fuzz_config(
    openapi: dict[str, Any], max_examples: int = MAX_EXAMPLES, *, boundaries: bool = True
) -> schemathesis.Config:
    """Return how schemathesis generates requests for this API.

    Explicit, so no schemathesis.toml elsewhere changes what runs, and reproducible: derandomized, no
    example database (a failure is found again by the same run, not by what an earlier run saved).
    Now and then every parameter and top-level body field gets a hostile value (strings and integers
    that break databases rather than validation) wherever the schema allows one, and in invalid
    requests wherever it does not; random text and numbers seldom hit those in a few dozen tries.
    Schemathesis binds such values by name only, so every name is read from the OpenAPI here.
    ``boundaries`` runs the coverage phase (boundary values derived from the schema); a caller
    refused at the door never reaches the validation those probe.
    """
    return schemathesis.Config.from_dict(
        {
            "generation": {"deterministic": True, "database": "none", "max-examples": max_examples},
            "dictionaries": {
                "hostile-values": {"values": [*HOSTILE_STRINGS, *HOSTILE_INTEGERS]},
                "hostile-strings": {"values": HOSTILE_STRINGS},
            },
            "parameters": {
                name: {"dictionary": dictionary, "probability": HOSTILE_PROBABILITY}
                for name, dictionary in hostile_inputs(openapi).items()
            },
            # The coverage phase is left as schemathesis sets it unless it is turned off.
            "phases": {"stateful": {"enabled": False}}
            | ({} if boundaries else {"coverage": {"enabled": False}}),
        }
    )


def hostile_inputs(openapi: dict[str, Any]) -> dict[str, str]:
    """Return the hostile dictionary for ``<location>.<name>`` of every parameter and top-level JSON
    body field the API documents.

    Body fields with a ``format`` or an enum are left to their own generation: a dictionary value is
    only checked against the JSON Schema, where ``format`` asserts nothing. A string parameter in the
    URL or a header gets hostile strings only: an integer there travels as its digits, a string the
    schema may well allow, while schemathesis would judge the integer and expect a refusal.
    """
    components = openapi.get("components", {}).get("schemas", {})

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return resolve(components.get(schema["$ref"].rsplit("/", 1)[-1], {}))
        return schema

    def plain(schema: dict[str, Any]) -> bool:
        branches = [resolve(b) for b in schema.get("anyOf", [schema])]
        return any(
            b.get("type") in ("string", "integer") and "format" not in b and "enum" not in b for b in branches
        )

    def addressable(name: str) -> bool:
        # Schemathesis names body fields by letters, digits, "_" and "-" only (not TMF's "@type").
        return all(c.isalnum() or c in "_-" for c in name)

    def textual(schema: dict[str, Any]) -> bool:
        branches = [resolve(b) for b in schema.get("anyOf", [schema])]
        return all(b.get("type") in ("string", "null") for b in branches)

    names: dict[str, str] = {}
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                name = f"{parameter['in']}.{parameter['name']}"
                text = textual(resolve(parameter.get("schema", {})))
                # One name in several operations: strings only unless it is textual in none of them.
                if text or names.get(name) == "hostile-strings":
                    names[name] = "hostile-strings"
                else:
                    names[name] = "hostile-values"
            for media in operation.get("requestBody", {}).get("content", {}).values():
                properties = resolve(media.get("schema", {})).get("properties", {})
                names.update(
                    (f"body.{name}", "hostile-values")
                    for name, schema in properties.items()
                    if plain(resolve(schema)) and addressable(name)
                )
    return names


HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


# --- checks of our own -------------------------------------------------------------------------


def problem_document(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx/5xx is an RFC 9457 problem document with type, title and the same status."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    assert content_type == PROBLEM_JSON, (
        f"{response.status_code} answered as {content_type or 'no content type'!r}, not {PROBLEM_JSON}"
    )
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} problem body is not JSON: {exc}") from exc
    assert isinstance(body, dict), f"problem body is not an object: {body!r}"
    for member in ("type", "title"):
        assert isinstance(body.get(member), str), f"problem without a {member}: {body!r}"
        assert body[member], f"problem with an empty {member}: {body!r}"
    assert body.get("status") == response.status_code, (
        f"problem status {body.get('status')!r} differs from the response's {response.status_code}"
    )
    return None


def _is_positive(case: Case[Any]) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def admin_input_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """An admin's schema-valid request succeeds, or names a resource that does not exist.

    Stricter than schemathesis's positive_data_acceptance (which also accepts 401, 403, 409 and 5xx).
    The one documented refusal of valid input: an Idempotency-Key already used for another request
    (422 idempotency-key-reused, as draft-ietf-httpapi-idempotency-key-header asks) - the schema
    cannot say that a key must be new.
    """
    if not _is_positive(case) or 200 <= response.status_code < 300 or response.status_code == 404:
        return None
    if case.operation.path in TOKEN_ROUTES and response.status_code == 401:
        return None
    if response.status_code == 422 and response.json().get("type", "").endswith(":idempotency-key-reused"):
        return None
    if response.status_code == 409:
        return None  # valid, but clashes with what exists (a user name taken, a plan already done)
    if _breaks_an_unstated_rule(response):
        return None  # valid, but breaks a rule the schema cannot state (a date in the past, an empty file)
    raise AssertionError(
        f"schema-valid input from an admin was refused with {response.status_code}: {response.text}"
    )


def _breaks_an_unstated_rule(response: Response) -> bool:
    """Tell whether a 422 refuses valid input for a rule the schema cannot state (its own problem type)."""
    if response.status_code != 422:
        return False
    try:
        kind = response.json().get("type", "")
    except ValueError:
        return False
    return isinstance(kind, str) and not kind.endswith(":validation-error")


def valid_input_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """schemathesis's positive_data_acceptance, for callers without credentials (public routes).

    The same exception as for admins: valid input may break a rule the schema cannot state (the
    portal's ``occurred_at`` must be in the past), answered by a 422 of its own type.
    """
    if _breaks_an_unstated_rule(response):
        return None
    return positive_data_acceptance(ctx, response, case)


# Routes that take a different kind of credential than a principal with scopes: following a
# complaint on the portal needs the customer's tracking token, which no staff scope replaces, and
# logging in checks the user name and password in the body.
TOKEN_ROUTES = frozenset({"/complaints/v1/portal/complaint", "/gateway/v1/login"})


def admin_never_refused(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """An admin holds every scope: no answer, whatever the input, is 401 or 403."""
    if case.operation.path in TOKEN_ROUTES and response.status_code == 401:
        return None
    assert response.status_code not in (401, 403), (
        f"admin refused with {response.status_code}: {response.text}"
    )
    return None


def _is_undecodable_body(response: Response) -> bool:
    """Tell whether the answer says the body cannot be read as JSON at all.

    FastAPI decodes the body before it runs any dependency: 400 when it is not text, 422 json_invalid
    when it is not JSON.
    """
    if response.status_code == 400:
        return True
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or []
    return bool(errors) and all(e.get("type") == "json_invalid" for e in errors)


def credentials_required(public_paths: frozenset[str]) -> Callable[[CheckContext, Response, Case[Any]], None]:
    """Build the check that every operation outside ``public_paths`` refuses anonymous callers with 401.

    Two kinds of answer come before authentication and are allowed: 405 for a method the path does not
    serve, and 400 / 422 json_invalid for a body that cannot be read as JSON (FastAPI decodes the body
    before it runs the dependency that checks the principal; the answer says nothing beyond "not JSON").
    """

    def credentials_required(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
        if case.operation.path in public_paths or case.method.upper() != case.operation.method.upper():
            return
        if _is_undecodable_body(response):
            return
        assert response.status_code == 401, (
            f"{case.operation.label} answered an anonymous caller with {response.status_code}, not 401"
        )

    return credentials_required


SCHEMA_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    problem_document,
]


def checks_for(caller: Caller, target: Target) -> list[Any]:
    """Return the checks every response to ``caller`` must pass."""
    if caller == "admin":
        return [*SCHEMA_CHECKS, admin_input_accepted, admin_never_refused]
    return [*SCHEMA_CHECKS, valid_input_accepted, credentials_required(target.public_paths)]


# --- running ------------------------------------------------------------------------------------


@pytest.fixture(params=TARGETS, ids=lambda t: t.name)
def target(request: pytest.FixtureRequest) -> Target:
    """Return the API under test."""
    value: Target = request.param
    return value


@contextlib.contextmanager
def serving(target: Target, backing: Backing) -> Iterator[Endpoint]:
    """Serve the target on an event loop thread of its own: the generated requests block this one."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(target.serve(backing)) as endpoint,
    ):
        yield endpoint


def operation_tests(
    schema: schemathesis.BaseSchema, check_case: Callable[[Case[Any]], None]
) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield each operation's label and its Hypothesis test: documented examples, boundary cases, fuzzing.

    This is what ``schemathesis.pytest.from_fixture`` runs per operation; its pytest wiring breaks
    on pytest 9.2 (``Function._nodeid`` is gone), so the operations are reported as subtests here.
    An operation schemathesis cannot read yields a test that fails saying why.
    """
    for result in get_all_tests(schema=schema, test_func=check_case, settings=HYPOTHESIS, given_kwargs=None):
        if isinstance(result, Err):
            error = result.err()
            yield f"{(error.method or '').upper()} {error.path}".strip(), error.as_failing_test_function()
        else:
            operation, test = result.ok()
            yield operation.label, test


def with_paths(openapi: dict[str, Any], keep: Callable[[str], bool]) -> dict[str, Any]:
    """Return the OpenAPI document with only the paths ``keep`` says yes to."""
    return {**openapi, "paths": {path: item for path, item in openapi.get("paths", {}).items() if keep(path)}}


def fuzz(endpoint: Endpoint, target: Target, caller: Caller, subtests: pytest.Subtests) -> None:
    """Send every operation of the target's OpenAPI generated requests as ``caller``; check every answer.

    An anonymous caller is refused at the door outside the public paths, before any validation, so
    there a few requests per operation prove the door; public operations get the admin's share.
    Paths the target only forwards get a few requests too: the target behind fuzzes them fully.
    """
    url = f"{endpoint.base_url}{target.schema_path}"
    openapi = httpx.get(url, timeout=30).raise_for_status().json()
    checks = checks_for(caller, target)
    if caller == "admin":
        forwarded = target.forwarded_prefixes
        runs = [
            (with_paths(openapi, lambda path: not path.startswith(forwarded)), target.max_examples, True),
            (with_paths(openapi, lambda path: path.startswith(forwarded)), target.forwarded_examples, False),
        ]
    else:
        public = target.public_paths
        runs = [
            (with_paths(openapi, lambda path: path in public), target.max_examples, True),
            (with_paths(openapi, lambda path: path not in public), target.anonymous_examples, False),
        ]

    def check_case(case: Case[Any]) -> None:
        # The services document the gateway's principal header as their security scheme, so
        # schemathesis fills it with generated junk; the caller's own credentials replace it.
        # The gateway's document declares bearer schemes, so schemathesis may invent an Authorization
        # value too: the caller under test sends its own credentials or none.
        if case.headers:
            case.headers = {
                k: v
                for k, v in case.headers.items()
                if k.lower() not in ("x-careloop-principal", "authorization")
            }
        headers = endpoint.admin_headers() if caller == "admin" else {}
        response = case.call(base_url=endpoint.base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks, headers=headers)

    labels = []
    for document, examples, boundaries in runs:
        if not document["paths"]:
            continue
        config = fuzz_config(document, examples, boundaries=boundaries)
        schema = schemathesis.openapi.from_dict(document, config=config)
        for label, test in operation_tests(schema, check_case):
            labels.append(label)
            with subtests.test(msg=label):
                try:
                    test()
                except FailureGroup as exc:
                    raise as_reported_failure(exc) from None
    assert labels, f"{url} documents no operation"


def test_admin_calls(
    target: Target, database_url: str, sqlite_url: str, nats_url: str, subtests: pytest.Subtests
) -> None:
    """An admin's generated requests reach validation and storage: on every database backend."""
    if target.backends == "sqlite" and not database_url.startswith("sqlite"):
        pytest.skip(f"{target.name} is fuzzed on SQLite; what it fronts is fuzzed on every backend")
    with serving(target, Backing(database_url, sqlite_url, nats_url)) as endpoint:
        fuzz(endpoint, target, "admin", subtests)


def test_anonymous_calls(target: Target, sqlite_url: str, nats_url: str, subtests: pytest.Subtests) -> None:
    """Requests without credentials are refused at the door (one backend: they never reach storage)."""
    with serving(target, Backing(sqlite_url, sqlite_url, nats_url)) as endpoint:
        fuzz(endpoint, target, "anonymous", subtests)

"""Gateway rules: who the caller is, and which upstream owns a path."""

from __future__ import annotations

import hmac

from careloop_common.auth import Principal
from careloop_common.errors import ProblemError

# Longest prefix first: the first match owns the path.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/complaints/v1", "complaints"),
    ("/tmf-api/troubleTicket/v5", "complaints"),
    ("/coverage/v1", "coverage-map"),
    ("/campaigns/v1", "campaigns"),
    ("/contact/v1", "contact-gateway"),
    ("/tmf-api/communicationManagement/v4", "contact-gateway"),
)


def upstream_for(path: str) -> str | None:
    """Return the name of the service that owns a path, or None for the web pages."""
    for prefix, name in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return None


def authenticate(authorization: str | None, admin_api_key: str) -> Principal | None:
    """Return the caller for an Authorization header; None when anonymous; 401 when wrong."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(
            401,
            "unauthorized",
            "use 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="careloop"'},
        )
    if admin_api_key and hmac.compare_digest(token.strip().encode(), admin_api_key.encode()):
        return Principal(subject="admin", kind="api_key", roles=["admin"], scopes=["*"])
    raise ProblemError(
        401,
        "unauthorized",
        "unknown or revoked credentials",
        headers={"WWW-Authenticate": 'Bearer realm="careloop", error="invalid_token"'},
    )

"""Staff sessions: the gateway's staff token kept in an encrypted, signed, HttpOnly cookie.

The web service stores nothing: the cookie is a Fernet token (AES-128-CBC with HMAC-SHA256 and a
timestamp) holding the user's bearer token, name, roles, scopes and a CSRF secret. The browser can
neither read the bearer token (HttpOnly, and encrypted besides) nor change the roles it holds
(signed); the gateway still checks the token on every call, so a disabled user is refused at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field

from cryptography.fernet import Fernet, InvalidToken

SESSION_COOKIE = "careloop_session"
LANGUAGE_COOKIE = "careloop_lang"


@dataclass(frozen=True)
class StaffSession:
    """A signed-in staff member as the pages know them."""

    token: str
    username: str
    roles: list[str]
    scopes: list[str]
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def may(self, scope: str) -> bool:
        """Tell whether the user holds a scope (``*`` holds every one)."""
        return "*" in self.scopes or scope in self.scopes

    def csrf_ok(self, sent: str | None) -> bool:
        """Check the CSRF token a form sent back against the session's."""
        return bool(sent) and hmac.compare_digest(str(sent).encode(), self.csrf.encode())


class SessionCodec:
    """Seal sessions into cookie values and open them again, refusing old or tampered ones."""

    def __init__(self, secret: str, max_age_s: int = 8 * 3600) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"careloop-web-session:" + secret.encode()).digest())
        self._fernet = Fernet(key)
        self.max_age_s = max_age_s

    def seal(self, session: StaffSession) -> str:
        """Return the cookie value for a session."""
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def open(self, value: str | None) -> StaffSession | None:
        """Return the session in a cookie value; None when missing, expired, tampered or malformed."""
        if not value or len(value) > 8192:
            return None
        try:
            raw = self._fernet.decrypt(value.encode(), ttl=self.max_age_s)
            data = json.loads(raw)
            return StaffSession(
                token=str(data["token"]),
                username=str(data["username"]),
                roles=[str(r) for r in data["roles"]],
                scopes=[str(s) for s in data["scopes"]],
                csrf=str(data["csrf"]),
            )
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None

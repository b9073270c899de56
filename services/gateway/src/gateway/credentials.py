"""Credential formats and checks: API keys, staff passwords, staff tokens, OIDC tokens, tracking tokens.

- API keys look like ``clk_<id>_<secret>``; only SHA-256 of the secret is stored. A KDF adds
  nothing for 256-bit random secrets and would cost every request.
- Staff passwords are hashed with Argon2id (argon2-cffi), which is slow on purpose: only at login.
- Staff tokens are HS256 JWTs minted by the gateway; an external OIDC issuer can be trusted instead.
- Portal tracking tokens (``trk_…``) are bearer credentials for one complaint; the gateway passes
  only their SHA-256 on, and the complaints service matches it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY_PREFIX = "clk_"
TRACKING_PREFIX = "trk_"
STAFF_ISSUER = "careloop"
STAFF_AUDIENCE = "careloop-staff"

_hasher = PasswordHasher()
# Verifying against this when a user does not exist keeps login time the same for unknown names.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class NewApiKey:
    """A freshly made key: the token is shown to its owner once and never stored."""

    key_id: str
    token: str
    secret_hash: str


def new_api_key() -> NewApiKey:
    """Make a random API key."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id, f"{API_KEY_PREFIX}{key_id}_{secret}", hash_secret(secret))


def new_secret_for(key_id: str) -> NewApiKey:
    """Make a new secret for an existing key id (rotation)."""
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id, f"{API_KEY_PREFIX}{key_id}_{secret}", hash_secret(secret))


def parse_api_key(token: str) -> tuple[str, str] | None:
    """Split an API key into (key id, secret), or None if it is not shaped like one."""
    if not token.startswith(API_KEY_PREFIX):
        return None
    key_id, sep, secret = token[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != 12 or not secret:
        return None
    return key_id, secret


def hash_secret(secret: str) -> str:
    """Return the stored form of an API key secret or tracking token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Compare a presented secret with a stored hash in constant time."""
    return stored_hash is not None and hmac.compare_digest(hash_secret(secret), stored_hash)


async def hash_password(password: str) -> str:
    """Hash a password with Argon2id, off the event loop (it is slow by design)."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, stored_hash: str | None) -> bool:
    """Check a password against its Argon2id hash (or a dummy one, so timing reveals nothing)."""

    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def mint_staff_token(username: str, roles: list[str], secret: str, ttl_s: int) -> str:
    """Mint a staff token (JWT) for a user who just logged in."""
    now = int(time.time())
    claims = {
        "sub": username,
        "roles": roles,
        "iss": STAFF_ISSUER,
        "aud": STAFF_AUDIENCE,
        "iat": now,
        "exp": now + ttl_s,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_staff_token(token: str, secret: str) -> dict[str, Any]:
    """Check a staff token's signature, issuer, audience and expiry; raise jwt errors if it fails."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        issuer=STAFF_ISSUER,
        audience=STAFF_AUDIENCE,
        options={"require": ["exp", "iat", "sub"]},
    )
    return claims


def unverified_issuer(token: str) -> str | None:
    """Read a JWT's ``iss`` without checking it, to pick the key that must check it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


class OidcVerifier:
    """Trust tokens from an external OpenID Connect issuer, checked against its published keys."""

    def __init__(
        self, issuer: str, audience: str, jwks_url: str, roles_claim: str, username_claim: str
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.roles_claim = roles_claim
        self.username_claim = username_claim
        # PyJWKClient caches the key set and fetches again only for an unknown key id.
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    async def verify(self, token: str) -> tuple[str, list[str]]:
        """Return (username, roles) of a valid token; raise jwt errors if it is not."""
        key = await asyncio.to_thread(self._keys.get_signing_key_from_jwt, token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
            issuer=self.issuer,
            audience=self.audience,
            options={"require": ["exp", "iat", "sub"]},
        )
        return str(claims.get(self.username_claim) or claims["sub"]), _roles_from(claims, self.roles_claim)


def _roles_from(claims: dict[str, Any], path: str) -> list[str]:
    """Read roles from a dotted claim path (``realm_access.roles`` for Keycloak, ``roles`` otherwise)."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return value.split()
    return [str(r) for r in value] if isinstance(value, list) else []

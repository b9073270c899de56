"""Request and response models of the gateway's own API (keys, users, login, feeds)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from careloop_common.auth import SCOPES, STAFF_ROLES
from careloop_common.inputs import Text, Timestamp

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def _known_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return list(dict.fromkeys(scopes))


def _known_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(STAFF_ROLES)}")
    return list(dict.fromkeys(roles))


# Said as enums in the schema (so clients know the names), checked again on the way in.
ScopeName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(SCOPES)})]
RoleName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(STAFF_ROLES)})]
Scopes = Annotated[
    list[ScopeName], Field(min_length=1, max_length=len(SCOPES)), AfterValidator(_known_scopes)
]
Roles = Annotated[
    list[RoleName], Field(min_length=1, max_length=len(STAFF_ROLES)), AfterValidator(_known_roles)
]


Password = Annotated[str, Field(min_length=12, max_length=256, description="at least 12 characters")]


class ApiKeyCreate(BaseModel):
    """A new API key for a partner or a system."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme dealer portal",
                    "partner_id": "acme",
                    "scopes": ["complaints:read", "complaints:write"],
                    "expires_at": "2027-12-31T00:00:00Z",
                }
            ]
        },
    )

    name: Text = Field(min_length=1, max_length=200)
    partner_id: Identifier | None = Field(
        default=None, description="set for partners: they see only their own data"
    )
    scopes: Scopes
    expires_at: Timestamp | None = Field(default=None, description="no expiry when absent")
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000, description="requests per minute; the platform default when absent"
    )


class ApiKeyRotate(BaseModel):
    """Rotate a key's secret; the old one may keep working for a grace period."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(default=0, ge=0, le=7 * 86_400)


class ApiKeyPublic(BaseModel):
    """An API key as listed: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    partner_id: str | None
    scopes: list[str]
    rate_limit_per_minute: int | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    rotated_at: datetime | None
    revoked_at: datetime | None
    previous_valid_until: datetime | None


class ApiKeyIssued(ApiKeyPublic):
    """A key just created or rotated: ``token`` is shown this once and cannot be shown again."""

    token: str = Field(description="send as 'Authorization: Bearer <token>'; store it now")


class ApiKeyPage(BaseModel):
    """One page of API keys."""

    items: list[ApiKeyPublic]
    total: int
    limit: int
    offset: int


class UserCreate(BaseModel):
    """A new local staff account."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "mei.chan",
                    "display_name": "Mei Chan",
                    "roles": ["agent"],
                    "password": "correct horse battery",
                }
            ]
        },
    )

    username: Identifier
    display_name: Text = Field(min_length=1, max_length=200)
    roles: Roles
    password: Password


class UserUpdate(BaseModel):
    """Changes to a staff account; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    display_name: Text | None = Field(default=None, min_length=1, max_length=200)
    roles: Roles | None = None
    password: Password | None = None
    disabled: bool | None = Field(default=None, strict=True)


class UserPublic(BaseModel):
    """A staff account as listed: never its password hash."""

    model_config = ConfigDict(from_attributes=True)

    username: str
    display_name: str
    roles: list[str]
    disabled: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class UserPage(BaseModel):
    """One page of staff users."""

    items: list[UserPublic]
    total: int
    limit: int
    offset: int


class LoginRequest(BaseModel):
    """A staff login."""

    model_config = ConfigDict(extra="forbid")

    username: Text = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    """A staff token, to send as 'Authorization: Bearer <access_token>'."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    username: str
    roles: list[str]
    scopes: list[str]


class Me(BaseModel):
    """Who the gateway takes the caller to be, and what they may do."""

    subject: str
    kind: str
    roles: list[str]
    scopes: list[str]
    partner_id: str | None


class FeedEvent(BaseModel):
    """An operator feed event as a CloudEvents 1.0 structured JSON envelope."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=500)
    type: str = Field(
        pattern=r"^feeds\.[a-z0-9_]+\.[a-z0-9_]+\.v[0-9]+$",
        max_length=200,
        examples=["feeds.bss.balance_changed.v1"],
        description="feeds.<system>.<event>.v<version>",
    )
    time: Timestamp | None = None
    subject: str | None = Field(default=None, max_length=200)
    datacontenttype: Literal["application/json"] | None = None
    dataschema: str | None = Field(default=None, max_length=500)
    data: dict[str, Any]


class FeedIngestResult(BaseModel):
    """What became of a batch: every event is on the FEEDS stream, once."""

    accepted: int = Field(description="events stored now")
    duplicates: int = Field(description="events already stored from an earlier send (same source and id)")

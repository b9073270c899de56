"""Gateway tables: API keys and local staff users (SQLModel: X(table=True))."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, Integer, String
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, metadata

__all__ = ["ApiKey", "StaffUser", "metadata"]


class ApiKey(SQLModel, table=True):
    """A credential for a partner or a system: only a hash of its secret is kept."""

    __tablename__ = "api_key"

    id: str = Field(sa_column=Column(String(16), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    partner_id: str | None = Field(default=None, sa_column=Column(String(64), index=True))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    # After a rotation the old secret keeps working until this moment (a grace period).
    previous_secret_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    previous_valid_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    rate_limit_per_minute: int | None = Field(default=None, sa_column=Column(Integer))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    rotated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class StaffUser(SQLModel, table=True):
    """A local staff account: roles decide scopes; the password is kept as an Argon2id hash."""

    __tablename__ = "staff_user"

    username: str = Field(sa_column=Column(String(64), primary_key=True))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    disabled: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_login_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

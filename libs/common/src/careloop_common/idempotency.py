"""Idempotency-Key for writes from outside: the same key replays the first answer, never a second write."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import Column, Integer, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, utcnow
from careloop_common.errors import ProblemError

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        min_length=1,
        description="Any unique string; a retry with the same key returns the first answer.",
    ),
]


class IdempotencyRecord(SQLModel, table=True):
    """The answer given to the first request with a key, kept to replay to its retries."""

    __tablename__ = "idempotency_record"

    principal: str = Field(sa_column=Column(String(128), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int = Field(sa_column=Column(Integer, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def fingerprint(method: str, path: str, body: Any) -> str:
    """Hash what a request asked for, so a key reused for a different request is caught."""
    canonical = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path} {canonical}".encode()).hexdigest()


async def replay(session: AsyncSession, principal: str, key: str, print_: str) -> tuple[int, Any] | None:
    """Return the stored (status, body) for a key, or None when the key is new."""
    record = await session.get(IdempotencyRecord, (principal, key))
    if record is None:
        return None
    if record.fingerprint != print_:
        raise ProblemError(
            422, "idempotency-key-reused", "this Idempotency-Key was already used for a different request"
        )
    return record.status_code, json.loads(record.body)


def remember(session: AsyncSession, principal: str, key: str, print_: str, status: int, body: Any) -> None:
    """Store the answer in the same transaction as the write it describes."""
    session.add(
        IdempotencyRecord(
            principal=principal,
            key=key,
            fingerprint=print_,
            status_code=status,
            body=json.dumps(body, default=str),
            created_at=utcnow(),
        )
    )

"""Every query of the gateway lives here."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from gateway.models import ApiKey, StaffUser


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    """Return one API key by id."""
    return await session.get(ApiKey, key_id)


async def add(session: AsyncSession, row: ApiKey | StaffUser) -> None:
    """Stage a new row and flush it so constraint errors surface now."""
    session.add(row)
    await session.flush()


async def page_api_keys(
    session: AsyncSession, partner_id: str | None, include_revoked: bool, limit: int, offset: int
) -> tuple[list[ApiKey], int]:
    """Return API keys newest first, optionally for one partner and without revoked ones."""
    query = select(ApiKey)
    if partner_id is not None:
        query = query.where(col(ApiKey.partner_id) == partner_id)
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(
        query.order_by(col(ApiKey.created_at).desc(), col(ApiKey.id)).limit(limit).offset(offset)
    )
    return list(rows.scalars()), int(total)


async def get_user(session: AsyncSession, username: str) -> StaffUser | None:
    """Return one staff user by user name."""
    return await session.get(StaffUser, username)


async def page_users(session: AsyncSession, limit: int, offset: int) -> tuple[list[StaffUser], int]:
    """Return staff users by user name."""
    total = (await session.execute(select(func.count()).select_from(StaffUser))).scalar_one()
    rows = await session.execute(
        select(StaffUser).order_by(col(StaffUser.username)).limit(limit).offset(offset)
    )
    return list(rows.scalars()), int(total)

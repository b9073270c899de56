"""Every query of the campaigns service lives here."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from campaigns.models import Segment, Subscriber


async def add(session: AsyncSession, *rows: SQLModel) -> None:
    """Stage rows and flush them."""
    session.add_all(rows)
    await session.flush()


async def get_segment(session: AsyncSession, segment_id: str) -> Segment | None:
    """Return one saved segment."""
    return await session.get(Segment, segment_id)


async def segment_named(session: AsyncSession, name: str) -> Segment | None:
    """Return the segment with this name, if one has it."""
    result = await session.scalars(select(Segment).where(col(Segment.name) == name).limit(1))
    return result.first()


async def segments_page(session: AsyncSession, limit: int, offset: int) -> tuple[list[Segment], int]:
    """Return saved segments by name."""
    rows = await session.scalars(
        select(Segment).order_by(col(Segment.name), col(Segment.id)).limit(limit).offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(Segment))
    return list(rows), int(total or 0)


async def count_subscribers(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    """Count the subscribers meeting a compiled segment."""
    total = await session.scalar(select(func.count()).select_from(Subscriber).where(condition))
    return int(total or 0)


async def sample_subscribers(
    session: AsyncSession, condition: ColumnElement[bool], limit: int
) -> list[Subscriber]:
    """Return the first subscribers by number meeting a compiled segment."""
    rows = await session.scalars(
        select(Subscriber).where(condition).order_by(col(Subscriber.msisdn)).limit(limit)
    )
    return list(rows)

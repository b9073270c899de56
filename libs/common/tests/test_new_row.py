"""Cheap row construction (db.new_row): the same instance the constructor builds, without its cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import JSON, Column, Integer, String, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from careloop_common.db import (
    SessionFactory,
    UTCDateTime,
    create_engine,
    create_session_factory,
    new_row,
    row_values,
    transaction,
)

AT = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)


class Sample(SQLModel, table=True):
    """A row with required fields, plain defaults and a default factory."""

    __tablename__ = "test_new_row_sample"

    id: str = Field(sa_column=Column(String(8), primary_key=True))
    name: str = Field(sa_column=Column(String(32), nullable=False))
    count: int = Field(default=3, sa_column=Column(Integer, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(32)))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A database with the sample table."""
    engine: AsyncEngine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[Sample.__table__])  # type: ignore[attr-defined]
    yield create_session_factory(engine)
    await engine.dispose()


def test_it_builds_what_the_constructor_builds() -> None:
    built = new_row(Sample, id="a", name="alpha", at=AT)
    constructed = Sample(id="a", name="alpha", at=AT)
    assert built.model_dump() == constructed.model_dump()
    assert built.model_fields_set == constructed.model_fields_set == {"id", "name", "at"}
    assert row_values(built) == {"id": "a", "name": "alpha", "count": 3, "tags": [], "note": None, "at": AT}


def test_default_factories_give_each_row_its_own_value() -> None:
    first, second = new_row(Sample, id="a", name="a", at=AT), new_row(Sample, id="b", name="b", at=AT)
    first.tags.append("x")
    assert second.tags == []


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="no fields"):
        new_row(Sample, id="a", name="a", at=AT, colour="red")
    with pytest.raises(TypeError, match="needs a value for name"):
        new_row(Sample, id="a", at=AT)


async def test_added_to_a_session_it_is_saved_with_later_changes(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        row = new_row(Sample, id="s1", name="first", at=AT)
        session.add(row)
        row.count = 7  # set through the instrumentation after building: must reach the insert
    async with sessions() as session:
        saved = await session.get(Sample, "s1")
        assert saved is not None
        assert (saved.name, saved.count, saved.tags, saved.at) == ("first", 7, [], AT)


async def test_its_values_insert_as_a_plain_row(sessions: SessionFactory) -> None:
    table = Sample.__table__  # type: ignore[attr-defined]
    row = new_row(Sample, id="p1", name="plain", tags=["t"], at=AT)
    row.note = "changed"
    async with transaction(sessions) as session:
        await session.execute(insert(table), [row_values(row)])
    async with sessions() as session:
        saved = (await session.execute(select(table.c.name, table.c.tags, table.c.note))).one()
    assert tuple(saved) == ("plain", ["t"], "changed")

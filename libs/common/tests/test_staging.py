"""Plain-row staging (db.stage_insert): rows land with the transaction, after the objects they refer to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from careloop_common.db import (
    SessionFactory,
    create_engine,
    create_session_factory,
    stage_insert,
    transaction,
)


class StagingParent(SQLModel, table=True):
    """An ORM row the staged rows refer to."""

    __tablename__ = "test_staging_parent"

    id: str = Field(sa_column=Column(String(8), primary_key=True))


class StagingChild(SQLModel, table=True):
    """Rows the tests stage as plain dicts (the class only declares the table)."""

    __tablename__ = "test_staging_child"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    parent_id: str = Field(sa_column=Column(String(8), ForeignKey("test_staging_parent.id"), nullable=False))
    note: str = Field(sa_column=Column(String(32), nullable=False))


TABLES = [StagingParent.__table__, StagingChild.__table__]  # type: ignore[attr-defined]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A database with the parent and child tables."""
    engine: AsyncEngine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=TABLES)
    yield create_session_factory(engine)
    await engine.dispose()


async def children(sessions: SessionFactory) -> list[tuple[str, str]]:
    """Return (parent_id, note) of every child row, in insertion order."""
    table = SQLModel.metadata.tables["test_staging_child"]
    async with sessions() as session:
        rows = await session.execute(select(table.c.parent_id, table.c.note).order_by(table.c.id))
        return [(p, n) for p, n in rows]


async def test_staged_rows_follow_the_objects_they_refer_to(sessions: SessionFactory) -> None:
    table = SQLModel.metadata.tables["test_staging_child"]
    async with transaction(sessions) as session:
        session.add(StagingParent(id="p1"))
        # Staged before the parent is flushed: the foreign key holds only if they are inserted after it.
        stage_insert(session, table, {"parent_id": "p1", "note": "first"})
        stage_insert(session, table, {"parent_id": "p1", "note": "second"})
    assert await children(sessions) == [("p1", "first"), ("p1", "second")]


async def test_staged_rows_alone_are_written_at_commit(sessions: SessionFactory) -> None:
    table = SQLModel.metadata.tables["test_staging_child"]
    async with transaction(sessions) as session:
        session.add(StagingParent(id="p2"))
    async with transaction(sessions) as session:
        stage_insert(session, table, {"parent_id": "p2", "note": "only staged"})
    assert await children(sessions) == [("p2", "only staged")]


async def test_a_rollback_forgets_staged_rows(sessions: SessionFactory) -> None:
    table = SQLModel.metadata.tables["test_staging_child"]

    async def fail_after_staging() -> None:
        async with transaction(sessions) as session:
            session.add(StagingParent(id="p3"))
            stage_insert(session, table, {"parent_id": "p3", "note": "lost with the rollback"})
            raise RuntimeError("the business rule failed")

    with pytest.raises(RuntimeError):
        await fail_after_staging()
    async with transaction(sessions) as session:
        session.add(StagingParent(id="p4"))
    assert await children(sessions) == []
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(StagingParent)) == 1

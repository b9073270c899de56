"""GroupCommit: concurrent requests' staged rows share transactions, and each still answers for its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from careloop_common.db import (
    GroupCommit,
    SessionFactory,
    create_engine,
    create_session_factory,
    on_commit,
    stage_insert,
)


class GroupParent(SQLModel, table=True):
    """A row each request writes first (its primary key lets a test make one request fail)."""

    __tablename__ = "test_group_parent"

    id: str = Field(sa_column=Column(String(16), primary_key=True))


class GroupChild(SQLModel, table=True):
    """A row each request writes that refers to its parent (foreign keys are enforced)."""

    __tablename__ = "test_group_child"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    parent_id: str = Field(sa_column=Column(String(16), ForeignKey("test_group_parent.id"), nullable=False))


PARENT: Table = GroupParent.__table__  # type: ignore[attr-defined]
CHILD: Table = GroupChild.__table__  # type: ignore[attr-defined]


class Commits:
    """Counts the transactions that committed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _session: Session) -> None:
        self.count += 1


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database with the parent and child tables (SQLite: one connection, as services run it)."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[PARENT, CHILD])
    yield engine
    await engine.dispose()


async def file(sessions: SessionFactory, group: GroupCommit, parent_id: str) -> None:
    """One request: a child staged before its parent, as a timeline line before its new complaint."""
    async with sessions() as session:
        stage_insert(session, CHILD, {"parent_id": parent_id})
        stage_insert(session, PARENT, {"id": parent_id})
        await group.commit(session)


async def count(sessions: SessionFactory, table: Table) -> int:
    """Return how many rows a table holds."""
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize("writers", [1, 3])
async def test_concurrent_requests_share_transactions_and_every_row_lands(
    engine: AsyncEngine, writers: int
) -> None:
    commits = Commits()
    sessions = create_session_factory(engine, after_commit=commits)
    # Several writers on SQLite's one connection take turns; on PostgreSQL they overlap.
    group = GroupCommit(sessions, service="test", writers=writers)
    await asyncio.gather(*(file(sessions, group, f"p{n}") for n in range(60)))
    assert await count(sessions, PARENT) == 60
    assert await count(sessions, CHILD) == 60
    # The first request is written alone; those arriving meanwhile wait and go in together.
    assert commits.count < 60 // 2


async def test_a_request_alone_is_written_at_once(engine: AsyncEngine) -> None:
    commits = Commits()
    sessions = create_session_factory(engine, after_commit=commits)
    group = GroupCommit(sessions, service="test")
    await file(sessions, group, "alone")
    assert commits.count == 1
    assert await count(sessions, CHILD) == 1


async def test_a_bad_request_fails_alone_and_the_others_land(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    group = GroupCommit(sessions, service="test")
    await file(sessions, group, "taken")
    outcomes = await asyncio.gather(
        *(file(sessions, group, name) for name in ["a", "b", "taken", "c", "d"]), return_exceptions=True
    )
    assert [o is None for o in outcomes] == [True, True, False, True, True]
    assert isinstance(outcomes[2], IntegrityError)
    assert await count(sessions, PARENT) == 5
    # The failed request's child went with its parent: nothing of it was written.
    assert await count(sessions, CHILD) == 5


async def test_callbacks_run_once_the_shared_commit_is_in(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    group = GroupCommit(sessions, service="test")
    ran: list[str] = []

    async def request(name: str) -> None:
        async with sessions() as session:
            stage_insert(session, PARENT, {"id": name})
            on_commit(session, lambda: ran.append(name))
            await group.commit(session)

    outcomes = await asyncio.gather(request("x"), request("y"), request("x"), return_exceptions=True)
    assert isinstance(outcomes[2], IntegrityError)
    # The duplicate's callback never runs: its rows were not committed.
    assert sorted(ran) == ["x", "y"]


async def test_a_session_that_began_a_transaction_commits_on_its_own(engine: AsyncEngine) -> None:
    commits = Commits()
    sessions = create_session_factory(engine, after_commit=commits)
    group = GroupCommit(sessions, service="test")
    async with sessions() as session:
        # A read first: on SQLite it holds the only connection, which a shared transaction would wait for.
        assert await session.scalar(select(func.count()).select_from(PARENT)) == 0
        stage_insert(session, PARENT, {"id": "reader"})
        await asyncio.wait_for(group.commit(session), timeout=10)
    assert commits.count == 1
    assert await count(sessions, PARENT) == 1


async def test_a_request_that_stops_waiting_does_not_stop_the_write(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    group = GroupCommit(sessions, service="test")
    first = asyncio.create_task(file(sessions, group, "first"))
    await asyncio.sleep(0)  # the first request's transaction is under way
    impatient = asyncio.create_task(file(sessions, group, "impatient"))
    others = [asyncio.create_task(file(sessions, group, f"other{n}")) for n in range(3)]
    await asyncio.sleep(0)
    impatient.cancel()
    await asyncio.gather(first, *others)
    with pytest.raises(asyncio.CancelledError):
        await impatient
    # Cancelled while queued: its rows are still written with the next transaction, as a commit
    # already sent to the database would be.
    async with sessions() as session:
        ids = set(await session.scalars(select(PARENT.c.id)))
    assert ids == {"first", "impatient", "other0", "other1", "other2"}

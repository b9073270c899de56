"""Database engines and sessions: one async engine per service, the request owns the transaction."""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import Histogram
from pydantic.fields import FieldInfo
from sqlalchemy import DateTime, MetaData, Table, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, attributes, class_mapper
from sqlalchemy.schema import sort_tables
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Stable constraint names make Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

SessionFactory = async_sessionmaker[AsyncSession]
Row = TypeVar("Row", bound=SQLModel)


def metadata() -> MetaData:
    """Return the metadata all careloop tables register on (SQLModel's, with our naming convention)."""
    return SQLModel.metadata


# What SQLite says when the disk, not the statement, is at fault (full, read-only, failing, locked).
_SQLITE_UNAVAILABLE = (
    "disk i/o error",
    "readonly database",
    "database or disk is full",
    "database is locked",
    "unable to open database file",
)
# PostgreSQL SQLSTATE classes of the same: connection (08), insufficient resources such as a full
# disk (53), operator intervention such as a shutdown (57P), a read-only transaction (25006).
_POSTGRES_UNAVAILABLE = ("08", "53", "57P", "25006")


def database_unavailable(exc: BaseException) -> bool:
    """Tell whether a database error means the database cannot serve now (so: retry later, 503),
    rather than that the statement or the data is wrong."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if any(text in str(exc.orig).lower() for text in _SQLITE_UNAVAILABLE):
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(code, str) and code.startswith(_POSTGRES_UNAVAILABLE)


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; busy_timeout waits instead of failing on a lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 0, echo: bool = False) -> AsyncEngine:
    """Create the service's async engine; SQLite gets WAL and exactly one connection by default.

    One writer connection is what SQLite wants: a pool of writers makes p99 latency jump to about
    a second under load (BASELINES.md), while one connection keeps it flat.
    """
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size or 1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"timeout": 30},
        )
        event.listen(engine.sync_engine, "connect", _enable_sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size or 20,
        max_overflow=10,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time-zone aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite then stores it without an offset, so comparisons stay correct."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not UTC:  # most are UTC already: astimezone is then pure cost
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def create_session_factory(
    engine: AsyncEngine, *, after_commit: Callable[[Session], None] | None = None
) -> SessionFactory:
    """Return a session factory whose objects stay readable after commit.

    ``after_commit`` runs after every successful commit (the outbox relay uses it to wake up at
    once instead of waiting for its next poll).
    """

    class CareloopSession(Session):
        pass

    if after_commit is not None:
        event.listen(CareloopSession, "after_commit", after_commit)
    event.listen(CareloopSession, "after_commit", _run_commit_callbacks)
    event.listen(CareloopSession, "after_rollback", _forget_commit_callbacks)
    event.listen(CareloopSession, "after_flush", _insert_staged_rows)
    event.listen(CareloopSession, "before_commit", _insert_staged_rows_unflushed)
    event.listen(CareloopSession, "after_rollback", _forget_staged_rows)
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=True, sync_session_class=CareloopSession
    )


def on_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction commits (never if it rolls back).

    For waking background work that should see the rows just written, not race ahead of them.
    """
    session.info.setdefault(_ON_COMMIT, []).append(callback)


def _run_commit_callbacks(session: Session) -> None:
    for callback in session.info.pop(_ON_COMMIT, []):
        callback()


def _forget_commit_callbacks(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


def stage_insert(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
    """Insert a plain row at the session's next flush, after its ORM objects, in the same transaction.

    For append-only rows written by the thousand (outbox events, timelines): building an ORM
    object costs more than the row's insert. ``row`` gives every column a value explicitly (no
    Python-side defaults apply). Staged rows are written by the next flush or by the commit; a
    query in the same transaction sees them only after ``session.flush()`` with other changes.
    """
    session.info.setdefault(_STAGED, {}).setdefault(table, []).append(row)


_STAGED = "staged_inserts"
# Set by the outbox when a session stages an event; the platform wakes its relay after such a commit.
OUTBOX_DIRTY = "outbox_dirty"
_ON_COMMIT = "on_commit"


def new_row(model: type[Row], **values: Any) -> Row:
    """Build a table model's instance from values already checked, at a fraction of the constructor's cost.

    A table model's constructor validates nothing but sets every attribute through SQLAlchemy's
    instrumentation: about 100 µs for a 40-column row, more than the row's insert, which matters
    when requests arrive by the thousand. This fills the instance's state directly, as SQLAlchemy
    does for rows it loads; fields not given take their declared defaults. The result is transient
    and behaves like a constructed one (add it to a session, or insert ``row_values`` of it).
    """
    defaults = _field_defaults(model)  # the first call also configures the model's mapper
    unknown = values.keys() - defaults.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no fields {sorted(unknown)}")
    instance = attributes.manager_of_class(model).new_instance()
    state = instance.__dict__
    for name, default in defaults.items():
        state[name] = values[name] if name in values else default()
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    return instance


def row_values(instance: SQLModel) -> dict[str, Any]:
    """Return an instance's column values by column name, for a Core insert of it."""
    table: Table = instance.__table__  # type: ignore[attr-defined]
    state = instance.__dict__
    return {column.name: state.get(column.key) for column in table.columns}


@cache
def _field_defaults(model: type[SQLModel]) -> dict[str, Callable[[], Any]]:
    """Return each field's default as a callable; a required field's raises when it is not given."""
    # The constructor configures mappers on first use; new_instance() does not, and attributes of
    # an unconfigured mapper cannot be set.
    class_mapper(model, configure=True)

    def required(name: str) -> Callable[[], Any]:
        def missing() -> Any:
            raise TypeError(f"{model.__name__} needs a value for {name}")

        return missing

    def default_of(field: FieldInfo) -> Callable[[], Any]:
        return lambda: field.get_default(call_default_factory=True)

    return {
        name: required(name) if field.is_required() else default_of(field)
        for name, field in model.model_fields.items()
    }


async def write_staged(session: AsyncSession) -> None:
    """Flush, then write the rows staged so far now, so later queries in the transaction see them."""
    await session.run_sync(_insert_staged_rows_unflushed)


def _insert_staged_rows(session: Session, _context: Any = None) -> None:
    staged: dict[Table, list[dict[str, Any]]] = session.info.pop(_STAGED, {})
    for table in _in_dependency_order(tuple(staged)):
        session.connection().execute(_insert_into(table), staged[table])


@cache
def _insert_into(table: Table) -> Any:
    # One statement per table, kept: a new one each time computed its cache key again.
    return table.insert()


@cache
def _in_dependency_order(tables: tuple[Table, ...]) -> list[Table]:
    # A row staged before the row it refers to (a timeline line before its new complaint) is
    # still written after it.
    return list(tables) if len(tables) < 2 else sort_tables(tables)


def _insert_staged_rows_unflushed(session: Session) -> None:
    # Flush first, so rows referring to pending objects follow them; then write what a flush
    # did not (commit flushes only when ORM objects are pending).
    session.flush()
    _insert_staged_rows(session)


def _forget_staged_rows(session: Session) -> None:
    session.info.pop(_STAGED, None)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """Open a session that commits when the block succeeds and rolls back when it raises."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


GROUP_COMMIT_SIZE = Histogram(
    "careloop_group_commit_requests",
    "Requests written together by one shared transaction (GroupCommit)",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


@dataclass
class _Staged:
    """What one request's session left to write: staged rows and what runs once they commit."""

    rows: dict[Table, list[dict[str, Any]]]
    on_commit: list[Callable[[], None]]
    outbox: bool
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @classmethod
    def take(cls, session: AsyncSession) -> _Staged:
        """Take the staged work off a session, which is left with nothing to commit."""
        info = session.info
        return cls(info.pop(_STAGED, {}), info.pop(_ON_COMMIT, []), bool(info.pop(OUTBOX_DIRTY, False)))

    def give(self, session: AsyncSession) -> None:
        """Stage this work on another session, after what it holds already."""
        staged = session.info.setdefault(_STAGED, {})
        for table, rows in self.rows.items():
            staged.setdefault(table, []).extend(rows)
        session.info.setdefault(_ON_COMMIT, []).extend(self.on_commit)
        if self.outbox:
            session.info[OUTBOX_DIRTY] = True

    def settle(self, error: BaseException | None = None) -> None:
        """Tell the waiting request how its write ended (unless it stopped waiting)."""
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class GroupCommit:
    """Commits what concurrent requests staged in shared transactions, the way databases group commits.

    A request whose whole write is staged rows (``stage_insert``, outbox events, ``on_commit``
    callbacks) hands its session to ``commit`` and waits. While one shared transaction is being
    written, the requests that arrive queue, and the next transaction takes them all (up to
    ``max_requests``). Each request waits for its own rows to be committed, so its answer still
    means "durable"; what it saves is the per-transaction work and round trips, which on SQLite's
    one connection hold up every other writer (bench/complaint_intake.py measures it). A request
    arriving with nothing else in flight is written at once, alone: no delay is added. Up to
    ``writers`` shared transactions are written at a time: one on SQLite, whose single connection
    takes one anyway; more on PostgreSQL, so a batch's inserts go in while the previous one waits
    for its commit to reach the disk. When a shared transaction fails, its requests are written
    again one by one, so one bad row fails only its own request (a database that cannot serve fails
    them all at once).
    """

    def __init__(
        self, sessions: SessionFactory, *, service: str, writers: int = 1, max_requests: int = 256
    ) -> None:
        self._sessions = sessions
        self._max = max_requests
        self._most_writers = writers
        self._waiting: deque[_Staged] = deque()
        self._writers: set[asyncio.Task[None]] = set()
        self._sizes = GROUP_COMMIT_SIZE.labels(service)

    async def commit(self, session: AsyncSession) -> None:
        """Commit the session's work: in a shared transaction when all it holds is staged rows.

        A session that has begun a transaction of its own (it read, or holds ORM objects) commits
        alone, at once: it may hold the only connection a shared transaction would wait for.
        """
        if session.sync_session.get_transaction() is not None:
            await session.commit()
            return
        staged = _Staged.take(session)
        if not staged.rows and not staged.on_commit:
            return
        self._waiting.append(staged)
        if len(self._writers) < self._most_writers:
            # A context of its own: a writer serves many requests, its logs and spans are none's.
            writer = asyncio.create_task(self._drain(), name="group-commit", context=contextvars.Context())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        # Shielded: a request that stops waiting does not stop the write the others share.
        await asyncio.shield(staged.done)

    async def _drain(self) -> None:
        batch: list[_Staged] = []
        try:
            while self._waiting:
                batch = [self._waiting.popleft() for _ in range(min(self._max, len(self._waiting)))]
                await self._write(batch)
                batch = []
        except BaseException as exc:
            # Only a cancelled writer gets here (_write settles every failure): whoever waits on
            # its batch hears of it, and so does every request still queued if no writer is left.
            for staged in batch:
                staged.settle(exc)
            if not self._writers - {asyncio.current_task()}:
                while self._waiting:
                    self._waiting.popleft().settle(exc)
            raise

    async def _write(self, batch: list[_Staged]) -> None:
        self._sizes.observe(len(batch))
        try:
            await self._write_together(batch)
        except Exception as exc:
            if len(batch) == 1 or database_unavailable(exc):
                for staged in batch:
                    staged.settle(exc)
                return
            for staged in batch:
                try:
                    await self._write_together([staged])
                except Exception as alone:
                    staged.settle(alone)
                else:
                    staged.settle()
            return
        for staged in batch:
            staged.settle()

    async def _write_together(self, batch: list[_Staged]) -> None:
        async with transaction(self._sessions) as session:
            for staged in batch:
                staged.give(session)

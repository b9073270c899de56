"""pytest plugin (entry point ``careloop``): a real nats-server and a fresh database per test.

- ``nats_server``: a nats-server with JetStream per test (about 60 ms to start), on a free port
  with its data in the test's temp dir, so no test sees another's streams; tests may stop and
  restart it.
- ``database_url``: a fresh database per test, on SQLite always and on PostgreSQL too when
  ``CARELOOP_TEST_POSTGRES_URL`` is set (the test runs once per backend).
- ``sqlite_url``: a fresh SQLite database only, for tests that are about something else.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from careloop_common.natsserver import NatsServer

POSTGRES_ENV = "CARELOOP_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    """Return the PostgreSQL server tests may create databases on, if configured."""
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture(scope="session", autouse=True)
def careloop_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point CARELOOP_HOME at a temp dir so no test writes under the working directory."""
    home = tmp_path_factory.mktemp("careloop-home")
    previous = os.environ.get("CARELOOP_HOME")
    os.environ["CARELOOP_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("CARELOOP_HOME", None)
    else:
        os.environ["CARELOOP_HOME"] = previous


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """Start a real nats-server with JetStream for this test."""
    root = tmp_path / "nats"
    server = NatsServer(root / "store", log_file=root / "nats.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    """Return the URL of this test's nats-server."""
    return nats_server.url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return a fresh SQLite database URL."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if postgres_admin_url() else ["sqlite"]


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Return a fresh database URL: SQLite, and PostgreSQL when CARELOOP_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    admin = postgres_admin_url()
    assert admin is not None
    name = f"careloop_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin, name)
    finally:
        asyncio.run(_postgres(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _with_database(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def _postgres(admin_url: str, statement: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    connection = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()

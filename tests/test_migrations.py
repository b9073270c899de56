"""Each service's migration history builds exactly the tables its models declare, on every backend."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from careloop_common.migrations import upgrade_async

PLATFORM_TABLES = {"outbox_message", "outbox_relay_lease", "inbox_processed_event", "idempotency_record"}
SERVICES = ["complaints", "coverage_map", "campaigns", "contact_gateway", "gateway"]


def service_metadata(package: str) -> MetaData:
    """The platform tables, the tables defined in the service's own models module, and the shared
    tables it declares it uses (``SHARED_TABLES``, e.g. the TMF hub's)."""
    models = importlib.import_module(f"{package}.models")
    own = {
        value.__table__.name
        for value in vars(models).values()
        if isinstance(value, type)
        and issubclass(value, SQLModel)
        and hasattr(value, "__table__")
        and value.__module__ == models.__name__
    }
    own |= set(getattr(models, "SHARED_TABLES", ()))
    subset = MetaData(naming_convention=SQLModel.metadata.naming_convention)
    for name in PLATFORM_TABLES | own:
        SQLModel.metadata.tables[name].to_metadata(subset)
    return subset


@pytest.mark.parametrize("package", SERVICES)
async def test_migrations_match_models(package: str, database_url: str) -> None:
    migrations = Path(importlib.import_module(f"{package}.main").__file__ or "").parent / "migrations"
    await upgrade_async(migrations, database_url)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": False}), service_metadata(package)
                )
            )
    finally:
        await engine.dispose()
    assert [d for d in diff if not _ignorable(d)] == []


def _ignorable(diff: object) -> bool:
    """alembic_version is Alembic's own table."""
    return isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == "alembic_version"

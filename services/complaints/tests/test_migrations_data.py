"""Data migrations: rows written under an earlier revision read right under the newest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

import complaints.main
from careloop_common.db import new_row, row_values
from careloop_common.migrations import alembic_config, upgrade_async
from complaints.models import Complaint

MIGRATIONS = Path(complaints.main.__file__).parent / "migrations"
AT = datetime(2026, 11, 2, 3, tzinfo=UTC)


def filed_before_0003(number: int, category: str, region: str, customer_class: str) -> dict[str, object]:
    """Return a complaint row as 0003 left it: the queue its server default gave every earlier row."""
    complaint = new_row(
        Complaint,
        id=f"c{number}",
        reference=f"CMP-{number}",
        category=category,
        channel="call_centre",
        msisdn="+85291234567",
        symptoms=[],
        status="acknowledged",
        owner="agent",
        region=region,
        customer_class=customer_class,
        priority="normal",
        queue="coverage.HK.normal",
        sla_flags=[],
        pauses=[],
        created_at=AT,
        updated_at=AT,
    )
    return row_values(complaint)


async def test_0004_puts_earlier_complaints_in_the_queues_agents_see(database_url: str) -> None:
    await upgrade_async(MIGRATIONS, database_url)
    table = Complaint.__table__  # type: ignore[attr-defined]
    rows = [
        filed_before_0003(1, "coverage", "HK", "normal"),
        filed_before_0003(2, "billing", "HK", "vip"),
        filed_before_0003(3, "coverage", "CN", "gold"),
    ]
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(table.insert(), rows)
            # One filed after 0003 by today's code keeps the queue it was given.
            await connection.execute(table.insert(), [{**rows[0], "id": "c4", "reference": "CMP-4"}])
            await connection.execute(update(table).where(table.c.id == "c4").values(queue="supervisor"))
        config = alembic_config(MIGRATIONS, database_url)
        await asyncio.to_thread(command.downgrade, config, "0003")
        await upgrade_async(MIGRATIONS, database_url)
        async with engine.connect() as connection:
            queues = dict((await connection.execute(select(table.c.id, table.c.queue))).all())
    finally:
        await engine.dispose()
    assert queues == {
        "c1": "coverage.HK.standard",
        "c2": "billing.HK.green",
        "c3": "coverage.CN.green",
        "c4": "supervisor",
    }

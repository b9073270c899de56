"""Every query of the campaigns service lives here.

The models read and write subscribers by the hundred thousand, so those queries are SQLAlchemy Core
on the table with only the columns they need, paged by key (``msisdn``) rather than by offset, and
the outputs go back as one executemany UPDATE per chunk: no ORM object is built per subscriber.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Row, bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from campaigns.models import ModelRun, Plan, Segment, Subscriber

SUBSCRIBER: sa.Table = Subscriber.__table__  # type: ignore[attr-defined]

Rows = Sequence[Row[Any]]

# The columns the models read, in the order the rows of ``model_inputs_*`` carry them.
MODEL_INPUT_COLUMNS = (
    "msisdn",
    "plan_id",
    "join_date",
    "revenue_m1",
    "revenue_m2",
    "revenue_m3",
    "balance",
    "avg_daily_spend_3d",
    "top_ups_m1",
    "fee_queries_m1",
    "long_distance_calls_m1",
    "prefix_calls_m1",
    "minutes_m1",
    "sms_m1",
    "data_mb_m1",
    "long_distance_minutes_m1",
    "roaming_minutes_m1",
)
# The columns the models write, besides ``models_at``.
MODEL_OUTPUT_COLUMNS = (
    "lifecycle_stage",
    "value_tier",
    "fee_sensitivity",
    "recommended_plan_id",
    "plan_saving",
    "models_at",
)
# Bound parameters per statement stay well under every backend's limit (SQLite's is 32,766).
IN_LIST_MAX = 1_000


# --- the plan catalogue ---------------------------------------------------------------------------


async def plans(session: AsyncSession, *, active: bool | None = None) -> list[Plan]:
    """Return the catalogue's plans by id, all or only the active (or inactive) ones."""
    query = select(Plan).order_by(col(Plan.id))
    if active is not None:
        query = query.where(col(Plan.active) == active)
    return list(await session.scalars(query))


async def get_plan(session: AsyncSession, plan_id: str) -> Plan | None:
    """Return one plan."""
    return await session.get(Plan, plan_id)


async def add(session: AsyncSession, *rows: SQLModel) -> None:
    """Stage rows and flush them."""
    session.add_all(rows)
    await session.flush()


# --- subscribers, for the models ------------------------------------------------------------------


def _inputs_query() -> sa.Select[Any]:
    return sa.select(*(SUBSCRIBER.c[name] for name in MODEL_INPUT_COLUMNS))


async def model_inputs_after(session: AsyncSession, after: str, limit: int) -> Rows:
    """Return the model inputs of up to ``limit`` subscribers whose msisdn sorts after ``after``."""
    msisdn = SUBSCRIBER.c.msisdn
    result = await session.execute(_inputs_query().where(msisdn > after).order_by(msisdn).limit(limit))
    return cast(Rows, result.all())


async def model_inputs_of(session: AsyncSession, msisdns: Sequence[str]) -> Rows:
    """Return the model inputs of the given subscribers that exist, by msisdn."""
    rows: list[Row[Any]] = []
    msisdn = SUBSCRIBER.c.msisdn
    for start in range(0, len(msisdns), IN_LIST_MAX):
        batch = list(msisdns[start : start + IN_LIST_MAX])
        result = await session.execute(_inputs_query().where(msisdn.in_(batch)).order_by(msisdn))
        rows.extend(result.all())
    return rows


async def revenues_after(session: AsyncSession, after: str, limit: int) -> Rows:
    """Return (msisdn, revenue_m1, revenue_m2, revenue_m3) of up to ``limit`` subscribers after ``after``."""
    c = SUBSCRIBER.c
    result = await session.execute(
        sa.select(c.msisdn, c.revenue_m1, c.revenue_m2, c.revenue_m3)
        .where(c.msisdn > after)
        .order_by(c.msisdn)
        .limit(limit)
    )
    return cast(Rows, result.all())


async def write_model_outputs(session: AsyncSession, outputs: Sequence[Mapping[str, Any]]) -> None:
    """Store model outputs: each mapping holds ``msisdn`` and every one of ``MODEL_OUTPUT_COLUMNS``."""
    if not outputs:
        return
    c = SUBSCRIBER.c
    statement = (
        SUBSCRIBER.update()
        .where(c.msisdn == bindparam("key_msisdn"))
        .values({name: bindparam(f"new_{name}", type_=c[name].type) for name in MODEL_OUTPUT_COLUMNS})
    )
    parameters = [
        {"key_msisdn": row["msisdn"], **{f"new_{name}": row[name] for name in MODEL_OUTPUT_COLUMNS}}
        for row in outputs
    ]
    connection = await session.connection()
    await connection.execute(statement, parameters)


async def subscriber(session: AsyncSession, msisdn: str) -> Subscriber | None:
    """Return one subscriber."""
    return await session.get(Subscriber, msisdn)


# --- model runs -----------------------------------------------------------------------------------


async def latest_model_run(session: AsyncSession) -> ModelRun | None:
    """Return the last recorded run of the models."""
    rows = await session.scalars(select(ModelRun).order_by(col(ModelRun.id).desc()).limit(1))
    return rows.first()


# --- saved segments -------------------------------------------------------------------------------


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
    total = await session.scalar(sa.select(sa.func.count()).select_from(Segment))
    return list(rows), int(total or 0)


async def count_subscribers(session: AsyncSession, condition: sa.ColumnElement[bool]) -> int:
    """Count the subscribers meeting a compiled segment."""
    total = await session.scalar(sa.select(sa.func.count()).select_from(Subscriber).where(condition))
    return int(total or 0)


async def sample_subscribers(
    session: AsyncSession, condition: sa.ColumnElement[bool], limit: int
) -> list[Subscriber]:
    """Return the first subscribers by number meeting a compiled segment."""
    rows = await session.scalars(
        select(Subscriber).where(condition).order_by(col(Subscriber.msisdn)).limit(limit)
    )
    return list(rows)

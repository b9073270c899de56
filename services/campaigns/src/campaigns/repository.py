"""Every query of the campaigns service lives here.

The models read and write subscribers by the hundred thousand, so those queries are SQLAlchemy Core
on the table with only the columns they need, paged by key (``msisdn``) rather than by offset, and
the outputs go back as one executemany UPDATE per chunk: no ORM object is built per subscriber.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Row, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from campaigns.models import ImportJob, ModelDue, ModelRun, Plan, Subscriber, SubscriberEvent

SUBSCRIBER: sa.Table = Subscriber.__table__  # type: ignore[attr-defined]
MODEL_DUE: sa.Table = ModelDue.__table__  # type: ignore[attr-defined]
SUBSCRIBER_EVENT: sa.Table = SubscriberEvent.__table__  # type: ignore[attr-defined]

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


async def add(session: AsyncSession, *rows: Plan | ModelRun | ImportJob) -> None:
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


# --- the audience, kept from feeds ----------------------------------------------------------------


def _insert(session: AsyncSession, table: sa.Table) -> Any:
    """Return an INSERT that can take ON CONFLICT DO UPDATE on the session's database."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def subscriber_for_update(session: AsyncSession, msisdn: str) -> Subscriber | None:
    """Return one subscriber, locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    return await session.get(Subscriber, msisdn, with_for_update=True)


async def add_subscriber_event(
    session: AsyncSession, msisdn: str, kind: str, at: datetime, detail: dict[str, object]
) -> None:
    """Record a past event of a subscriber."""
    await session.execute(SUBSCRIBER_EVENT.insert().values(msisdn=msisdn, kind=kind, at=at, detail=detail))


async def recent_events(session: AsyncSession, msisdn: str, limit: int) -> list[SubscriberEvent]:
    """Return a subscriber's latest past events, newest first."""
    query = (
        select(SubscriberEvent)
        .where(col(SubscriberEvent.msisdn) == msisdn)
        .order_by(col(SubscriberEvent.at).desc(), col(SubscriberEvent.id).desc())
        .limit(limit)
    )
    return list(await session.scalars(query))


async def mark_models_due(session: AsyncSession, msisdns: Sequence[str], now: datetime) -> None:
    """Mark subscribers whose model inputs changed; a mark already there gets a new version."""
    if not msisdns:
        return
    statement = _insert(session, MODEL_DUE)
    statement = statement.on_conflict_do_update(
        index_elements=[MODEL_DUE.c.msisdn], set_={"version": MODEL_DUE.c.version + 1}
    )
    await session.execute(statement, [{"msisdn": m, "version": 1, "since": now} for m in msisdns])


async def models_due(session: AsyncSession, limit: int) -> list[tuple[str, int]]:
    """Return up to ``limit`` marked subscribers with their mark's version, oldest marks first."""
    c = MODEL_DUE.c
    result = await session.execute(sa.select(c.msisdn, c.version).order_by(c.since, c.msisdn).limit(limit))
    return [(row[0], row[1]) for row in result.all()]


async def clear_models_due(session: AsyncSession, seen: Sequence[tuple[str, int]]) -> None:
    """Remove the marks a recompute has seen; a mark changed since keeps its subscriber due."""
    if not seen:
        return
    c = MODEL_DUE.c
    statement = MODEL_DUE.delete().where(c.msisdn == bindparam("key"), c.version == bindparam("seen"))
    connection = await session.connection()
    await connection.execute(statement, [{"key": msisdn, "seen": version} for msisdn, version in seen])


# --- bulk import ----------------------------------------------------------------------------------


async def upsert_subscribers(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]], update_columns: Sequence[str]
) -> None:
    """Insert subscribers, or update ``update_columns`` of those that exist, in one executemany."""
    if not rows:
        return
    statement = _insert(session, SUBSCRIBER)
    statement = statement.on_conflict_do_update(
        index_elements=[SUBSCRIBER.c.msisdn],
        set_={name: statement.excluded[name] for name in update_columns},
    )
    connection = await session.connection()
    await connection.execute(statement, list(rows))


async def get_import_job(session: AsyncSession, job_id: str) -> ImportJob | None:
    """Return one import job."""
    return await session.get(ImportJob, job_id)


async def update_import_job(session: AsyncSession, job_id: str, values: Mapping[str, Any]) -> None:
    """Set columns of an import job."""
    await session.execute(sa.update(ImportJob).where(col(ImportJob.id) == job_id).values(**values))


async def import_jobs_with_status(session: AsyncSession, status: str) -> list[ImportJob]:
    """Return the import jobs in a status."""
    return list(await session.scalars(select(ImportJob).where(col(ImportJob.status) == status)))

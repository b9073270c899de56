"""Segment evaluation over N generated subscribers in SQLite, beside hand-written SQL for the same
question on the same table.

    uv run python bench/campaign_segments.py                        # 1,000,000 subscribers
    uv run python bench/campaign_segments.py --subscribers 5000000  # on demand
    uv run python bench/campaign_segments.py --subscribers 100000 --json bench/results/segments.json

The audience is generated once (numpy, seeded) into a fresh, migrated campaigns database in a
temporary directory (kept with ``--keep``), with a coverage complaint among the past events of
one customer in fifty. Then, for each segment, alternately and ``--repeat`` times:

  raw       the hand-written SQL a careful engineer would write for the question: the floor
  compiled  the same question as a segment tree, compiled by segments.where, counted the way the
            preview endpoint counts
  predicate (--predicate) the in-memory predicate over rows read back (real-time triggers use it
            one subscriber at a time; here per row, for a rate)

Segments: the seeds' balance reminder (balance below three days of spend: field-to-field
arithmetic), the top-20 % survey (a text equality), birthday within seven days (the anniversary
window), and coverage complainers of the last 180 days who are still on a declining revenue (an
EXISTS over past events and a field). Reports seconds (median), the compiled/raw ratio and the
process's peak resident memory.
"""

from __future__ import annotations

import asyncio
import json
import platform
import resource
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns import segments
from campaigns.main import create_app
from campaigns.models import Subscriber
from careloop_common.db import create_engine, new_row, row_values
from careloop_common.migrations import upgrade_async

app = typer.Typer(add_completion=False)
NOW = datetime(2026, 12, 15, 2, tzinfo=UTC)
AS_OF = segments.AsOf(NOW, date(2026, 12, 15))
MIGRATIONS = Path(create_app.__code__.co_filename).parent / "migrations"
CHUNK = 50_000

# (name, segment tree, the raw SQL for the same question)
SEGMENTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "balance below 3 days",
        {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}},
        "SELECT count(*) FROM subscriber WHERE balance < 3 * avg_daily_spend_3d",
    ),
    (
        "top 20 %",
        {"field": "value_tier", "op": "=", "value": "top20"},
        "SELECT count(*) FROM subscriber WHERE value_tier = 'top20'",
    ),
    (
        "birthday within 7 days",
        {"field": "birthday", "op": "within_days", "value": 7},
        "SELECT count(*) FROM subscriber WHERE strftime('%m-%d', birthday) BETWEEN '12-15' AND '12-22'",
    ),
    (
        "coverage complainers in decline",
        {
            "all": [
                {"event": "complaint.coverage", "within_days": 180},
                {"field": "lifecycle_stage", "op": "=", "value": "decline"},
            ]
        },
        "SELECT count(*) FROM subscriber s WHERE s.lifecycle_stage = 'decline' AND EXISTS "
        "(SELECT 1 FROM subscriber_event e WHERE e.msisdn = s.msisdn AND e.kind = 'complaint.coverage' "
        "AND e.at >= '2026-06-18 02:00:00.000000')",
    ),
]


def filled(**values: Any) -> dict[str, Any]:
    """Return a subscriber row with every column, the model's defaults for those not given."""
    return row_values(new_row(Subscriber, **values))


def generate(n: int, start: int, seed: int) -> list[dict[str, Any]]:
    """Return subscribers start … start+n-1 as rows (a fixed seed: the same audience every run)."""
    rng = np.random.default_rng(seed + start)
    spend = rng.gamma(2.0, 3.0, n).round(2)
    balance = (spend * rng.uniform(0, 10, n)).round(2)
    birthdays = [date(1960, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 365 * 45, n)]
    tiers = np.where(rng.random(n) < 0.2, "top20", "rest")
    stages = rng.choice(["acquisition", "growth", "maturity", "decline"], n, p=[0.1, 0.2, 0.5, 0.2])
    base = filled(
        msisdn="",
        customer_ref="",
        brand="Prime",
        plan_id="P1",
        region="HK",
        time_zone="Asia/Hong_Kong",
        join_date=date(2020, 1, 1),
        created_at=NOW,
        updated_at=NOW,
    )
    rows = []
    for i in range(n):
        number = f"+8529{start + i:07d}"
        rows.append(
            dict(
                base,
                msisdn=number,
                customer_ref=f"r{start + i:09d}",
                birthday=birthdays[i],
                balance=float(balance[i]),
                avg_daily_spend_3d=float(spend[i]),
                value_tier=str(tiers[i]),
                lifecycle_stage=str(stages[i]),
            )
        )
    return rows


def load(database: Path, count: int) -> float:
    """Fill the database through sqlite3 directly (SQLAlchemy's per-value processing would take
    minutes for millions of rows); return the seconds it took."""
    started = time.perf_counter()
    columns = [c.name for c in Subscriber.__table__.columns]  # type: ignore[attr-defined]
    names, marks = ", ".join(columns), ", ".join("?" * len(columns))
    insert = f"INSERT INTO subscriber ({names}) VALUES ({marks})"  # noqa: S608 - our own table's columns
    with sqlite3.connect(database) as connection:
        for start in range(0, count, CHUNK):
            rows = generate(min(CHUNK, count - start), start, seed=7)
            connection.executemany(insert, [tuple(stored(row[c]) for c in columns) for row in rows])
            connection.executemany(
                "INSERT INTO subscriber_event (msisdn, kind, at, detail) VALUES (?, ?, ?, '{}')",
                [
                    (row["msisdn"], "complaint.coverage", stored(NOW - timedelta(days=30)))
                    for row in rows[::50]
                ],
            )
    return time.perf_counter() - started


def stored(value: Any) -> Any:
    """Return a value as the campaigns service's columns keep it in SQLite."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


async def timed(engine: AsyncEngine, statement: Any) -> tuple[float, int]:
    """Run a count; return (seconds, the count)."""
    started = time.perf_counter()
    async with engine.connect() as connection:
        found = int((await connection.execute(statement)).scalar_one())
    return time.perf_counter() - started, found


def compiled_count(tree: dict[str, Any]) -> Any:
    """Return the count query the preview endpoint runs for a tree."""
    condition = segments.where(segments.parse(tree), AS_OF)
    return sa.select(sa.func.count()).select_from(Subscriber).where(condition)


async def predicate_rate(engine: AsyncEngine, tree: dict[str, Any], limit: int) -> tuple[float, int]:
    """Evaluate the in-memory predicate over ``limit`` rows read back; return (rows/s, matches)."""
    checked = segments.parse(tree)
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.select(Subscriber.__table__).limit(limit))).mappings().all()  # type: ignore[attr-defined]
    started = time.perf_counter()
    hits = sum(segments.matches(checked, row, [], AS_OF) for row in rows)
    return len(rows) / (time.perf_counter() - started), hits


async def run(count: int, repeat: int, keep: Path | None, predicate: bool) -> dict[str, Any]:
    """Load the audience, then time each segment both ways."""
    with tempfile.TemporaryDirectory(prefix="careloop-segments-") as tmp:
        home = keep or Path(tmp)
        url = f"sqlite+aiosqlite:///{home / 'campaigns.db'}"
        await upgrade_async(MIGRATIONS, url)
        load_s = await asyncio.to_thread(load, home / "campaigns.db", count)
        engine = create_engine(url)
        try:
            results = []
            for name, tree, raw in SEGMENTS:
                raw_times, ours_times, raw_n, ours_n = [], [], 0, 0
                for _ in range(repeat):
                    seconds, raw_n = await timed(engine, sa.text(raw))
                    raw_times.append(seconds)
                    seconds, ours_n = await timed(engine, compiled_count(tree))
                    ours_times.append(seconds)
                row: dict[str, Any] = {
                    "segment": name,
                    "members": ours_n,
                    "raw_members": raw_n,
                    "raw_s": round(statistics.median(raw_times), 3),
                    "compiled_s": round(statistics.median(ours_times), 3),
                }
                row["ratio"] = round(row["compiled_s"] / row["raw_s"], 2) if row["raw_s"] else None
                if predicate and "event" not in json.dumps(tree):
                    rate, _ = await predicate_rate(engine, tree, min(count, 200_000))
                    row["predicate_rows_per_s"] = round(rate)
                results.append(row)
        finally:
            await engine.dispose()
    return {
        "subscribers": count,
        "load_s": round(load_s, 1),
        "segments": results,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": {"python": platform.python_version(), "sqlite": sa.__version__},
    }


@app.command()
def main(
    subscribers: Annotated[int, typer.Option(min=1000, help="subscribers to generate")] = 1_000_000,
    repeat: Annotated[int, typer.Option(min=1, help="runs of each query; the median is reported")] = 3,
    predicate: Annotated[bool, typer.Option(help="also time the in-memory predicate")] = True,
    keep: Annotated[Path | None, typer.Option(help="build the database here and keep it")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the report here")] = None,
) -> None:
    """Generate the audience, time each segment compiled and hand-written, and print the report."""
    report = asyncio.run(run(subscribers, repeat, keep, predicate))
    table = Table(title=f"segments over {subscribers:,} subscribers (loaded in {report['load_s']} s)")
    for column in ("segment", "members", "raw s", "compiled s", "ratio", "predicate rows/s"):
        table.add_column(column)
    for row in report["segments"]:
        table.add_row(
            row["segment"],
            f"{row['members']:,}"
            + ("" if row["members"] == row["raw_members"] else f" (raw {row['raw_members']:,})"),
            str(row["raw_s"]),
            str(row["compiled_s"]),
            str(row["ratio"]),
            f"{row.get('predicate_rows_per_s', '-'):,}" if "predicate_rows_per_s" in row else "-",
        )
    console = Console()
    console.print(table)
    console.print(f"peak resident memory: {report['peak_rss_mb']:,} MB")
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    app()

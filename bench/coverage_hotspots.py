"""Hot-spot ranking over 100k, 300k and 1M complaint facts, beside a bare GROUP BY in the same run.

    uv run python bench/coverage_hotspots.py
    uv run python bench/coverage_hotspots.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres
    uv run python bench/coverage_hotspots.py --sizes 100000,1000000 --json bench/results/hotspots.json

For every size it makes a fresh database (a SQLite file in a temporary folder; with
``--postgres-url`` also a throwaway PostgreSQL database, dropped afterwards), migrates it with the
service's own migrations, loads skewed complaint facts around Hong Kong, then times, alternately,
the service's ranking (``coverage_map.hotspots.rank``, what ``GET /coverage/v1/hotspots`` runs) and
the bare baseline ``SELECT area_id, count(*) … GROUP BY area_id ORDER BY 2 DESC LIMIT 50`` on the
same engine and driver. Every fact lies in the ranked period, so both read every row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import h3
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url

from careloop_common.db import create_engine, create_session_factory
from careloop_common.migrations import upgrade_async
from coverage_map import hotspots

MIGRATIONS = Path(hotspots.__file__).parent / "migrations"
AREA_RES, DISTRICT_RES = 8, 6
# Not in the schema: --candidate-index adds it to measure what it would buy (see bench/README.md).
CANDIDATE_INDEX = (
    "CREATE INDEX ix_bench_hotspots_cover"
    " ON investigation_complaint (area_id, requested_at, customer_ref, customer_class)"
)
BASELINE_SQL = (
    "SELECT area_id, count(*) FROM investigation_complaint GROUP BY area_id ORDER BY 2 DESC LIMIT 50"
)
# Busy places in Hong Kong: most complaints cluster around a few of them, the first ones most.
HOT_PLACES = [
    (22.2819, 114.1582),  # Central
    (22.3193, 114.1694),  # Mong Kok
    (22.2988, 114.1722),  # Tsim Sha Tsui
    (22.2802, 114.1839),  # Causeway Bay
    (22.3817, 114.1877),  # Sha Tin
    (22.3713, 114.1136),  # Tsuen Wan
    (22.3120, 114.2256),  # Kwun Tong
    (22.3075, 114.2600),  # Tseung Kwan O
    (22.4445, 114.0222),  # Yuen Long
    (22.2890, 113.9410),  # Tung Chung
]
BOX = ((22.2, 22.5), (113.9, 114.3))
HOT_SHARE = 0.7  # the rest is spread evenly over the box
SPREAD_DEG = 0.006  # about 650 m: a hot spot covers a handful of areas
CLASSES = [("vip", 0.02), ("gold", 0.05), ("key_account", 0.03)]
DAYS = 28  # facts spread over the last four weeks, all inside the default 30-day period


@dataclass
class Result:
    """One timed size on one backend."""

    backend: str
    rows: int
    areas: int
    load_s: float
    ranking_s: float
    baseline_s: float
    ratio: float
    ranking_runs: list[float]
    baseline_runs: list[float]


# --- data -----------------------------------------------------------------------------------------


@dataclass
class Facts:
    """Generated rows, as plain tuples in the tables' column order."""

    areas: list[tuple[Any, ...]]
    levels: list[tuple[Any, ...]]
    investigations: list[tuple[Any, ...]]
    complaints: list[tuple[Any, ...]]


def _place(rng: random.Random) -> tuple[float, float]:
    """Return where a complaint happened: usually near a hot place (Zipf-weighted), else anywhere."""
    if rng.random() < HOT_SHARE:
        weights = [1 / (k + 1) for k in range(len(HOT_PLACES))]
        lat, lng = rng.choices(HOT_PLACES, weights)[0]
        return rng.gauss(lat, SPREAD_DEG), rng.gauss(lng, SPREAD_DEG)
    return rng.uniform(*BOX[0]), rng.uniform(*BOX[1])


def _customer_class(customer: int) -> str:
    """Return a customer's class, fixed per customer."""
    draw = random.Random(customer).random()
    for name, share in CLASSES:
        if draw < share:
            return name
        draw -= share
    return "normal"


def generate(rows: int, now: datetime, seed: int = 7) -> Facts:
    """Generate ``rows`` complaint facts with their areas, open investigations and some levels."""
    rng = random.Random(seed)
    customers = max(rows // 4, 1)
    investigation_of: dict[str, str] = {}
    complaints = []
    for index in range(rows):
        area = h3.latlng_to_cell(*_place(rng), AREA_RES)
        investigation = investigation_of.setdefault(area, str(uuid.UUID(int=rng.getrandbits(128))))
        # Few customers complain often, many once: a squared uniform draw skews towards low numbers.
        customer = int(customers * rng.random() ** 2)
        anonymous = rng.random() < 0.05
        at = now - timedelta(seconds=rng.uniform(60, DAYS * 86_400))
        complaints.append(
            (
                f"bench-{index:08d}",
                investigation,
                f"CMP-{index:08d}",
                at,
                area,
                h3.cell_to_parent(area, DISTRICT_RES),
                None if anonymous else f"cust-{customer:08d}",
                _customer_class(customer),
                '["call_drop"]' if index % 3 else "[]",
                rng.choice(("4G", "5G", "3G")),
            )
        )
    # Follow-up events arrive in time order, so the table holds facts roughly by requested_at.
    complaints.sort(key=lambda row: row[3])
    areas, levels, investigations = [], [], []
    for area, investigation in investigation_of.items():
        lat, lng = h3.cell_to_latlng(area)
        areas.append((area, h3.cell_to_parent(area, DISTRICT_RES), lat, lng, now))
        investigations.append((investigation, area, h3.cell_to_parent(area, DISTRICT_RES), now))
        if rng.random() < 0.3:
            levels.append((area, "4G", "voice", rng.choice(("none", "weak", "normal", "good")), now))
    return Facts(areas, levels, investigations, complaints)


# --- loading --------------------------------------------------------------------------------------


def _sqlite_time(value: datetime) -> str:
    """Return a timestamp as SQLAlchemy stores it on SQLite (naive UTC, microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: Path, facts: Facts) -> None:
    """Load the facts with the standard library's driver: one transaction, executemany per table."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO area (id, district_id, lat, lng, created_at) VALUES (?, ?, ?, ?, ?)",
                [(*row[:4], _sqlite_time(row[4])) for row in facts.areas],
            )
            connection.executemany(
                "INSERT INTO area_level (area_id, technology, service, level, source, observed_at,"
                " recorded_by) VALUES (?, ?, ?, ?, 'survey', ?, 'bench')",
                [(*row[:4], _sqlite_time(row[4])) for row in facts.levels],
            )
            connection.executemany(
                "INSERT INTO investigation (id, area_id, district_id, status, complaint_count,"
                " customer_count, high_value_count, symptom_counts, first_complaint_at,"
                " last_complaint_at, opened_at) VALUES (?, ?, ?, 'open', 0, 0, 0, '{}', ?, ?, ?)",
                [(*row[:3], *[_sqlite_time(row[3])] * 3) for row in facts.investigations],
            )
            connection.executemany(
                "INSERT INTO investigation_complaint (complaint_id, investigation_id, reference,"
                " requested_at, area_id, district_id, customer_ref, customer_class, symptoms, network)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((*row[:3], _sqlite_time(row[3]), *row[4:]) for row in facts.complaints),
            )
    finally:
        connection.close()


async def load_postgres(url: str, facts: Facts) -> None:
    """Load the facts with COPY, then VACUUM ANALYZE as autovacuum would after such a load."""
    connection = await _connect(url)
    try:
        async with connection.transaction():
            await connection.copy_records_to_table(
                "area", records=facts.areas, columns=["id", "district_id", "lat", "lng", "created_at"]
            )
            await connection.copy_records_to_table(
                "area_level",
                records=[(*row[:4], "survey", row[4], "bench") for row in facts.levels],
                columns=["area_id", "technology", "service", "level", "source", "observed_at", "recorded_by"],
            )
            await connection.copy_records_to_table(
                "investigation",
                records=[(*row[:3], "open", 0, 0, 0, "{}", *[row[3]] * 3) for row in facts.investigations],
                columns=[
                    "id",
                    "area_id",
                    "district_id",
                    "status",
                    "complaint_count",
                    "customer_count",
                    "high_value_count",
                    "symptom_counts",
                    "first_complaint_at",
                    "last_complaint_at",
                    "opened_at",
                ],
            )
            await connection.copy_records_to_table(
                "investigation_complaint",
                records=facts.complaints,
                columns=[
                    "complaint_id",
                    "investigation_id",
                    "reference",
                    "requested_at",
                    "area_id",
                    "district_id",
                    "customer_ref",
                    "customer_class",
                    "symptoms",
                    "network",
                ],
            )
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


async def _connect(url: str) -> asyncpg.Connection:
    """Open a plain asyncpg connection from a SQLAlchemy-style URL."""
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database or "postgres",
    )


# --- timing ---------------------------------------------------------------------------------------


async def measure(url: str, repeat: int, limit: int) -> tuple[list[float], list[float], int, int]:
    """Time the service's ranking and the baseline alternately; return both runs and both top counts."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    query = hotspots.HotSpotQuery(period=hotspots.period(None, None), limit=limit)

    async def ranking() -> int:
        async with sessions() as session:
            return (await hotspots.rank(session, query))[0].complaints

    async def baseline() -> int:
        async with sessions() as session:
            return int((await session.execute(text(BASELINE_SQL))).all()[0][1])

    try:
        top_ranked, top_baseline = await ranking(), await baseline()  # warm-up, and the cross-check
        ranking_runs, baseline_runs = [], []
        for _ in range(repeat):
            ranking_runs.append(await _timed(ranking))
            baseline_runs.append(await _timed(baseline))
        return ranking_runs, baseline_runs, top_ranked, top_baseline
    finally:
        await engine.dispose()


async def _execute(url: str, statement: str) -> None:
    """Run one statement in its own transaction."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _timed(call: Callable[[], Awaitable[int]]) -> float:
    """Return how long one call took, in seconds."""
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


# --- backends -------------------------------------------------------------------------------------


def remove_sqlite(path: Path) -> None:
    """Delete a SQLite database with its WAL and shared-memory files."""
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()


async def run_size(backend: str, rows: int, args: argparse.Namespace, folder: Path) -> Result:
    """Make, migrate and load one database, time it, and throw it away."""
    facts = generate(rows, datetime.now(UTC))
    if backend == "sqlite":
        path = folder / f"hotspots-{rows}.db"

        async def load_file(facts: Facts) -> None:
            await asyncio.to_thread(load_sqlite, path, facts)

        try:
            return await _run(backend, f"sqlite+aiosqlite:///{path}", load_file, facts, args)
        finally:
            remove_sqlite(path)
    name = f"careloop_bench_{uuid.uuid4().hex[:12]}"
    admin = await _connect(args.postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(args.postgres_url).set(drivername="postgresql+asyncpg", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:

        async def load(facts: Facts) -> None:
            await load_postgres(rendered, facts)

        return await _run(backend, rendered, load, facts, args)
    finally:
        admin = await _connect(args.postgres_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _run(
    backend: str, url: str, load: Callable[[Facts], Awaitable[None]], facts: Facts, args: argparse.Namespace
) -> Result:
    """Migrate, load and time one database."""
    await upgrade_async(MIGRATIONS, url)
    if args.candidate_index:
        await _execute(url, CANDIDATE_INDEX)
    started = time.perf_counter()
    await load(facts)
    load_s = time.perf_counter() - started
    ranking_runs, baseline_runs, top_ranked, top_baseline = await measure(url, args.repeat, args.limit)
    if top_ranked != top_baseline:
        raise SystemExit(
            f"{backend}: ranking's top area has {top_ranked} complaints, baseline's {top_baseline}"
        )
    ranking_s, baseline_s = statistics.median(ranking_runs), statistics.median(baseline_runs)
    return Result(
        backend=f"{backend}+index" if args.candidate_index else backend,
        rows=len(facts.complaints),
        areas=len(facts.areas),
        load_s=round(load_s, 2),
        ranking_s=round(ranking_s, 4),
        baseline_s=round(baseline_s, 4),
        ratio=round(ranking_s / baseline_s, 2),
        ranking_runs=[round(r, 4) for r in ranking_runs],
        baseline_runs=[round(r, 4) for r in baseline_runs],
    )


def growth(results: list[Result]) -> dict[str, dict[str, float]]:
    """Return, per backend, how much ranking and baseline time grew from the smallest to the largest size."""
    out: dict[str, dict[str, float]] = {}
    for backend in dict.fromkeys(r.backend for r in results):
        runs = sorted((r for r in results if r.backend == backend), key=lambda r: r.rows)
        if len(runs) < 2:
            continue
        small, large = runs[0], runs[-1]
        out[backend] = {
            "from_rows": small.rows,
            "to_rows": large.rows,
            "rows_factor": round(large.rows / small.rows, 1),
            "ranking_factor": round(large.ranking_s / small.ranking_s, 1),
            "baseline_factor": round(large.baseline_s / small.baseline_s, 1),
        }
    return out


def show(results: list[Result], grown: dict[str, dict[str, float]], repeat: int) -> None:
    """Print the results as a table, and the growth below it."""
    table = Table(title=f"Hot-spot ranking vs bare GROUP BY (median of {repeat})")
    for column in ("backend", "rows", "areas", "load s", "ranking s", "baseline s", "ratio"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for r in results:
        table.add_row(
            r.backend,
            f"{r.rows:,}",
            f"{r.areas:,}",
            f"{r.load_s:.1f}",
            f"{r.ranking_s:.3f}",
            f"{r.baseline_s:.3f}",
            f"{r.ratio:.1f}x",
        )
    console = Console()
    console.print(table)
    for backend, g in grown.items():
        console.print(
            f"{backend}: {g['from_rows']:,} → {g['to_rows']:,} rows (x{g['rows_factor']}): "
            f"ranking x{g['ranking_factor']}, baseline x{g['baseline_factor']}"
            f" (linear would be x{g['rows_factor']})"
        )


async def main(args: argparse.Namespace) -> None:
    """Run every size on every backend asked for."""
    backends = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    results = []
    with tempfile.TemporaryDirectory(prefix="careloop-hotspots-") as folder:
        for backend in backends:
            for rows in args.sizes:
                Console(stderr=True).print(f"[dim]{backend}: {rows:,} rows …[/dim]")
                results.append(await run_size(backend, rows, args, Path(folder)))
    grown = growth(results)
    show(results, grown, args.repeat)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "coverage_hotspots",
            "at": datetime.now(UTC).isoformat(),
            "machine": {"python": platform.python_version(), "platform": platform.platform()},
            "baseline_sql": BASELINE_SQL,
            "candidate_index": CANDIDATE_INDEX if args.candidate_index else None,
            "limit": args.limit,
            "repeat": args.repeat,
            "results": [asdict(r) for r in results],
            "growth": grown,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[100_000, 300_000, 1_000_000],
        help="comma-separated fact counts (default 100000,300000,1000000)",
    )
    parser.add_argument(
        "--postgres-url", help="also run on PostgreSQL, in a throwaway database on this server"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query; the median is reported")
    parser.add_argument("--limit", type=int, default=50, help="hot spots ranked (the baseline's LIMIT is 50)")
    parser.add_argument(
        "--candidate-index",
        action="store_true",
        help="add a covering index the schema lacks before loading, to measure what it would buy",
    )
    parser.add_argument(
        "--json", type=Path, help="also write the results here (bench/results/ is git-ignored)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

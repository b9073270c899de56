"""Audience import: a generated file of N subscribers into a fresh campaigns database, beside a bare load.

    uv run python bench/campaign_import.py                         # 200,000 rows, CSV, SQLite: ~50 s
    uv run python bench/campaign_import.py --format parquet
    uv run python bench/campaign_import.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres

The file comes from ``campaigns.demo`` (seeded: the same rows every run) and is kept in
``bench/results/`` between runs, so generating it is not timed. Scenarios, one run each:

  baseline   the csv module over the file and one executemany INSERT per 5,000 rows of the raw text
             into a bare table of the same width: what reading and writing alone cost
  import     ``campaigns.imports.import_subscribers`` without the recompute: every value checked,
             E.164, the pseudonym, the upsert (``careloop campaigns import`` does this)
  recompute  the one recompute of every model the import ends with
"""

from __future__ import annotations

import asyncio
import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine

from campaigns import demo, imports, service
from campaigns.main import __file__ as campaigns_main
from careloop_common.db import create_engine, create_session_factory, transaction
from careloop_common.migrations import upgrade_async

app = typer.Typer(add_completion=False)
console = Console(highlight=False)
RESULTS = Path(__file__).parent / "results"


def generated(rows: int, fmt: str) -> Path:
    """Return the generated file, writing it once."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"audience-{rows}.{fmt}"
    if not path.exists():
        started = time.perf_counter()
        (demo.write_parquet if fmt == "parquet" else demo.write_csv)(path, demo.audience_rows(rows))
        console.print(f"[dim]generated {path} in {time.perf_counter() - started:.1f} s (not timed)[/]")
    return path


async def fresh_database(postgres_url: str | None, folder: Path, name: str) -> str:
    """Return the URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if postgres_url is None:
        return f"sqlite+aiosqlite:///{folder / name}.db"
    admin = postgres_url.replace("postgresql://", "postgresql+asyncpg://")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "bench_{name}"'))
        await connection.execute(sa.text(f'CREATE DATABASE "bench_{name}"'))
    await engine.dispose()
    return admin.rsplit("/", 1)[0] + f"/bench_{name}"


async def baseline(path: Path, url: str) -> float:
    """Read a CSV with the csv module and insert its raw text rows, 5,000 per executemany."""
    engine = create_engine(url)
    width = len(imports.COLUMNS)
    table = sa.Table("bare", sa.MetaData(), *(sa.Column(f"c{i}", sa.Text) for i in range(width)))
    async with engine.begin() as connection:
        await connection.run_sync(table.metadata.create_all)
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        next(reader)
        batch: list[dict[str, Any]] = []
        for row in reader:
            batch.append({f"c{i}": value for i, value in enumerate(row)})
            if len(batch) == imports.CHUNK_ROWS:
                async with engine.begin() as connection:
                    await connection.execute(table.insert(), batch)
                batch = []
        if batch:
            async with engine.begin() as connection:
                await connection.execute(table.insert(), batch)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


async def run(rows: int, fmt: str, postgres_url: str | None) -> dict[str, Any]:
    """Run every scenario and return their timings."""
    path = generated(rows, fmt)
    results: dict[str, Any] = {
        "rows": rows,
        "format": fmt,
        "database": "postgresql" if postgres_url else "sqlite",
    }
    with tempfile.TemporaryDirectory(prefix="careloop-bench-") as folder:
        if fmt == "csv":
            results["baseline_s"] = await baseline(
                path, await fresh_database(postgres_url, Path(folder), "bare")
            )
        url = await fresh_database(postgres_url, Path(folder), "campaigns")
        await upgrade_async(Path(campaigns_main).parent / "migrations", url)
        engine = create_engine(url)
        sessions = create_session_factory(engine)
        source = imports.open_subscriber_file(path)
        started = time.perf_counter()
        report = await imports.import_subscribers(sessions, source, customer_key="bench", recompute=False)
        results["import_s"] = time.perf_counter() - started
        source.close()
        assert report.rows_imported == rows, f"{report.rows_rejected} rows refused: {report.errors[:3]}"
        started = time.perf_counter()
        await service.recompute_models(sessions)
        results["recompute_s"] = time.perf_counter() - started
        async with transaction(sessions) as session:
            results["stored"] = await session.scalar(sa.text("SELECT count(*) FROM subscriber"))
        await engine.dispose()
    return results


@app.command()
def main(
    rows: Annotated[int, typer.Option(min=1_000, help="subscribers in the file")] = 200_000,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    postgres_url: Annotated[str | None, typer.Option(help="run on PostgreSQL (a bench_* database)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Time the audience import against a bare load of the same file."""
    results = asyncio.run(run(rows, fmt, postgres_url))
    table = Table(
        "scenario", "seconds", "rows/s", title=f"{rows:,} subscribers, {fmt}, {results['database']}"
    )
    for name in ("baseline", "import", "recompute"):
        if f"{name}_s" in results:
            seconds = results[f"{name}_s"]
            table.add_row(name, f"{seconds:.1f}", f"{rows / seconds:,.0f}")
    whole = results["import_s"] + results["recompute_s"]
    table.add_row("import + recompute", f"{whole:.1f}", f"{rows / whole:,.0f}")
    console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    app()

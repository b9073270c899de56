"""``careloop campaigns …``: bulk-import the audience, and generate a demo file to try it with.

The launcher adds this app as ``careloop campaigns`` through the ``careloop.commands`` entry
point, so it imports nothing heavy at load: each command imports what it needs when it runs.
"""

from __future__ import annotations

import asyncio
import csv
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from campaigns.imports import ImportReport, Rejected

app = typer.Typer(help="Campaigns: the audience.", no_args_is_help=True, add_completion=False)
console = Console(highlight=False)

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="state directory (default ./.careloop, or CARELOOP_HOME)")
]


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or Parquet")],
    report: Annotated[
        Path | None, typer.Option(help="where every refused value is written (default: FILE.report.csv)")
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="how many refused values to print")] = 20,
    recompute: Annotated[bool, typer.Option(help="recompute the models at the end")] = True,
    database_url: Annotated[
        str | None,
        typer.Option(help="the campaigns database (default: CAMPAIGNS_DATABASE_URL, or the home's)"),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Import subscribers from a CSV or Parquet file into the campaigns database, with a report."""
    if home is not None:
        os.environ["CARELOOP_HOME"] = str(home.resolve())
    report_path = report or file.with_name(file.name + ".report.csv")
    try:
        result, seconds = asyncio.run(_import(file, report_path, database_url, recompute))
    except _FileRefused as refused:
        console.print(f"[bold red]file refused:[/] {refused}")
        raise typer.Exit(2) from None
    _print_report(result, seconds, report_path, show)


class _FileRefused(Exception):
    """The file cannot be imported at all (not CSV or Parquet, wrong columns, empty)."""


async def _import(
    file: Path, report_path: Path, database_url: str | None, recompute: bool
) -> tuple[ImportReport, float]:
    from campaigns import imports
    from campaigns.main import __file__ as main_file
    from campaigns.settings import CampaignsSettings
    from careloop_common.db import create_engine, create_session_factory
    from careloop_common.errors import ProblemError
    from careloop_common.migrations import upgrade_async

    settings = CampaignsSettings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    try:
        source = imports.open_subscriber_file(file)
    except ProblemError as exc:
        raise _FileRefused(exc.detail) from None
    await upgrade_async(Path(main_file).parent / "migrations", settings.database_url)
    engine = create_engine(settings.database_url)
    started = time.perf_counter()
    try:
        with report_path.open("w", newline="", encoding="utf-8") as out, _progress() as bar:
            writer = csv.writer(out)
            writer.writerow(["row", "field", "reason"])
            task = bar.add_task(f"importing {file.name}", total=source.size, rows=0, bad=0)

            def write_refused(refused: Sequence[Rejected]) -> None:
                writer.writerows((r.row, r.field, r.reason) for r in refused)

            def advance(report: ImportReport) -> None:
                bar.update(task, completed=report.position, rows=report.rows_read, bad=report.rows_rejected)
                if report.position >= report.size and recompute:
                    bar.update(task, description="recomputing the models")

            result = await imports.import_subscribers(
                create_session_factory(engine),
                source,
                customer_key=settings.customer_ref_secret,
                on_chunk=advance,
                on_refused=write_refused,
                recompute=recompute,
            )
    finally:
        source.close()
        await engine.dispose()
    return result, time.perf_counter() - started


def _progress() -> Progress:
    """Return a progress bar that also shows rows read and refused."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows, {task.fields[bad]:,} refused"),
        TimeRemainingColumn(),
        console=console,
    )


def _print_report(result: ImportReport, seconds: float, report_path: Path, show: int) -> None:
    """Print the counts, the first refused values, and where all of them are."""
    rate = result.rows_read / seconds if seconds > 0 else 0.0
    console.print(
        f"[bold]{result.rows_read:,}[/] rows read, [green]{result.rows_imported:,} imported[/], "
        f"[{'red' if result.rows_rejected else 'green'}]{result.rows_rejected:,} rejected[/] "
        f"in {seconds:.1f} s ({rate:,.0f} rows/s)"
        + (f"; models recomputed for {result.models_scored:,}" if result.models_scored is not None else "")
    )
    if result.rows_rejected and show:
        table = Table("row", "field", "reason", title=f"first refused values (all in {report_path})")
        for error in result.errors[:show]:
            table.add_row(str(error.row), error.field, error.reason)
        console.print(table)


@app.command("generate")
def generate(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to write (.csv or .parquet)")],
    rows: Annotated[int, typer.Option(min=1, max=50_000_000, help="how many subscribers")] = 3_000,
    seed: Annotated[int, typer.Option(help="the same seed gives the same subscribers")] = 852,
) -> None:
    """Write a generated, plausible Hong Kong audience in the import layout (for demos and benchmarks)."""
    from campaigns import demo

    started = time.perf_counter()
    writer = demo.write_parquet if file.suffix.lower() == ".parquet" else demo.write_csv
    written = writer(file, demo.audience_rows(rows, seed=seed))
    console.print(f"wrote {written:,} subscribers to {file} in {time.perf_counter() - started:.1f} s")

"""Campaign models over N generated subscribers, beside a bare vectorised pass over the same arrays.

    uv run python bench/campaign_models.py                          # 1,000,000 subscribers, ~20 s
    uv run python bench/campaign_models.py --subscribers 5000000    # on demand, ~2 min, < 2 GB
    uv run python bench/campaign_models.py --subscribers 200000 --json bench/results/models.json

The audience is generated as numpy column arrays (no database: this times the models, not I/O),
with a catalogue of ``--plans`` plans, two of them retired. Three scenarios run alternately,
``--repeat`` times each, and the median is reported:

  baseline  one bill under one plan for everyone (fee plus minutes beyond the allowance), one
            vectorised pass over the whole arrays: what numpy alone costs per row here
  tariff    the tariff-matching model (``scoring.match_tariffs``) chunk by chunk: each bill under
            every plan, the cheapest active one, the saving against the current plan
  models    every model (``scoring.score_population``): the value cut-off over everyone, then
            life-cycle stage, value tier, fee sensitivity and tariff matching chunk by chunk

Memory: the inputs' size, each scenario's own peak on top of them (tracemalloc, which numpy reports
its buffers to, in one extra untimed run so tracing does not slow the timed ones), and the process's
peak resident size (getrusage maxrss), which includes the inputs and the interpreter.
"""

from __future__ import annotations

import functools
import json
import platform
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from campaigns import scoring
from campaigns.scoring import Catalogue, SubscriberColumns

app = typer.Typer(add_completion=False)
TODAY = date(2026, 12, 15)
MB = 1024 * 1024


@dataclass(frozen=True)
class BenchPlan:
    """A generated plan of the catalogue (the attributes ``Catalogue.of`` reads)."""

    id: str
    monthly_fee: float
    included_minutes: float
    included_sms: int
    included_data_mb: float
    per_minute: float
    per_sms: float
    per_mb: float
    long_distance_per_minute: float
    roaming_per_minute: float
    active: bool


def catalogue_of(plans: int) -> Catalogue:
    """Build a catalogue of plans from small to large; the two smallest are retired."""
    return Catalogue.of(
        BenchPlan(
            id=f"P{i:02d}",
            monthly_fee=18.0 + 30.0 * i,
            included_minutes=50.0 + 150.0 * i,
            included_sms=20 + 40 * i,
            included_data_mb=200.0 + 1000.0 * i,
            per_minute=max(0.05, 0.30 - 0.02 * i),
            per_sms=0.10,
            per_mb=max(0.01, 0.08 - 0.005 * i),
            long_distance_per_minute=0.20 if i % 2 else 0.10,
            roaming_per_minute=1.0 - 0.05 * i,
            active=i >= 2,
        )
        for i in range(plans)
    )


def audience(n: int, plans: int, seed: int) -> SubscriberColumns:
    """Generate n subscribers: tenure up to 15 years, lognormal revenue and usage, 5% dormant."""
    rng = np.random.default_rng(seed)
    m3 = rng.lognormal(np.log(60.0), 0.6, n)
    m2 = np.maximum(m3 * (1 + rng.normal(0, 0.15, n)), 0)
    m1 = np.maximum(m2 * (1 + rng.normal(0, 0.15, n)), 0)
    dormant = rng.random(n) < 0.05
    for month in (m1, m2, m3):
        month[dormant] = 0.0
    long_distance_calls = rng.poisson(3, n).astype(np.int32)
    roaming = rng.random(n) < 0.10
    plan_index = rng.integers(0, plans, n).astype(np.int16)
    plan_index[rng.random(n) < 0.01] = scoring.NO_PLAN  # on a plan the catalogue no longer lists
    return SubscriberColumns(
        join_date=np.datetime64(TODAY) - rng.integers(0, 15 * 365, n).astype("timedelta64[D]"),
        revenue_m1=m1.round(2),
        revenue_m2=m2.round(2),
        revenue_m3=m3.round(2),
        balance=rng.uniform(-5, 200, n).round(2),
        avg_daily_spend_3d=(m1 / 30).round(2),
        top_ups_m1=rng.poisson(1, n).astype(np.int32),
        fee_queries_m1=rng.poisson(0.5, n).astype(np.int32),
        long_distance_calls_m1=long_distance_calls,
        prefix_calls_m1=rng.binomial(long_distance_calls, 0.3).astype(np.int32),
        minutes_m1=rng.lognormal(np.log(250.0), 0.8, n).round(1),
        sms_m1=rng.poisson(40, n).astype(np.int32),
        data_mb_m1=rng.lognormal(np.log(1500.0), 1.0, n).round(1),
        long_distance_minutes_m1=(long_distance_calls * rng.uniform(1, 8, n)).round(1),
        roaming_minutes_m1=np.where(roaming, rng.exponential(30, n), 0.0).round(1),
        plan_index=plan_index,
    )


def baseline(columns: SubscriberColumns, catalogue: Catalogue, _chunk_rows: int) -> object:
    """One bill under one plan for everyone, in one vectorised pass."""
    minutes = np.asarray(columns.minutes_m1)
    return catalogue.monthly_fee[0] + catalogue.per_minute[0] * np.maximum(
        minutes - catalogue.included_minutes[0], 0.0
    )


def tariff(columns: SubscriberColumns, catalogue: Catalogue, chunk_rows: int) -> object:
    """The tariff-matching model, chunk by chunk."""
    return [
        scoring.match_tariffs(columns.rows(start, start + chunk_rows), catalogue)
        for start in range(0, len(columns), chunk_rows)
    ]


def models(columns: SubscriberColumns, catalogue: Catalogue, chunk_rows: int) -> object:
    """Every model: the value cut-off over everyone, then the rest chunk by chunk."""
    return scoring.score_population(columns, catalogue, TODAY, chunk_rows=chunk_rows)


SCENARIOS: dict[str, Callable[[SubscriberColumns, Catalogue, int], object]] = {
    "baseline": baseline,
    "tariff": tariff,
    "models": models,
}


@dataclass
class Measured:
    """One scenario's results."""

    scenario: str
    seconds: float  # median of the timed runs
    runs: list[float]
    rows_per_s: float
    ratio: float  # seconds / the baseline's seconds
    peak_extra_mb: float  # tracemalloc peak on top of the inputs


def timed(run: Callable[[], object]) -> float:
    """Return the wall time of one call; its result is dropped before the next run."""
    start = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def traced_peak_mb(run: Callable[[], object]) -> float:
    """Return the peak memory one call allocates (numpy buffers included), in MiB."""
    tracemalloc.start()
    result = run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak / MB


def maxrss_mb() -> float:
    """Return the process's peak resident size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(columns: SubscriberColumns, catalogue: Catalogue, repeat: int, chunk_rows: int) -> list[Measured]:
    """Run the scenarios alternately ``repeat`` times each (after one untimed warm-up) and measure them."""
    calls = {name: functools.partial(f, columns, catalogue, chunk_rows) for name, f in SCENARIOS.items()}
    for call in calls.values():
        call()  # warm-up: first-touch page faults and numpy's lazy set-up stay out of the timing
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            times[name].append(timed(call))
    peaks = {name: traced_peak_mb(call) for name, call in calls.items()}
    base = statistics.median(times["baseline"])
    out = []
    for name, runs in times.items():
        seconds = statistics.median(runs)
        out.append(
            Measured(
                scenario=name,
                seconds=round(seconds, 6),
                runs=[round(r, 6) for r in runs],
                rows_per_s=round(len(columns) / seconds),
                ratio=round(seconds / base, 1),
                peak_extra_mb=round(peaks[name], 1),
            )
        )
    return out


def inputs_mb(columns: SubscriberColumns) -> float:
    """Return the size of the generated column arrays, in MiB."""
    return sum(np.asarray(value).nbytes for value in vars(columns).values()) / MB


def report(console: Console, results: list[Measured], context: dict[str, Any]) -> None:
    """Print the results as a table with the run's context."""
    table = Table(title=f"campaign models, {context['subscribers']:,} subscribers, {context['plans']} plans")
    for column in ("scenario", "seconds", "rows/s", "ratio", "peak extra MiB"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for m in results:
        table.add_row(
            m.scenario, f"{m.seconds:.4f}", f"{m.rows_per_s:,}", f"{m.ratio}", f"{m.peak_extra_mb:,.1f}"
        )
    console.print(table)
    console.print(
        f"inputs {context['inputs_mb']:,.1f} MiB; process peak RSS {context['maxrss_mb']:,.1f} MiB; "
        f"generated in {context['generate_s']:.2f} s; chunks of {context['chunk_rows']:,} rows; "
        f"median of {context['repeat']} runs"
    )


@app.command()
def main(
    subscribers: Annotated[int, typer.Option(min=1, help="how many subscribers to generate")] = 1_000_000,
    plans: Annotated[int, typer.Option(min=1, max=200, help="plans in the catalogue (two retired)")] = 12,
    repeat: Annotated[int, typer.Option(min=1, help="timed runs of each scenario")] = 3,
    chunk_rows: Annotated[int, typer.Option(min=1, help="rows per chunk for the models")] = 250_000,
    seed: Annotated[int, typer.Option(help="random seed of the generated audience")] = 1,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the results here")] = None,
) -> None:
    """Time the tariff simulation and every model against a bare vectorised pass; print the table."""
    console = Console()
    started = time.perf_counter()
    columns = audience(subscribers, plans, seed)
    catalogue = catalogue_of(plans)
    generate_s = time.perf_counter() - started
    results = measure(columns, catalogue, repeat, chunk_rows)
    context: dict[str, Any] = {
        "subscribers": subscribers,
        "plans": plans,
        "repeat": repeat,
        "chunk_rows": chunk_rows,
        "seed": seed,
        "inputs_mb": round(inputs_mb(columns), 1),
        "maxrss_mb": round(maxrss_mb(), 1),
        "generate_s": round(generate_s, 2),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    report(console, results, context)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            json.dumps({"context": context, "results": [asdict(m) for m in results]}, indent=2)
        )


if __name__ == "__main__":
    app()

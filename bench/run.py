"""Run every benchmark (or one) and gather their figures into one JSON result and one markdown table.

    uv run python bench/run.py                       # every benchmark, small scale (a few minutes)
    uv run python bench/run.py --only campaign_models --scale 1M
    uv run python bench/run.py --scale 100k --skip contact_throughput

Each benchmark runs as it always does, as a subprocess with its own ``--json`` output (kept in
``bench/results/raw/``); an adapter per benchmark reads that file into common figures: a metric,
its value and unit, the same run's baseline beside it and the ratio value ÷ baseline, and p50, p90
and p99 where the benchmark has samples. Nothing here measures: what each benchmark measures and
how is its own (bench/README.md). Written: ``bench/results/latest.json`` and
``bench/results/latest.md`` (git-ignored), with a description of the machine. See
docs/performance.md.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import psutil
import typer

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SCALES = ("small", "100k", "1M", "5M")
POPULATION = {"small": 20_000, "100k": 100_000, "1M": 1_000_000, "5M": 5_000_000}
# Seconds a benchmark may take before the runner stops it, by scale.
TIME_LIMIT_S = {"small": 900, "100k": 1_800, "1M": 3 * 3_600, "5M": 8 * 3_600}


@dataclass(frozen=True)
class Figure:
    """One number a benchmark reports, beside the same run's baseline."""

    metric: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None  # value / baseline: for seconds above 1 is slower, for rates below 1 is
    better: str = "higher"  # which way is better: "higher" (rates) or "lower" (seconds)
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    note: str = ""


def figure(metric: str, value: float, unit: str, baseline: float | None = None, **extra: Any) -> Figure:
    """Return a figure with its ratio to the baseline computed (None without a baseline)."""
    ratio = round(value / baseline, 3) if baseline else None
    better = "lower" if unit in ("s", "ms") else "higher"
    return Figure(metric, round(value, 4), unit, baseline, ratio, better, **extra)


def nearest_rank(samples: Sequence[float], q: float) -> float:
    """Return the nearest-rank q-th percentile of samples (the benchmarks' own rule)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def spread(samples: Sequence[float]) -> dict[str, float]:
    """Return p50/p90/p99 of repeated runs (nearest rank: with three runs, p90 and p99 are the worst)."""
    if not samples:
        return {}
    return {f"p{q}": round(nearest_rank(samples, q), 4) for q in (50, 90, 99)}


# --- adapters: each benchmark's own JSON into figures -----------------------------------------------


def models_figures(doc: dict[str, Any]) -> list[Figure]:
    """campaign_models: each model's rows/s against one bare vectorised pass."""
    by_name = {m["scenario"]: m for m in doc["results"]}
    base = by_name["baseline"]
    return [
        figure(
            f"{name} over {doc['context']['subscribers']:,} subscribers",
            m["rows_per_s"],
            "rows/s",
            base["rows_per_s"],
            note=f"median of {len(m['runs'])} runs",
        )
        for name, m in by_name.items()
        if name != "baseline"
    ]


def import_figures(doc: dict[str, Any]) -> list[Figure]:
    """campaign_import: the checked import's rows/s against a bare csv-and-executemany load."""
    rows = doc["rows"]
    bare = rows / doc["baseline_s"] if "baseline_s" in doc else None
    return [
        figure(f"import, {doc['format']}, {doc['database']}", rows / doc["import_s"], "rows/s", bare),
        figure("recompute after the import", doc["recompute_s"], "s"),
    ]


def segments_figures(doc: dict[str, Any]) -> list[Figure]:
    """campaign_segments: each compiled segment's count time against hand-written SQL."""
    return [
        figure(f"segment: {row['segment']}", row["compiled_s"], "s", row["raw_s"] or None)
        for row in doc["segments"]
    ]


def hotspots_figures(doc: dict[str, Any]) -> list[Figure]:
    """coverage_hotspots: the ranking's time against a bare GROUP BY, per size and backend."""
    return [
        figure(
            f"hot-spot ranking, {r['rows']:,} facts, {r['backend']}",
            r["ranking_s"],
            "s",
            r["baseline_s"],
            **spread(r["ranking_runs"]),
        )
        for r in doc["results"]
    ]


def median_round(scenarios: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """Return the named scenario's round with the median req/s (the benchmarks' own rule)."""
    runs = sorted((s for s in scenarios if s["name"] == name), key=lambda s: float(s["rps"]))
    return runs[(len(runs) - 1) // 2] if runs else None


def load_figures(
    doc: dict[str, Any], pairs: Sequence[tuple[str, str]], rate: str = "rps", unit: str = "req/s"
) -> list[Figure]:
    """HTTP benchmarks: each scenario's throughput against its baseline scenario, latency percentiles.

    The percentiles are the load generator's: wrk's from its HDR histogram, the built-in one's by
    nearest rank over every request's latency.
    """
    found = []
    for name, against in pairs:
        measured, base = median_round(doc["scenarios"], name), median_round(doc["scenarios"], against)
        if measured is None or base is None:
            continue
        found.append(
            figure(
                f"{name} (against {against})",
                float(measured[rate]),
                unit,
                float(base[rate]),
                p50=measured["p50_ms"],
                p90=measured["p90_ms"],
                p99=measured["p99_ms"],
                note=f"latency ms, {measured['generator']}; {measured.get('errors', 0)} errors",
            )
        )
    return found


def gateway_figures(doc: dict[str, Any]) -> list[Figure]:
    """gateway_overhead: direct against /healthz, and the gateway against the direct call."""
    pairs = [("direct", "baseline"), ("gateway", "direct"), ("gateway-write", "direct-write")]
    return load_figures(doc, pairs)


def lookup_figures(doc: dict[str, Any]) -> list[Figure]:
    """coverage_lookup: the lookup direct and through the gateway, against the bare endpoint."""
    pairs = [("direct", "baseline"), ("gateway", "baseline"), ("gateway-spread", "baseline")]
    return load_figures(doc, pairs)


def intake_figures(doc: dict[str, Any]) -> list[Figure]:
    """complaint_intake: filings direct and through the gateway, against a bare insert endpoint."""
    answered = load_figures(
        doc, [("direct", "bare"), ("gateway", "bare")], rate="creates_per_s", unit="creates/s"
    )
    # Counting the time each side took to send its events and go quiet after the last answer.
    sustained = load_figures(doc, [("gateway", "bare")], rate="sustained_per_s", unit="creates/s sustained")
    return answered + sustained


def triggers_figures(doc: dict[str, Any]) -> list[Figure]:
    """campaign_triggers: feed events/s through real-time triggers against a bare consumer loop."""
    latency = doc.get("latency_ms", {})
    return [
        figure(
            f"feed events through triggers, {doc['subscribers']:,} subscribers",
            float(doc["service_events_per_s"]),
            "events/s",
            float(doc["bare_events_per_s"]),
        ),
        figure(
            f"event to contact command at {doc['paced_rate']:,.0f}/s",
            float(latency.get("p50", 0.0)),
            "ms",
            p50=latency.get("p50"),
            p90=latency.get("p90"),
            p99=latency.get("p99"),
            note=f"{doc['commands']:,} commands; nearest rank over every command",
        ),
    ]


def contact_figures(doc: dict[str, Any]) -> list[Figure]:
    """contact_throughput: messages a second to the SMSC against a bare SMPP client loop."""
    base = float(doc["baseline"]["per_s"])
    found = []
    for name in ("gateway", "queued"):
        result = doc[name]
        latency = result.get("latency_ms", {})
        found.append(
            figure(
                f"{name} messages to the SMSC",
                float(result["per_s"]),
                "msg/s",
                base,
                p50=latency.get("p50"),
                p90=latency.get("p90"),
                p99=latency.get("p99"),
                note="latency ms: accepted to submit_sm, nearest rank over every message",
            )
        )
    return found


# --- the benchmarks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """A benchmark script, the arguments it runs with at each scale, and how to read its JSON."""

    name: str
    script: str
    args: Callable[[str], list[str] | None]  # None: the scale means nothing to it
    adapt: Callable[[dict[str, Any]], list[Figure]]
    what: str


def _population(option: str, small: int | None = None) -> Callable[[str], list[str]]:
    def args(scale: str) -> list[str]:
        count = small if scale == "small" and small is not None else POPULATION[scale]
        return [option, str(count)]

    return args


def _fixed(small: list[str], full: list[str]) -> Callable[[str], list[str] | None]:
    """A benchmark without a population: small settings, or its standard ones at the named scales."""

    def args(scale: str) -> list[str] | None:
        return small if scale == "small" else full

    return args


BENCHES: tuple[Bench, ...] = (
    Bench(
        "campaign_models",
        "campaign_models.py",
        lambda scale: [*_population("--subscribers")(scale), "--repeat", "3"],
        models_figures,
        "the campaign models over N subscribers against one bare numpy pass",
    ),
    Bench(
        "campaign_import",
        "campaign_import.py",
        _population("--rows", small=5_000),
        import_figures,
        "the audience import (CSV, SQLite) against a bare csv-and-executemany load",
    ),
    Bench(
        "campaign_segments",
        "campaign_segments.py",
        _population("--subscribers"),
        segments_figures,
        "segment counts, compiled trees against hand-written SQL",
    ),
    Bench(
        "campaign_triggers",
        "campaign_triggers.py",
        lambda scale: [*_population("--subscribers", small=20_000)(scale), "--events", "20000"],
        triggers_figures,
        "feed events evaluated by real-time triggers against a bare consumer loop",
    ),
    Bench(
        "coverage_hotspots",
        "coverage_hotspots.py",
        _population("--sizes"),
        hotspots_figures,
        "the hot-spot ranking over N complaint facts against a bare GROUP BY",
    ),
    Bench(
        "gateway_overhead",
        "gateway_overhead.py",
        _fixed(["--duration", "3"], ["--duration", "8", "--rounds", "3", "--writes"]),
        gateway_figures,
        "the gateway against calling complaints directly",
    ),
    Bench(
        "coverage_lookup",
        "coverage_lookup.py",
        _fixed(["--duration", "3", "--spread", "200"], ["--duration", "8", "--rounds", "3"]),
        lookup_figures,
        "coverage lookups against the bare endpoint, direct and through the gateway",
    ),
    Bench(
        "complaint_intake",
        "complaint_intake.py",
        _fixed(["--count", "300", "--warmup", "50"], ["--rounds", "3"]),
        intake_figures,
        "filing complaints through the gateway against a bare insert endpoint",
    ),
    Bench(
        "contact_throughput",
        "contact_throughput.py",
        _fixed(["--messages", "500"], ["--messages", "5000"]),
        contact_figures,
        "messages to an SMSC stand-in against a bare SMPP client loop",
    ),
)


def bench_named(name: str) -> Bench:
    """Return the benchmark called ``name``."""
    for bench in BENCHES:
        if bench.name == name:
            return bench
    raise KeyError(f"no benchmark {name!r}; there are {', '.join(b.name for b in BENCHES)}")


# --- running and gathering ----------------------------------------------------------------------


@dataclass
class BenchResult:
    """One benchmark's run: its command, how it ended, its figures."""

    name: str
    scale: str
    what: str
    status: str  # ok, failed, skipped
    seconds: float = 0.0
    command: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    detail: str = ""
    raw: str | None = None


def gather(bench: Bench, scale: str, raw: dict[str, Any] | None, *, exit_code: int = 0) -> BenchResult:
    """Turn a benchmark's own JSON into its result (failed when it exited badly or wrote nothing usable)."""
    result = BenchResult(bench.name, scale, bench.what, "ok")
    if raw is None:
        result.status, result.detail = "failed", f"exit {exit_code}, no JSON written"
        return result
    try:
        result.figures = bench.adapt(raw)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        result.status, result.detail = "failed", f"its JSON did not read: {exc!r}"
    if exit_code != 0 and result.status == "ok":
        result.status, result.detail = "failed", f"exit {exit_code} (errors during the run; figures kept)"
    return result


def run_bench(bench: Bench, scale: str, raw_dir: Path) -> BenchResult:
    """Run one benchmark as a subprocess and gather what it wrote."""
    args = bench.args(scale)
    if args is None:
        return BenchResult(bench.name, scale, bench.what, "skipped", detail=f"no {scale} scale")
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw_path = raw_dir / f"{bench.name}.json"
    raw_path.unlink(missing_ok=True)
    command = [sys.executable, str(HERE / bench.script), *args, "--json", str(raw_path)]
    print(f"== {bench.name} ({scale}): {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(command, check=False, timeout=TIME_LIMIT_S[scale], cwd=HERE.parent)
        code = done.returncode
    except subprocess.TimeoutExpired:
        code = -1
    raw = json.loads(raw_path.read_text()) if raw_path.exists() else None
    result = gather(bench, scale, raw, exit_code=code)
    result.seconds = round(time.monotonic() - started, 1)
    result.command = ["python", f"bench/{bench.script}", *args]
    result.raw = str(raw_path) if raw_path.exists() else None
    return result


def machine() -> dict[str, object]:
    """Describe the machine: CPU model, cores, memory, OS, Python, and how busy it was."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def document(results: list[BenchResult], scale: str, host: dict[str, object]) -> dict[str, Any]:
    """Return the JSON result of a run."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "machine": host,
        "benches": [{**asdict(r), "figures": [asdict(f) for f in r.figures]} for r in results],
    }


def _cell(value: float | None, digits: int = 3) -> str:
    if value is None:
        return ""
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def markdown(doc: dict[str, Any]) -> str:
    """Return the run as a markdown table: each figure beside its baseline and the ratio."""
    host = doc["machine"]
    lines = [
        f"# Benchmarks, {doc['date']}, scale {doc['scale']}",
        "",
        f"Machine: {host['cpu_model']}, {host['cores']} cores, {host['memory_gib']} GiB, {host['os']}, "
        f"Python {host['python']}, load average {host['load_average_1m']} at the end.",
        "",
        "| bench | metric | value | unit | baseline | ratio | better | p50 | p90 | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for bench in doc["benches"]:
        if bench["status"] != "ok":
            notes.append(f"- {bench['name']}: {bench['status']} ({bench['detail']})")
        for f in bench["figures"]:
            lines.append(
                f"| {bench['name']} | {f['metric']} | {_cell(f['value'])} | {f['unit']} | "
                f"{_cell(f['baseline'])} | {_cell(f['ratio'])} | {f['better']} | "
                f"{_cell(f['p50'])} | {_cell(f['p90'])} | {_cell(f['p99'])} |"
            )
    lines += [
        "",
        "ratio = value ÷ baseline, both from the same run. Percentiles: latency in ms for the HTTP and",
        "SMPP benchmarks (the load generator's), seconds of the repeated runs for the hot-spot ranking.",
    ]
    if notes:
        lines += ["", *notes]
    commands = [f"- {b['name']}: `{' '.join(b['command'])}` ({b['seconds']} s)" for b in doc["benches"]]
    return "\n".join([*lines, "", "Commands:", "", *commands, ""])


def write(doc: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write latest.json and latest.md into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    as_json, as_md = folder / "latest.json", folder / "latest.md"
    as_json.write_text(json.dumps(doc, indent=2) + "\n")
    as_md.write_text(markdown(doc))
    return as_json, as_md


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    only: Annotated[list[str] | None, typer.Option(help="run only this benchmark (repeatable)")] = None,
    skip: Annotated[list[str] | None, typer.Option(help="leave this benchmark out (repeatable)")] = None,
    scale: Annotated[str, typer.Option(help=f"one of {', '.join(SCALES)}")] = "small",
    out: Annotated[Path, typer.Option(help="where latest.json and latest.md go")] = RESULTS,
    list_them: Annotated[bool, typer.Option("--list", help="list the benchmarks and stop")] = False,
) -> None:
    """Run the benchmarks and write bench/results/latest.json and latest.md."""
    if list_them:
        for bench in BENCHES:
            print(f"{bench.name:20} {bench.what}")
        return
    if scale not in SCALES:
        raise typer.BadParameter(f"one of {', '.join(SCALES)}", param_hint="--scale")
    try:
        chosen = [bench_named(name) for name in only] if only else list(BENCHES)
        left_out = {bench_named(name).name for name in skip or ()}
    except KeyError as exc:
        raise typer.BadParameter(str(exc)) from None
    results = [run_bench(b, scale, out / "raw") for b in chosen if b.name not in left_out]
    as_json, as_md = write(document(results, scale, machine()), out)
    print(as_md.read_text())
    print(f"written: {as_json} and {as_md}")
    failed = [r.name for r in results if r.status == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)}")
        raise typer.Exit(1)


if __name__ == "__main__":
    app()

"""The bench runner: each benchmark's own JSON read into common figures, and one table of them.

Fake results only: nothing here times anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import run
from run import BENCHES, Bench, document, figure, gather, markdown, nearest_rank, run_bench, write

MODELS = {
    "context": {"subscribers": 1_000},
    "results": [
        {"scenario": "baseline", "seconds": 0.001, "runs": [0.001], "rows_per_s": 1_000_000.0},
        {"scenario": "tariff", "seconds": 0.01, "runs": [0.01, 0.02, 0.04], "rows_per_s": 100_000.0},
    ],
}
GATEWAY = {
    "scenarios": [
        {
            "name": n,
            "round": r,
            "rps": rps,
            "p50_ms": 1.0 * r,
            "p90_ms": 2.0,
            "p99_ms": 3.0,
            "generator": "wrk",
            "errors": 0,
        }
        for n, r, rps in [
            ("baseline", 1, 1000.0),
            ("direct", 1, 200.0),
            ("gateway", 1, 150.0),
            ("direct", 2, 100.0),
            ("gateway", 2, 90.0),
            ("direct", 3, 300.0),
            ("gateway", 3, 160.0),
        ]
    ]
}
CONTACT = {
    "baseline": {"per_s": 800.0},
    "gateway": {"per_s": 400.0, "latency_ms": {"p50": 10.0, "p90": 20.0, "p99": 40.0}},
    "queued": {"per_s": 600.0, "latency_ms": {}},
}


def test_a_figure_carries_its_ratio_to_the_baseline_and_which_way_is_better() -> None:
    rate = figure("import", 50.0, "rows/s", 200.0)
    assert (rate.ratio, rate.better) == (0.25, "higher")
    cost = figure("ranking", 3.0, "s", 1.5)
    assert (cost.ratio, cost.better) == (2.0, "lower")
    assert figure("recompute", 3.0, "s").ratio is None


def test_nearest_rank_percentiles() -> None:
    samples = list(range(1, 101))
    assert [nearest_rank(samples, q) for q in (50, 90, 99)] == [50, 90, 99]
    assert nearest_rank([7.0], 99) == 7.0


def test_the_models_result_becomes_rates_against_the_bare_pass() -> None:
    result = gather(run.bench_named("campaign_models"), "small", MODELS)
    assert result.status == "ok"
    [tariff] = result.figures
    assert tariff.metric == "tariff over 1,000 subscribers"
    assert (tariff.value, tariff.baseline, tariff.ratio) == (100_000.0, 1_000_000.0, 0.1)
    assert tariff.p50 is None  # three runs are not a distribution: the median is the value


def test_an_http_result_takes_the_median_round_and_the_generators_percentiles() -> None:
    figures = {f.metric: f for f in gather(run.bench_named("gateway_overhead"), "small", GATEWAY).figures}
    assert set(figures) == {"direct (against baseline)", "gateway (against direct)"}
    gateway = figures["gateway (against direct)"]
    assert (gateway.value, gateway.baseline) == (150.0, 200.0)  # the median rounds: 150 and 200
    assert gateway.ratio == 0.75
    assert (gateway.p50, gateway.p90, gateway.p99) == (1.0, 2.0, 3.0)


def test_a_missing_or_unreadable_result_is_a_failure_not_a_crash() -> None:
    bench = run.bench_named("contact_throughput")
    assert gather(bench, "small", None, exit_code=2).status == "failed"
    assert "did not read" in gather(bench, "small", {"baseline": {}}).detail
    kept = gather(bench, "small", CONTACT, exit_code=1)
    assert kept.status == "failed"
    assert len(kept.figures) == 2  # the figures of a run with errors are kept, marked failed


def test_the_table_and_json_hold_every_figure_and_the_machine(tmp_path: Path) -> None:
    results = [
        gather(run.bench_named("campaign_models"), "small", MODELS),
        gather(run.bench_named("contact_throughput"), "small", CONTACT),
        gather(run.bench_named("complaint_intake"), "small", None, exit_code=2),
    ]
    host = {
        "cpu_model": "Test CPU",
        "cores": 2,
        "memory_gib": 24.0,
        "os": "Linux",
        "python": "3.11",
        "load_average_1m": 0.5,
    }
    as_json, as_md = write(document(results, "small", host), tmp_path)
    doc = json.loads(as_json.read_text())
    assert doc["machine"]["cpu_model"] == "Test CPU"
    assert [b["status"] for b in doc["benches"]] == ["ok", "ok", "failed"]
    table = as_md.read_text()
    assert table == markdown(doc)
    assert "Test CPU, 2 cores, 24.0 GiB" in table
    row = "| gateway messages to the SMSC | 400 | msg/s | 800 | 0.5 | higher | 10 | 20 | 40 |"
    assert f"| contact_throughput {row}" in table
    assert "- complaint_intake: failed (exit 2, no JSON written)" in table


def test_every_benchmark_has_a_small_scale_and_the_population_ones_every_scale() -> None:
    for bench in BENCHES:
        assert bench.args("small") is not None
    for name in ("campaign_models", "campaign_import", "campaign_segments", "coverage_hotspots"):
        assert run.bench_named(name).args("5M") is not None
        assert "5000000" in (run.bench_named(name).args("5M") or [])


def test_a_benchmark_runs_as_a_subprocess_and_its_json_is_gathered(tmp_path: Path) -> None:
    script = tmp_path / "fake_bench.py"
    script.write_text(
        "import json, sys\n"
        "path = sys.argv[sys.argv.index('--json') + 1]\n"
        f"json.dump({json.dumps(CONTACT)}, open(path, 'w'))\n"
    )
    fake = Bench("fake", str(script), lambda scale: ["--messages", "1"], run.contact_figures, "a fake")

    result = run_bench(fake, "small", tmp_path / "raw")

    assert result.status == "ok", result.detail
    assert [f.value for f in result.figures] == [400.0, 600.0]
    assert result.command[-2:] == ["--messages", "1"]


def test_an_unknown_benchmark_is_refused() -> None:
    with pytest.raises(KeyError, match="no benchmark"):
        run.bench_named("nope")
    assert sys.executable  # the runner uses this interpreter for every benchmark

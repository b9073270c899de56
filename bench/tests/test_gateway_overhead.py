"""The gateway benchmark: pairing and verdicts, and (slow) one short real run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_overhead import TARGET_RATIO, Comparison, Measurement, Scenario, compare, representatives
from loadgen import LoadResult, LoadSpec

SCRIPT = Path(__file__).resolve().parents[1] / "gateway_overhead.py"


def measurement(name: str, requests: int, p99_ms: float = 10.0, round_: int = 1) -> Measurement:
    """A made-up measurement over 10 s."""
    result = LoadResult("wrk", requests, 10.0, 1.0, 2.0, p99_ms, p99_ms, 0)
    cpu = {"complaints": 5.0, "gateway": 2.0, "generator": 1.0, "rest": 0.1}
    return Measurement(Scenario(name, "x", "/x", LoadSpec(url="http://x/x")), result, 10.0, cpu, round_)


def test_gateway_scenarios_are_paired_with_their_direct_twins() -> None:
    runs = [measurement(n, 1000) for n in ("baseline", "direct", "gateway", "direct-write", "gateway-write")]
    assert [c.kind for c in compare(runs)] == ["read", "write"]
    assert [c.kind for c in compare(runs[:3])] == ["read"]


def test_verdict_follows_the_throughput_ratio() -> None:
    kept = Comparison("read", [(measurement("direct", 1000, 10.0), measurement("gateway", 700, 14.5))])
    assert kept.ratio == pytest.approx(TARGET_RATIO)
    assert kept.met
    assert kept.p99_delta_ms == pytest.approx(4.5)
    assert kept.to_json()["gateway_cpu_us_per_request"] == pytest.approx(2857.1)
    lost = Comparison("read", [(measurement("direct", 1000), measurement("gateway", 699))])
    assert not lost.met


def test_rounds_are_paired_within_a_round_and_summarised_by_the_median() -> None:
    # The machine got slower in round 2: each round's pair still compares like with like.
    runs = [
        measurement("direct", 1000, round_=1),
        measurement("gateway", 800, round_=1),
        measurement("gateway", 400, round_=2),
        measurement("direct", 500, round_=2),
        measurement("direct", 900, round_=3),
        measurement("gateway", 810, round_=3),
    ]
    (read,) = compare(runs)
    assert read.ratios == pytest.approx([0.8, 0.8, 0.9])
    assert read.ratio == pytest.approx(0.8)
    shown = representatives(runs)
    assert [(m.scenario.name, m.result.requests) for m in shown] == [("direct", 900), ("gateway", 800)]


def test_cpu_is_reported_per_core_and_per_request() -> None:
    m = measurement("direct", 1000)
    assert m.cpu_pct("complaints") == pytest.approx(50.0)
    assert m.cpu_us_per_request("gateway") == pytest.approx(2000.0)


@pytest.mark.slow
def test_a_short_run_measures_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    argv = [sys.executable, str(SCRIPT), "--duration", "1", "--warmup", "0", "-c", "4", "--writes"]
    argv += ["--rounds", "2", "--generator", "builtin", "--json", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(out.read_text())
    names = ["baseline", "direct", "gateway", "direct-write", "gateway-write"]
    ran = [(s["round"], s["name"]) for s in document["scenarios"]]
    assert ran == [(1, n) for n in names] + [(2, n) for n in reversed(names)]
    assert all(s["requests"] > 0 and s["errors"] == 0 for s in document["scenarios"])
    comparisons = document["comparisons"]
    assert [(c["kind"], len(c["throughput_ratio_per_round"])) for c in comparisons] == [
        ("read", 2),
        ("write", 2),
    ]

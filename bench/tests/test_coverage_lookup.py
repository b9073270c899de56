"""The coverage lookup benchmark: spread points, ratios and the cache estimate, and (slow) one short run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h3
import pytest
from coverage_lookup import POINT, RESOLUTION, TARGET_OF_BARE, cache_estimate, ratios, spread_paths
from gateway_overhead import Measurement, Scenario
from loadgen import LoadResult, LoadSpec

SCRIPT = Path(__file__).resolve().parents[1] / "coverage_lookup.py"


def measurement(name: str, requests: int, round_: int = 1, paths: tuple[str, ...] = ()) -> Measurement:
    """A made-up measurement over 10 s."""
    result = LoadResult("wrk", requests, 10.0, 1.0, 2.0, 3.0, 4.0, 0)
    cpu = {"coverage-map": 5.0, "gateway": 2.0, "generator": 1.0, "rest": 0.1}
    load = LoadSpec(url="http://x/x", paths=paths)
    return Measurement(Scenario(name, "x", "/x", load), result, 10.0, cpu, round_)


def test_spread_points_fall_in_distinct_areas_none_shared() -> None:
    centre = h3.latlng_to_cell(*POINT, RESOLUTION)
    blocks = spread_paths(centre, 50, 3)
    assert [len(b) for b in blocks] == [50, 50, 50]
    every = [p for b in blocks for p in b]
    assert len(set(every)) == 150
    areas = set()
    for path in every:
        query = dict(part.split("=") for part in path.split("?", 1)[1].split("&"))
        areas.add(h3.latlng_to_cell(float(query["lat"]), float(query["lng"]), RESOLUTION))
    assert len(areas) == 150
    assert centre not in areas


def test_ratios_pair_rounds_and_judge_against_the_bare_endpoint() -> None:
    runs = [
        measurement("baseline", 10_000),
        measurement("direct", 8_000),
        measurement("gateway", 5_000),
        measurement("baseline", 5_000, round_=2),
        measurement("direct", 4_000, round_=2),
        measurement("gateway", 2_000, round_=2),
    ]
    found = {r.name: r for r in ratios(runs)}
    assert set(found) == {"gateway / direct", "gateway / bare", "direct / bare"}
    assert found["gateway / bare"].ratios == pytest.approx([0.5, 0.4])
    assert found["gateway / bare"].target == TARGET_OF_BARE
    assert found["gateway / bare"].met is False  # the median, 0.45
    assert found["gateway / direct"].met is None
    assert found["gateway / direct"].to_json()["throughput_ratio"] == pytest.approx(0.5625, abs=1e-3)


def test_cache_estimate_follows_how_often_an_area_comes_back() -> None:
    assert cache_estimate(measurement("direct", 1000)) is None
    warm = cache_estimate(measurement("direct-spread", 10_000, paths=tuple(f"/{i}" for i in range(1000))))
    assert warm == {"areas": 1000, "revisit_s": 1.0, "hit_share": 0.8}
    cold = cache_estimate(measurement("direct-spread", 1000, paths=tuple(f"/{i}" for i in range(1000))))
    assert cold is not None
    assert cold["hit_share"] == 0.0


@pytest.mark.slow
def test_a_short_run_measures_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    argv = [sys.executable, str(SCRIPT), "--duration", "1", "--warmup", "1", "-c", "4", "--spread", "100"]
    argv += ["--generator", "builtin", "--json", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(out.read_text())
    names = ["baseline", "direct", "gateway", "direct-spread", "gateway-spread"]
    assert [s["name"] for s in document["scenarios"]] == names
    assert all(s["requests"] > 0 and s["errors"] == 0 for s in document["scenarios"])
    assert document["settings"]["credential"] == "api-key"
    assert document["settings"]["seeded_answer"] == "published"
    assert len(document["ratios"]) == 6

"""The campaign models benchmark: the generated audience and catalogue, and one tiny real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from campaign_models import TODAY, audience, catalogue_of, inputs_mb, measure

from campaigns import scoring

SCRIPT = Path(__file__).resolve().parents[1] / "campaign_models.py"


def test_the_audience_is_what_the_readme_says() -> None:
    columns = audience(20_000, plans=12, seed=3)
    assert len(columns) == 20_000
    dormant = (columns.revenue_m1 == 0) & (columns.revenue_m2 == 0) & (columns.revenue_m3 == 0)
    assert 0.04 < dormant.mean() < 0.06  # 5% dormant
    assert 0.005 < (columns.plan_index == scoring.NO_PLAN).mean() < 0.015  # 1% off the catalogue
    assert (columns.prefix_calls_m1 <= columns.long_distance_calls_m1).all()
    assert (columns.join_date <= np.datetime64(TODAY)).all()
    assert 80 < inputs_mb(columns) * 1024 * 1024 / 20_000 < 120  # about 100 bytes a subscriber


def test_the_catalogue_retires_its_two_smallest_plans() -> None:
    catalogue = catalogue_of(12)
    assert len(catalogue) == 12
    assert catalogue.active.tolist() == [False, False] + [True] * 10
    assert catalogue.monthly_fee.tolist() == sorted(catalogue.monthly_fee.tolist())


def test_measure_reports_every_scenario_against_the_baseline() -> None:
    results = measure(audience(5_000, plans=12, seed=1), catalogue_of(12), repeat=2, chunk_rows=1_000)
    assert [m.scenario for m in results] == ["baseline", "tariff", "models"]
    assert results[0].ratio == 1.0
    assert all(len(m.runs) == 2 and m.seconds > 0 and m.rows_per_s > 0 for m in results)
    # Every model does more than the bare pass: the tariff model alone prices ten active plans.
    assert results[2].seconds > results[0].seconds
    assert all(m.peak_extra_mb > 0 for m in results)


def test_a_tiny_run_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "models.json"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--subscribers", "3000", "--repeat", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "campaign models, 3,000 subscribers" in run.stdout
    written = json.loads(out.read_text())
    assert written["context"]["subscribers"] == 3000
    assert [r["scenario"] for r in written["results"]] == ["baseline", "tariff", "models"]

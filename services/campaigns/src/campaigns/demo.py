"""The demo audience: the shared simulator's plan catalogue and subscribers, under the demo's names.

The generator lives in ``careloop_common.simulate.population`` so the launcher, the benchmarks,
the drills and ``careloop simulate`` make the same population; this module keeps the names the
campaigns CLI, its tests and the import benchmark use.
"""

from __future__ import annotations

from careloop_common.simulate.population import (
    CSV_LAYOUT,
    DEMO_BILL_MONTH,
    DEMO_PLANS,
    DEMO_SEED,
    DEMO_SUBSCRIBERS,
    audience_rows,
    subscriber_row,
    write_csv,
    write_parquet,
)

__all__ = [
    "CSV_LAYOUT",
    "DEMO_BILL_MONTH",
    "DEMO_PLANS",
    "DEMO_SEED",
    "DEMO_SUBSCRIBERS",
    "audience_rows",
    "subscriber_row",
    "write_csv",
    "write_parquet",
]

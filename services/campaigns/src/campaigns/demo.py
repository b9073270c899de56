"""A demo audience: a small plan catalogue and a generated, plausible Hong Kong population.

Deterministic: the same seed, count and month give the same rows, byte for byte, so the demo, the
tests and the import benchmark see one population. Mostly Hong Kong numbers (+852, zh-Hant or en),
with a few mainland customers (+86, zh-Hans). The rows are in the bulk-import layout
(``campaigns.imports.COLUMNS``) and are written as CSV or Parquet.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from campaigns.imports import COLUMNS, LIST_SEPARATOR, BadValue, parse_msisdn

# Hong Kong-style plans (HK$ a month): what each includes and what usage beyond costs.
DEMO_PLANS: dict[str, dict[str, Any]] = {
    "LITE68": {
        "name": "Lite 68",
        "monthly_fee": 68.0,
        "included_minutes": 300.0,
        "included_sms": 50,
        "included_data_mb": 3_000.0,
        "per_minute": 0.25,
        "per_sms": 0.5,
        "per_mb": 0.06,
        "long_distance_per_minute": 0.8,
        "roaming_per_minute": 6.0,
        "active": True,
    },
    "CLASSIC128": {
        "name": "Classic 128",
        "monthly_fee": 128.0,
        "included_minutes": 1_000.0,
        "included_sms": 200,
        "included_data_mb": 20_000.0,
        "per_minute": 0.2,
        "per_sms": 0.4,
        "per_mb": 0.03,
        "long_distance_per_minute": 0.6,
        "roaming_per_minute": 5.0,
        "active": True,
    },
    "DATA198": {
        "name": "Data 198",
        "monthly_fee": 198.0,
        "included_minutes": 2_000.0,
        "included_sms": 500,
        "included_data_mb": 80_000.0,
        "per_minute": 0.15,
        "per_sms": 0.3,
        "per_mb": 0.01,
        "long_distance_per_minute": 0.5,
        "roaming_per_minute": 4.0,
        "active": True,
    },
    "GBA158": {  # Greater Bay Area: cheap calls and roaming across the border
        "name": "Greater Bay 158",
        "monthly_fee": 158.0,
        "included_minutes": 1_000.0,
        "included_sms": 200,
        "included_data_mb": 30_000.0,
        "per_minute": 0.2,
        "per_sms": 0.4,
        "per_mb": 0.02,
        "long_distance_per_minute": 0.1,
        "roaming_per_minute": 0.5,
        "active": True,
    },
    "PREPAID": {
        "name": "Prepaid SIM",
        "monthly_fee": 0.0,
        "included_minutes": 0.0,
        "included_sms": 0,
        "included_data_mb": 0.0,
        "per_minute": 0.3,
        "per_sms": 0.5,
        "per_mb": 0.08,
        "long_distance_per_minute": 1.0,
        "roaming_per_minute": 8.0,
        "active": True,
    },
    "VALUE98": {  # retired: still priced for those on it, never recommended
        "name": "Value 98 (retired)",
        "monthly_fee": 98.0,
        "included_minutes": 500.0,
        "included_sms": 100,
        "included_data_mb": 5_000.0,
        "per_minute": 0.3,
        "per_sms": 0.5,
        "per_mb": 0.05,
        "long_distance_per_minute": 0.9,
        "roaming_per_minute": 7.0,
        "active": False,
    },
}

DEMO_SEED = 852
DEMO_SUBSCRIBERS = 3_000
# The month the demo's last bills are for: fixed, so the demo's rows never change.
DEMO_BILL_MONTH = date(2026, 11, 1)
MAINLAND_SHARE = 0.08
HK_PREFIXES = ("5", "6", "9")
MAINLAND_PREFIXES = ("134", "135", "136", "138", "139", "150", "158", "186", "188")
MAINLAND_REGIONS = (("CN-GD", 0.7), ("CN-FJ", 0.15), ("CN-SH", 0.15))
CLASSES = (("normal", 0.85), ("gold", 0.10), ("vip", 0.03), ("key_account", 0.02))
PLAN_MIX = (
    ("LITE68", 0.30),
    ("CLASSIC128", 0.25),
    ("DATA198", 0.12),
    ("GBA158", 0.08),
    ("PREPAID", 0.18),
    ("VALUE98", 0.07),
)
CSV_LAYOUT = [column.name for column in COLUMNS]


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    names, weights = zip(*weighted, strict=True)
    picked: str = rng.choices(names, weights)[0]
    return picked


def _number(rng: random.Random, mainland: bool) -> str:
    """Return a random valid mobile number: +852 8 digits, or +86 1xx 8 digits."""
    while True:
        if mainland:
            candidate = f"+86{rng.choice(MAINLAND_PREFIXES)}{rng.randrange(10**8):08d}"
        else:
            candidate = f"+852{rng.choice(HK_PREFIXES)}{rng.randrange(10**7):07d}"
        try:
            return parse_msisdn(candidate)
        except BadValue:
            continue


def _month(first_of_month: date, back: int) -> str:
    index = first_of_month.year * 12 + first_of_month.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _bill(rng: random.Random, plan: dict[str, Any], minutes: float, sms: int, data_mb: float) -> float:
    over: float = (
        max(0.0, minutes - plan["included_minutes"]) * plan["per_minute"]
        + max(0, sms - plan["included_sms"]) * plan["per_sms"]
        + max(0.0, data_mb - plan["included_data_mb"]) * plan["per_mb"]
    )
    return round(float(plan["monthly_fee"]) + over + rng.uniform(0, 5), 2)


def subscriber_row(rng: random.Random, number: str, mainland: bool, month: date) -> dict[str, Any]:
    """Return one generated subscriber in the import layout."""
    plan_id = "GBA158" if mainland and rng.random() < 0.4 else _pick(rng, PLAN_MIX)
    plan = DEMO_PLANS[plan_id]
    tenure_days = int(rng.expovariate(1 / 1_400)) + 20
    join = month - timedelta(days=tenure_days)
    minutes = round(min(40_000.0, rng.lognormvariate(math.log(350), 0.8)), 1)
    data_mb = round(min(900_000.0, rng.lognormvariate(math.log(9_000), 1.0)), 1)
    sms = int(rng.expovariate(1 / 40))
    long_distance_calls = int(rng.expovariate(1 / (12 if mainland else 3)))
    prefix_calls = rng.randint(0, long_distance_calls) if rng.random() < 0.3 else 0
    long_distance_minutes = round(min(minutes, long_distance_calls * rng.uniform(2, 9)), 1)
    roaming_minutes = round(min(minutes - long_distance_minutes, rng.expovariate(1 / 15)), 1)
    bill = _bill(rng, plan, minutes, sms, data_mb)
    trend = rng.choice((0.75, 0.95, 1.0, 1.0, 1.05, 1.3))
    daily = [round(max(0.0, bill / 30 * rng.uniform(0.3, 1.8)), 2) for _ in range(7)]
    prepaid = plan_id == "PREPAID"
    balance = round(rng.uniform(-20, 60) if prepaid else rng.uniform(0, 400), 2)
    birthday = join - timedelta(days=rng.randint(18 * 365, 70 * 365)) if rng.random() < 0.8 else None
    last_paid = month + timedelta(days=rng.randint(0, 28))
    return {
        "msisdn": number,
        "brand": "bauhinia" if mainland else ("harbour_go" if prepaid else "harbour"),
        "plan_id": plan_id,
        "region": _pick(rng, MAINLAND_REGIONS) if mainland else "HK",
        "join_date": join.isoformat(),
        "time_zone": "Asia/Shanghai" if mainland else "Asia/Hong_Kong",
        "language": "zh-Hans" if mainland else ("zh-Hant" if rng.random() < 0.7 else "en"),
        "birthday": birthday.isoformat() if birthday else "",
        "customer_class": _pick(rng, CLASSES),
        "contact_sms": "true" if rng.random() < 0.95 else "false",
        "contact_call": "true" if rng.random() < 0.85 else "false",
        "balance": balance,
        "revenue_m1": bill,
        "revenue_m2": round(bill / trend, 2),
        "revenue_m3": round(bill / trend / trend, 2),
        "bill_period": _month(month, 1),
        "daily_spend": LIST_SEPARATOR.join(f"{value:g}" for value in daily),
        "spend_through": (month + timedelta(days=27)).isoformat(),
        "top_ups_m1": rng.randint(1, 6) if prepaid else 0,
        "last_payment_at": f"{last_paid.isoformat()}T{rng.randint(8, 21):02d}:00:00+08:00",
        "points": int(rng.expovariate(1 / 2_000)),
        "points_expire_on": (month + timedelta(days=rng.randint(30, 400))).isoformat(),
        "minutes_m1": minutes,
        "sms_m1": sms,
        "data_mb_m1": data_mb,
        "long_distance_minutes_m1": long_distance_minutes,
        "roaming_minutes_m1": roaming_minutes,
        "prefix_calls_m1": prefix_calls,
        "long_distance_calls_m1": long_distance_calls,
        "fee_queries_m1": int(rng.expovariate(1 / 1.2)),
    }


def audience_rows(
    count: int = DEMO_SUBSCRIBERS, *, seed: int = DEMO_SEED, month: date = DEMO_BILL_MONTH
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` generated subscribers with distinct numbers, the same ones for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - demo data: reproducible on purpose, not secret
    seen: set[str] = set()
    while len(seen) < count:
        mainland = rng.random() < MAINLAND_SHARE
        number = _number(rng, mainland)
        if number in seen:
            continue
        seen.add(number)
        yield subscriber_row(rng, number, mainland, month)


def write_csv(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    """Write rows as an import CSV (header first); return how many."""
    written = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_LAYOUT)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            written += 1
    return written


def write_parquet(path: Path, rows: Iterator[dict[str, Any]], batch_rows: int = 50_000) -> int:
    """Write rows as an import Parquet file (typed columns, daily_spend a list); return how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = 0
    writer: Any = None
    try:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(_typed(row))
            if len(batch) == batch_rows:
                writer = _write_batch(pa, pq, path, writer, batch)
                written += len(batch)
                batch = []
        if batch or writer is None:
            writer = _write_batch(pa, pq, path, writer, batch)
            written += len(batch)
    finally:
        if writer is not None:
            writer.close()
    return written


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """Return a generated row with Parquet types: days, instants, booleans, a list of spend."""
    typed = dict(row)
    for name in ("join_date", "spend_through", "points_expire_on"):
        typed[name] = date.fromisoformat(row[name])
    typed["birthday"] = date.fromisoformat(row["birthday"]) if row["birthday"] else None
    typed["contact_sms"] = row["contact_sms"] == "true"
    typed["contact_call"] = row["contact_call"] == "true"
    typed["daily_spend"] = [float(value) for value in row["daily_spend"].split(LIST_SEPARATOR)]
    typed["last_payment_at"] = datetime.fromisoformat(row["last_payment_at"])
    return typed


def _write_batch(pa: Any, pq: Any, path: Path, writer: Any, batch: list[dict[str, Any]]) -> Any:
    table = pa.Table.from_pylist(batch, schema=_schema(pa))
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema)
    writer.write_table(table)
    return writer


def _schema(pa: Any) -> Any:
    """Return the Parquet schema of the import layout."""
    money, whole, day = pa.float64(), pa.int64(), pa.date32()
    types: dict[str, Any] = {
        "join_date": day,
        "birthday": day,
        "spend_through": day,
        "points_expire_on": day,
        "contact_sms": pa.bool_(),
        "contact_call": pa.bool_(),
        "daily_spend": pa.list_(money),
        "last_payment_at": pa.timestamp("us", tz="UTC"),
        **dict.fromkeys(
            ("balance", "revenue_m1", "revenue_m2", "revenue_m3", "minutes_m1", "data_mb_m1"), money
        ),
        **dict.fromkeys(("long_distance_minutes_m1", "roaming_minutes_m1"), money),
        **dict.fromkeys(
            (
                "top_ups_m1",
                "points",
                "sms_m1",
                "prefix_calls_m1",
                "long_distance_calls_m1",
                "fee_queries_m1",
            ),
            whole,
        ),
    }
    return pa.schema([(name, types.get(name, pa.string())) for name in CSV_LAYOUT])

"""The simulated population: a plan catalogue and plausible Hong Kong and Fujian subscribers.

Deterministic: the same seed, count and month give the same rows, byte for byte, so the demo, the
tests and the benchmarks see one population. Mostly Hong Kong numbers (+852, zh-Hant or en), with
mainland customers (+86, zh-Hans; ``mainland_share``, 8% by default) mostly in Fujian. The rows are
in the campaigns bulk-import layout (``IMPORT_LAYOUT``, the columns of ``campaigns.imports``; a
test keeps the two equal) and are written as CSV or Parquet. Each subscriber also has a home (a
district or city with a position) and a few frequent contacts (``contacts``): not import columns,
but what the feed and complaint streams draw on.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers

LIST_SEPARATOR = ";"  # daily_spend in a CSV cell: "3.5;4;0", oldest day first
# The campaigns bulk-import columns, in order (campaigns.imports.COLUMNS).
IMPORT_LAYOUT: tuple[str, ...] = (
    "msisdn",
    "brand",
    "plan_id",
    "region",
    "join_date",
    "time_zone",
    "language",
    "birthday",
    "customer_class",
    "contact_sms",
    "contact_call",
    "balance",
    "revenue_m1",
    "revenue_m2",
    "revenue_m3",
    "bill_period",
    "daily_spend",
    "spend_through",
    "top_ups_m1",
    "last_payment_at",
    "points",
    "points_expire_on",
    "minutes_m1",
    "sms_m1",
    "data_mb_m1",
    "long_distance_minutes_m1",
    "roaming_minutes_m1",
    "prefix_calls_m1",
    "long_distance_calls_m1",
    "fee_queries_m1",
)
CSV_LAYOUT = list(IMPORT_LAYOUT)


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[int]:
    return frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def is_valid_mobile(candidate: str) -> bool:
    """Tell whether an E.164 number (+852 or +86 here) is a valid number, as the import checks it."""
    for length in (1, 2, 3):
        code = int(candidate[1 : 1 + length])
        if code in _country_codes():
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(candidate[1 + length :]))
            return bool(phonenumbers.is_valid_number(number))
    return False


# Hong Kong-style plans (HK$ a month): what each includes and what usage beyond costs.
PLANS: dict[str, dict[str, Any]] = {
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

DEMO_PLANS = PLANS  # the name the demo and campaigns know it by
DEMO_SEED = 852
DEMO_SUBSCRIBERS = 3_000
# The month the demo's last bills are for: fixed, so the demo's rows never change.
DEMO_BILL_MONTH = date(2026, 11, 1)
MAINLAND_SHARE = 0.08
HK_PREFIXES = ("5", "6", "9")
MAINLAND_PREFIXES = ("134", "135", "136", "138", "139", "150", "158", "186", "188")
# Fujian first (the operator of the campaign cases), then the Greater Bay Area and Shanghai.
MAINLAND_REGIONS = (("CN-FJ", 0.6), ("CN-GD", 0.3), ("CN-SH", 0.1))
CLASSES = (("normal", 0.85), ("gold", 0.10), ("vip", 0.03), ("key_account", 0.02))
PLAN_MIX = (
    ("LITE68", 0.30),
    ("CLASSIC128", 0.25),
    ("DATA198", 0.12),
    ("GBA158", 0.08),
    ("PREPAID", 0.18),
    ("VALUE98", 0.07),
)


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
        if is_valid_mobile(candidate):
            return candidate


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
    plan = PLANS[plan_id]
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
    count: int = DEMO_SUBSCRIBERS,
    *,
    seed: int = DEMO_SEED,
    month: date = DEMO_BILL_MONTH,
    mainland_share: float = MAINLAND_SHARE,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` generated subscribers with distinct numbers, the same ones for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - simulated data: reproducible on purpose, not secret
    seen: set[str] = set()
    while len(seen) < count:
        mainland = rng.random() < mainland_share
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


# --- homes: where each subscriber lives, for location updates and complaints -----------------


@dataclass(frozen=True)
class Place:
    """A district or city: its centre, how far homes spread around it (km), and its weight."""

    name: str
    region: str
    lat: float
    lng: float
    spread_km: float
    weight: float


HK_PLACES = (
    Place("Central", "HK", 22.2819, 114.1582, 1.0, 0.10),
    Place("Causeway Bay", "HK", 22.2803, 114.1849, 1.0, 0.08),
    Place("Mong Kok", "HK", 22.3193, 114.1694, 1.2, 0.14),
    Place("Kwun Tong", "HK", 22.3120, 114.2260, 1.5, 0.14),
    Place("Sha Tin", "HK", 22.3817, 114.1880, 2.0, 0.14),
    Place("Tsuen Wan", "HK", 22.3707, 114.1135, 1.5, 0.10),
    Place("Tuen Mun", "HK", 22.3908, 113.9725, 2.0, 0.10),
    Place("Yuen Long", "HK", 22.4445, 114.0222, 2.5, 0.08),
    Place("Tseung Kwan O", "HK", 22.3076, 114.2600, 1.5, 0.07),
    Place("Tung Chung", "HK", 22.2890, 113.9410, 1.5, 0.05),
)
MAINLAND_PLACES: dict[str, tuple[Place, ...]] = {
    "CN-FJ": (
        Place("Fuzhou", "CN-FJ", 26.0745, 119.2965, 6.0, 0.35),
        Place("Xiamen", "CN-FJ", 24.4798, 118.0894, 5.0, 0.30),
        Place("Quanzhou", "CN-FJ", 24.8741, 118.6757, 6.0, 0.20),
        Place("Zhangzhou", "CN-FJ", 24.5130, 117.6470, 5.0, 0.08),
        Place("Nanping", "CN-FJ", 26.6418, 118.1777, 8.0, 0.07),
    ),
    "CN-GD": (
        Place("Shenzhen", "CN-GD", 22.5431, 114.0579, 8.0, 0.6),
        Place("Guangzhou", "CN-GD", 23.1291, 113.2644, 8.0, 0.4),
    ),
    "CN-SH": (Place("Shanghai", "CN-SH", 31.2304, 121.4737, 10.0, 1.0),),
}
KM_PER_DEGREE = 111.0


def places_of(region: str) -> tuple[Place, ...]:
    """Return the places a subscriber of ``region`` may live in."""
    return MAINLAND_PLACES.get(region, HK_PLACES)


def near(rng: random.Random, place: Place, spread_km: float | None = None) -> tuple[float, float]:
    """Return a position around ``place``: normal in each axis, ``spread_km`` one standard deviation."""
    spread = (place.spread_km if spread_km is None else spread_km) / KM_PER_DEGREE
    lat = place.lat + rng.gauss(0, spread)
    lng = place.lng + rng.gauss(0, spread / math.cos(math.radians(place.lat)))
    return round(lat, 5), round(lng, 5)


@dataclass(frozen=True)
class Subscriber:
    """What the streams need of a generated subscriber: who, where, which plan, how they call."""

    msisdn: str
    region: str
    plan_id: str
    prepaid: bool
    balance: float
    monthly_bill: float
    home: Place
    lat: float
    lng: float
    uses_prefix: bool  # dials the cheap long-distance prefix (12593) for some calls


def subscriber_of(row: dict[str, Any], seed: int) -> Subscriber:
    """Return the stream view of an import row; the home is drawn from its own seeded stream.

    Seeded by the seed and the number (never by the row's position), so adding homes never changed
    the import rows and a subscriber keeps their home whatever the population size.
    """
    rng = random.Random(f"home:{seed}:{row['msisdn']}")  # noqa: S311 - reproducible on purpose
    choices = places_of(row["region"])
    home = rng.choices(choices, [p.weight for p in choices])[0]
    lat, lng = near(rng, home)
    return Subscriber(
        msisdn=row["msisdn"],
        region=row["region"],
        plan_id=row["plan_id"],
        prepaid=row["plan_id"] == "PREPAID",
        balance=float(row["balance"]),
        monthly_bill=float(row["revenue_m1"]),
        home=home,
        lat=lat,
        lng=lng,
        uses_prefix=int(row["prefix_calls_m1"]) > 0,
    )


def population(
    count: int,
    *,
    seed: int = DEMO_SEED,
    month: date = DEMO_BILL_MONTH,
    mainland_share: float = MAINLAND_SHARE,
) -> list[Subscriber]:
    """Return the ``count`` subscribers ``audience_rows`` makes for the same arguments, as stream views."""
    rows = audience_rows(count, seed=seed, month=month, mainland_share=mainland_share)
    return [subscriber_of(row, seed) for row in rows]


# --- the contact graph: who calls whom -------------------------------------------------------

SAME_SIDE_SHARE = 0.8  # most contacts live on the same side of the border
MEAN_CONTACTS = 4.0
MAX_CONTACTS = 20


def contact_graph(people: Sequence[Subscriber], seed: int) -> list[list[tuple[int, int]]]:
    """Return, for each subscriber, their frequent contacts as (index, calls a month).

    A few contacts each (1 + exponential, mean ``MEAN_CONTACTS``), most on the same side of the
    border: calls across it are the long-distance and roaming calls the streams produce.
    """
    rng = random.Random(f"contacts:{seed}")  # noqa: S311 - reproducible on purpose
    sides: dict[bool, list[int]] = {True: [], False: []}
    for index, person in enumerate(people):
        sides[person.region == "HK"].append(index)
    graph: list[list[tuple[int, int]]] = []
    for index, person in enumerate(people):
        home_side = person.region == "HK"
        wanted = min(MAX_CONTACTS, 1 + int(rng.expovariate(1 / (MEAN_CONTACTS - 1))))
        found: dict[int, int] = {}
        for _ in range(wanted):
            side = home_side if rng.random() < SAME_SIDE_SHARE or not sides[not home_side] else not home_side
            other = rng.choice(sides[side])
            if other != index:
                found[other] = 1 + int(rng.expovariate(1 / 6))
        graph.append(sorted(found.items()))
    return graph


def contact_rows(people: Sequence[Subscriber], seed: int) -> Iterator[tuple[str, str, int]]:
    """Yield the contact graph as edges: (msisdn, contact's msisdn, calls a month)."""
    for person, contacts in zip(people, contact_graph(people, seed), strict=True):
        for other, calls in contacts:
            yield person.msisdn, people[other].msisdn, calls


def write_contacts(path: Path, edges: Iterator[tuple[str, str, int]]) -> int:
    """Write contact edges as CSV (msisdn, contact, calls_m1); return how many."""
    written = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(("msisdn", "contact", "calls_m1"))
        for edge in edges:
            writer.writerow(edge)
            written += 1
    return written

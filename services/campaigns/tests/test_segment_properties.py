"""Property: for random valid trees over random subscribers and events stored in a real database, the
compiled SQL and the in-memory predicate select the same subscribers.

Values are drawn from small pools around the moment of evaluation (today's anniversaries, the edges
of day windows, 29 February, equal numbers and prefixes), so ties, boundaries and nulls happen
often instead of almost never. Derandomized, like the API fuzz: a run finds the same cases again.
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from audience import Audience, event, migrated_now, subscriber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Float

from campaigns import segments
from campaigns.models import CUSTOMER_CLASSES, LIFECYCLE_STAGES, VALUE_TIERS
from careloop_common.db import create_engine, create_session_factory

EXAMPLES = 150

# Dates the calendar makes interesting: around 29 February in common and leap years, New Year.
TODAYS = [
    date(2027, 2, 27),
    date(2027, 2, 28),
    date(2027, 3, 1),
    date(2028, 2, 28),
    date(2028, 2, 29),
    date(2028, 3, 1),
    date(2026, 12, 28),
    date(2026, 12, 31),
    date(2027, 1, 1),
    date(2027, 6, 15),
]
# Offsets in days from today / now: the edges of the windows the trees ask about.
DAY_OFFSETS = [
    -400,
    -366,
    -365,
    -364,
    -181,
    -180,
    -179,
    -30,
    -8,
    -7,
    -6,
    -1,
    0,
    1,
    6,
    7,
    8,
    30,
    364,
    365,
    366,
]
WINDOW_DAYS = [0, 1, 6, 7, 8, 30, 179, 180, 181, 364, 365, 366, 400]
NUMBERS = [0, 0.1, 0.2, 0.3, 0.5, 0.6, 1, 2, 2.5, 3, 6, 7, 10, 12.5, 100, -2.5, 1000]
TEXT = {
    "brand": ["Prime", "prime", "Prime 5G", "Easy", "易通", "😀fun", ""],
    "plan_id": ["P1", "P2", "P10", "p1"],
    "region": ["HK", "CN-GD", "CN-FJ", "MO"],
    "time_zone": ["Asia/Hong_Kong", "Asia/Shanghai"],
    "language": ["zh-Hant", "zh-Hans", "en"],
    "customer_class": list(CUSTOMER_CLASSES),
    "cell": ["8a2a1072b59ffff", "8a2a1072b5bffff"],
    "roaming_country": ["CN", "GB", "cn"],
    "lifecycle_stage": list(LIFECYCLE_STAGES),
    "value_tier": list(VALUE_TIERS),
    "recommended_plan_id": ["P1", "P2", "P10"],
}
PREFIXES = ["", "P", "Pr", "Prime", "prim", "CN", "CN-", "易", "😀", "8a2a", "zh-", "X"]
EVENT_KINDS = ["complaint.coverage", "complaint.billing", "plan.changed"]
# Half the comparisons ask about these: the anniversary, case, nulls, instants and arithmetic.
FAVOURITES = [
    "birthday",
    "brand",
    "value_tier",
    "fee_sensitivity",
    "plan_saving",
    "last_payment_at",
    "balance",
]
NUMERIC = [spec for spec in segments.FIELDS.values() if spec.kind == "numeric"]
HAS_TIME = frozenset({"date", "datetime"})


@dataclass(frozen=True)
class World:
    """A moment, subscribers and their events, and the values trees should ask about."""

    as_of: segments.AsOf
    subscribers: list[dict[str, Any]]
    events: list[dict[str, Any]]
    dates: list[date]
    instants: list[datetime]


# --- the data ----------------------------------------------------------------------------------------


def _numbers(spec: segments.FieldSpec) -> st.SearchStrategy[Any]:
    if isinstance(spec.column.type, Float):
        return st.sampled_from([float(n) for n in NUMBERS]) | st.floats(-1e4, 1e4).map(lambda x: round(x, 2))
    return st.sampled_from([0, 1, 2, 3, 7, 100]) | st.integers(-3, 3000)


def _birthday(day: date, years_back: int) -> date:
    """Return a birthday with the month and day of ``day`` (29 February: in a leap year)."""
    year = day.year - years_back
    if (day.month, day.day) == (2, 29):
        while not calendar.isleap(year):
            year -= 1
    return day.replace(year=year)


@st.composite
def _field_value(
    draw: st.DrawFn, spec: segments.FieldSpec, world_dates: list[date], instants: list[datetime]
) -> Any:
    if spec.nullable and draw(st.integers(0, 2)) == 0:
        return None
    if spec.kind == "numeric":
        return draw(_numbers(spec)) if spec.name != "fee_sensitivity" else draw(st.integers(1, 4))
    if spec.kind == "text":
        return draw(st.sampled_from(TEXT[spec.name]))
    if spec.kind == "boolean":
        return draw(st.booleans())
    if spec.kind == "datetime":
        return draw(st.sampled_from(instants))
    day = draw(st.sampled_from(world_dates))
    if spec.recurring:
        return draw(st.sampled_from([date(2000, 2, 29), _birthday(day, draw(st.integers(18, 70)))]))
    return day


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Draw a moment, then subscribers and events whose values sit near its windows' edges."""
    today = draw(
        st.sampled_from(TODAYS) | st.sampled_from(TODAYS) | st.dates(date(2020, 1, 1), date(2035, 12, 31))
    )
    now = datetime.combine(today, time(12), UTC) + timedelta(hours=draw(st.integers(-14, 14)))
    dates = [today + timedelta(days=offset) for offset in DAY_OFFSETS]
    instants = [
        now + timedelta(days=offset, microseconds=jitter) for offset in DAY_OFFSETS for jitter in (-1, 0, 1)
    ]
    count = draw(st.integers(1, 12))
    subscribers = []
    events = []
    for i in range(count):
        msisdn = f"+8529{i:07d}"
        values = {spec.key: draw(_field_value(spec, dates, instants)) for spec in segments.FIELDS.values()}
        subscribers.append(subscriber(msisdn, **values))
        for _ in range(draw(st.integers(0, 3))):
            events.append(event(msisdn, draw(st.sampled_from(EVENT_KINDS)), draw(st.sampled_from(instants))))
    return World(segments.AsOf(now, today), subscribers, events, dates, instants)


# --- the trees ---------------------------------------------------------------------------------------


def _rfc3339(instant: datetime, zone: timezone) -> str:
    return instant.astimezone(zone).isoformat()


def _values(spec: segments.FieldSpec, world: World) -> st.SearchStrategy[Any]:
    """Draw values of a field's kind as a tree writes them (dates and instants as text)."""
    if spec.kind == "numeric":
        return st.sampled_from(NUMBERS) | st.floats(-1e4, 1e4).map(lambda x: round(x, 2))
    if spec.kind == "text":
        return st.sampled_from(TEXT[spec.name] + ["X", ""])
    if spec.kind == "boolean":
        return st.booleans()
    if spec.kind == "date":
        return st.sampled_from(world.dates).map(date.isoformat)
    zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
    return st.builds(_rfc3339, st.sampled_from(world.instants), zones)


def _either_end(choices: list[str]) -> st.SearchStrategy[str]:
    """Sample a list from its start or its end: Hypothesis favours the first elements of a list."""
    return st.sampled_from(choices) | st.sampled_from(choices[::-1])


def _prefixes(pool: list[str]) -> st.SearchStrategy[str]:
    """Draw the start of a value the field holds, sometimes in the other case."""
    return st.builds(
        lambda value, length, swap: value[:length].swapcase() if swap else value[:length],
        st.sampled_from(pool),
        st.integers(0, 4),
        st.booleans(),
    )


def _expressions(depth: int = 1) -> st.SearchStrategy[Any]:
    leaf = st.sampled_from(NUMBERS) | st.sampled_from(NUMERIC).map(lambda spec: {"field": spec.name})
    if depth == 3:
        return leaf
    operation = st.builds(
        lambda op, operands: {op: operands},
        st.sampled_from(["add", "sub", "mul", "div"]),
        st.lists(_expressions(depth + 1), min_size=2, max_size=3),
    )
    return leaf | operation


@st.composite
def comparisons(draw: st.DrawFn, world: World) -> dict[str, Any]:
    """Draw a comparison any field of the registry takes, with an operator its kind allows."""
    spec = segments.FIELDS[draw(_either_end(sorted(segments.FIELDS)) | st.sampled_from(FAVOURITES))]
    op = draw(_either_end(sorted(segments.OPS_BY_KIND[spec.kind])))
    node: dict[str, Any] = {"field": spec.name, "op": op}
    values = _values(spec, world)
    if op == "is_null":
        return node
    if op in segments.DAY_OPS:
        node["value"] = draw(
            st.sampled_from(WINDOW_DAYS) | st.sampled_from(WINDOW_DAYS) | st.integers(0, 800)
        )
    elif op in ("in", "not_in"):
        node["value"] = draw(st.lists(values, min_size=1, max_size=4))
    elif op == "between":
        low, high = sorted(draw(st.lists(values, min_size=2, max_size=2)), key=_order_key)
        node["value"] = [low, high]
    elif op == "startswith":
        node["value"] = draw(st.sampled_from(PREFIXES) | _prefixes(TEXT[spec.name]))
    elif spec.kind == "numeric" and draw(st.booleans()):
        node["expr"] = draw(_expressions())
    else:
        node["value"] = draw(values)
    return node


def _order_key(value: Any) -> Any:
    """Order values as the field does (date-times by instant, not by their text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) and "T" in value else value


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a past-event condition."""
    return {
        "event": draw(st.sampled_from(EVENT_KINDS)),
        "within_days": draw(st.sampled_from([1, 7, 30, 179, 180, 181, 365])),
        "min_count": draw(st.integers(1, 3)),
    }


@st.composite
def conditions(draw: st.DrawFn, world: World, depth: int = 1) -> dict[str, Any]:
    """Draw a small tree (at most four deep, mostly comparisons): a large all is false and a large
    any true for nearly everyone, and would hide a leaf on which the two compilers disagree."""
    if depth == 4 or draw(st.booleans()):
        return draw(events()) if draw(st.integers(0, 3)) == 0 else draw(comparisons(world))
    kind = draw(st.sampled_from(["all", "any", "not"]))
    if kind == "not":
        return {"not": draw(conditions(world, depth + 1))}
    return {kind: draw(st.lists(conditions(world, depth + 1), min_size=1, max_size=3))}


# --- the property --------------------------------------------------------------------------------------


@pytest.fixture
def stored(database_url: str) -> Iterator[tuple[asyncio.Runner, Audience]]:
    """A migrated database and the event loop its engine lives on (Hypothesis drives a sync test)."""
    migrated_now(database_url)
    with asyncio.Runner() as runner:
        engine = create_engine(database_url)
        yield runner, Audience(create_session_factory(engine))
        runner.run(engine.dispose())


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_sql_and_the_predicate_select_the_same(
    stored: tuple[asyncio.Runner, Audience], data: st.DataObject
) -> None:
    runner, audience = stored
    world = data.draw(worlds(), label="world")
    trees = data.draw(st.lists(conditions(world), min_size=1, max_size=4), label="trees")
    # Single comparisons and their negations too: where nulls and edges show most plainly.
    leaves = data.draw(st.lists(comparisons(world), min_size=1, max_size=8), label="comparisons")
    runner.run(audience.replace(world.subscribers, world.events))
    for tree in [*trees, *leaves, *({"not": leaf} for leaf in leaves)]:
        runner.run(audience.select(tree, world.as_of))

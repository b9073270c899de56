"""The segment condition language by hand: each operator, null semantics, arithmetic, the day windows
(year wrap, 29 February), past events, and every refusal with the place it names. Selections run on
a real database and in memory; ``Audience.select`` fails when the two disagree."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from audience import Audience, event, subscriber
from pydantic import TypeAdapter
from sqlalchemy import JSON, Boolean, Date, Float, Integer, SmallInteger, String

from campaigns import segments
from campaigns.models import Subscriber
from careloop_common.db import UTCDateTime

NOW = datetime(2027, 3, 10, 4, 0, tzinfo=UTC)
AS_OF = segments.AsOf(NOW, date(2027, 3, 10))

A, B, C, D = "+85290000001", "+85290000002", "+85290000003", "+85290000004"

# Four customers chosen so each operator separates them; expectations below are worked out by hand.
PEOPLE = [
    subscriber(
        A,
        brand="Prime",
        region="HK",
        balance=5.0,
        avg_daily_spend_3d=2.0,
        points=100,
        value_tier="top20",
        customer_class="vip",
        join_date=date(2020, 1, 15),
        birthday=date(1990, 3, 14),
        fee_sensitivity=4,
        plan_saving=30.0,
        revenue_m1=120.0,
        last_payment_at=NOW - timedelta(days=2),
        points_expire_on=date(2027, 3, 31),
        lifecycle_stage="maturity",
    ),
    subscriber(
        B,
        brand="Easy",
        region="CN-GD",
        balance=50.0,
        avg_daily_spend_3d=2.0,
        points=0,
        value_tier="rest",
        join_date=date(2027, 1, 1),
        contact_sms=False,
        revenue_m1=40.0,
    ),
    subscriber(
        C,
        brand="prime",
        region="CN-FJ",
        balance=0.0,
        points=2500,
        customer_class="gold",
        join_date=date(2026, 3, 10),
        birthday=date(2000, 2, 29),
        roaming=True,
        roaming_country="CN",
        fee_sensitivity=1,
        plan_saving=0.0,
        revenue_m1=80.0,
        last_payment_at=NOW - timedelta(days=40),
    ),
    subscriber(
        D,
        brand="Prime 5G",
        region="MO",
        balance=12.5,
        avg_daily_spend_3d=5.0,
        points=7,
        value_tier="top20",
        join_date=date(2015, 6, 1),
        birthday=date(1985, 12, 31),
        fee_sensitivity=2,
        plan_saving=12.0,
        revenue_m1=300.0,
    ),
]

EVERYONE = {A, B, C, D}


def cmp(field: str, op: str, value: Any = None, **more: Any) -> dict[str, Any]:
    """Return a comparison node (``value`` left out when None)."""
    node: dict[str, Any] = {"field": field, "op": op, **more}
    if value is not None:
        node["value"] = value
    return node


OPERATOR_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("numeric =", cmp("points", "=", 100), {A}),
    ("numeric = takes a float for an integer column", cmp("points", "=", 100.0), {A}),
    ("numeric !=", cmp("points", "!=", 100), {B, C, D}),
    ("numeric <", cmp("balance", "<", 5), {C}),
    ("numeric <=", cmp("balance", "<=", 5), {A, C}),
    ("numeric >", cmp("balance", ">", 12.5), {B}),
    ("numeric >=", cmp("balance", ">=", 12.5), {B, D}),
    ("numeric < with a fraction on an integer column", cmp("points", "<", 7.5), {B, D}),
    ("numeric in", cmp("points", "in", [0, 7, 8.5]), {B, D}),
    ("numeric not_in", cmp("points", "not_in", [0, 7]), {A, C}),
    ("numeric between is inclusive", cmp("balance", "between", [5, 12.5]), {A, D}),
    ("numeric is_null", cmp("fee_sensitivity", "is_null"), {B}),
    ("text =", cmp("region", "=", "HK"), {A}),
    ("text != (non-null field)", cmp("region", "!=", "HK"), {B, C, D}),
    ("text in", cmp("region", "in", ["MO", "CN-GD", "SG"]), {B, D}),
    ("text not_in", cmp("region", "not_in", ["MO", "CN-GD"]), {A, C}),
    ("text startswith is case-sensitive", cmp("brand", "startswith", "Prime"), {A, D}),
    ("text startswith takes % and _ literally", cmp("brand", "startswith", "Pr_me"), set()),
    ("text startswith ''", cmp("region", "startswith", ""), EVERYONE),
    ("text startswith on a shared prefix", cmp("region", "startswith", "CN-"), {B, C}),
    ("text is_null", cmp("value_tier", "is_null"), {C}),
    ("boolean = true", cmp("contact_sms", "=", True), {A, C, D}),
    ("boolean != true", cmp("contact_sms", "!=", True), {B}),
    ("boolean = false", cmp("roaming", "=", False), {A, B, D}),
    ("date =", cmp("join_date", "=", "2027-01-01"), {B}),
    ("date <", cmp("join_date", "<", "2020-01-15"), {D}),
    ("date >=", cmp("join_date", ">=", "2026-03-10"), {B, C}),
    ("date between", cmp("join_date", "between", ["2016-01-01", "2026-03-10"]), {A, C}),
    ("date in", cmp("join_date", "in", ["2015-06-01", "2027-01-01"]), {B, D}),
    ("date of a nullable field <", cmp("birthday", "<", "1995-01-01"), {A, D}),
    ("datetime >", cmp("last_payment_at", ">", "2027-03-01T00:00:00+08:00"), {A}),
    (
        "datetime between",
        cmp("last_payment_at", "between", ["2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"]),
        {C},
    ),
    ("datetime is_null", cmp("last_payment_at", "is_null"), {B, D}),
    ("all", {"all": [cmp("value_tier", "=", "top20"), cmp("balance", "<", 10)]}, {A}),
    ("any", {"any": [cmp("region", "=", "MO"), cmp("points", ">", 1000)]}, {C, D}),
    ("not", {"not": cmp("region", "=", "HK")}, {B, C, D}),
    ("not of all", {"not": {"all": [cmp("value_tier", "=", "top20"), cmp("balance", "<", 10)]}}, {B, C, D}),
    ("a single child", {"any": [cmp("region", "=", "HK")]}, {A}),
]


@pytest.mark.parametrize(("name", "tree", "expected"), OPERATOR_CASES, ids=[c[0] for c in OPERATOR_CASES])
async def test_each_operator(audience: Audience, name: str, tree: dict[str, Any], expected: set[str]) -> None:
    await audience.replace(PEOPLE)
    assert await audience.select(tree, AS_OF) == expected


# --- null semantics: two-valued, and not is the complement ----------------------------------------

NULL_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # value_tier: A top20, B rest, C null, D top20
    ("= is false on null", cmp("value_tier", "=", "rest"), {B}),
    ("!= is false on null", cmp("value_tier", "!=", "rest"), {A, D}),
    ("not_in is false on null", cmp("value_tier", "not_in", ["rest"]), {A, D}),
    ("not of = includes null", {"not": cmp("value_tier", "=", "rest")}, {A, C, D}),
    ("not of != includes null", {"not": cmp("value_tier", "!=", "rest")}, {B, C}),
    ("not of not_in includes null", {"not": cmp("value_tier", "not_in", ["rest"])}, {B, C}),
    ("double not is the condition", {"not": {"not": cmp("value_tier", "!=", "rest")}}, {A, D}),
    ("not is_null", {"not": cmp("value_tier", "is_null")}, {A, B, D}),
    # fee_sensitivity: A 4, B null, C 1, D 2
    ("< is false on null", cmp("fee_sensitivity", "<", 3), {C, D}),
    ("not of < includes null", {"not": cmp("fee_sensitivity", "<", 3)}, {A, B}),
    ("between is false on null", cmp("fee_sensitivity", "between", [0, 9]), {A, C, D}),
    ("not of between includes null", {"not": cmp("fee_sensitivity", "between", [0, 9])}, {B}),
    (
        "not of all with a null",
        {"not": {"all": [cmp("fee_sensitivity", ">", 0), cmp("points", ">=", 0)]}},
        {B},
    ),
    ("any over a null", {"any": [cmp("fee_sensitivity", ">", 3), cmp("region", "=", "CN-GD")]}, {A, B}),
    ("day windows are false on null", cmp("birthday", "within_days", 400), {A, C, D}),
    ("not of a day window includes null", {"not": cmp("birthday", "within_days", 400)}, {B}),
]


@pytest.mark.parametrize(("name", "tree", "expected"), NULL_CASES, ids=[c[0] for c in NULL_CASES])
async def test_null_semantics(
    audience: Audience, name: str, tree: dict[str, Any], expected: set[str]
) -> None:
    await audience.replace(PEOPLE)
    assert await audience.select(tree, AS_OF) == expected


# --- arithmetic ------------------------------------------------------------------------------------


def expr(field: str, op: str, expression: Any) -> dict[str, Any]:
    """Return a comparison of a field with an arithmetic expression."""
    return {"field": field, "op": op, "expr": expression}


def ref(field: str) -> dict[str, str]:
    """Return a field in an expression."""
    return {"field": field}


ARITHMETIC_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # balance / avg_daily_spend_3d: A 5/2, B 50/2, C 0/0, D 12.5/5
    (
        "balance below three days' spend",
        expr("balance", "<", {"mul": [3, ref("avg_daily_spend_3d")]}),
        {A, D},
    ),
    ("sub folds left: 10 - 3 - 2 = 5", expr("balance", "=", {"sub": [10, 3, 2]}), {A}),
    ("add of fields", expr("revenue_m1", ">", {"add": [ref("balance"), ref("points")]}), {A, D}),
    ("div folds left: 300 / 10 / 6 = 5", expr("balance", "=", {"div": [300, 10, 6]}), {A}),
    ("a fraction of an integer column", expr("balance", ">=", {"div": [ref("points"), 20]}), {A, B, D}),
    (
        "division by zero is false",
        expr("balance", ">", {"div": [ref("balance"), ref("avg_daily_spend_3d")]}),
        {A, B, D},
    ),
    (
        "not of a division by zero is true",
        {"not": expr("balance", ">=", {"div": [1, ref("avg_daily_spend_3d")]})},
        {C},
    ),
    ("a null field makes it false", expr("revenue_m1", ">", {"mul": [ref("plan_saving"), 2]}), {A, C, D}),
    ("not of a null field is true", {"not": expr("revenue_m1", ">", {"mul": [ref("plan_saving"), 2]})}, {B}),
    (
        "nested",
        expr("revenue_m1", "<=", {"add": [{"mul": [ref("balance"), 10]}, {"sub": [ref("points"), 2000]}]}),
        {C},
    ),
]


@pytest.mark.parametrize(("name", "tree", "expected"), ARITHMETIC_CASES, ids=[c[0] for c in ARITHMETIC_CASES])
async def test_arithmetic(audience: Audience, name: str, tree: dict[str, Any], expected: set[str]) -> None:
    await audience.replace(PEOPLE)
    assert await audience.select(tree, AS_OF) == expected


# --- relative dates --------------------------------------------------------------------------------


def birthdays(*days: date) -> list[dict[str, Any]]:
    """Return one subscriber per birthday, numbered by month and day (+852 9000 MMDD)."""
    return [subscriber(number_for(day), birthday=day) for day in days]


def number_for(day: date) -> str:
    """Return the test number of the subscriber born on ``day``."""
    return f"+8529000{day.month:02d}{day.day:02d}"


def on(today: date) -> segments.AsOf:
    """Return the moment at noon UTC of ``today``."""
    return segments.AsOf(datetime(today.year, today.month, today.day, 12, tzinfo=UTC), today)


BORN = [
    date(1990, 12, 27),
    date(1990, 12, 28),
    date(1991, 12, 31),
    date(1992, 1, 1),
    date(1993, 1, 4),
    date(1994, 1, 5),
    date(1995, 2, 27),
    date(1996, 2, 28),
    date(2000, 2, 29),
    date(1997, 3, 1),
    date(1998, 6, 15),
]

ANNIVERSARY_CASES: list[tuple[str, date, dict[str, Any], set[date]]] = [
    (
        "the window wraps into the next year",
        date(2026, 12, 28),
        cmp("birthday", "within_days", 7),
        {date(1990, 12, 28), date(1991, 12, 31), date(1992, 1, 1), date(1993, 1, 4)},
    ),
    ("today alone", date(2026, 12, 28), cmp("birthday", "within_days", 0), {date(1990, 12, 28)}),
    (
        "29 February is kept on 28 February in a common year",
        date(2027, 2, 22),
        cmp("birthday", "within_days", 6),
        {date(1995, 2, 27), date(1996, 2, 28), date(2000, 2, 29)},
    ),
    ("not before 28 February", date(2027, 2, 22), cmp("birthday", "within_days", 5), {date(1995, 2, 27)}),
    (
        "on 28 February of a common year",
        date(2027, 2, 28),
        cmp("birthday", "within_days", 0),
        {date(1996, 2, 28), date(2000, 2, 29)},
    ),
    (
        "in a leap year 29 February is its own day",
        date(2028, 2, 22),
        cmp("birthday", "within_days", 6),
        {date(1995, 2, 27), date(1996, 2, 28)},
    ),
    (
        "and a day further it is in",
        date(2028, 2, 22),
        cmp("birthday", "within_days", 7),
        {date(1995, 2, 27), date(1996, 2, 28), date(2000, 2, 29)},
    ),
    (
        "on 29 February of a leap year",
        date(2028, 2, 29),
        cmp("birthday", "within_days", 0),
        {date(2000, 2, 29)},
    ),
    (
        "the last days, back over 28 February",
        date(2027, 3, 1),
        cmp("birthday", "within_last_days", 1),
        {date(1996, 2, 28), date(2000, 2, 29), date(1997, 3, 1)},
    ),
    (
        "the last days, back over New Year",
        date(2027, 1, 4),
        cmp("birthday", "within_last_days", 4),
        {date(1991, 12, 31), date(1992, 1, 1), date(1993, 1, 4)},
    ),
    (
        "365 days from 1 March of a common year reach 29 February",
        date(2027, 3, 1),
        cmp("birthday", "within_days", 365),
        set(BORN),
    ),
    (
        "a year and more: everyone with a birthday",
        date(2027, 7, 1),
        cmp("birthday", "within_days", 366),
        set(BORN),
    ),
    (
        "364 days from 16 June miss 15 June",
        date(2027, 6, 16),
        cmp("birthday", "within_days", 364),
        set(BORN) - {date(1998, 6, 15)},
    ),
    ("365 days from 16 June reach it", date(2027, 6, 16), cmp("birthday", "within_days", 365), set(BORN)),
    (
        "older_than_days asks about the date itself",
        date(2027, 3, 1),
        cmp("birthday", "older_than_days", (date(2027, 3, 1) - date(1992, 6, 1)).days),
        {date(1990, 12, 27), date(1990, 12, 28), date(1991, 12, 31), date(1992, 1, 1)},
    ),
]


@pytest.mark.parametrize(
    ("name", "today", "tree", "expected"), ANNIVERSARY_CASES, ids=[c[0] for c in ANNIVERSARY_CASES]
)
async def test_birthday_windows(
    audience: Audience, name: str, today: date, tree: dict[str, Any], expected: set[date]
) -> None:
    await audience.replace([*birthdays(*BORN), subscriber("+85291111111")])  # and one with none
    assert await audience.select(tree, on(today)) == {number_for(day) for day in expected}


def test_anniversaries_in_memory() -> None:
    assert segments.anniversary(date(2000, 2, 29), 2027) == date(2027, 2, 28)
    assert segments.anniversary(date(2000, 2, 29), 2028) == date(2028, 2, 29)
    assert segments.anniversary(date(1999, 12, 31), 2027) == date(2027, 12, 31)
    assert segments.anniversary_between(date(1990, 1, 2), date(2026, 12, 30), date(2027, 1, 3))
    assert not segments.anniversary_between(date(1990, 1, 4), date(2026, 12, 30), date(2027, 1, 3))
    assert segments.anniversary_month_days(date(2027, 2, 27), date(2027, 3, 1)) == ([(227, 301)], True)
    assert segments.anniversary_month_days(date(2027, 2, 1), date(2027, 2, 28)) == ([(201, 228)], True)
    assert segments.anniversary_month_days(date(2028, 2, 27), date(2028, 2, 28)) == ([(227, 228)], False)
    assert segments.anniversary_month_days(date(2026, 12, 28), date(2027, 1, 4)) == (
        [(1228, 1231), (101, 104)],
        False,
    )
    assert segments.anniversary_month_days(date(2027, 3, 1), date(2028, 2, 28)) == (
        [(301, 1231), (101, 228)],
        False,
    )
    assert segments.anniversary_month_days(date(2027, 1, 1), date(2028, 1, 1)) is None


DAY_WINDOW_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    # join_date: A 2020-01-15, B 2027-01-01, C 2026-03-10 (exactly 365 days before 2027-03-10), D 2015-06-01
    ("older than 365 days is strictly older", cmp("join_date", "older_than_days", 365), {A, D}),
    ("older than 364 days", cmp("join_date", "older_than_days", 364), {A, C, D}),
    ("joined in the last 365 days, both ends in", cmp("join_date", "within_last_days", 365), {B, C}),
    ("joined in the last 68 days", cmp("join_date", "within_last_days", 68), {B}),
    ("joined in the last 67 days", cmp("join_date", "within_last_days", 67), set()),
    # points_expire_on: A 2027-03-31 (in 21 days), others null
    ("points expiring within 21 days", cmp("points_expire_on", "within_days", 21), {A}),
    ("not within 20", cmp("points_expire_on", "within_days", 20), set()),
    # last_payment_at: A now - 2 days, C now - 40 days, B and D null
    (
        "paid in the last 2 days (the instant itself is in)",
        cmp("last_payment_at", "within_last_days", 2),
        {A},
    ),
    ("paid in the last day", cmp("last_payment_at", "within_last_days", 1), set()),
    ("last paid more than 30 days ago", cmp("last_payment_at", "older_than_days", 30), {C}),
    ("a payment is not in the days to come", cmp("last_payment_at", "within_days", 30), set()),
]


@pytest.mark.parametrize(("name", "tree", "expected"), DAY_WINDOW_CASES, ids=[c[0] for c in DAY_WINDOW_CASES])
async def test_day_windows(audience: Audience, name: str, tree: dict[str, Any], expected: set[str]) -> None:
    await audience.replace(PEOPLE)
    assert await audience.select(tree, AS_OF) == expected


# --- past events -----------------------------------------------------------------------------------

EVENTS = [
    event(A, "complaint.coverage", NOW - timedelta(days=180)),  # the window's first instant: in
    event(B, "complaint.coverage", NOW - timedelta(days=180, microseconds=1)),  # just before it: out
    event(C, "complaint.coverage", NOW - timedelta(days=3)),
    event(C, "complaint.coverage", NOW - timedelta(days=100)),
    event(C, "complaint.billing", NOW - timedelta(days=1)),
    event(D, "complaint.coverage", NOW + timedelta(hours=1)),  # after the moment of evaluation: out
    event(D, "plan.changed", NOW),
]

EVENT_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    (
        "complained about coverage in the last 180 days",
        {"event": "complaint.coverage", "within_days": 180},
        {A, C},
    ),
    ("in the last 179 days", {"event": "complaint.coverage", "within_days": 179}, {C}),
    ("at least twice", {"event": "complaint.coverage", "within_days": 180, "min_count": 2}, {C}),
    ("at least three times", {"event": "complaint.coverage", "within_days": 180, "min_count": 3}, set()),
    ("another kind", {"event": "complaint.billing", "within_days": 30}, {C}),
    ("now itself is in", {"event": "plan.changed", "within_days": 1}, {D}),
    ("a kind no one has", {"event": "points.expired", "within_days": 3650}, set()),
    ("not", {"not": {"event": "complaint.coverage", "within_days": 180}}, {B, D}),
    (
        "with other conditions",
        {"all": [{"event": "complaint.coverage", "within_days": 180}, cmp("value_tier", "=", "top20")]},
        {A},
    ),
]


@pytest.mark.parametrize(("name", "tree", "expected"), EVENT_CASES, ids=[c[0] for c in EVENT_CASES])
async def test_past_events(audience: Audience, name: str, tree: dict[str, Any], expected: set[str]) -> None:
    await audience.replace(PEOPLE, EVENTS)
    assert await audience.select(tree, AS_OF) == expected


async def test_arithmetic_keeps_the_grouping_it_was_given(audience: Audience) -> None:
    """0.1 + (0.2 + 0.3) is 0.6 in doubles but (0.1 + 0.2) + 0.3 is not: SQL must not regroup."""
    await audience.replace([subscriber(A, balance=0.6, revenue_m1=0.1, revenue_m2=0.2, revenue_m3=0.3)])
    right = {"add": [ref("revenue_m1"), {"add": [ref("revenue_m2"), ref("revenue_m3")]}]}
    assert await audience.select(expr("balance", "=", right), AS_OF) == {A}
    left = {"add": [{"add": [ref("revenue_m1"), ref("revenue_m2")]}, ref("revenue_m3")]}
    assert await audience.select(expr("balance", "=", left), AS_OF) == set()


async def test_the_seeds_segments(audience: Audience) -> None:
    """DOMAIN.md's examples: the dynamic balance reminder, birthday care, coverage complainers, top 20%."""
    await audience.replace(PEOPLE, EVENTS)
    low_balance = {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}}
    assert await audience.select(low_balance, AS_OF) == {A, D}
    assert await audience.select({"field": "birthday", "op": "within_days", "value": 7}, AS_OF) == {A}
    assert await audience.select({"event": "complaint.coverage", "within_days": 180}, AS_OF) == {A, C}
    assert await audience.select({"field": "value_tier", "op": "=", "value": "top20"}, AS_OF) == {A, D}


# --- refusals --------------------------------------------------------------------------------------


def nested_nots(depth: int) -> dict[str, Any]:
    """Return ``depth`` conditions, each the not of the next."""
    node: dict[str, Any] = cmp("balance", "<", 1)
    for _ in range(depth - 1):
        node = {"not": node}
    return node


def deep_json(depth: int) -> dict[str, Any]:
    """Return a comparison whose value is a list nested ``depth`` deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return cmp("balance", "in", value)


REFUSALS: list[tuple[str, Any, str, str]] = [
    (
        "an unknown field",
        {"all": [cmp("balance", "<", 1), cmp("region", "=", "HK"), cmp("balanse", "<", 3)]},
        "conditions.all[2].field",
        "unknown_field",
    ),
    ("text compared with <", cmp("region", "<", "HK"), "conditions.op", "operator_not_for_field"),
    (
        "a date operator on a number",
        cmp("balance", "within_days", 7),
        "conditions.op",
        "operator_not_for_field",
    ),
    ("startswith on a number", cmp("points", "startswith", "1"), "conditions.op", "operator_not_for_field"),
    ("< on a boolean", cmp("roaming", "<", True), "conditions.op", "operator_not_for_field"),
    ("text for a number", cmp("balance", "<", "10"), "conditions.value", "not_a_number"),
    ("true for a number", cmp("balance", "=", True), "conditions.value", "not_a_number"),
    ("a number for text", cmp("region", "=", 852), "conditions.value", "wrong_type"),
    ("text for a boolean", cmp("roaming", "=", "yes"), "conditions.value", "wrong_type"),
    ("not a date", cmp("join_date", "<", "2027-02-30"), "conditions.value", "wrong_type"),
    ("a date in another form", cmp("join_date", "<", "20270228"), "conditions.value", "wrong_type"),
    (
        "a date-time without its offset",
        cmp("last_payment_at", ">", "2027-01-01T00:00:00"),
        "conditions.value",
        "wrong_type",
    ),
    (
        "a date-time with no UTC form",
        cmp("last_payment_at", ">", "0001-01-01T00:00:00+01:00"),
        "conditions.value",
        "wrong_type",
    ),
    ("a list for =", cmp("region", "=", ["HK"]), "conditions.value", "wrong_type"),
    ("a scalar for in", cmp("region", "in", "HK"), "conditions.value", "wrong_type"),
    ("one wrong item of in", cmp("points", "in", [1, "2"]), "conditions.value[1]", "not_a_number"),
    ("three values for between", cmp("points", "between", [1, 2, 3]), "conditions.value", "wrong_type"),
    ("between high and low", cmp("points", "between", [5, 1]), "conditions.value", "empty_range"),
    ("a value missing", cmp("balance", "<"), "conditions", "value_missing"),
    ("null for a value", {**cmp("balance", "<"), "value": None}, "conditions.value", "value_missing"),
    ("is_null with a value", cmp("balance", "is_null", True), "conditions.value", "value_not_taken"),
    ("days that are not whole", cmp("birthday", "within_days", 1.5), "conditions.value", "wrong_type"),
    ("negative days", cmp("birthday", "within_days", -1), "conditions.value", "wrong_type"),
    ("a number too large", cmp("balance", "<", 1e13), "conditions.value", "number_out_of_range"),
    ("a number too small", cmp("balance", "<", 1e-9), "conditions.value", "number_out_of_range"),
    ("value and expr", {**cmp("balance", "<", 1), "expr": 2}, "conditions", "value_and_expr"),
    ("expr on a text field", {**cmp("region", "="), "expr": 2}, "conditions.expr", "expr_not_taken"),
    ("expr with in", {**cmp("balance", "in"), "expr": 2}, "conditions.expr", "expr_not_taken"),
    (
        "a text field in arithmetic",
        expr("balance", "<", {"mul": [2, ref("region")]}),
        "conditions.expr.mul[1].field",
        "not_numeric",
    ),
    (
        "an unknown field in arithmetic",
        expr("balance", "<", {"add": [2, ref("nope")]}),
        "conditions.expr.add[1].field",
        "unknown_field",
    ),
    ("one operand", expr("balance", "<", {"add": [2]}), "conditions.expr.add", "too_short"),
    (
        "a boolean operand",
        expr("balance", "<", {"add": [2, True]}),
        "conditions.expr.add[1]",
        "not_an_expression",
    ),
    (
        "arithmetic too deep",
        expr("balance", "<", {"add": [1, {"add": [1, {"add": [1, {"add": [1, {"add": [1, 2]}]}]}]}]}),
        "conditions.expr.add[1].add[1].add[1].add[1]",
        "too_deep",
    ),
    (
        "too many numbers",
        expr("balance", "<", {"add": [{"add": [1] * 8}, {"add": [1] * 8}, 1]}),
        "conditions.expr",
        "too_large",
    ),
    ("an empty all", {"all": []}, "conditions.all", "too_short"),
    ("an empty any", {"not": {"any": []}}, "conditions.not.any", "too_short"),
    ("too deep", nested_nots(11), "conditions" + ".not" * 10, "too_deep"),
    (
        "too many conditions",
        {"any": [{"all": [cmp("points", "=", i)] * 2} for i in range(67)]},
        "conditions",
        "too_large",
    ),
    (
        "too many values in lists",
        {"any": [cmp("points", "in", list(range(500))), cmp("sms_m1", "not_in", list(range(500)))] * 3},
        "conditions",
        "too_large",
    ),
    ("JSON too deep", deep_json(100), "conditions.value" + "[0]" * 47, "too_deep"),
    ("not an object", [cmp("balance", "<", 1)], "conditions", "not_a_condition"),
    ("an object of no kind", {"all": [{"feild": "balance"}]}, "conditions.all[0]", "not_a_condition"),
    ("a key too many", {**cmp("balance", "<", 1), "and": 2}, "conditions.and", "extra_forbidden"),
    ("an operator that does not exist", cmp("balance", "~", 1), "conditions.op", "literal_error"),
    ("a field name that is not text", {"field": 1, "op": "<", "value": 1}, "conditions.field", "string_type"),
    (
        "an event kind with spaces",
        {"event": "complaint coverage", "within_days": 3},
        "conditions.event",
        "string_pattern_mismatch",
    ),
    (
        "an event window of 0 days",
        {"event": "complaint.coverage", "within_days": 0},
        "conditions.within_days",
        "greater_than_equal",
    ),
    (
        "an event window as text",
        {"event": "complaint.coverage", "within_days": "3"},
        "conditions.within_days",
        "value_error",
    ),
    (
        "min_count 0",
        {"event": "complaint.coverage", "within_days": 3, "min_count": 0},
        "conditions.min_count",
        "greater_than_equal",
    ),
]


@pytest.mark.parametrize(("name", "tree", "path", "kind"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_place(name: str, tree: Any, path: str, kind: str) -> None:
    with pytest.raises(segments.SegmentInvalid) as refused:
        segments.parse(tree)
    problem = refused.value
    assert (problem.status, problem.slug) == (422, "segment-invalid")
    errors = problem.extra["errors"]
    assert (errors[0]["field"], errors[0]["type"]) == (path, kind), errors
    assert str(problem.detail).startswith(path)


def test_every_fault_is_named_at_once() -> None:
    tree = {"all": [cmp("balanse", "<", 1), cmp("region", "<", "HK"), {"not": cmp("points", "=", "x")}]}
    with pytest.raises(segments.SegmentInvalid) as refused:
        segments.parse(tree)
    assert [(e["field"], e["type"]) for e in refused.value.extra["errors"]] == [
        ("conditions.all[0].field", "unknown_field"),
        ("conditions.all[1].op", "operator_not_for_field"),
        ("conditions.all[2].not.value", "not_a_number"),
    ]
    assert "did you mean 'balance'?" in refused.value.extra["errors"][0]["message"]


async def test_the_largest_tree_runs_on_the_database(audience: Audience) -> None:
    """200 conditions with 2,000 listed values and 194 birthday windows stay far below the 32,767
    parameters a PostgreSQL statement takes (listing each day of the windows would pass 70,000)."""
    await audience.replace(PEOPLE)
    lists = [cmp("points", "in", [i * 1000 + n for n in range(500)]) for i in range(4)]
    windows = [cmp("birthday", "within_days", 364 - i) for i in range(194)]
    assert await audience.select({"any": [*lists, *windows]}, AS_OF) == {A, B, C, D}
    assert await audience.select({"not": {"any": [*lists, *windows]}}, AS_OF) == set()


def test_the_deepest_trees_and_largest_expressions_allowed_are_taken() -> None:
    segments.parse(nested_nots(10))
    segments.parse(expr("balance", "<", {"add": [{"add": [1] * 8}, {"add": [1] * 7}, 1]}))
    segments.parse(expr("balance", "<", {"add": [1, {"add": [1, {"add": [1, {"add": [1, 2]}]}]}]}))
    segments.parse({"any": [cmp("points", "=", i) for i in range(199)]})


def test_a_tree_reads_back_as_written() -> None:
    tree = {
        "all": [
            {"not": cmp("region", "in", ["HK", "MO"])},
            expr("balance", "<", {"mul": [3, ref("avg_daily_spend_3d")]}),
            {"event": "complaint.coverage", "within_days": 180, "min_count": 2},
            cmp("birthday", "is_null"),
        ]
    }
    adapter: TypeAdapter[Any] = TypeAdapter(segments.Condition)
    assert segments.as_json(adapter.validate_python(tree)) == {
        "all": [
            {"not": cmp("region", "in", ["HK", "MO"])},
            expr("balance", "<", {"mul": [3.0, ref("avg_daily_spend_3d")]}),
            {"event": "complaint.coverage", "within_days": 180, "min_count": 2},
            cmp("birthday", "is_null"),
        ]
    }


# --- the registry ----------------------------------------------------------------------------------

KINDS_BY_TYPE = {
    Float: "numeric",
    Integer: "numeric",
    SmallInteger: "numeric",
    String: "text",
    Boolean: "boolean",
}


def test_every_subscriber_column_is_a_field_or_left_out_on_purpose() -> None:
    columns = set(Subscriber.__table__.c.keys())  # type: ignore[attr-defined]
    assert columns == set(segments.FIELDS) | set(segments.NOT_SEGMENTABLE)
    assert not set(segments.FIELDS) & set(segments.NOT_SEGMENTABLE)


@pytest.mark.parametrize("name", sorted(segments.FIELDS))
def test_each_field_has_the_kind_of_its_column(name: str) -> None:
    spec = segments.FIELDS[name]
    column_type = spec.column.type
    if isinstance(column_type, UTCDateTime):
        assert spec.kind == "datetime"
    elif isinstance(column_type, Date):
        assert spec.kind == "date"
    else:
        assert not isinstance(column_type, JSON)
        assert spec.kind == KINDS_BY_TYPE[type(column_type)]
    assert spec.recurring == (name == "birthday")


def test_as_of_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        segments.AsOf(datetime(2027, 1, 1), date(2027, 1, 1))
    hong_kong = segments.AsOf.at(datetime(2027, 1, 1, 17, tzinfo=UTC), ZoneInfo("Asia/Hong_Kong"))
    assert hong_kong.today == date(2027, 1, 2)

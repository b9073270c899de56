"""The segment condition language: who a campaign is for, as a JSON tree over the ``subscriber`` table.

A tree is parsed by pydantic (tagged models, so an error names the one branch it is in, not every
alternative), then checked against the field registry (a field's kind decides which operators and
values fit), then compiled two ways from the same checked tree: to a SQLAlchemy WHERE clause over
``subscriber`` (EXISTS subqueries for past events) for audiences and previews, and to an in-memory
predicate over one subscriber and its events for real-time triggers. Both take the moment
explicitly (:class:`AsOf`), so an answer depends on the data and the moment only.

Logic is two-valued on both sides: every condition is true or false for every subscriber. A
condition on a null field is false (``!=`` and ``not_in`` too; ``is_null`` is the way to ask about
nulls), a comparison with an arithmetic expression that meets a null field or a division by zero is
false, and ``not`` is the exact complement. SQL would call those unknown and keep them unknown under
NOT; the compiler guards every operand that can be null with IS NOT NULL, so it never does.
docs/segments.md has the grammar, each operator and examples.
"""

from __future__ import annotations

import calendar
import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial, reduce
from typing import Annotated, Any, Literal, Protocol, TypeAlias
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic.config import JsonDict
from pydantic_core import ErrorDetails
from sqlalchemy import ColumnElement, Float, Table
from sqlalchemy.sql.schema import Column

from campaigns.models import Subscriber, SubscriberEvent
from careloop_common.errors import ProblemError
from careloop_common.inputs import NO_NUL, WHOLE

# ── limits: a tree is a request body, so everything about it is bounded ─────────────────────────

MAX_DEPTH = 10  # nesting of all / any / not
MAX_CONDITIONS = 200  # nodes in the whole tree
MAX_LIST = 500  # values of in / not_in
MAX_VALUES = 2_000  # in all the lists of a tree: each is a query parameter (PostgreSQL takes 32,767)
MAX_TEXT = 256
MAX_DAYS = 36_500  # relative dates: a hundred years
MAX_EVENT_DAYS = 3_650
MAX_MIN_COUNT = 1_000
MAX_EXPRESSION_DEPTH = 4
MAX_OPERANDS = 8
MAX_EXPRESSION_LEAVES = 16
# Numbers are 0 or between these in size. With at most 16 of them in an expression no product or
# quotient leaves PostgreSQL's double range, where it raises (overflow, underflow) instead of
# answering as Python and SQLite do.
MAX_MAGNITUDE = 1e12
MIN_MAGNITUDE = 1e-6
# Checked before pydantic walks the tree, so a very deep body is refused without deep recursion.
MAX_JSON_DEPTH = 4 * MAX_DEPTH + 8

# ── the field registry ────────────────────────────────────────────────────────────────────────────

FieldKind = Literal["numeric", "text", "boolean", "date", "datetime"]

SUBSCRIBER: Table = Subscriber.__table__  # type: ignore[attr-defined]
SUBSCRIBER_EVENT: Table = SubscriberEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FieldSpec:
    """A field a segment may ask about: its name, its ``subscriber`` column and its kind."""

    name: str
    column: Column[Any]
    kind: FieldKind
    recurring: bool = False
    """A date that comes back every year (a birthday): the day windows ask about its anniversary."""

    @property
    def nullable(self) -> bool:
        """Tell whether the column may hold null."""
        return bool(self.column.nullable)

    @property
    def key(self) -> str:
        """Return the key of this field in a subscriber mapping (the column's name)."""
        return str(self.column.key)


def _field(name: str, kind: FieldKind, *, recurring: bool = False) -> FieldSpec:
    return FieldSpec(name, SUBSCRIBER.c[name], kind, recurring)


# Every field by name. Explicit on purpose: a new subscriber column is not segmentable until it is
# listed here or in NOT_SEGMENTABLE (tests/test_segments.py checks every column is one or the other).
FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        # profile
        _field("brand", "text"),
        _field("plan_id", "text"),
        _field("region", "text"),
        _field("time_zone", "text"),
        _field("language", "text"),
        _field("join_date", "date"),
        _field("birthday", "date", recurring=True),
        _field("customer_class", "text"),
        _field("contact_sms", "boolean"),
        _field("contact_call", "boolean"),
        # money
        _field("balance", "numeric"),
        _field("revenue_m1", "numeric"),
        _field("revenue_m2", "numeric"),
        _field("revenue_m3", "numeric"),
        _field("avg_daily_spend_3d", "numeric"),
        _field("top_ups_m1", "numeric"),
        _field("last_payment_at", "datetime"),
        _field("points", "numeric"),
        _field("points_expire_on", "date"),
        # usage, last complete month
        _field("minutes_m1", "numeric"),
        _field("sms_m1", "numeric"),
        _field("data_mb_m1", "numeric"),
        _field("long_distance_minutes_m1", "numeric"),
        _field("roaming_minutes_m1", "numeric"),
        _field("prefix_calls_m1", "numeric"),
        _field("long_distance_calls_m1", "numeric"),
        _field("fee_queries_m1", "numeric"),
        # where the network last saw them
        _field("cell", "text"),
        _field("roaming", "boolean"),
        _field("roaming_country", "text"),
        _field("located_at", "datetime"),
        # model outputs
        _field("lifecycle_stage", "text"),
        _field("value_tier", "text"),
        _field("fee_sensitivity", "numeric"),
        _field("recommended_plan_id", "text"),
        _field("plan_saving", "numeric"),
        _field("models_at", "datetime"),
    )
}

NOT_SEGMENTABLE: dict[str, str] = {
    "msisdn": "the number says who, not what kind of customer",
    "customer_ref": "a pseudonym, the same as the number for this purpose",
    "daily_spend": "a list; avg_daily_spend_3d is what segments compare",
    "profile_at": "bookkeeping of the feeds: when the CRM profile was current",
    "plan_at": "bookkeeping of the feeds: when the plan held was current",
    "balance_at": "bookkeeping of the feeds: when the balance was current",
    "bill_period": "bookkeeping of the feeds: the month the _m1 values are of",
    "spend_through": "bookkeeping of the feeds: daily_spend's last day",
    "created_at": "bookkeeping of the row",
    "updated_at": "bookkeeping of the row",
}

# ── operators ─────────────────────────────────────────────────────────────────────────────────────

Op = Literal[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not_in",
    "is_null",
    "between",
    "startswith",
    "within_days",
    "within_last_days",
    "older_than_days",
]
ORDER_OPS = frozenset({"<", "<=", ">", ">="})
COMPARISON_OPS = ORDER_OPS | {"=", "!="}
DAY_OPS = frozenset({"within_days", "within_last_days", "older_than_days"})
OPS_BY_KIND: dict[FieldKind, frozenset[str]] = {
    "numeric": COMPARISON_OPS | {"in", "not_in", "between", "is_null"},
    "text": frozenset({"=", "!=", "in", "not_in", "startswith", "is_null"}),
    "boolean": frozenset({"=", "!=", "is_null"}),
    "date": COMPARISON_OPS | {"in", "not_in", "between", "is_null"} | DAY_OPS,
    "datetime": ORDER_OPS | {"between", "is_null"} | DAY_OPS,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
ArithmeticOp = Literal["add", "sub", "mul", "div"]
_SQL_OPERATORS: dict[ArithmeticOp, str] = {"add": "+", "sub": "-", "mul": "*", "div": "/"}

# ── the tree as sent (pydantic) ───────────────────────────────────────────────────────────────────

# One schema for requests and responses: a tree reads back as it was written.
_NODE = ConfigDict(extra="forbid", strict=True, json_schema_mode_override="validation")
_FIELD_NAMES = sorted(FIELDS)
_FIELD_ENUM: JsonDict = {"enum": list(_FIELD_NAMES)}
EVENT_KIND = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"

_NUMBER_SCHEMA = {"type": "number", "minimum": -MAX_MAGNITUDE, "maximum": MAX_MAGNITUDE}
_SCALAR_SCHEMAS: list[dict[str, Any]] = [
    _NUMBER_SCHEMA,
    {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_NUL},
    {"type": "boolean"},
]
# What the registry's kinds take, said as JSON Schema; which one fits depends on the field and the
# operator, which the check after parsing decides (a 422 segment-invalid naming the place).
VALUE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        *_SCALAR_SCHEMAS,
        {"type": "array", "minItems": 1, "maxItems": MAX_LIST, "items": {"anyOf": _SCALAR_SCHEMAS}},
    ],
    "description": (
        "a number, text, true/false, a date (YYYY-MM-DD) or a date-time (RFC 3339 with offset) as the "
        "field's kind asks; a list for in, not_in and between [low, high]; days for the day windows"
    ),
    "examples": [10, "top20", True, "2027-02-28", ["HK", "MO"], 7],
}


# Below the node it documents, the OpenAPI document describes conditions and operands as plain
# objects (the grammar is in docs/segments.md; the parser checks every level): a recursive schema
# makes schemathesis's coverage phase build some 270,000 requests per operation instead of 360.
_NESTED_CONDITION: dict[str, Any] = {
    "type": "object",
    "description": "a condition: SegmentAll, SegmentAny, SegmentNot, SegmentComparison or SegmentEvent",
}
_CONDITIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_CONDITIONS,
    "items": _NESTED_CONDITION,
}
_OPERANDS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 2,
    "maxItems": MAX_OPERANDS,
    "items": {
        "anyOf": [
            _NUMBER_SCHEMA,
            {
                "type": "object",
                "description": "an expression: SegmentField, SegmentAdd, SegmentSub, SegmentMul, SegmentDiv",
            },
        ]
    },
}


def _absent(value: object) -> bool:
    return value is None


class SegmentAll(BaseModel):
    """Every listed condition holds."""

    model_config = _NODE

    all: Annotated[list[Condition], WithJsonSchema(_CONDITIONS_SCHEMA)] = Field(
        min_length=1, max_length=MAX_CONDITIONS
    )


class SegmentAny(BaseModel):
    """At least one listed condition holds."""

    model_config = _NODE

    any: Annotated[list[Condition], WithJsonSchema(_CONDITIONS_SCHEMA)] = Field(
        min_length=1, max_length=MAX_CONDITIONS
    )


class SegmentNot(BaseModel):
    """The condition does not hold (the exact complement: a null field makes a comparison false)."""

    model_config = _NODE

    not_: Annotated[Condition, WithJsonSchema(_NESTED_CONDITION)] = Field(alias="not")


class SegmentComparison(BaseModel):
    """A field compared with a value, with a list of values, or with arithmetic over numeric fields."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_mode_override="validation",
        json_schema_extra={
            "examples": [
                {"field": "value_tier", "op": "=", "value": "top20"},
                {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}},
                {"field": "birthday", "op": "within_days", "value": 7},
            ]
        },
    )

    field: str = Field(json_schema_extra=_FIELD_ENUM)
    op: Op
    value: Annotated[Any, WithJsonSchema(VALUE_SCHEMA)] = Field(default=None, exclude_if=_absent)
    expr: Expression | None = Field(default=None, exclude_if=_absent)


class SegmentEvent(BaseModel):
    """At least ``min_count`` events of a kind in the last ``within_days`` days (subscriber_event)."""

    model_config = _NODE

    event: str = Field(pattern=EVENT_KIND, max_length=48, examples=["complaint.coverage"])
    within_days: Annotated[int, Field(ge=1, le=MAX_EVENT_DAYS), WHOLE]
    min_count: Annotated[int, Field(ge=1, le=MAX_MIN_COUNT), WHOLE] = 1


class SegmentField(BaseModel):
    """A numeric field's value, in an arithmetic expression."""

    model_config = _NODE

    field: str = Field(json_schema_extra=_FIELD_ENUM)


class SegmentAdd(BaseModel):
    """The sum of the operands, left to right."""

    model_config = _NODE

    add: Annotated[list[Expression], WithJsonSchema(_OPERANDS_SCHEMA)] = Field(
        min_length=2, max_length=MAX_OPERANDS
    )


class SegmentSub(BaseModel):
    """The first operand minus the others, left to right."""

    model_config = _NODE

    sub: Annotated[list[Expression], WithJsonSchema(_OPERANDS_SCHEMA)] = Field(
        min_length=2, max_length=MAX_OPERANDS
    )


class SegmentMul(BaseModel):
    """The product of the operands, left to right."""

    model_config = _NODE

    mul: Annotated[list[Expression], WithJsonSchema(_OPERANDS_SCHEMA)] = Field(
        min_length=2, max_length=MAX_OPERANDS
    )


class SegmentDiv(BaseModel):
    """The first operand divided by the others, left to right (by zero: null, so the comparison is false)."""

    model_config = _NODE

    div: Annotated[list[Expression], WithJsonSchema(_OPERANDS_SCHEMA)] = Field(
        min_length=2, max_length=MAX_OPERANDS
    )


# Tags name the branch a node took; they are dropped from the paths errors name, so none may be a
# key of a node as well.
_CONDITION_TAGS: dict[str, str] = {
    "all": "all_of",
    "any": "any_of",
    "not": "negation",
    "field": "comparison",
    "event": "event_test",
}
_CONDITION_MODELS: dict[type[BaseModel], str] = {
    SegmentAll: "all_of",
    SegmentAny: "any_of",
    SegmentNot: "negation",
    SegmentComparison: "comparison",
    SegmentEvent: "event_test",
}
_EXPRESSION_TAGS: dict[str, str] = {
    "field": "field_value",
    "add": "sum",
    "sub": "difference",
    "mul": "product",
    "div": "quotient",
}
_EXPRESSION_MODELS: dict[type[BaseModel], str] = {
    SegmentField: "field_value",
    SegmentAdd: "sum",
    SegmentSub: "difference",
    SegmentMul: "product",
    SegmentDiv: "quotient",
}
_TAGS = frozenset(_CONDITION_TAGS.values()) | frozenset(_EXPRESSION_TAGS.values()) | {"number"}
_VALIDATOR_STEPS = frozenset({"function-before", "function-after"})


def _condition_tag(value: Any) -> str | None:
    """Name the kind of a condition by the key it has (``all``, ``any``, ``not``, ``field``, ``event``)."""
    if isinstance(value, BaseModel):
        return _CONDITION_MODELS.get(type(value))
    if isinstance(value, dict):
        return next((tag for key, tag in _CONDITION_TAGS.items() if key in value), None)
    return None


def _expression_tag(value: Any) -> str | None:
    """Name the kind of an expression: a number, or an object keyed field / add / sub / mul / div."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, BaseModel):
        return _EXPRESSION_MODELS.get(type(value))
    if isinstance(value, dict):
        return next((tag for key, tag in _EXPRESSION_TAGS.items() if key in value), None)
    return None


Number = Annotated[float, Field(strict=True, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]

Condition: TypeAlias = Annotated[
    Annotated[SegmentAll, Tag("all_of")]
    | Annotated[SegmentAny, Tag("any_of")]
    | Annotated[SegmentNot, Tag("negation")]
    | Annotated[SegmentComparison, Tag("comparison")]
    | Annotated[SegmentEvent, Tag("event_test")],
    Discriminator(
        _condition_tag,
        custom_error_type="not_a_condition",
        custom_error_message=(
            "a condition is an object with one of: all, any, not, field (with op) or event (with within_days)"
        ),
    ),
]
"""One node of a segment tree."""

Expression: TypeAlias = Annotated[
    Annotated[Number, Tag("number")]
    | Annotated[SegmentField, Tag("field_value")]
    | Annotated[SegmentAdd, Tag("sum")]
    | Annotated[SegmentSub, Tag("difference")]
    | Annotated[SegmentMul, Tag("product")]
    | Annotated[SegmentDiv, Tag("quotient")],
    Discriminator(
        _expression_tag,
        custom_error_type="not_an_expression",
        custom_error_message="an expression is a number or an object with one of: field, add, sub, mul, div",
    ),
]
"""The right side of an arithmetic comparison."""

for _model in (
    SegmentAll,
    SegmentAny,
    SegmentNot,
    SegmentComparison,
    SegmentAdd,
    SegmentSub,
    SegmentMul,
    SegmentDiv,
):
    _model.model_rebuild()

# ── refusals ──────────────────────────────────────────────────────────────────────────────────────


class SegmentInvalid(ProblemError):
    """A tree the language refuses: a 422 whose errors each name their place (``conditions.all[2].op``)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(
            422,
            "segment-invalid",
            f"{first['field']}: {first['message']}{more}",
            title="Invalid segment conditions",
            errors=errors,
        )


TreePath = tuple[str | int, ...]


def render_path(path: TreePath) -> str:
    """Write a place in the tree as people read it: ``conditions.all[2].field``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _error(path: TreePath, kind: str, message: str) -> dict[str, str]:
    return {"field": render_path(path), "message": message, "type": kind}


def _from_pydantic(error: ErrorDetails, root: str) -> dict[str, str]:
    """Name a pydantic error by its place in the tree, without the union branches pydantic adds."""
    place = tuple(p for p in error["loc"] if p not in _TAGS and p not in _VALIDATOR_STEPS)
    return _error((root, *place), error["type"], error["msg"])


def _refuse_deep_json(value: Any, root: str) -> None:
    """Refuse JSON nested deeper than any valid tree before pydantic recurses into it."""
    pending: list[tuple[Any, TreePath]] = [(value, (root,))]
    while pending:
        item, path = pending.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise SegmentInvalid([_error(path, "too_deep", f"nested deeper than {MAX_DEPTH} conditions")])
        if isinstance(item, dict):
            pending.extend((v, (*path, str(k))) for k, v in item.items())
        elif isinstance(item, list):
            pending.extend((v, (*path, i)) for i, v in enumerate(item))


# ── the checked tree: what both compilers read ────────────────────────────────────────────────────


@dataclass(frozen=True)
class Constant:
    """A number in an expression."""

    value: float


@dataclass(frozen=True)
class FieldValue:
    """A numeric field in an expression (null makes the expression null)."""

    field: FieldSpec


@dataclass(frozen=True)
class Arithmetic:
    """Operands folded left to right with one operator."""

    op: ArithmeticOp
    operands: tuple[Expr, ...]


Expr: TypeAlias = Constant | FieldValue | Arithmetic


@dataclass(frozen=True)
class Conjunction:
    """Every child holds."""

    children: tuple[Checked, ...]


@dataclass(frozen=True)
class Disjunction:
    """Some child holds."""

    children: tuple[Checked, ...]


@dataclass(frozen=True)
class Negation:
    """The child does not hold."""

    child: Checked


@dataclass(frozen=True)
class FieldCondition:
    """A field against a typed value (a tuple for in / not_in / between; None for is_null)."""

    field: FieldSpec
    op: str
    value: Any


@dataclass(frozen=True)
class ArithmeticCondition:
    """A numeric field against an arithmetic expression."""

    field: FieldSpec
    op: str
    expr: Expr


@dataclass(frozen=True)
class DayWindowCondition:
    """A date or date-time field against a window of days around the moment of evaluation."""

    field: FieldSpec
    op: str
    days: int


@dataclass(frozen=True)
class EventCondition:
    """At least ``min_count`` events of ``kind`` in the last ``within_days`` days."""

    kind: str
    within_days: int
    min_count: int


Checked: TypeAlias = (
    Conjunction
    | Disjunction
    | Negation
    | FieldCondition
    | ArithmeticCondition
    | DayWindowCondition
    | EventCondition
)

# ── parsing and the semantic check ────────────────────────────────────────────────────────────────

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_EXAMPLES: dict[FieldKind, str] = {
    "numeric": "a number, e.g. 10",
    "text": f"text of at most {MAX_TEXT} characters, e.g. 'HK'",
    "boolean": "true or false",
    "date": "a date, e.g. '2027-02-28'",
    "datetime": "a date-time with its offset, e.g. '2027-02-28T09:00:00+08:00'",
}


def _quoted(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


class _Checker:
    """Walks a parsed tree, collecting every refusal with its place, and builds the checked tree."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []
        self.conditions = 0
        self.values = 0

    def refuse(self, path: TreePath, kind: str, message: str) -> None:
        self.errors.append(_error(path, kind, message))

    def condition(self, node: Any, path: TreePath, depth: int) -> Checked | None:
        self.conditions += 1
        if depth > MAX_DEPTH:
            self.refuse(path, "too_deep", f"nested deeper than {MAX_DEPTH} conditions")
            return None
        if isinstance(node, SegmentAll):
            children = self.children(node.all, (*path, "all"), depth)
            return Conjunction(children) if children is not None else None
        if isinstance(node, SegmentAny):
            children = self.children(node.any, (*path, "any"), depth)
            return Disjunction(children) if children is not None else None
        if isinstance(node, SegmentNot):
            child = self.condition(node.not_, (*path, "not"), depth + 1)
            return Negation(child) if child is not None else None
        if isinstance(node, SegmentEvent):
            return EventCondition(node.event, node.within_days, node.min_count)
        assert isinstance(node, SegmentComparison)
        return self.comparison(node, path)

    def children(self, nodes: list[Any], path: TreePath, depth: int) -> tuple[Checked, ...] | None:
        checked = [self.condition(n, (*path, i), depth + 1) for i, n in enumerate(nodes)]
        return tuple(c for c in checked if c is not None) if None not in checked else None

    def field(self, name: str, path: TreePath) -> FieldSpec | None:
        spec = FIELDS.get(name)
        if spec is None:
            close = difflib.get_close_matches(name[:64], _FIELD_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; docs/segments.md lists the fields"
            self.refuse(path, "unknown_field", f"unknown field {_quoted(name)}{hint}")
        return spec

    def comparison(self, node: SegmentComparison, path: TreePath) -> Checked | None:
        spec = self.field(node.field, (*path, "field"))
        if spec is None:
            return None
        if node.op not in OPS_BY_KIND[spec.kind]:
            allowed = " ".join(sorted(OPS_BY_KIND[spec.kind]))
            self.refuse(
                (*path, "op"),
                "operator_not_for_field",
                f"{node.op} does not apply to {spec.name} ({spec.kind}); it takes: {allowed}",
            )
            return None
        has_value = "value" in node.model_fields_set
        if node.expr is not None:
            return self.arithmetic_comparison(node, spec, path, has_value)
        if node.op == "is_null":
            if has_value:
                message = "is_null takes no value (wrap it in not to ask for a value)"
                self.refuse((*path, "value"), "value_not_taken", message)
                return None
            return FieldCondition(spec, "is_null", None)
        if not has_value or node.value is None:
            place = (*path, "value") if has_value else path
            self.refuse(place, "value_missing", f"{node.op} needs a value: {self.wanted(spec, node.op)}")
            return None
        return self.value_condition(spec, node.op, node.value, (*path, "value"))

    def arithmetic_comparison(
        self, node: SegmentComparison, spec: FieldSpec, path: TreePath, has_value: bool
    ) -> Checked | None:
        if has_value:
            self.refuse(path, "value_and_expr", "give value or expr, not both")
            return None
        if spec.kind != "numeric" or node.op not in COMPARISON_OPS:
            self.refuse(
                (*path, "expr"),
                "expr_not_taken",
                "expr compares a numeric field with = != < <= > >= only",
            )
            return None
        assert node.expr is not None
        leaves = [0]
        expr = self.expression(node.expr, (*path, "expr"), 1, leaves)
        if leaves[0] > MAX_EXPRESSION_LEAVES:
            self.refuse((*path, "expr"), "too_large", f"more than {MAX_EXPRESSION_LEAVES} numbers and fields")
            return None
        return ArithmeticCondition(spec, node.op, expr) if expr is not None else None

    def expression(self, expr: Any, path: TreePath, depth: int, leaves: list[int]) -> Expr | None:
        if isinstance(expr, float | int):
            leaves[0] += 1
            number = self.number(expr, path)
            return Constant(number) if number is not None else None
        if isinstance(expr, SegmentField):
            leaves[0] += 1
            spec = self.field(expr.field, (*path, "field"))
            if spec is not None and spec.kind != "numeric":
                self.refuse((*path, "field"), "not_numeric", f"{spec.name} is {spec.kind}, not numeric")
                return None
            return FieldValue(spec) if spec is not None else None
        if depth > MAX_EXPRESSION_DEPTH:
            self.refuse(path, "too_deep", f"arithmetic nested deeper than {MAX_EXPRESSION_DEPTH} levels")
            return None
        op, operands = _arithmetic_parts(expr)
        checked = [self.expression(e, (*path, op, i), depth + 1, leaves) for i, e in enumerate(operands)]
        return Arithmetic(op, tuple(c for c in checked if c is not None)) if None not in checked else None

    def number(self, value: Any, path: TreePath) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.refuse(path, "not_a_number", f"{_quoted(value)} is not a number")
            return None
        size = abs(value)
        if not math.isfinite(size) or size > MAX_MAGNITUDE or (0 < size < MIN_MAGNITUDE):
            self.refuse(
                path,
                "number_out_of_range",
                f"{_quoted(value)}: numbers are 0 or between {MIN_MAGNITUDE:g} and {MAX_MAGNITUDE:g} in size",
            )
            return None
        return float(value)

    def value_condition(self, spec: FieldSpec, op: str, value: Any, path: TreePath) -> Checked | None:
        if op in DAY_OPS:
            days = self.days(value, path)
            return DayWindowCondition(spec, op, days) if days is not None else None
        if op in ("in", "not_in", "between"):
            values = self.listed(spec, op, value, path)
            return FieldCondition(spec, op, values) if values is not None else None
        if op == "startswith" and not isinstance(value, str):
            self.refuse(path, "wrong_type", f"startswith needs text, not {_quoted(value)}")
            return None
        scalar = self.scalar(spec, value, path)
        return FieldCondition(spec, op, scalar) if scalar is not None else None

    def listed(self, spec: FieldSpec, op: str, value: Any, path: TreePath) -> tuple[Any, ...] | None:
        if not isinstance(value, list) or not value:
            self.refuse(path, "wrong_type", f"{op} needs a list: {self.wanted(spec, op)}")
            return None
        if op == "between" and len(value) != 2:
            self.refuse(path, "wrong_type", f"between needs [low, high], not {len(value)} values")
            return None
        if len(value) > MAX_LIST:
            self.refuse(path, "too_large", f"more than {MAX_LIST} values")
            return None
        self.values += len(value)
        items = [self.scalar(spec, v, (*path, i)) for i, v in enumerate(value)]
        if any(item is None for item in items):
            return None
        if op == "between" and items[0] > items[1]:
            self.refuse(path, "empty_range", f"between [{value[0]}, {value[1]}]: low is above high")
            return None
        return tuple(items)

    def scalar(self, spec: FieldSpec, value: Any, path: TreePath) -> Any:
        if spec.kind == "numeric":
            return self.number(value, path)
        parsed = _parse_scalar(spec.kind, value)
        if parsed is None:
            wanted = _EXAMPLES[spec.kind]
            self.refuse(path, "wrong_type", f"{spec.name} is {spec.kind}: {wanted}, not {_quoted(value)}")
        return parsed

    def days(self, value: Any, path: TreePath) -> int | None:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole or not 0 <= value <= MAX_DAYS:
            self.refuse(path, "wrong_type", f"a number of days from 0 to {MAX_DAYS}, not {_quoted(value)}")
            return None
        return int(value)

    @staticmethod
    def wanted(spec: FieldSpec, op: str) -> str:
        if op in DAY_OPS:
            return "a number of days"
        if op == "between":
            return f"[low, high], each {_EXAMPLES[spec.kind]}"
        if op in ("in", "not_in"):
            return f"a list, each {_EXAMPLES[spec.kind]}"
        return _EXAMPLES[spec.kind]


def _arithmetic_parts(expr: Any) -> tuple[ArithmeticOp, list[Any]]:
    if isinstance(expr, SegmentAdd):
        return "add", expr.add
    if isinstance(expr, SegmentSub):
        return "sub", expr.sub
    if isinstance(expr, SegmentMul):
        return "mul", expr.mul
    assert isinstance(expr, SegmentDiv)
    return "div", expr.div


def _parse_scalar(kind: FieldKind, value: Any) -> Any:
    """Return a value as a text, boolean, date or date-time field holds it; None when it is not one."""
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        return None
    if kind == "text":
        return value
    if kind == "date":
        return _parse_date(value)
    return _parse_datetime(value)


def _parse_date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_datetime(text: str) -> datetime | None:
    """Read an RFC 3339 date-time with an offset that has a UTC form (not 0001-01-01T00:00+01:00)."""
    try:
        value = datetime.fromisoformat(text)
        return value.astimezone(UTC) if value.utcoffset() is not None else None
    except (ValueError, OverflowError):
        return None


def check(tree: Any, root: str = "conditions") -> Checked:
    """Check a parsed tree against the registry; raise SegmentInvalid naming every fault."""
    checker = _Checker()
    checked = checker.condition(tree, (root,), 1)
    if checker.conditions > MAX_CONDITIONS:
        checker.refuse((root,), "too_large", f"more than {MAX_CONDITIONS} conditions")
    if checker.values > MAX_VALUES:
        checker.refuse((root,), "too_large", f"more than {MAX_VALUES} values in the lists of in and not_in")
    if checker.errors or checked is None:
        raise SegmentInvalid(checker.errors)
    return checked


_CONDITION = TypeAdapter[Any](Condition)


def _validated(value: Any, root: str, handler: Callable[[Any], Any]) -> Any:
    _refuse_deep_json(value, root)
    try:
        return handler(value)
    except ValidationError as exc:
        raise SegmentInvalid([_from_pydantic(e, root) for e in exc.errors()]) from None


def parse(raw: Any, root: str = "conditions") -> Checked:
    """Parse and check a tree given as JSON data (a stored segment, a trigger's configuration)."""
    return check(_validated(raw, root, _CONDITION.validate_python), root)


def _parsed_and_checked(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """Validate a request's tree: every refusal is one segment-invalid problem naming its places."""
    root = info.field_name or "conditions"
    tree = _validated(value, root, handler)
    check(tree, root)
    return tree


SegmentTree = Annotated[Condition, WrapValidator(_parsed_and_checked)]
"""A segment tree in a request body: parsed, then checked (422 segment-invalid otherwise)."""


def as_json(tree: Any) -> dict[str, Any]:
    """Return a parsed tree as the JSON it stands for (``not`` by its name, no absent values)."""
    data: dict[str, Any] = _CONDITION.dump_python(tree, mode="json", by_alias=True)
    return data


# ── the moment of evaluation ──────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class AsOf:
    """When a segment is evaluated: day windows count from ``today``, event windows from ``now``."""

    now: datetime
    today: date

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None:
            raise ValueError("AsOf.now must be time-zone aware")

    @classmethod
    def at(cls, now: datetime, zone: ZoneInfo) -> AsOf:
        """Return the moment ``now`` with ``today`` as the calendar in ``zone`` has it."""
        return cls(now, now.astimezone(zone).date())


def anniversary(day: date, year: int) -> date:
    """Return a date's anniversary in a year; 29 February falls on 28 February in common years."""
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def anniversary_between(day: date, start: date, end: date) -> bool:
    """Tell whether an anniversary of ``day`` falls in [start, end]."""
    return any(start <= anniversary(day, year) <= end for year in range(start.year, end.year + 1))


def anniversary_month_days(start: date, end: date) -> tuple[list[tuple[int, int]], bool] | None:
    """Return where month * 100 + day of a date falls when its anniversary is in [start, end]: the
    inclusive ranges, and whether 29 February is in as well; None: any date.

    The SQL side asks this of (month, day) alone, so the same SQL runs on SQLite and PostgreSQL. A
    window of 366 days holds every day of the year; 28 February of a common year stands for the 29
    February birthdays too.
    """
    if (end - start).days >= 365:
        return None
    first, last = start.month * 100 + start.day, end.month * 100 + end.day
    ranges = [(first, last)] if start.year == end.year else [(first, 1231), (101, last)]
    leap_day = any(
        not calendar.isleap(year) and start <= date(year, 2, 28) <= end
        for year in range(start.year, end.year + 1)
    )
    return ranges, leap_day


def _day_window(op: str, days: int, origin: Any) -> tuple[Any, Any]:
    """Return the inclusive [low, high] of within_days / within_last_days around ``origin``."""
    span = timedelta(days=days)
    return (origin, origin + span) if op == "within_days" else (origin - span, origin)


def _origin(spec: FieldSpec, as_of: AsOf) -> date | datetime:
    return as_of.today if spec.kind == "date" else as_of.now


# ── compiling to SQL ──────────────────────────────────────────────────────────────────────────────


def where(checked: Checked, as_of: AsOf) -> ColumnElement[bool]:
    """Compile a checked tree to a WHERE clause over ``subscriber`` (never null: see the module doc)."""
    if isinstance(checked, Conjunction):
        return sa.and_(*(where(c, as_of) for c in checked.children))
    if isinstance(checked, Disjunction):
        return sa.or_(*(where(c, as_of) for c in checked.children))
    if isinstance(checked, Negation):
        return sa.not_(where(checked.child, as_of))
    if isinstance(checked, FieldCondition) and checked.op == "is_null":
        return checked.field.column.is_(None)
    if isinstance(checked, FieldCondition):
        return _definite(_field_sql(checked), checked.field)
    if isinstance(checked, ArithmeticCondition):
        return _arithmetic_sql(checked)
    if isinstance(checked, DayWindowCondition):
        return _definite(_day_window_sql(checked, as_of), checked.field)
    return _event_sql(checked, as_of)


def _definite(
    condition: ColumnElement[bool], spec: FieldSpec, *others: ColumnElement[Any]
) -> ColumnElement[bool]:
    """Make a condition false, not unknown, where its field (or another operand) is null."""
    guards = [spec.column.is_not(None)] if spec.nullable else []
    guards += [other.is_not(None) for other in others]
    return sa.and_(*guards, condition) if guards else condition


def _numeric(spec: FieldSpec) -> ColumnElement[float]:
    """Return a numeric column as a double: integer columns would divide and bind as integers."""
    if isinstance(spec.column.type, Float):
        return spec.column
    return sa.cast(spec.column, Float)


def _operand(spec: FieldSpec) -> ColumnElement[Any]:
    return _numeric(spec) if spec.kind == "numeric" else spec.column


def _field_sql(node: FieldCondition) -> ColumnElement[bool]:
    column = _operand(node.field)
    if node.op == "in":
        return column.in_(node.value)
    if node.op == "not_in":
        return column.not_in(node.value)
    if node.op == "between":
        return column.between(*node.value)
    if node.op == "startswith":
        # Not LIKE: SQLite's ignores case and both treat % and _ as wildcards.
        prefix: ColumnElement[bool] = sa.func.substr(column, 1, len(node.value)) == node.value
        return prefix
    compared: ColumnElement[bool] = _COMPARE[node.op](column, node.value)
    return compared


def _arithmetic_sql(node: ArithmeticCondition) -> ColumnElement[bool]:
    right = _expression_sql(node.expr)
    compared: ColumnElement[bool] = _COMPARE[node.op](_numeric(node.field), right)
    return _definite(compared, node.field, *([right] if _may_be_null(node.expr) else []))


def _expression_sql(expr: Expr) -> ColumnElement[float]:
    if isinstance(expr, Constant):
        return sa.literal(expr.value, Float)
    if isinstance(expr, FieldValue):
        return _numeric(expr.field)
    return reduce(partial(_arithmetic_operation, expr.op), (_expression_sql(e) for e in expr.operands))


def _arithmetic_operation(op: ArithmeticOp, left: ColumnElement[float], right: ColumnElement[float]) -> Any:
    """Apply one operator as written: SQLAlchemy's own + and * regroup a + (b + c) as a + b + c,
    which in doubles is not what the predicate computes; a custom operator keeps the parentheses."""
    if op == "div":
        # NULLIF: a division by zero is null (false once compared), not PostgreSQL's error.
        right = sa.func.nullif(right, sa.literal(0.0, Float), type_=Float)
    return left.op(_SQL_OPERATORS[op], return_type=Float)(right)


def _may_be_null(expr: Expr) -> bool:
    if isinstance(expr, Constant):
        return False
    if isinstance(expr, FieldValue):
        return expr.field.nullable
    return expr.op == "div" or any(_may_be_null(e) for e in expr.operands)


def _month_day(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return sa.extract("month", column) * 100 + sa.extract("day", column)


def _day_window_sql(node: DayWindowCondition, as_of: AsOf) -> ColumnElement[bool]:
    column = node.field.column
    origin = _origin(node.field, as_of)
    if node.op == "older_than_days":
        return column < origin - timedelta(days=node.days)
    low, high = _day_window(node.op, node.days, origin)
    if node.field.recurring:
        return _anniversary_sql(column, low, high)
    return column.between(low, high)


def _anniversary_sql(column: ColumnElement[Any], low: date, high: date) -> ColumnElement[bool]:
    """Compare (month, day) with ranges, not with every day of the window: a few parameters each."""
    window = anniversary_month_days(low, high)
    if window is None:
        return sa.true()
    ranges, leap_day = window
    month_day = _month_day(column)
    tests = [month_day.between(first, last) for first, last in ranges]
    return sa.or_(*tests, *([month_day == 229] if leap_day else []))


def _event_sql(node: EventCondition, as_of: AsOf) -> ColumnElement[bool]:
    event = SUBSCRIBER_EVENT.c
    in_window = sa.and_(
        event.msisdn == SUBSCRIBER.c.msisdn,
        event.kind == node.kind,
        event.at >= as_of.now - timedelta(days=node.within_days),
        event.at <= as_of.now,
    )
    if node.min_count == 1:
        return sa.exists().where(in_window)
    count = sa.select(sa.func.count()).select_from(SUBSCRIBER_EVENT).where(in_window).correlate(SUBSCRIBER)
    return count.scalar_subquery() >= node.min_count


# ── the same tree in memory ───────────────────────────────────────────────────────────────────────


class EventLike(Protocol):
    """What the predicate reads of a past event (a SubscriberEvent row will do)."""

    @property
    def kind(self) -> str: ...

    @property
    def at(self) -> datetime: ...


def matches(
    checked: Checked, subscriber: Mapping[str, Any], events: Iterable[EventLike], as_of: AsOf
) -> bool:
    """Tell whether one subscriber (its columns by name) and its events meet a checked tree."""
    return _Predicate(subscriber, list(events), as_of).holds(checked)


@dataclass
class _Predicate:
    subscriber: Mapping[str, Any]
    events: Sequence[EventLike]
    as_of: AsOf

    def holds(self, node: Checked) -> bool:
        if isinstance(node, Conjunction):
            return all(self.holds(c) for c in node.children)
        if isinstance(node, Disjunction):
            return any(self.holds(c) for c in node.children)
        if isinstance(node, Negation):
            return not self.holds(node.child)
        if isinstance(node, EventCondition):
            return self.event_count(node) >= node.min_count
        value = self.subscriber[node.field.key]
        if isinstance(node, FieldCondition) and node.op == "is_null":
            return value is None
        if value is None:
            return False
        if isinstance(node, FieldCondition):
            return _field_holds(node, float(value) if node.field.kind == "numeric" else value)
        if isinstance(node, ArithmeticCondition):
            right = self.evaluate(node.expr)
            return right is not None and bool(_COMPARE[node.op](float(value), right))
        return self.in_day_window(node, value)

    def evaluate(self, expr: Expr) -> float | None:
        if isinstance(expr, Constant):
            return expr.value
        if isinstance(expr, FieldValue):
            value = self.subscriber[expr.field.key]
            return None if value is None else float(value)
        operands = [self.evaluate(e) for e in expr.operands]
        if any(o is None for o in operands):
            return None
        return _fold(expr.op, [o for o in operands if o is not None])

    def in_day_window(self, node: DayWindowCondition, value: Any) -> bool:
        origin = _origin(node.field, self.as_of)
        if node.op == "older_than_days":
            return bool(value < origin - timedelta(days=node.days))
        low, high = _day_window(node.op, node.days, origin)
        if node.field.recurring:
            return anniversary_between(value, low, high)
        return bool(low <= value <= high)

    def event_count(self, node: EventCondition) -> int:
        since = self.as_of.now - timedelta(days=node.within_days)
        return sum(1 for e in self.events if e.kind == node.kind and since <= e.at <= self.as_of.now)


def _field_holds(node: FieldCondition, value: Any) -> bool:
    if node.op == "in":
        return value in node.value
    if node.op == "not_in":
        return value not in node.value
    if node.op == "between":
        return bool(node.value[0] <= value <= node.value[1])
    if node.op == "startswith":
        return str(value).startswith(node.value)
    return bool(_COMPARE[node.op](value, node.value))


def _fold(op: ArithmeticOp, operands: list[float]) -> float | None:
    """Fold left to right as SQL does; a division by zero is null."""
    result = operands[0]
    for operand in operands[1:]:
        if op == "div":
            if operand == 0:
                return None
            result /= operand
        elif op == "add":
            result += operand
        elif op == "sub":
            result -= operand
        else:
            result *= operand
    return result

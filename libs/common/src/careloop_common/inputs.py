"""Types for what clients send: bounded, documented in the OpenAPI, and storable on every database.

Found by fuzzing the APIs (tests/test_api_properties.py): an unbounded offset past 2**63 and a NUL
character in any string reached the database and failed there as a 500 (PostgreSQL refuses NUL in
text, in a stored value or a compared one). Input types here refuse both with a 422 instead.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated

import phonenumbers
from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from careloop_common.errors import ProblemError

# Any text but NUL; a JSON Schema pattern as well, so clients and generated tests know it.
NO_NUL = r"^[^\x00]*$"

Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""A string field of a request body."""

PathId = Annotated[str, Path(pattern=NO_NUL, max_length=64, description="the resource's id")]
"""The id of a resource in a path (not found when no such resource exists)."""


def _whole(value: object) -> object:
    """Take a JSON integer as JSON Schema means it (``3`` or ``3.0``), never a string or a boolean."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a whole number")
    return value


# For integer fields (bounds go inside, before it, so the schema shows them as minimum/maximum):
# strict about type (no "3", no true) yet taking 3.0, which JSON Schema calls an integer.
WHOLE = BeforeValidator(_whole)


MAX_LIMIT = 500
# Past this a page is empty anyway, and every database takes it as an OFFSET.
MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="how many items a page holds")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many items to skip")]


def _rfc3339(value: object) -> object:
    """Accept a date-time as the schema says (RFC 3339 text), not as a number of seconds."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("a date-time in RFC 3339 form, e.g. 2027-03-31T00:00:00Z")


def _storable(value: datetime) -> datetime:
    """Refuse an instant that has no UTC form (0001-01-01T00:00:01+00:05 is in year 0 in UTC).

    The schema allows it, so this is a rule of ours: a 422 of its own type, not a validation error.
    """
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ProblemError(
            422, "date-out-of-range", f"{value.isoformat()} is outside the dates we can store"
        ) from None
    return value


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_storable)]
"""A date-time field or parameter: RFC 3339 text only (pydantic alone would also take 0.5)."""


# Parsing and checking a number against its country's plan costs ~60 µs, and the same customers'
# numbers arrive again and again (every feed event, every complaint of theirs): the answers for
# recent numbers are kept. Refusals raise, so they are not kept.
@functools.lru_cache(maxsize=1 << 16)
def to_e164(value: str) -> str:
    """Validate a phone number given in international form and return it as E.164."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number in international form, e.g. +85291234567") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


MSISDN = Annotated[
    str,
    Field(
        min_length=4,
        max_length=32,
        examples=["+85291234567"],
        description="a phone number in international form; answered in E.164",
        json_schema_extra={"format": "phone"},
    ),
    AfterValidator(to_e164),
]
"""A customer's phone number: any international form in, E.164 out (``format: phone`` in the schema)."""

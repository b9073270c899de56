"""Bulk import of subscribers from CSV or Parquet files of millions of rows.

A file is read in chunks (the csv module for CSV, pyarrow for Parquet) in a worker thread, each
row checked column by column; good rows are upserted with one executemany per chunk
(``INSERT … ON CONFLICT (msisdn) DO UPDATE``) while the next chunk is read. A bad row never fails
an import: it is counted and reported with its row number, field and reason. A bad *file* (not
CSV or Parquet, wrong columns, empty) is refused before anything is written. The models are
recomputed once at the end. The CLI (``careloop campaigns import``) and the API
(``POST /campaigns/v1/imports``) run the same import. The format is documented in
docs/campaigns.md ("Audience").
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from campaigns import audience, repository
from campaigns.models import CUSTOMER_CLASSES
from campaigns.schemas import PLAN_ID
from campaigns.service import recompute_models
from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.errors import ProblemError
from careloop_common.events.feeds import MAX_COUNT, MAX_DATA_MB, MAX_MINUTES, MAX_MONEY
from careloop_common.inputs import to_e164
from careloop_common.pseudonyms import customer_ref

CHUNK_ROWS = 5_000
MAX_REPORTED_ERRORS = 1_000  # kept with an API import job; the CLI writes every one to its report
SNIFF_BYTES = 64 * 1024
PARQUET_MAGIC = b"PAR1"
CSV, PARQUET = "csv", "parquet"
LIST_SEPARATOR = ";"  # daily_spend in a CSV cell: "3.5;4;0", oldest day first
EARLIEST_DAY = date(1900, 1, 1)


class BadValue(ValueError):
    """A value that cannot be imported; the message is the reason reported."""


@dataclass(frozen=True)
class Rejected:
    """One refused value: the data row (1 = the first row after a CSV header), the column, why."""

    row: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        """Return the report entry as stored and shown."""
        return {"row": self.row, "field": self.field, "reason": self.reason}


# --- values -----------------------------------------------------------------------------------------

Parse = Callable[[Any], Any]


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[int]:
    return frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def parse_msisdn(value: Any) -> str:
    """Return a number in E.164, or raise BadValue (Parquet integers are taken as +digits).

    A number already in E.164 is checked without phonenumbers' text parser, which costs three
    times the check itself: country codes are prefix-free, so the first that matches is the one.
    """
    text = f"+{value}" if isinstance(value, int) and not isinstance(value, bool) else str(value).strip()
    if _E164.fullmatch(text):
        for length in (1, 2, 3):
            code = int(text[1 : 1 + length])
            if code in _country_codes():
                national = text[1 + length :]
                if national.startswith("0"):
                    break  # an Italian leading zero: the full parser knows what to do
                number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
                if not phonenumbers.is_valid_number(number):
                    raise BadValue("not a valid phone number")
                return text
    try:
        return to_e164(text)
    except ValueError as exc:
        raise BadValue(str(exc)) from None


def text(max_length: int, pattern: str | None = None, *, what: str = "") -> Parse:
    """Return a parser of text up to ``max_length`` characters, matching ``pattern`` if given."""
    matcher = re.compile(pattern) if pattern else None

    def parse(value: Any) -> str:
        found = str(value).strip()
        if len(found) > max_length:
            raise BadValue(f"longer than {max_length} characters")
        if "\x00" in found or (matcher is not None and not matcher.fullmatch(found)):
            raise BadValue(f"not {what or 'allowed'}: {found[:40]!r}")
        return found

    return parse


def choice(options: Sequence[str]) -> Parse:
    """Return a parser of one of ``options``."""

    def parse(value: Any) -> str:
        found = str(value).strip()
        if found not in options:
            raise BadValue(f"{found[:40]!r} is not one of {', '.join(options)}")
        return found

    return parse


def number(low: float, high: float) -> Parse:
    """Return a parser of a finite number within [low, high]."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise BadValue("a number, not a boolean")
        try:
            found = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise BadValue(f"not a number: {str(value)[:40]!r}") from None
        if not (math.isfinite(found) and low <= found <= high):
            raise BadValue(f"{_shown(found)} is outside {_shown(low)}..{_shown(high)}")
        return found

    return parse


def _shown(value: float) -> str:
    """Write a bound or value plainly: 2147483647, not 2.14748e+09."""
    return f"{value:.0f}" if math.isfinite(value) and float(value).is_integer() else f"{value:g}"


def count(high: int = MAX_COUNT) -> Parse:
    """Return a parser of a whole number within [0, high] ("3" and "3.0" alike)."""
    as_number = number(0, high)

    def parse(value: Any) -> int:
        found = as_number(value)
        if not found.is_integer():
            raise BadValue(f"not a whole number: {found:g}")
        return int(found)

    return parse


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def day(*, latest: Callable[[], date] | None = None) -> Parse:
    """Return a parser of a calendar day (YYYY-MM-DD, or a Parquet date) not before 1900."""

    def parse(value: Any) -> date:
        if isinstance(value, datetime):
            raise BadValue("a day, not an instant")
        if isinstance(value, date):
            found = value
        else:
            raw = str(value).strip()
            if not _DAY.fullmatch(raw):
                raise BadValue(f"not a day in YYYY-MM-DD form: {raw[:40]!r}")
            try:
                found = date.fromisoformat(raw)
            except ValueError:
                raise BadValue(f"no such day: {raw}") from None
        if found < EARLIEST_DAY or (latest is not None and found > latest()):
            raise BadValue(f"{found.isoformat()} is out of range")
        return found

    return parse


def instant(value: Any) -> datetime:
    """Parse an instant with its offset (RFC 3339, or a Parquet timestamp with a time zone)."""
    if isinstance(value, datetime):
        found = value
    else:
        raw = str(value).strip()
        try:
            found = datetime.fromisoformat(raw)
        except ValueError:
            raise BadValue(f"not a date-time in RFC 3339 form: {raw[:40]!r}") from None
    if found.tzinfo is None or found.utcoffset() is None:
        raise BadValue("a date-time must name its offset, e.g. 2026-11-30T09:00:00+08:00")
    return found


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def flag(value: Any) -> bool:
    """Parse true/false, yes/no, 1/0 (or a Parquet boolean)."""
    if isinstance(value, bool):
        return value
    found = str(value).strip().lower()
    if found in _TRUE:
        return True
    if found in _FALSE:
        return False
    raise BadValue(f"not true or false: {found[:20]!r}")


_SPEND = number(0, MAX_MONEY)


def spend_list(value: Any) -> list[float]:
    """Parse up to seven days of spend, oldest first ("3.5;4;0", or a Parquet list of numbers)."""
    items = value if isinstance(value, list) else str(value).strip().split(LIST_SEPARATOR)
    if len(items) > audience.SPEND_DAYS:
        raise BadValue(f"more than {audience.SPEND_DAYS} days")
    return [round(_SPEND(item), 2) for item in items]


@lru_cache(maxsize=512)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_ZONE_NAME = text(64, r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", what="a time-zone name")


def time_zone(value: Any) -> str:
    """Parse an IANA time-zone name."""
    found: str = _ZONE_NAME(value)
    if not _known_zone(found):
        raise BadValue(f"unknown time zone {found!r}")
    return found


def _today() -> date:
    return utcnow().date()


@dataclass(frozen=True)
class Column:
    """An importable column: how its values are read, and what a new subscriber gets without it."""

    name: str
    parse: Parse
    required: bool = False
    default: Any = None
    profile: bool = False  # part of the CRM profile: sets profile_at


COLUMNS: tuple[Column, ...] = (
    Column("msisdn", parse_msisdn, required=True),
    Column("brand", text(32, r"[^\x00]+", what="a brand"), required=True, profile=True),
    Column("plan_id", text(32, PLAN_ID.strip("^$"), what="a plan id"), required=True),
    Column(
        "region",
        text(16, r"[A-Z]{2}(-[A-Z0-9]{1,3})?", what="a region such as HK or CN-GD"),
        required=True,
        profile=True,
    ),
    Column("join_date", day(latest=_today), required=True, profile=True),
    Column("time_zone", time_zone, default=None, profile=True),  # None: from the region
    Column(
        "language",
        text(8, r"[a-z]{2,3}(-[A-Za-z]{2,4})?", what="a language tag"),
        default="zh-Hant",
        profile=True,
    ),
    Column("birthday", day(latest=_today), profile=True),
    Column("customer_class", choice(CUSTOMER_CLASSES), default="normal", profile=True),
    Column("contact_sms", flag, default=True, profile=True),
    Column("contact_call", flag, default=True, profile=True),
    Column("balance", number(-MAX_MONEY, MAX_MONEY), default=0.0),
    Column("revenue_m1", number(0, MAX_MONEY), default=0.0),
    Column("revenue_m2", number(0, MAX_MONEY), default=0.0),
    Column("revenue_m3", number(0, MAX_MONEY), default=0.0),
    Column("bill_period", text(7, r"[0-9]{4}-(0[1-9]|1[0-2])", what="a month in YYYY-MM form")),
    Column("daily_spend", spend_list, default=[]),
    Column("spend_through", day(latest=_today)),
    Column("top_ups_m1", count(), default=0),
    Column("last_payment_at", instant),
    Column("points", count(), default=0),
    Column("points_expire_on", day()),
    Column("minutes_m1", number(0, MAX_MINUTES), default=0.0),
    Column("sms_m1", count(), default=0),
    Column("data_mb_m1", number(0, MAX_DATA_MB), default=0.0),
    Column("long_distance_minutes_m1", number(0, MAX_MINUTES), default=0.0),
    Column("roaming_minutes_m1", number(0, MAX_MINUTES), default=0.0),
    Column("prefix_calls_m1", count(), default=0),
    Column("long_distance_calls_m1", count(), default=0),
    Column("fee_queries_m1", count(), default=0),
)
COLUMN_BY_NAME = {column.name: column for column in COLUMNS}
REQUIRED = tuple(column.name for column in COLUMNS if column.required)
# A region's time zone when the file gives none (the operator's footprint: Hong Kong and the mainland).
ZONE_OF_REGION = {"HK": "Asia/Hong_Kong", "MO": "Asia/Macau", "TW": "Asia/Taipei"}
DEFAULT_ZONE = "Asia/Hong_Kong"


def zone_of_region(region: str) -> str:
    """Return the time zone a subscriber of a region is in when the file does not say."""
    if region.startswith("CN"):
        return "Asia/Shanghai"
    return ZONE_OF_REGION.get(region, DEFAULT_ZONE)


def check_columns(names: Sequence[str]) -> list[str]:
    """Return a file's column names, or refuse the file (422) if any is unknown, missing or repeated."""
    cleaned = [name.strip() for name in names]
    unknown = [name for name in cleaned if name not in COLUMN_BY_NAME]
    missing = [name for name in REQUIRED if name not in cleaned]
    repeated = sorted({name for name in cleaned if cleaned.count(name) > 1})
    if unknown or missing or repeated:
        parts = [
            f"unknown: {', '.join(repr(n[:40]) for n in unknown[:10])}" if unknown else "",
            f"missing: {', '.join(missing)}" if missing else "",
            f"repeated: {', '.join(repeated[:10])}" if repeated else "",
        ]
        raise ProblemError(
            422,
            "bad-columns",
            "the file's columns are wrong (" + "; ".join(p for p in parts if p) + "); "
            f"required: {', '.join(REQUIRED)}; optional: "
            + ", ".join(c.name for c in COLUMNS if not c.required),
            unknown=unknown[:50],
            missing=missing,
            repeated=repeated[:50],
        )
    return cleaned


# --- rows -------------------------------------------------------------------------------------------


class RowChecker:
    """Turns a file row into a subscriber row (all columns, for an insert), or its refused values.

    A column the file has is authoritative for every row (an empty cell is empty: no birthday, 0
    top-ups); a column it lacks is left as held for subscribers that exist and defaulted for new
    ones. ``update_columns`` are the columns an upsert sets on an existing subscriber.
    """

    def __init__(self, names: Sequence[str], customer_key: str, now: datetime) -> None:
        self.columns = [COLUMN_BY_NAME[name] for name in names]
        self.customer_key = customer_key
        self.now = now
        self.yesterday = now.date() - timedelta(days=1)
        present = set(names)
        self.defaults = {c.name: c.default for c in COLUMNS if c.name not in present}
        # Columns no file sets, with what a new subscriber starts with (an insert names every column).
        self.defaults.update(
            created_at=now, updated_at=now, profile_at=now, plan_at=now, balance_at=None, roaming=False
        )
        computed = ["customer_ref", "updated_at", "profile_at", "plan_at"]
        if "daily_spend" in present:
            computed += ["avg_daily_spend_3d", "spend_through"]
        if "balance" in present:
            computed.append("balance_at")
        self.update_columns = sorted((present - {"msisdn"}) | set(computed))
        self.has_spend = "daily_spend" in present
        self.has_through = "spend_through" in present
        self.has_balance = "balance" in present

    def check(self, row_number: int, values: Sequence[Any]) -> dict[str, Any] | list[Rejected]:
        """Return the subscriber row of a file row, or every value of it that was refused."""
        row: dict[str, Any] = dict(self.defaults)
        refused: list[Rejected] = []
        for column, value in zip(self.columns, values, strict=True):
            if value is None or value == "" or (isinstance(value, str) and value.isspace()):
                if column.required:
                    refused.append(Rejected(row_number, column.name, "missing"))
                else:
                    row[column.name] = column.default
                continue
            try:
                row[column.name] = column.parse(value)
            except BadValue as bad:
                refused.append(Rejected(row_number, column.name, str(bad)))
        if refused:
            return refused
        self._complete(row)
        return row

    def _complete(self, row: dict[str, Any]) -> None:
        """Fill the columns derived from others: pseudonym, time zone, spend average, clocks."""
        row["customer_ref"] = customer_ref(row["msisdn"], self.customer_key)
        if row.get("time_zone") is None:
            row["time_zone"] = zone_of_region(row["region"])
        spend = row.get("daily_spend") or []
        row["avg_daily_spend_3d"] = audience.average_recent_spend(spend)
        if self.has_spend and not (self.has_through and row.get("spend_through")):
            row["spend_through"] = self.yesterday if spend else None
        if self.has_balance:
            row["balance_at"] = self.now


# --- reading files ----------------------------------------------------------------------------------


@dataclass
class Chunk:
    """What one slice of a file brings: subscriber rows to upsert and the values refused."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Rejected] = field(default_factory=list)
    read: int = 0  # data rows read, good or bad
    rejected: int = 0  # rows refused (a row may have refused several values)
    position: int = 0  # bytes read (CSV) or rows read (Parquet), for progress
    done: bool = False


class SubscriberFile(Protocol):
    """A CSV or Parquet file of subscribers, read a chunk at a time."""

    format: str
    names: list[str]
    size: int  # bytes (CSV) or rows (Parquet): what ``Chunk.position`` counts up to

    def next_chunk(self, rows: int, checker: RowChecker) -> Chunk:
        """Read and check up to ``rows`` data rows."""
        ...

    def close(self) -> None:
        """Close the file."""
        ...


def detect_format(path: Path) -> str:
    """Tell CSV from Parquet by their first bytes; refuse an empty file or any other kind (4xx)."""
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    if not head.strip():
        raise ProblemError(422, "empty-file", "the file is empty")
    if head.startswith(PARQUET_MAGIC):
        return PARQUET
    if b"\x00" in head:
        raise ProblemError(422, "unsupported-file-format", "the file is neither CSV (UTF-8 text) nor Parquet")
    return CSV


def open_subscriber_file(path: Path) -> SubscriberFile:
    """Open a CSV or Parquet file of subscribers after checking its kind and its columns (4xx if wrong)."""
    if detect_format(path) == PARQUET:
        return ParquetFile(path)
    return CsvFile(path)


RowSource = Iterator[tuple[int, Sequence[Any] | str]]
"""Data rows with their numbers; a str in place of the values is why the line is not a row."""


def _chunk_from(rows: RowSource, limit: int, checker: RowChecker) -> Chunk:
    """Check rows until ``limit`` are read; the last occurrence of a number in the chunk wins."""
    chunk = Chunk()
    by_msisdn: dict[str, dict[str, Any]] = {}
    for number, values in rows:
        chunk.read += 1
        result = [Rejected(number, "", values)] if isinstance(values, str) else checker.check(number, values)
        if isinstance(result, list):
            chunk.rejected += 1
            chunk.refused.extend(result)
        else:
            # One statement may not touch a row twice (PostgreSQL's ON CONFLICT): keep the later row.
            by_msisdn.pop(result["msisdn"], None)
            by_msisdn[result["msisdn"]] = result
        if chunk.read >= limit:
            break
    else:
        chunk.done = True
    chunk.rows = list(by_msisdn.values())
    return chunk


class CsvFile:
    """A UTF-8 CSV file with a header row, read with the csv module."""

    format = CSV

    def __init__(self, path: Path) -> None:
        self._raw: IO[bytes] = path.open("rb")
        self.size = path.stat().st_size
        try:
            self._text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", errors="replace", newline="")
            self._reader = csv.reader(self._text)
            try:
                header = next(self._reader)
            except (StopIteration, csv.Error) as exc:
                raise ProblemError(422, "bad-columns", f"the file has no header row: {exc}") from None
            self.names = check_columns(header)
        except BaseException:
            self.close()
            raise
        self._rows = self._read_rows()

    def _read_rows(self) -> RowSource:
        width, number = len(self.names), 0
        while True:
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                yield number, f"unreadable CSV: {exc}"
                continue
            if not values:
                continue  # a blank line
            number += 1
            if len(values) != width:
                yield number, f"expected {width} fields, found {len(values)}"
                continue
            yield number, values

    def next_chunk(self, rows: int, checker: RowChecker) -> Chunk:
        """Read and check up to ``rows`` data rows."""
        chunk = _chunk_from(self._rows, rows, checker)
        chunk.position = self.size if chunk.done else min(self._raw.tell(), self.size)
        return chunk

    def close(self) -> None:
        """Close the file."""
        self._raw.close()


class ParquetFile:
    """A Parquet file, read a record batch at a time with pyarrow."""

    format = PARQUET

    def __init__(self, path: Path, batch_rows: int = CHUNK_ROWS) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise ProblemError(422, "unreadable-file", f"not a readable Parquet file: {exc}") from None
        try:
            self.names = check_columns(self._file.schema_arrow.names)
        except BaseException:
            self._file.close()
            raise
        self.size = int(self._file.metadata.num_rows)
        self._read = 0
        self._rows = self._read_rows(batch_rows)

    def _read_rows(self, batch_rows: int) -> RowSource:
        for batch in self._file.iter_batches(batch_size=batch_rows, columns=self.names):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for values in zip(*columns, strict=True):
                self._read += 1
                yield self._read, values

    def next_chunk(self, rows: int, checker: RowChecker) -> Chunk:
        """Read and check up to ``rows`` data rows."""
        chunk = _chunk_from(self._rows, rows, checker)
        chunk.position = self._read
        chunk.done = chunk.done or self._read >= self.size
        return chunk

    def close(self) -> None:
        """Close the file."""
        self._file.close()


# --- running an import ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: rows read, imported and rejected, the first refusals, the models scored."""

    format: str
    size: int
    rows_read: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    position: int = 0
    errors: list[Rejected] = field(default_factory=list)
    models_scored: int | None = None

    def add(self, chunk: Chunk, keep: int) -> None:
        """Count a chunk in, keeping at most ``keep`` refusals."""
        self.rows_read += chunk.read
        self.rows_imported += chunk.read - chunk.rejected
        self.rows_rejected += chunk.rejected
        self.position = chunk.position
        self.errors.extend(chunk.refused[: max(0, keep - len(self.errors))])


Progress = Callable[[ImportReport], Awaitable[None] | None]


async def import_subscribers(
    sessions: SessionFactory,
    source: SubscriberFile,
    *,
    customer_key: str,
    chunk_rows: int = CHUNK_ROWS,
    keep_errors: int = MAX_REPORTED_ERRORS,
    on_chunk: Progress | None = None,
    on_refused: Callable[[Sequence[Rejected]], None] | None = None,
    recompute: bool = True,
    today: date | None = None,
) -> ImportReport:
    """Import an open file chunk by chunk, then recompute the models once; return the report.

    The next chunk is read and checked in a worker thread while this one is written, each write in
    a short transaction of its own, so a long import leaves the database free between chunks.
    """
    checker = RowChecker(source.names, customer_key, utcnow())
    report = ImportReport(format=source.format, size=source.size)
    upcoming = asyncio.ensure_future(asyncio.to_thread(source.next_chunk, chunk_rows, checker))
    try:
        while True:
            chunk = await upcoming
            if not chunk.done:
                upcoming = asyncio.ensure_future(asyncio.to_thread(source.next_chunk, chunk_rows, checker))
            async with transaction(sessions) as session:
                await repository.upsert_subscribers(session, chunk.rows, checker.update_columns)
            report.add(chunk, keep_errors)
            if on_refused is not None and chunk.refused:
                on_refused(chunk.refused)
            if on_chunk is not None:
                await _maybe_await(on_chunk(report))
            if chunk.done:
                break
    finally:
        # The reading thread cannot be interrupted: let it finish before the file is closed.
        await asyncio.gather(upcoming, return_exceptions=True)
    if recompute and report.rows_imported:
        report.models_scored = (await recompute_models(sessions, today=today)).scored
    return report


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None:
        await value

"""SLA clocks: business time on regional holiday calendars, targets per category and priority, pauses.

Pure arithmetic, no database and no clock of its own: every function takes the instants it needs.
All instants in and out are timezone-aware; results are in UTC. See docs/complaints.md, "SLA clocks".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from holidays import HolidayBase, country_holidays

# A calendar with no working day for this long is a configuration error, not a long holiday.
_MAX_CLOSED_DAYS = 366


@dataclass(frozen=True)
class RegionSpec:
    """Where a region's calendar comes from: `holidays` country code, its categories, time zone."""

    country: str
    timezone: str
    categories: tuple[str, ...]


REGIONS: Mapping[str, RegionSpec] = {
    # The `holidays` package files Hong Kong's statutory (labour) holidays as "public" and the
    # general holidays (Cap. 149, when banks and offices close: Good Friday, Easter Monday, ...)
    # as "optional". Offices close on both, so the calendar takes both.
    "HK": RegionSpec("HK", "Asia/Hong_Kong", ("public", "optional")),
    # Mainland China: public holidays, the extra days off of each holiday week, and the weekend
    # make-up working days (调休) the package knows of (see BusinessCalendar.is_working_day).
    "CN": RegionSpec("CN", "Asia/Shanghai", ("public",)),
}


@dataclass(frozen=True)
class BusinessCalendar:
    """Business hours of one region: opening times, working weekdays, public holidays, local zone."""

    region: str
    tz: ZoneInfo
    holidays: HolidayBase = field(compare=False, repr=False)
    opens: time = time(9)
    closes: time = time(18)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday 0 .. Friday 4
    extra_holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    # Answers so far, by date: every filing asks about the same few weeks, and the holidays
    # package's lookup cost more than the rest of a deadline's arithmetic.
    _working: dict[date, bool] = field(default_factory=dict, init=False, compare=False, repr=False)
    # Each working day's opening and closing instants in UTC, and the next working day after a
    # date: the zone arithmetic cost more than the rest of a deadline, and deadlines run over
    # the same few weeks.
    _opening: dict[date, tuple[datetime, datetime]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _following: dict[date, date] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Reject opening hours or weekdays that leave no business time."""
        if not self.opens < self.closes:
            raise ValueError(f"opening time {self.opens} is not before closing time {self.closes}")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"weekdays must be a non-empty subset of 0..6, got {sorted(self.weekdays)}")

    @classmethod
    def create(
        cls,
        region: str,
        *,
        opens: time = time(9),
        closes: time = time(18),
        weekdays: Iterable[int] = range(5),
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> BusinessCalendar:
        """Build a region's calendar, with overrides (settings use this; for_region is the default)."""
        spec = REGIONS.get(region)
        if spec is None:
            raise ValueError(f"unknown region {region!r}; valid regions: {', '.join(sorted(REGIONS))}")
        return cls(
            region=region,
            tz=ZoneInfo(spec.timezone),
            holidays=country_holidays(spec.country, categories=spec.categories),
            opens=opens,
            closes=closes,
            weekdays=frozenset(weekdays),
            extra_holidays=frozenset(extra_holidays),
            extra_working_days=frozenset(extra_working_days),
        )

    @classmethod
    def for_region(cls, region: str) -> BusinessCalendar:
        """Return the default calendar of a region ("HK", "CN"), built once per process."""
        return _default_calendar(region)

    def is_working_day(self, day: date) -> bool:
        """Say whether a local date is a working day: a business weekday or make-up day, not a holiday."""
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = self._decide_working_day(day)
        return known

    def _decide_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        # The package fills a year (its holidays and make-up days) on first lookup, and a make-up
        # day can belong to the next year's holiday (late December for New Year), so load both.
        self._load_years(day)
        if day in self.holidays.weekend_workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """Return the instant when `duration` of business time has passed since `start`."""
        start = _as_utc(start)
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if not duration:
            return start
        remaining = duration
        windows = self._windows_from(start)
        while True:
            opens, closes = next(windows)
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Return the business time from `start` to `end` (zero if `end` is not after `start`)."""
        start, end = _as_utc(start), _as_utc(end)
        total = timedelta(0)
        if end <= start:
            return total
        windows = self._windows_from(start)
        while True:
            opens, closes = next(windows)
            if opens >= end:
                return total
            total += min(closes, end) - opens

    def working_day_after(self, instant: datetime, n: int) -> datetime:
        """Return the opening time of the nth working day after the instant's local day (n >= 1)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        day = _as_utc(instant).astimezone(self.tz).date()
        for _ in range(n):
            day = self._next_working_day(day)
        return self._hours(day)[0]

    def _load_years(self, day: date) -> None:
        """Make the holiday set fill the day's year and the next, if it has not yet."""
        for year in (day.year, day.year + 1):
            _ = date(year, 1, 1) in self.holidays

    def _next_working_day(self, day: date) -> date:
        """Return the first working day after a local date."""
        known = self._following.get(day)
        if known is None:
            known = self._following[day] = self._find_next_working_day(day)
        return known

    def _find_next_working_day(self, day: date) -> date:
        following = day
        for _ in range(_MAX_CLOSED_DAYS):
            following += timedelta(days=1)
            if self.is_working_day(following):
                return following
        raise ValueError(f"calendar {self.region} has no working day within {_MAX_CLOSED_DAYS} days")

    def _hours(self, day: date) -> tuple[datetime, datetime]:
        """Return a local date's opening and closing instants in UTC."""
        known = self._opening.get(day)
        if known is None:
            known = self._opening[day] = (
                datetime.combine(day, self.opens, self.tz).astimezone(UTC),
                datetime.combine(day, self.closes, self.tz).astimezone(UTC),
            )
        return known

    def _windows_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield the business-hour stretches (UTC) from the instant on, the first one clipped to it."""
        day = instant.astimezone(self.tz).date()
        if not self.is_working_day(day):
            day = self._next_working_day(day)
        while True:
            opens, closes = self._hours(day)
            if closes > instant:
                yield max(opens, instant), closes
            day = self._next_working_day(day)


@functools.cache
def _default_calendar(region: str) -> BusinessCalendar:
    """Build a region's default calendar once."""
    return BusinessCalendar.create(region)


def _as_utc(instant: datetime) -> datetime:
    """Return an aware instant in UTC; refuse a naive one (its zone would be a guess)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant {instant.isoformat()} has no time zone")
    return instant.astimezone(UTC)


# --- Targets -----------------------------------------------------------------------------------


class Priority(StrEnum):
    """How fast a complaint must move: high is the green channel (VIP/gold, key accounts)."""

    normal = "normal"
    high = "high"
    urgent = "urgent"


@dataclass(frozen=True)
class SlaTargets:
    """Business time allowed for the first response, between updates, and until resolution."""

    first_response: timedelta
    next_update: timedelta
    resolution: timedelta

    @classmethod
    def hours(cls, first_response: float, next_update: float, resolution: float) -> SlaTargets:
        """Build targets from business hours."""
        return cls(timedelta(hours=first_response), timedelta(hours=next_update), timedelta(hours=resolution))


TargetTable = Mapping[str, Mapping[str, SlaTargets]]

_h = SlaTargets.hours

# Business hours (a business day is 9 hours). Coverage resolution is 72 business hours, the
# turnaround the coverage loop started from; the green channel (high) halves every target;
# urgent answers within the hour and resolves within a business day (two where a site survey or
# a staff inquiry is needed). Settings can replace this table whole.
DEFAULT_TARGETS: TargetTable = {
    "coverage": {"normal": _h(4, 24, 72), "high": _h(2, 12, 36), "urgent": _h(1, 4, 18)},
    "billing": {"normal": _h(4, 24, 54), "high": _h(2, 12, 27), "urgent": _h(1, 4, 9)},
    "service": {"normal": _h(4, 24, 36), "high": _h(2, 12, 18), "urgent": _h(1, 4, 9)},
    "value_added_service": {"normal": _h(4, 24, 36), "high": _h(2, 12, 18), "urgent": _h(1, 4, 9)},
    "staff": {"normal": _h(4, 24, 54), "high": _h(2, 12, 27), "urgent": _h(1, 4, 18)},
    "other": {"normal": _h(4, 24, 54), "high": _h(2, 12, 27), "urgent": _h(1, 4, 9)},
}


def targets_for(category: str, priority: str, table: TargetTable = DEFAULT_TARGETS) -> SlaTargets:
    """Return the targets of a category and priority; unknown ones raise ValueError naming the valid."""
    by_priority = table.get(category)
    if by_priority is None:
        raise ValueError(f"unknown category {category!r}; valid categories: {', '.join(sorted(table))}")
    targets = by_priority.get(priority)
    if targets is None:
        valid = ", ".join(sorted(by_priority))
        raise ValueError(f"unknown priority {priority!r} for {category!r}; valid priorities: {valid}")
    return targets


# --- Clocks ------------------------------------------------------------------------------------

Pause = tuple[datetime, datetime | None]
"""A stretch when the clock stood still (pending on the customer); end None: still paused."""

ClockState = Literal["ok", "warning", "breached"]

DEFAULT_WARN_FRACTION = 0.8


@dataclass(frozen=True)
class ClockStatus:
    """Where a clock stands at an instant; `remaining` is negative by the overdue time once breached."""

    state: ClockState
    elapsed: timedelta
    remaining: timedelta
    paused: bool
    due_at: datetime | None
    warn_at: datetime | None


def due_at(
    calendar: BusinessCalendar, started: datetime, target: timedelta, pauses: Iterable[Pause] = ()
) -> datetime | None:
    """Return when the clock's business time reaches `target`, or None if a pause stops it first."""
    if target < timedelta(0):
        raise ValueError(f"target must not be negative, got {target}")
    if not target:
        return _as_utc(started)
    remaining = target
    for run_start, run_end in _runs(started, pauses):
        if run_end is None:
            return calendar.add_business_time(run_start, remaining)
        available = calendar.business_time_between(run_start, run_end)
        if remaining <= available:
            return calendar.add_business_time(run_start, remaining)
        remaining -= available
    return None


def warn_at(
    calendar: BusinessCalendar,
    started: datetime,
    target: timedelta,
    pauses: Iterable[Pause] = (),
    fraction: float = DEFAULT_WARN_FRACTION,
) -> datetime | None:
    """Return when the clock has used `fraction` of its target, or None if a pause stops it first."""
    return due_at(calendar, started, _warning_target(target, fraction), pauses)


def elapsed(
    calendar: BusinessCalendar, started: datetime, pauses: Iterable[Pause], now: datetime
) -> timedelta:
    """Return the business time the clock has run from `started` to `now`, pauses excluded."""
    now = _as_utc(now)
    total = timedelta(0)
    for run_start, run_end in _runs(started, pauses):
        end = now if run_end is None else min(run_end, now)
        total += calendar.business_time_between(run_start, end)
    return total


def clock_status(
    calendar: BusinessCalendar,
    started: datetime,
    target: timedelta,
    pauses: Iterable[Pause],
    now: datetime,
    warn_fraction: float = DEFAULT_WARN_FRACTION,
) -> ClockStatus:
    """Return the clock's state at `now`: ok, warning (fraction of target used) or breached."""
    pauses = list(pauses)
    now = _as_utc(now)
    spent = elapsed(calendar, started, pauses, now)
    state: ClockState = "ok"
    if spent >= target:
        state = "breached"
    elif spent >= _warning_target(target, warn_fraction):
        state = "warning"
    runs = _runs(started, pauses)
    running = any(start <= now and (end is None or now < end) for start, end in runs)
    return ClockStatus(
        state=state,
        elapsed=spent,
        remaining=target - spent,
        paused=now >= _as_utc(started) and not running,
        due_at=due_at(calendar, started, target, pauses),
        warn_at=warn_at(calendar, started, target, pauses, warn_fraction),
    )


def _warning_target(target: timedelta, fraction: float) -> timedelta:
    """Return the share of a target after which the clock warns."""
    if not 0 < fraction <= 1:
        raise ValueError(f"warning fraction must be in (0, 1], got {fraction}")
    return target * fraction


def _runs(started: datetime, pauses: Iterable[Pause]) -> list[tuple[datetime, datetime | None]]:
    """Return the stretches from `started` on when the clock runs; the last is open unless paused."""
    cursor: datetime | None = _as_utc(started)
    runs: list[tuple[datetime, datetime | None]] = []
    for pause_start, pause_end in sorted(_checked(pauses), key=lambda pause: pause[0]):
        if cursor is None:  # an open pause has stopped the clock for good
            break
        if pause_end is not None and pause_end <= cursor:
            continue
        if pause_start > cursor:
            runs.append((cursor, pause_start))
        cursor = pause_end  # later than cursor: earlier-ending pauses were skipped above
    if cursor is not None:
        runs.append((cursor, None))
    return runs


def _checked(pauses: Iterable[Pause]) -> list[Pause]:
    """Return the pauses in UTC; refuse one that ends before it starts."""
    checked: list[Pause] = []
    for start, end in pauses:
        start_utc = _as_utc(start)
        end_utc = None if end is None else _as_utc(end)
        if end_utc is not None and end_utc < start_utc:
            raise ValueError(f"pause ends ({end_utc.isoformat()}) before it starts ({start_utc.isoformat()})")
        checked.append((start_utc, end_utc))
    return checked

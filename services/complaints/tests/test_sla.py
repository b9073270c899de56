"""SLA clocks: business time on HK and CN calendars, targets, pauses, warning and breach."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.schemas import Category
from complaints.sla import (
    DEFAULT_TARGETS,
    BusinessCalendar,
    Pause,
    Priority,
    SlaTargets,
    clock_status,
    due_at,
    elapsed,
    targets_for,
    warn_at,
)

HK_TZ = ZoneInfo("Asia/Hong_Kong")
CN_TZ = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)


def hk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return a Hong Kong wall-clock time as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=HK_TZ).astimezone(UTC)


def cn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return a mainland China wall-clock time as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=CN_TZ).astimezone(UTC)


@pytest.fixture
def hk_cal() -> BusinessCalendar:
    """Return the default Hong Kong calendar."""
    return BusinessCalendar.for_region("HK")


@pytest.fixture
def cn_cal() -> BusinessCalendar:
    """Return the default mainland China calendar."""
    return BusinessCalendar.for_region("CN")


# --- Calendars ---------------------------------------------------------------------------------


def test_for_region_builds_hong_kong_and_mainland_calendars_once() -> None:
    hong_kong = BusinessCalendar.for_region("HK")
    assert hong_kong is BusinessCalendar.for_region("HK")
    assert hong_kong.tz == HK_TZ
    assert (hong_kong.opens, hong_kong.closes) == (time(9), time(18))
    assert BusinessCalendar.for_region("CN").tz == CN_TZ


def test_unknown_region_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown region 'SG'; valid regions: CN, HK"):
        BusinessCalendar.for_region("SG")


@pytest.mark.parametrize(
    ("region", "day", "working"),
    [
        ("HK", date(2026, 3, 13), True),  # a Friday
        ("HK", date(2026, 3, 14), False),  # Saturday
        ("HK", date(2026, 12, 25), False),  # Christmas Day
        ("HK", date(2026, 4, 3), False),  # Good Friday: a general holiday, not a statutory one
        ("CN", date(2026, 12, 25), True),  # no holiday on the mainland
        ("CN", date(2026, 10, 7), False),  # National Day week, a Wednesday
        ("CN", date(2026, 10, 10), True),  # a Saturday worked to make up for it (调休)
        ("CN", date(2026, 10, 11), False),  # the Sunday after it
    ],
)
def test_working_days(region: str, day: date, working: bool) -> None:
    assert BusinessCalendar.for_region(region).is_working_day(day) is working


def test_make_up_day_is_known_before_its_year_was_looked_up() -> None:
    # A fresh calendar: the holiday package fills a year's make-up days only when asked.
    assert BusinessCalendar.create("CN").is_working_day(date(2026, 9, 20))


def test_settings_can_add_holidays_and_working_days() -> None:
    calendar = BusinessCalendar.create(
        "CN", extra_holidays=[date(2027, 3, 1)], extra_working_days=[date(2027, 3, 6)]
    )
    assert not calendar.is_working_day(date(2027, 3, 1))  # a Monday
    assert calendar.is_working_day(date(2027, 3, 6))  # a Saturday


def test_calendar_rejects_hours_that_never_open() -> None:
    with pytest.raises(ValueError, match="not before closing"):
        BusinessCalendar.create("HK", opens=time(18), closes=time(9))


# --- Business-time arithmetic ------------------------------------------------------------------


def test_adding_within_a_day_stays_in_that_day(hk_cal: BusinessCalendar) -> None:
    result = hk_cal.add_business_time(hk(2026, 3, 16, 9), 4 * HOUR)
    assert result == hk(2026, 3, 16, 13)
    assert result.tzinfo is UTC


def test_a_target_ending_at_closing_time_is_due_at_closing(hk_cal: BusinessCalendar) -> None:
    assert hk_cal.add_business_time(hk(2026, 3, 16, 9), 9 * HOUR) == hk(2026, 3, 16, 18)


def test_adding_across_a_weekend(hk_cal: BusinessCalendar) -> None:
    assert hk_cal.add_business_time(hk(2026, 3, 13, 17), 2 * HOUR) == hk(2026, 3, 16, 10)


def test_coverage_resolution_of_72_business_hours_is_eight_business_days(hk_cal: BusinessCalendar) -> None:
    # Monday 2026-03-16 09:00 plus 8 days of 9 hours: the Wednesday after next, at closing.
    assert hk_cal.add_business_time(hk(2026, 3, 16, 9), 72 * HOUR) == hk(2026, 3, 25, 18)


def test_adding_across_hong_kong_christmas(hk_cal: BusinessCalendar) -> None:
    # Thursday 24th 17:00, then Christmas (Fri) and the weekend: Monday the 28th.
    assert hk_cal.add_business_time(hk(2026, 12, 24, 17), 2 * HOUR) == hk(2026, 12, 28, 10)


def test_adding_across_hong_kong_chinese_new_year_2027(hk_cal: BusinessCalendar) -> None:
    # Friday 5 Feb 17:00; Mon 8 and Tue 9 Feb are the third and fourth days of the new year.
    assert hk_cal.add_business_time(hk(2027, 2, 5, 17), 2 * HOUR) == hk(2027, 2, 10, 10)


def test_adding_across_mainland_national_day_week(cn_cal: BusinessCalendar) -> None:
    # Wednesday 30 Sep 17:00; 1-7 Oct are off (with the weekend); Thursday 8 Oct opens again.
    assert cn_cal.add_business_time(cn(2026, 9, 30, 17), 2 * HOUR) == cn(2026, 10, 8, 10)


def test_adding_runs_on_a_mainland_make_up_saturday(cn_cal: BusinessCalendar) -> None:
    assert cn_cal.add_business_time(cn(2026, 10, 9, 17), 2 * HOUR) == cn(2026, 10, 10, 10)


def test_hong_kong_and_mainland_differ_on_the_same_instant(
    hk_cal: BusinessCalendar, cn_cal: BusinessCalendar
) -> None:
    start = hk(2026, 12, 24, 17)  # the same wall clock in both zones
    assert cn_cal.add_business_time(start, 2 * HOUR) == cn(2026, 12, 25, 10)
    assert hk_cal.add_business_time(start, 2 * HOUR) == hk(2026, 12, 28, 10)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (hk(2026, 3, 16, 7), hk(2026, 3, 16, 10)),  # before opening
        (hk(2026, 3, 16, 20), hk(2026, 3, 17, 10)),  # after closing
        (hk(2026, 3, 14, 11), hk(2026, 3, 16, 10)),  # on a Saturday
        (hk(2026, 12, 25, 11), hk(2026, 12, 28, 10)),  # on a public holiday
        (hk(2026, 3, 15, 23, 30), hk(2026, 3, 16, 10)),  # Monday in UTC is still Sunday night in HK
    ],
)
def test_starting_outside_business_hours_counts_from_the_next_opening(
    hk_cal: BusinessCalendar, start: datetime, expected: datetime
) -> None:
    assert hk_cal.add_business_time(start, HOUR) == expected


def test_business_time_between_skips_nights_weekends_and_holidays(hk_cal: BusinessCalendar) -> None:
    assert hk_cal.business_time_between(hk(2026, 3, 13, 17), hk(2026, 3, 16, 10)) == 2 * HOUR
    assert hk_cal.business_time_between(hk(2026, 12, 24, 12), hk(2026, 12, 29, 12)) == 18 * HOUR
    assert hk_cal.business_time_between(hk(2026, 3, 14, 0), hk(2026, 3, 15, 23)) == timedelta(0)
    assert hk_cal.business_time_between(hk(2026, 3, 16, 12), hk(2026, 3, 16, 10)) == timedelta(0)


def test_naive_instants_and_negative_durations_are_refused(hk_cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        hk_cal.add_business_time(datetime(2026, 3, 16, 9), HOUR)
    with pytest.raises(ValueError, match="must not be negative"):
        hk_cal.add_business_time(hk(2026, 3, 16, 9), -HOUR)


# --- Third working day -------------------------------------------------------------------------


def test_third_working_day_across_a_weekend_and_hong_kong_christmas(hk_cal: BusinessCalendar) -> None:
    # Assessed Thursday 24 Dec; Fri 25 (Christmas), Sat 26, Sun 27 do not count: Mon, Tue, Wed.
    assert hk_cal.working_day_after(hk(2026, 12, 24, 15), 3) == hk(2026, 12, 30, 9)


def test_third_working_day_counts_from_the_local_day(hk_cal: BusinessCalendar) -> None:
    # 23 Dec 17:00 UTC is already 24 Dec 01:00 in Hong Kong: the same answer as the case above.
    assert hk_cal.working_day_after(datetime(2026, 12, 23, 17, tzinfo=UTC), 3) == hk(2026, 12, 30, 9)


def test_third_working_day_across_chinese_new_year_2027(hk_cal: BusinessCalendar) -> None:
    assert hk_cal.working_day_after(hk(2027, 2, 5, 10), 3) == hk(2027, 2, 12, 9)


def test_working_day_after_lands_on_a_mainland_make_up_sunday(cn_cal: BusinessCalendar) -> None:
    # Friday 18 Sep 2026; Saturday 19 is off, Sunday 20 is worked for National Day week.
    assert cn_cal.working_day_after(cn(2026, 9, 18, 10), 1) == cn(2026, 9, 20, 9)


def test_working_day_after_needs_at_least_one_day(hk_cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        hk_cal.working_day_after(hk(2026, 3, 16, 9), 0)


# --- Targets -----------------------------------------------------------------------------------


def test_every_category_and_priority_has_targets_in_order() -> None:
    assert set(DEFAULT_TARGETS) == {c.value for c in Category}
    for category in Category:
        for priority in Priority:
            targets = targets_for(category, priority)
            assert targets.first_response < targets.next_update <= targets.resolution


def test_coverage_normal_targets_match_the_72_hour_turnaround() -> None:
    assert targets_for("coverage", "normal") == SlaTargets(4 * HOUR, 24 * HOUR, 72 * HOUR)


@pytest.mark.parametrize("category", list(Category))
def test_green_channel_is_shorter_than_normal_and_urgent_shortest(category: Category) -> None:
    normal, high, urgent = (targets_for(category, p) for p in ("normal", "high", "urgent"))
    for field in ("first_response", "next_update", "resolution"):
        assert getattr(urgent, field) <= getattr(high, field) < getattr(normal, field), field
    assert high.resolution * 2 == normal.resolution


def test_green_channel_resolution_falls_due_earlier(hk_cal: BusinessCalendar) -> None:
    started = hk(2026, 3, 16, 9)
    normal = due_at(hk_cal, started, targets_for("coverage", "normal").resolution)
    green = due_at(hk_cal, started, targets_for("coverage", "high").resolution)
    assert green == hk(2026, 3, 19, 18)
    assert normal is not None
    assert green < normal


def test_unknown_category_or_priority_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown category 'roaming'; valid categories: billing, coverage"):
        targets_for("roaming", "normal")
    with pytest.raises(ValueError, match=r"valid priorities: high, normal, urgent"):
        targets_for("coverage", "vip")


def test_a_settings_table_replaces_the_defaults() -> None:
    table = {"coverage": {"normal": SlaTargets.hours(1, 2, 3)}}
    assert targets_for("coverage", "normal", table).resolution == 3 * HOUR


# --- Clocks: pauses, warning, breach ---------------------------------------------------------


def test_due_at_without_pauses(hk_cal: BusinessCalendar) -> None:
    assert due_at(hk_cal, hk(2026, 3, 16, 9), 4 * HOUR) == hk(2026, 3, 16, 13)


def test_a_closed_pause_pushes_the_deadline_by_its_business_time(hk_cal: BusinessCalendar) -> None:
    # One hour runs, then pending on the customer from Monday 10:00 to Tuesday 11:00, three to go.
    pauses: list[Pause] = [(hk(2026, 3, 16, 10), hk(2026, 3, 17, 11))]
    assert due_at(hk_cal, hk(2026, 3, 16, 9), 4 * HOUR, pauses) == hk(2026, 3, 17, 14)


def test_overlapping_and_unordered_pauses_count_once(hk_cal: BusinessCalendar) -> None:
    pauses: list[Pause] = [
        (hk(2026, 3, 16, 11), hk(2026, 3, 16, 12)),
        (hk(2026, 3, 16, 10), hk(2026, 3, 16, 11, 30)),
        (hk(2026, 3, 16, 10, 15), hk(2026, 3, 16, 10, 45)),  # inside the one before
        (hk(2026, 3, 13, 10), hk(2026, 3, 16, 9, 30)),  # began before the clock started
    ]
    # Runs 09:30-10:00 and from 12:00: four hours are up at 15:30.
    assert due_at(hk_cal, hk(2026, 3, 16, 9), 4 * HOUR, pauses) == hk(2026, 3, 16, 15, 30)


def test_a_pause_outside_business_hours_changes_nothing(hk_cal: BusinessCalendar) -> None:
    pauses: list[Pause] = [(hk(2026, 3, 16, 19), hk(2026, 3, 17, 8))]
    assert due_at(hk_cal, hk(2026, 3, 16, 9), 12 * HOUR, pauses) == hk(2026, 3, 17, 12)


def test_a_deadline_reached_as_a_pause_begins_stays_put(hk_cal: BusinessCalendar) -> None:
    started = hk(2026, 3, 16, 9)
    assert due_at(hk_cal, started, HOUR, [(hk(2026, 3, 16, 10), hk(2026, 3, 16, 12))]) == hk(2026, 3, 16, 10)
    evening: list[Pause] = [(hk(2026, 3, 16, 20), hk(2026, 3, 17, 10))]
    assert due_at(hk_cal, started, 9 * HOUR, evening) == hk(2026, 3, 16, 18)


def test_a_pause_after_the_deadline_does_not_move_it(hk_cal: BusinessCalendar) -> None:
    pauses: list[Pause] = [(hk(2026, 3, 16, 14), None)]
    assert due_at(hk_cal, hk(2026, 3, 16, 9), 4 * HOUR, pauses) == hk(2026, 3, 16, 13)


def test_a_clock_still_paused_has_no_deadline_and_stops_counting(hk_cal: BusinessCalendar) -> None:
    started, target = hk(2026, 3, 16, 9), 4 * HOUR
    pauses: list[Pause] = [(hk(2026, 3, 16, 10), None)]
    assert due_at(hk_cal, started, target, pauses) is None
    assert warn_at(hk_cal, started, target, pauses) is None
    status = clock_status(hk_cal, started, target, pauses, now=hk(2026, 3, 20, 12))
    assert status.paused
    assert status.elapsed == HOUR
    assert status.remaining == 3 * HOUR
    assert status.state == "ok"


def test_elapsed_excludes_pauses_up_to_now(hk_cal: BusinessCalendar) -> None:
    pauses: list[Pause] = [(hk(2026, 3, 16, 10), hk(2026, 3, 16, 12))]
    assert elapsed(hk_cal, hk(2026, 3, 16, 9), pauses, now=hk(2026, 3, 16, 11)) == HOUR
    assert elapsed(hk_cal, hk(2026, 3, 16, 9), pauses, now=hk(2026, 3, 16, 15)) == 4 * HOUR
    assert elapsed(hk_cal, hk(2026, 3, 16, 9), pauses, now=hk(2026, 3, 16, 8)) == timedelta(0)


def test_a_zero_target_is_due_when_the_clock_starts_even_if_paused_at_once(hk_cal: BusinessCalendar) -> None:
    started = hk(2026, 3, 16, 9)
    pauses: list[Pause] = [(started, hk(2026, 3, 16, 11))]
    assert due_at(hk_cal, started, timedelta(0), pauses) == started
    assert clock_status(hk_cal, started, timedelta(0), pauses, started).state == "breached"


def test_a_pause_ending_before_it_starts_is_refused(hk_cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="before it starts"):
        due_at(hk_cal, hk(2026, 3, 16, 9), HOUR, [(hk(2026, 3, 16, 12), hk(2026, 3, 16, 11))])


@pytest.mark.parametrize(
    ("now", "state", "remaining"),
    [
        (hk(2026, 3, 16, 12), "ok", timedelta(hours=1)),
        (hk(2026, 3, 16, 12, 12), "warning", timedelta(minutes=48)),  # 80 % of 4 hours used
        (hk(2026, 3, 16, 12, 59), "warning", timedelta(minutes=1)),
        (hk(2026, 3, 16, 13), "breached", timedelta(0)),  # breach (and escalation) at the deadline
        (hk(2026, 3, 16, 20), "breached", -5 * HOUR),  # overdue by the rest of the business day
        (hk(2026, 3, 17, 11), "breached", -7 * HOUR),
    ],
)
def test_clock_warns_then_breaches(
    hk_cal: BusinessCalendar, now: datetime, state: str, remaining: timedelta
) -> None:
    status = clock_status(hk_cal, hk(2026, 3, 16, 9), 4 * HOUR, [], now)
    assert (status.state, status.remaining) == (state, remaining)
    assert status.due_at == hk(2026, 3, 16, 13)
    assert status.warn_at == hk(2026, 3, 16, 12, 12)
    assert not status.paused


def test_a_clock_not_yet_started_is_ok_and_not_paused(hk_cal: BusinessCalendar) -> None:
    pauses: list[Pause] = [(hk(2026, 3, 16, 9), None)]
    status = clock_status(hk_cal, hk(2026, 3, 16, 9), 4 * HOUR, pauses, now=hk(2026, 3, 16, 8))
    assert (status.state, status.elapsed, status.paused) == ("ok", timedelta(0), False)


def test_warning_fraction_is_configurable(hk_cal: BusinessCalendar) -> None:
    started, target = hk(2026, 3, 16, 9), 4 * HOUR
    assert warn_at(hk_cal, started, target, fraction=0.5) == hk(2026, 3, 16, 11)
    status = clock_status(hk_cal, started, target, [], hk(2026, 3, 16, 11), warn_fraction=0.5)
    assert status.state == "warning"
    with pytest.raises(ValueError, match="warning fraction"):
        warn_at(hk_cal, started, target, fraction=1.5)


def test_a_breached_clock_stays_breached_while_paused(hk_cal: BusinessCalendar) -> None:
    pauses: list[Pause] = [(hk(2026, 3, 16, 14), None)]
    status = clock_status(hk_cal, hk(2026, 3, 16, 9), 4 * HOUR, pauses, hk(2026, 3, 16, 15))
    assert (status.state, status.paused, status.remaining) == ("breached", True, -HOUR)


# --- Properties --------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=120))
regions = st.sampled_from(["HK", "CN"])


@settings(deadline=None)
@given(region=regions, start=instants, duration=durations)
def test_business_time_between_undoes_add_business_time(
    region: str, start: datetime, duration: timedelta
) -> None:
    calendar = BusinessCalendar.for_region(region)
    end = calendar.add_business_time(start, duration)
    assert end >= start
    assert calendar.business_time_between(start, end) == duration


@settings(deadline=None)
@given(region=regions, start=instants, first=durations, second=durations)
def test_adding_in_two_steps_equals_adding_once(
    region: str, start: datetime, first: timedelta, second: timedelta
) -> None:
    calendar = BusinessCalendar.for_region(region)
    once = calendar.add_business_time(start, first + second)
    assert calendar.add_business_time(calendar.add_business_time(start, first), second) == once


@settings(deadline=None)
@given(
    region=regions,
    started=instants,
    target=durations,
    pause_offsets=st.lists(st.tuples(durations, durations), max_size=3),
    now_offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
)
def test_breached_exactly_from_the_deadline_on(
    region: str,
    started: datetime,
    target: timedelta,
    pause_offsets: list[tuple[timedelta, timedelta]],
    now_offset: timedelta,
) -> None:
    calendar = BusinessCalendar.for_region(region)
    pauses: list[Pause] = [(started + a, started + a + b) for a, b in pause_offsets]
    now = started + now_offset
    deadline = due_at(calendar, started, target, pauses)
    assert deadline is not None
    assert (clock_status(calendar, started, target, pauses, now).state == "breached") == (now >= deadline)

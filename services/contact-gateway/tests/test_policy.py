# ruff: noqa: RUF001 - Chinese text and full-width letters on purpose
"""The contact policy's pure rules: quiet hours across midnight and time zones, caps, keywords."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from contact_gateway import policy

NEW_YORK = policy.zone("America/New_York")
HONG_KONG = policy.zone("Asia/Hong_Kong")
EVENING = policy.QuietHours(time(21, 0), time(9, 0))


def test_quiet_hours_cross_midnight_in_the_customers_zone() -> None:
    # 03:30 UTC is 22:30 the evening before in New York (EST, UTC-5): quiet until 09:00 local.
    moment = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    allowed = EVENING.next_allowed(moment, NEW_YORK)
    assert allowed == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert allowed.astimezone(NEW_YORK).hour == 9


def test_early_morning_waits_until_the_end_of_the_same_night() -> None:
    # 20:00 UTC is 04:00 next day in Hong Kong: quiet, allowed at 09:00 that day (01:00 UTC).
    allowed = EVENING.next_allowed(datetime(2026, 11, 23, 20, 0, tzinfo=UTC), HONG_KONG)
    assert allowed == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def test_daytime_goes_at_once() -> None:
    moment = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Hong Kong
    assert EVENING.next_allowed(moment, HONG_KONG) == moment


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another() -> None:
    moment = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 Hong Kong, 09:00 New York
    assert EVENING.next_allowed(moment, HONG_KONG) > moment
    assert EVENING.next_allowed(moment, NEW_YORK) == moment


def test_quiet_hours_within_one_day() -> None:
    lunch = policy.QuietHours.parse("12:00-14:00")
    assert lunch is not None
    assert lunch.covers(time(13, 0))
    assert not lunch.covers(time(14, 0))
    assert not lunch.covers(time(11, 59))
    assert policy.QuietHours.parse("") is None
    with pytest.raises(ValueError, match="HH:MM"):
        policy.QuietHours.parse("9-5pm")


def test_time_zone_comes_from_the_number_unless_given() -> None:
    assert policy.time_zone_for("+8613800138000", None, "UTC") == "Asia/Shanghai"
    assert policy.time_zone_for("+85291234567", None, "UTC") == "Asia/Hong_Kong"
    assert policy.time_zone_for("+85291234567", "Europe/London", "UTC") == "Europe/London"
    with pytest.raises(ValueError, match="unknown time zone"):
        policy.zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "STOP"),
        (" stop. ", "STOP"),
        ("退訂", "STOP"),
        ("退订", "STOP"),
        ("TD", "STOP"),
        ("ＳＴＯＰ", "STOP"),
        ("start", "START"),
        ("Stop sending me offers", None),
        ("5", None),
    ],
)
def test_reply_keywords(text: str, expected: str | None) -> None:
    assert policy.keyword(text) == expected


def test_caps_name_the_first_window_reached() -> None:
    caps = {"day": 2, "week": 4, "month": 8}
    assert policy.exceeded_cap({"day": 1, "week": 1, "month": 1}, caps) is None
    assert policy.exceeded_cap({"day": 2, "week": 2, "month": 2}, caps) == "day"
    assert policy.exceeded_cap({"day": 0, "week": 4, "month": 4}, caps) == "week"
    assert policy.exceeded_cap({"day": 0, "week": 0, "month": 8}, caps) == "month"


def test_service_goes_before_care_whatever_the_priority() -> None:
    assert policy.rank("service", 9) < policy.rank("care", 1)
    assert policy.rank("care", 1) < policy.rank("care", 2)

# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""The contact policy's pure rules: quiet hours, frequency-cap windows, time zones, reply keywords.

What the rules need from the database (opt-outs, recent contacts) is read by ``service``; here is
only arithmetic, so each rule is tested on its own.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_time_zones

PURPOSE_RANK = {"service": 0, "care": 1}
# How far back each frequency cap looks, and its name in a suppression reason.
CAP_WINDOWS = (("day", timedelta(days=1)), ("week", timedelta(days=7)), ("month", timedelta(days=30)))

# Replies that opt out (STOP family, English and Chinese, as operators publish them) and back in.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "TD", "退訂", "退订", "取消"}
)
START_WORDS = frozenset({"START", "UNSTOP", "SUBSCRIBE", "訂閱", "订阅"})


def rank(purpose: str, priority: int) -> int:
    """Return the dispatch order of a request: service before care, then by priority (1 first)."""
    return PURPOSE_RANK[purpose] * 10 + priority


@dataclass(frozen=True)
class QuietHours:
    """A daily local period when nothing is sent, e.g. 21:00-09:00 (it may cross midnight)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """Read ``HH:MM-HH:MM``; an empty text means no quiet hours."""
        text = text.strip()
        if not text:
            return None
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
        except ValueError as exc:
            raise ValueError(f"quiet hours {text!r} are not HH:MM-HH:MM") from exc
        if start == end:
            raise ValueError(f"quiet hours {text!r} are empty or the whole day")
        return cls(start, end)

    def covers(self, local: time) -> bool:
        """Say whether a local time of day falls in the quiet period."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # crosses midnight

    def next_allowed(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """Return the first instant at or after ``moment`` outside the quiet period (aware UTC)."""
        local = moment.astimezone(zone)
        if not self.covers(local.time().replace(tzinfo=None)):
            return moment
        end_day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            end_day += timedelta(days=1)  # in the evening part: quiet ends tomorrow morning
        # Wall-clock end in the customer's zone; fold=0 takes the first of an ambiguous hour.
        end = datetime.combine(end_day, self.end, tzinfo=zone)
        return end.astimezone(moment.tzinfo)


def time_zone_for(msisdn: str, given: str | None, default: str) -> str:
    """Return the customer's IANA time zone: the one given, else the number's, else the default."""
    if given:
        return given
    try:
        zones = number_time_zones.time_zones_for_number(phonenumbers.parse(msisdn, None))
    except phonenumbers.NumberParseException:
        return default
    known = [zone for zone in zones if zone != number_time_zones.UNKNOWN_TIMEZONE]
    # A country spanning several zones names them all; without a region we cannot choose.
    return known[0] if len(known) == 1 else default


def zone(name: str) -> ZoneInfo:
    """Return a ZoneInfo, or raise ValueError for a name no time-zone database knows."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def keyword(text: str) -> str | None:
    """Return STOP or START when a reply is an opt-out or opt-in keyword, else None."""
    word = unicodedata.normalize("NFKC", text).strip().upper().rstrip(".!。！")
    if word in STOP_WORDS:
        return "STOP"
    if word in START_WORDS:
        return "START"
    return None


def exceeded_cap(recent: dict[str, int], caps: dict[str, int]) -> str | None:
    """Return the first cap (day, week, month) a new contact would exceed, or None."""
    for name, _ in CAP_WINDOWS:
        if recent.get(name, 0) >= caps[name]:
            return name
    return None

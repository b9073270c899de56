"""Operator feeds (stream FEEDS): what the CRM, the billing system (BSS) and the network report.

Operator systems publish these on ``feeds.<system>.<event>``, directly or through the gateway's
``POST /feeds/v1/events``. Every number is checked and answered in E.164 and every amount, count
and duration is bounded, so a consumer gets data it can store; an event that does not fit is
dead-lettered with the reason. Each fact carries when it happened (``at``, ``day`` or ``period``)
so consumers can tell a late event from a newer one; instants must name their offset.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import h3
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, model_validator

from careloop_common.events.envelope import EventContract, contract
from careloop_common.inputs import MSISDN

# Bounds that hold any real subscriber and keep every value storable (32-bit counts, finite money).
MAX_MONEY = 1_000_000.0
MAX_COUNT = 2**31 - 1
MAX_MINUTES = 44_640.0  # a 31-day month of non-stop calling
MAX_DATA_MB = 100_000_000.0
MAX_CALL_S = 86_400

Money = Annotated[float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False)]
Balance = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Minutes = Annotated[float, Field(ge=0, le=MAX_MINUTES, allow_inf_nan=False)]
PlanCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
# A billing month, YYYY-MM (months 01 to 12).
Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# Digits as dialled, with an optional leading plus (national forms and short codes are dialled too).
Dialled = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{2,20}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", max_length=8)]
CustomerClass = Literal["vip", "gold", "normal", "key_account"]


def _h3_cell(value: str) -> str:
    """Accept an H3 cell index as hex text."""
    if not h3.is_valid_cell(value):
        raise ValueError("not an H3 cell index")
    return value


H3Cell = Annotated[str, StringConstraints(max_length=16), AfterValidator(_h3_cell)]

# A network cell id as the operator's network writes it: MCC-MNC, then the cell's global identity
# in one or two digit groups: an ECGI (460-00-1234567-12: eNB id, cell), a CGI (454-06-1234-5678:
# LAC, CI) or an NR CGI (460-00-123456789012: NCI). 31 characters at most.
NETWORK_CELL_ID = r"^[0-9]{3}-[0-9]{2,3}-[0-9]{1,11}(-[0-9]{1,11})?$"
NetworkCellId = Annotated[str, StringConstraints(pattern=NETWORK_CELL_ID, max_length=31)]


def _time_zone(value: str) -> str:
    """Accept an IANA time-zone name the platform can load."""
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", value) or len(value) > 64:
        raise ValueError("not an IANA time-zone name, e.g. Asia/Hong_Kong")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


TimeZone = Annotated[str, AfterValidator(_time_zone)]


def period_index(period: str) -> int:
    """Return a YYYY-MM billing month as a count of months, so two periods subtract."""
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


# --- the CRM ----------------------------------------------------------------------------------


@contract
class SubscriberUpsertedV1(EventContract):
    """The CRM created or changed a subscriber's profile (the whole profile, as it is now)."""

    subject = "feeds.crm.subscriber_upserted"
    version = 1

    msisdn: MSISDN
    brand: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[^\x00]*$")]
    plan_id: PlanCode
    region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
    time_zone: TimeZone
    language: Language = "zh-Hant"
    join_date: date
    birthday: date | None = None
    customer_class: CustomerClass = "normal"
    contact_sms: bool = True
    contact_call: bool = True
    at: AwareDatetime


@contract
class SubscriberLeftV1(EventContract):
    """The subscriber left the operator: the number was ported out or the contract cancelled."""

    subject = "feeds.crm.subscriber_left"
    version = 1

    msisdn: MSISDN
    reason: Literal["ported_out", "cancelled", "other"] = "other"
    at: AwareDatetime


# --- billing (BSS) ----------------------------------------------------------------------------


@contract
class BalanceChangedV1(EventContract):
    """A prepaid or credit balance changed; ``at`` is when the BSS saw it."""

    subject = "feeds.bss.balance_changed"
    version = 1

    msisdn: MSISDN
    balance: Balance
    at: AwareDatetime


@contract
class BillIssuedV1(EventContract):
    """A monthly bill was issued: the month's charge and the usage it counted."""

    subject = "feeds.bss.bill_issued"
    version = 1

    msisdn: MSISDN
    period: Period
    amount: Money
    minutes: Minutes = 0.0
    sms: Count = 0
    data_mb: Annotated[float, Field(ge=0, le=MAX_DATA_MB, allow_inf_nan=False)] = 0.0
    long_distance_minutes: Minutes = 0.0
    roaming_minutes: Minutes = 0.0
    long_distance_calls: Count = 0
    prefix_calls: Count = 0
    fee_queries: Count = 0
    top_ups: Count = 0

    @model_validator(mode="after")
    def _parts_within_whole(self) -> Self:
        """Refuse a bill whose long-distance or roaming minutes exceed its minutes."""
        if self.long_distance_minutes > self.minutes or self.roaming_minutes > self.minutes:
            raise ValueError("long_distance_minutes and roaming_minutes are part of minutes")
        if self.prefix_calls > self.long_distance_calls:
            raise ValueError("prefix_calls are long-distance calls: at most long_distance_calls")
        return self


@contract
class PaymentReceivedV1(EventContract):
    """A payment or top-up was received."""

    subject = "feeds.bss.payment_received"
    version = 1

    msisdn: MSISDN
    amount: Annotated[float, Field(gt=0, le=MAX_MONEY, allow_inf_nan=False)]
    at: AwareDatetime


@contract
class PlanChangedV1(EventContract):
    """A subscriber moved from one tariff plan to another."""

    subject = "feeds.bss.plan_changed"
    version = 1

    msisdn: MSISDN
    from_plan: PlanCode
    to_plan: PlanCode
    at: AwareDatetime


@contract
class DailySpendClosedV1(EventContract):
    """The BSS closed a day's rating: what the subscriber spent that day (a resend corrects it)."""

    subject = "feeds.bss.daily_spend_closed"
    version = 1

    msisdn: MSISDN
    day: date
    spend: Money


# --- the network ------------------------------------------------------------------------------


@contract
class LocationUpdatedV1(EventContract):
    """The network saw a subscriber in a new place: an H3 cell, a position, or the network's cell id
    (which the campaigns' cell-site registry places)."""

    subject = "feeds.network.location_updated"
    version = 1

    msisdn: MSISDN
    cell: H3Cell | None = None
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    cell_id: NetworkCellId | None = None
    roaming: bool = False
    country: Country | None = None  # ISO 3166-1 alpha-2 of the visited network
    at: AwareDatetime

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        """Require one of a cell, a position (lat and lng) or a cell id; a country whenever roaming."""
        position = self.lat is not None or self.lng is not None
        if position and (self.lat is None or self.lng is None):
            raise ValueError("a position needs both lat and lng")
        given = [
            name
            for name, there in (("cell", self.cell), ("lat/lng", position), ("cell_id", self.cell_id))
            if there
        ]
        if len(given) != 1:
            raise ValueError(f"give one of cell, lat/lng or cell_id (given: {', '.join(given) or 'none'})")
        if self.roaming and self.country is None:
            raise ValueError("a roaming update names the visited country")
        return self


@contract
class CallDetailV1(EventContract):
    """A call detail record from signalling: who was called, when, how long, and how it was routed."""

    subject = "feeds.network.call_detail"
    version = 1

    msisdn: MSISDN
    called: Dialled
    started_at: AwareDatetime
    duration_s: Annotated[int, Field(ge=0, le=MAX_CALL_S)]
    long_distance: bool = False
    roaming: bool = False
    prefix: Annotated[str, StringConstraints(pattern=r"^[0-9]{3,8}$")] | None = None  # e.g. 12593


FEED_CONTRACTS: tuple[type[EventContract], ...] = (
    SubscriberUpsertedV1,
    SubscriberLeftV1,
    BalanceChangedV1,
    BillIssuedV1,
    PaymentReceivedV1,
    PlanChangedV1,
    DailySpendClosedV1,
    LocationUpdatedV1,
    CallDetailV1,
)

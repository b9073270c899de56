"""Simulated feed streams and complaint traffic, drawn from a simulated population.

``FeedStream`` yields operator feed events (the contracts in ``careloop_common.events.feeds``)
as CloudEvents: balance changes, bills, payments, daily spend, plan changes, location updates
(some of them roaming across the border or into another province) and call detail records (some
long-distance, some dialled with the cheap 12593 prefix). ``ComplaintStream`` yields complaint
forms (``POST /complaints/v1/complaints`` bodies), coverage complaints concentrated around a few
weak-coverage spots. Both are deterministic: event ids, times and values all come from the seed,
and event *i* happens at ``start + i / rate`` on the stream's own clock, so a file written twice
is the same bytes and a live run replays exactly.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import h3

from careloop_common.events.envelope import CloudEvent, EventContract, new_event
from careloop_common.events.feeds import (
    MAX_CALL_S,
    BalanceChangedV1,
    BillIssuedV1,
    CallDetailV1,
    DailySpendClosedV1,
    LocationUpdatedV1,
    PaymentReceivedV1,
    PlanChangedV1,
)
from careloop_common.simulate.population import (
    HK_PLACES,
    MAINLAND_PLACES,
    PLANS,
    Place,
    Subscriber,
    contact_graph,
    near,
)

SOURCE = "careloop-simulate"
HONG_KONG_TIME = timezone(timedelta(hours=8), "HKT")
# The streams' clock starts here unless told otherwise: fixed, so output never depends on today.
DEFAULT_START = datetime(2026, 12, 1, 9, 0, tzinfo=HONG_KONG_TIME)

# How often each kind of event happens, relative to the others.
FEED_MIX: tuple[tuple[str, float], ...] = (
    ("call_detail", 0.30),
    ("location_updated", 0.25),
    ("balance_changed", 0.22),
    ("payment_received", 0.08),
    ("daily_spend_closed", 0.08),
    ("bill_issued", 0.05),
    ("plan_changed", 0.02),
)
ROAMING_SHARE = 0.12  # of location updates: a trip across the border or into another province
CONTACT_CALL_SHARE = 0.75  # of calls: to someone in the contact graph (else a number not ours)
PREFIX = "12593"  # the cheap long-distance prefix of the campaign cases
TOP_UPS = (50.0, 100.0, 100.0, 200.0, 300.0)


def event_id(rng: random.Random) -> str:
    """Return a UUID4-shaped id drawn from ``rng`` (random, but the same for the same seed)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _side(region: str) -> str:
    return "HK" if region == "HK" else region


def _country(region: str) -> str:
    return "HK" if region == "HK" else "CN"


def _national_digits(msisdn: str) -> str:
    """Return a number as dialled within mainland China: the digits after +86 (or the whole +852 one)."""
    return msisdn[3:] if msisdn.startswith("+86") else msisdn.lstrip("+")


@dataclass
class _State:
    """What changes as the stream runs: balances, plans and who is roaming where."""

    balance: list[float]
    plan: list[str]
    away: dict[int, Place]


class FeedStream:
    """An endless, deterministic stream of feed events over a population, ``rate`` a second."""

    def __init__(
        self,
        people: Sequence[Subscriber],
        *,
        seed: int,
        rate: float,
        start: datetime = DEFAULT_START,
        mix: Sequence[tuple[str, float]] = FEED_MIX,
    ) -> None:
        if not people:
            raise ValueError("a feed stream needs at least one subscriber")
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.people = people
        self.graph = contact_graph(people, seed)
        self.rng = random.Random(f"feeds:{seed}")  # noqa: S311 - reproducible on purpose
        self.rate = rate
        self.start = start
        self.kinds = [kind for kind, _ in mix]
        self.weights = [weight for _, weight in mix]
        self.state = _State([p.balance for p in people], [p.plan_id for p in people], {})
        self.made = 0
        self._builders: dict[str, Callable[[int, datetime], EventContract]] = {
            "call_detail": self._call,
            "location_updated": self._location,
            "balance_changed": self._balance,
            "payment_received": self._payment,
            "daily_spend_closed": self._daily_spend,
            "bill_issued": self._bill,
            "plan_changed": self._plan_change,
        }

    def __iter__(self) -> Iterator[CloudEvent]:
        """Yield events for ever (callers bound it)."""
        while True:
            yield self.next_event()

    def next_event(self) -> CloudEvent:
        """Return the next event: its kind, subscriber and values drawn from the seed."""
        at = self.start + timedelta(seconds=self.made / self.rate)
        self.made += 1
        kind = self.rng.choices(self.kinds, self.weights)[0]
        who = self.rng.randrange(len(self.people))
        payload = self._builders[kind](who, at)
        return new_event(payload, source=SOURCE, event_id=event_id(self.rng), time=at.astimezone(UTC))

    # --- the BSS ---------------------------------------------------------------------------

    def _balance(self, who: int, at: datetime) -> EventContract:
        person = self.people[who]
        spent = self.rng.uniform(0.2, max(0.5, person.monthly_bill / 10))
        self.state.balance[who] = round(self.state.balance[who] - spent, 2)
        return BalanceChangedV1(msisdn=person.msisdn, balance=self.state.balance[who], at=at)

    def _payment(self, who: int, at: datetime) -> EventContract:
        person = self.people[who]
        amount = self.rng.choice(TOP_UPS) if person.prepaid else max(1.0, round(person.monthly_bill, 2))
        self.state.balance[who] = round(self.state.balance[who] + amount, 2)
        return PaymentReceivedV1(msisdn=person.msisdn, amount=amount, at=at)

    def _daily_spend(self, who: int, at: datetime) -> EventContract:
        person = self.people[who]
        spend = round(max(0.0, person.monthly_bill / 30 * self.rng.uniform(0.2, 2.0)), 2)
        return DailySpendClosedV1(msisdn=person.msisdn, day=(at - timedelta(days=1)).date(), spend=spend)

    def _bill(self, who: int, at: datetime) -> EventContract:
        person = self.people[who]
        rng = self.rng
        minutes = round(min(40_000.0, rng.lognormvariate(math.log(350), 0.8)), 1)
        long_distance_calls = int(rng.expovariate(1 / (12 if person.region != "HK" else 3)))
        prefix_calls = rng.randint(0, long_distance_calls) if person.uses_prefix else 0
        long_distance_minutes = round(min(minutes, long_distance_calls * rng.uniform(2, 9)), 1)
        roaming_minutes = round(min(minutes - long_distance_minutes, rng.expovariate(1 / 15)), 1)
        month = at.year * 12 + at.month - 2  # last month, counted in months
        return BillIssuedV1(
            msisdn=person.msisdn,
            period=f"{month // 12:04d}-{month % 12 + 1:02d}",
            amount=round(person.monthly_bill * rng.uniform(0.85, 1.15), 2),
            minutes=minutes,
            sms=int(rng.expovariate(1 / 40)),
            data_mb=round(min(900_000.0, rng.lognormvariate(math.log(9_000), 1.0)), 1),
            long_distance_minutes=long_distance_minutes,
            roaming_minutes=roaming_minutes,
            long_distance_calls=long_distance_calls,
            prefix_calls=prefix_calls,
            fee_queries=int(rng.expovariate(1 / 1.2)),
            top_ups=rng.randint(1, 6) if person.prepaid else 0,
        )

    def _plan_change(self, who: int, at: datetime) -> EventContract:
        person = self.people[who]
        current = self.state.plan[who]
        offered = [plan for plan, terms in PLANS.items() if terms["active"] and plan != current]
        self.state.plan[who] = self.rng.choice(offered)
        return PlanChangedV1(msisdn=person.msisdn, from_plan=current, to_plan=self.state.plan[who], at=at)

    # --- the network -----------------------------------------------------------------------

    def _location(self, who: int, at: datetime) -> EventContract:
        person = self.people[who]
        rng = self.rng
        if rng.random() < ROAMING_SHARE:
            self.state.away[who] = self._trip(person)
        elif who in self.state.away and rng.random() < 0.5:
            del self.state.away[who]  # back home
        place = self.state.away.get(who)
        roaming = place is not None
        lat, lng = near(rng, place) if place is not None else near(rng, person.home, 1.0)
        country = _country(place.region) if place is not None else None
        if rng.random() < 0.3:  # some network elements report the cell, not a position
            cell = h3.latlng_to_cell(lat, lng, 9)
            return LocationUpdatedV1(msisdn=person.msisdn, cell=cell, roaming=roaming, country=country, at=at)
        return LocationUpdatedV1(
            msisdn=person.msisdn, lat=lat, lng=lng, roaming=roaming, country=country, at=at
        )

    def _trip(self, person: Subscriber) -> Place:
        """Return where a trip goes: Hong Kong people to the mainland, mainland people elsewhere."""
        if person.region == "HK":
            region = self.rng.choices(["CN-GD", "CN-FJ", "CN-SH"], [0.6, 0.3, 0.1])[0]
        else:
            others = [r for r in ("HK", *MAINLAND_PLACES) if r != person.region]
            region = self.rng.choice(others)
        places = HK_PLACES if region == "HK" else MAINLAND_PLACES[region]
        return self.rng.choices(places, [p.weight for p in places])[0]

    def _call(self, who: int, at: datetime) -> EventContract:
        person = self.people[who]
        rng = self.rng
        contacts = self.graph[who]
        if contacts and rng.random() < CONTACT_CALL_SHARE:
            other = self.people[rng.choices([c for c, _ in contacts], [n for _, n in contacts])[0]]
            called, called_side = other.msisdn, _side(other.region)
        else:
            called, called_side = f"+852{rng.choice('569')}{rng.randrange(10**7):07d}", "HK"
        here = self.state.away.get(who)
        roaming = here is not None
        calling_from = _side(here.region) if here is not None else _side(person.region)
        long_distance = called_side != calling_from
        prefix = PREFIX if long_distance and person.uses_prefix and rng.random() < 0.6 else None
        dialled = prefix + _national_digits(called) if prefix else called
        return CallDetailV1(
            msisdn=person.msisdn,
            called=dialled,
            started_at=at,
            duration_s=min(MAX_CALL_S, int(rng.lognormvariate(math.log(90), 1.0))),
            long_distance=long_distance,
            roaming=roaming,
            prefix=prefix,
        )


# --- complaints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeakSpot:
    """A place where coverage is weak: most coverage complaints come from around such spots."""

    name: str
    side: str  # HK or a mainland region
    lat: float
    lng: float
    radius_km: float
    weight: float
    network: str


WEAK_SPOTS: tuple[WeakSpot, ...] = (
    WeakSpot("Central office towers", "HK", 22.2819, 114.1582, 0.3, 0.25, "4G"),
    WeakSpot("Mong Kok car parks", "HK", 22.3193, 114.1694, 0.3, 0.20, "4G"),
    WeakSpot("Tsing Yi container port", "HK", 22.3583, 114.1076, 0.4, 0.15, "5G"),
    WeakSpot("South Lantau", "HK", 22.2400, 113.9400, 0.6, 0.10, "4G"),
    WeakSpot("Fuzhou Cangshan", "CN-FJ", 26.0390, 119.2730, 0.5, 0.12, "4G"),
    WeakSpot("Gulangyu, Xiamen", "CN-FJ", 24.4470, 118.0670, 0.4, 0.10, "5G"),
    WeakSpot("Wuyishan valleys", "CN-FJ", 27.7560, 118.0350, 1.0, 0.08, "3G"),
)
WEAK_SPOT_SHARE = 0.8  # of coverage complaints: from around a weak spot (else near home)
CATEGORY_MIX = (("coverage", 0.75), ("billing", 0.15), ("service", 0.07), ("other", 0.03))
CHANNEL_MIX = (("call_centre", 0.45), ("web", 0.30), ("shop", 0.15), ("email", 0.05), ("partner_api", 0.05))
SYMPTOMS = ("no_signal", "weak_signal", "call_drop", "cannot_call", "poor_voice", "slow_data", "no_data")


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([name for name, _ in weighted], [weight for _, weight in weighted])[0]


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance between two points, in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


class ComplaintStream:
    """An endless, deterministic stream of complaint forms over a population."""

    def __init__(self, people: Sequence[Subscriber], *, seed: int) -> None:
        if not people:
            raise ValueError("a complaint stream needs at least one subscriber")
        self.people = people
        self.rng = random.Random(f"complaints:{seed}")  # noqa: S311 - reproducible on purpose
        self.by_side: dict[str, list[int]] = {}
        for index, person in enumerate(people):
            self.by_side.setdefault(_side(person.region), []).append(index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Yield complaint bodies for ever (callers bound it)."""
        while True:
            yield self.next_complaint()

    def next_complaint(self) -> dict[str, Any]:
        """Return the next complaint form, as ``POST /complaints/v1/complaints`` takes it."""
        rng = self.rng
        category = _pick(rng, CATEGORY_MIX)
        channel = _pick(rng, CHANNEL_MIX)
        if category != "coverage":
            person = self.people[rng.randrange(len(self.people))]
            return {"category": category, "channel": channel, "msisdn": person.msisdn}
        spot = rng.choices(WEAK_SPOTS, [s.weight for s in WEAK_SPOTS])[0]
        at_spot = rng.random() < WEAK_SPOT_SHARE and spot.side in self.by_side
        if at_spot:
            person = self.people[rng.choice(self.by_side[spot.side])]
            place = Place(spot.name, spot.side, spot.lat, spot.lng, spot.radius_km / 2, 1.0)
            lat, lng = near(rng, place)
            network = spot.network
        else:
            person = self.people[rng.randrange(len(self.people))]
            lat, lng = near(rng, person.home, 1.0)
            network = rng.choice(("4G", "4G", "5G", "3G"))
        return {
            "category": "coverage",
            "channel": channel,
            "msisdn": person.msisdn,
            "lat": lat,
            "lng": lng,
            "network": network,
            "symptoms": sorted(rng.sample(SYMPTOMS, rng.randint(1, 2))),
            "follow_up": rng.random() < 0.7,
            "language": "zh-Hant" if person.region == "HK" else "zh-Hans",
        }

"""Major-event care: declare an incident (an area and a time window), find the people it concerns,
keep them connected, call them until they are reached, and report by day.

The seed's case (the 2008 earthquake): subscribers seen in the disaster area, or roaming into it,
were found from the network side; billing raised their credit limit so no one was cut off; they
and their five closest contacts got care calls, the unreachable up to three rounds; outcomes went
into a daily report.

- **Where people were**: every ``feeds.network.location_updated`` adds a ``place_seen`` row (the
  subscriber row keeps only the newest place). Someone is *in the area during the window* when a
  place seen within the window lies in the area, or when the last place seen before the window
  began does (they were there when it started and have not been seen elsewhere since).
- **Closest contacts**: every ``feeds.network.call_detail`` (local calls too) counts a call in
  ``call_contact``. A person's contacts are the numbers they called and the subscribers who called
  them, ranked by calls, then seconds, then the latest call.
- **The area** is kept as compacted H3 cells at the finest resolution (8 at most, the resolution
  places are kept at) that keeps the area under ``MAX_AREA_CELLS`` cells, plus a bounding box of
  those cells so the history is read by an index-friendly range before the exact test.
- **Rounds** are driven here, one single-round call command per round (``contact.cmd.send``,
  purpose ``service``: a safety call in a declared emergency is not held back by care caps or care
  quiet hours), because the incident must know each round's result, stop calling the moment
  someone is known safe by any means, and space rounds by the incident's own gap. A round not
  answered schedules the next after ``round_gap_s``; after the last the person is ``unreachable``.
- **Credit protection**: one ``campaigns.cmd.protect_credit`` command per affected subscriber
  through the outbox, in the transaction that adds them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import repository
from campaigns.models import Incident, IncidentCall, IncidentPerson, Subscriber
from careloop_common.db import SessionFactory, transaction, utcnow, write_staged
from careloop_common.errors import NotFound, ProblemError
from careloop_common.events import EventContract
from careloop_common.events.campaigns import CreditProtectionRequestedV1
from careloop_common.events.contact import SendRequestedV1
from careloop_common.events.feeds import CallDetailV1, LocationUpdatedV1
from careloop_common.inbox import stop_if_cancelled
from careloop_common.inputs import to_e164
from careloop_common.outbox import publish_later
from careloop_common.pseudonyms import customer_ref

log = logging.getLogger(__name__)

PLACE_RESOLUTION = 8  # places are kept at coverage-map's area size
MAX_AREA_CELLS = 50_000  # cells an area is filled with, at whatever resolution keeps it under this
MAX_DECLARED_CELLS = 10_000  # cells a client may list
CALL_PREFIX = "incident:"  # contact commands' campaign_id: routes call results back here
ACTIVE, CLOSED = "active", "closed"
AFFECTED, CONTACT = "affected", "contact"
CALLING, ANSWERED, SAFE, NEEDS_HELP, UNREACHABLE = "calling", "answered", "safe", "needs_help", "unreachable"
OUTCOMES = (CALLING, ANSWERED, SAFE, NEEDS_HELP, UNREACHABLE)
RECORDABLE = (SAFE, NEEDS_HELP, UNREACHABLE)  # what staff record
# Results after which calling again is pointless: the number is wrong or the gateway will refuse.
NO_RETRY = ("wrong_number", "suppressed:opted_out")
CANDIDATE_BATCH = 500
RETARGET_EVERY = timedelta(minutes=5)  # how often open incidents are searched again for late places


# --- the area ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """An area as compacted H3 cells and the bounding box of those cells."""

    cells: list[str]
    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float


def bad_area(detail: str) -> ProblemError:
    """Return the 422 problem for an area that cannot be used."""
    return ProblemError(422, "invalid-area", detail)


def area_from_polygon(geometry: Mapping[str, Any]) -> Area:
    """Fill a GeoJSON Polygon or MultiPolygon (lng, lat) with H3 cells; raise invalid-area."""
    rings = _polygons(geometry)
    # Rebuilt from the checked positions: an altitude or a member h3 does not know is left out.
    coordinates = [[[list(point) for point in ring] for ring in polygon] for polygon in rings]
    if geometry["type"] == "Polygon":
        shape = h3.geo_to_h3shape({"type": "Polygon", "coordinates": coordinates[0]})
    else:
        shape = h3.geo_to_h3shape({"type": "MultiPolygon", "coordinates": coordinates})
    resolution = _resolution_for(rings)
    cells = set(h3.h3shape_to_cells(shape, resolution))
    if not cells:
        # Smaller than one cell: the cells its corners fall in.
        cells = {h3.latlng_to_cell(lat, lng, resolution) for ring in rings for lng, lat in ring[0]}
    return _area(cells)


def area_from_cells(cells: Sequence[str]) -> Area:
    """Take a list of H3 cells (resolution 8 or coarser); raise invalid-area."""
    if not cells:
        raise bad_area("the area lists no cells")
    if len(cells) > MAX_DECLARED_CELLS:
        raise bad_area(f"the area lists more than {MAX_DECLARED_CELLS} cells: declare a polygon")
    for cell in cells:
        if not h3.is_valid_cell(cell):
            raise bad_area(f"{cell!r} is not an H3 cell")
        if h3.get_resolution(cell) > PLACE_RESOLUTION:
            raise bad_area(f"{cell} is finer than resolution {PLACE_RESOLUTION}, where places are kept")
    return _area(set(cells))


def _polygons(geometry: Mapping[str, Any]) -> list[list[list[tuple[float, float]]]]:
    """Check a GeoJSON polygon's structure; return its polygons as rings of (lng, lat)."""
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon") or not isinstance(coordinates, list) or not coordinates:
        raise bad_area("the polygon must be a GeoJSON Polygon or MultiPolygon with coordinates")
    polygons = coordinates if kind == "MultiPolygon" else [coordinates]
    checked = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise bad_area("a polygon needs at least its outer ring")
        checked.append([_ring(ring) for ring in polygon])
    return checked


def _ring(ring: object) -> list[tuple[float, float]]:
    """Check one linear ring: four or more [lng, lat] positions in range, first equal to last."""
    if not isinstance(ring, list) or len(ring) < 4:
        raise bad_area("a ring needs at least four positions (the first repeated last)")
    points: list[tuple[float, float]] = []
    for position in ring:
        if (
            not isinstance(position, list)
            or len(position) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position[:2])
        ):
            raise bad_area("a position is [longitude, latitude]")
        lng, lat = float(position[0]), float(position[1])
        if not (math.isfinite(lng) and math.isfinite(lat) and -180 <= lng <= 180 and -90 <= lat <= 90):
            raise bad_area(f"[{position[0]}, {position[1]}] is not a longitude and latitude")
        points.append((lng, lat))
    if points[0] != points[-1]:
        raise bad_area("a ring must end where it starts")
    if len(set(points)) < 3:
        raise bad_area("a ring needs three distinct corners")
    return points


def _resolution_for(polygons: Sequence[Sequence[Sequence[tuple[float, float]]]]) -> int:
    """Return the finest resolution (8 at most) at which the polygons' box takes few enough cells."""
    lngs = [lng for polygon in polygons for lng, _ in polygon[0]]
    lats = [lat for polygon in polygons for _, lat in polygon[0]]
    mid = math.radians((max(lats) + min(lats)) / 2)
    # The box's area in km² (an overestimate of the polygon's: the resolution errs coarse).
    km2 = (max(lats) - min(lats)) * 111.2 * (max(lngs) - min(lngs)) * 111.2 * max(math.cos(mid), 0.01)
    for resolution in range(PLACE_RESOLUTION, -1, -1):
        if km2 / h3.average_hexagon_area(resolution, "km^2") <= MAX_AREA_CELLS:
            return resolution
    return 0


def _area(cells: Iterable[str]) -> Area:
    """Compact cells and box them."""
    compact = sorted(h3.compact_cells(list(cells)))
    corners = [corner for cell in compact for corner in h3.cell_to_boundary(cell)]
    lats = [lat for lat, _ in corners]
    lngs = [lng for _, lng in corners]
    return Area(compact, min(lats), max(lats), min(lngs), max(lngs))


def covers(cells: Iterable[str], cell: str) -> bool:
    """Tell whether a resolution-8 cell lies in an area of compacted cells."""
    return area_test(cells)(cell)


def area_test(cells: Iterable[str]) -> Callable[[str], bool]:
    """Return a test of whether a resolution-8 cell lies in an area (built once, used per place)."""
    held = frozenset(cells)
    resolutions = sorted({h3.get_resolution(c) for c in held})

    def inside(cell: str) -> bool:
        top = h3.get_resolution(cell)
        return any(h3.cell_to_parent(cell, r) in held for r in resolutions if r <= top)

    return inside


def place_cell(cell: str | None, lat: float | None, lng: float | None) -> str:
    """Return the resolution-8 cell of a reported place (a cell of any resolution, or a position)."""
    if cell is None:
        if lat is None or lng is None:
            raise ValueError("a place needs a cell or a position")  # the feed contract requires one
        return str(h3.latlng_to_cell(lat, lng, PLACE_RESOLUTION))
    resolution = h3.get_resolution(cell)
    if resolution > PLACE_RESOLUTION:
        return str(h3.cell_to_parent(cell, PLACE_RESOLUTION))
    if resolution < PLACE_RESOLUTION:
        return str(h3.cell_to_center_child(cell, PLACE_RESOLUTION))
    return cell


# The same people call the same numbers (that is what the five closest contacts are): the answers
# for recent pairs are kept, as are the callers' countries.
@functools.lru_cache(maxsize=1 << 16)
def callable_number(called: str, caller: str) -> str | None:
    """Return a dialled number in E.164 (national forms read in the caller's country), or None."""
    if called.startswith("+"):
        try:
            return to_e164(called)  # international form: the answer kept for the numbers feeds carry
        except ValueError:
            return None
    try:
        parsed = phonenumbers.parse(called, _region_of(caller))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None  # a short code (10086, 12593) is no one's relative
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _region_of(msisdn: str) -> str | None:
    """Return the country (region code) whose numbering plan a number in E.164 follows: its
    country code's main region (countries sharing a code, such as +1, share the plan)."""
    digits = msisdn.lstrip("+")
    for length in (1, 2, 3):  # country codes are prefix-free: at most one of these is one
        code = int(digits[:length] or 0)
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            region: str = phonenumbers.region_code_for_country_code(code)
            return region
    return None


# --- what the feeds leave for incidents ---------------------------------------------------------------


async def on_feed(
    session: AsyncSession, payload: EventContract, *, now: datetime, key: str, source: str
) -> None:
    """Keep the place or the call a network feed reports; add someone entering an active incident."""
    if isinstance(payload, LocationUpdatedV1):
        await on_place(session, payload, now=now, key=key, source=source)
    elif isinstance(payload, CallDetailV1):
        await on_call(session, payload)


async def on_place(
    session: AsyncSession, payload: LocationUpdatedV1, *, now: datetime, key: str, source: str
) -> None:
    """Record where a subscriber was seen; one seen in an active incident's area and window joins it."""
    subscriber = repository.locked_subscriber(session, payload.msisdn) or await repository.subscriber(
        session, payload.msisdn
    )
    if subscriber is None:
        return  # the audience consumer counted it; a place of no one is kept for no one
    if payload.cell_id is None:
        cell = place_cell(payload.cell, payload.lat, payload.lng)
    else:
        found = await repository.site_cell(session, payload.cell_id)
        if found is None:
            return  # the audience counted it: a cell the registry lacks is no place to keep
        cell = found
    lat, lng = h3.cell_to_latlng(cell)
    repository.add_place_seen(session, payload.msisdn, cell, lat, lng, roaming=payload.roaming, at=payload.at)
    for incident in await active_incidents_once(session):
        if incident.starts_at <= payload.at <= incident.ends_at and covers(incident.cells, cell):
            await write_staged(session)  # targeting reads the places and profiles this batch changed
            via = "roaming" if payload.roaming else "entered"
            await add_people(session, incident, {payload.msisdn: via}, now=now, key=key, source=source)


async def on_call(session: AsyncSession, payload: CallDetailV1) -> None:
    """Count a call between a subscriber and a number they dialled."""
    known = repository.locked_subscriber(session, payload.msisdn) or await repository.subscriber(
        session, payload.msisdn
    )
    if known is None:
        return
    counterpart = callable_number(payload.called, payload.msisdn)
    if counterpart is None or counterpart == payload.msisdn:
        return
    pending = repository.pending_writes(session)
    if pending is None:
        await repository.write_calls(
            session, {(payload.msisdn, counterpart): [1, payload.duration_s, payload.started_at]}
        )
        return
    count = pending.calls.setdefault((payload.msisdn, counterpart), [0, 0, payload.started_at])
    count[0] += 1
    count[1] += payload.duration_s
    count[2] = max(count[2], payload.started_at)


# --- who an incident concerns ------------------------------------------------------------------------


async def people_in_area(session: AsyncSession, incident: Incident, until: datetime) -> dict[str, str]:
    """Return the subscribers in the area during the window (up to ``until``): msisdn → located|roaming."""
    end = min(incident.ends_at, until)
    inside = area_test(incident.cells)
    found: dict[str, str] = {}
    before: dict[str, tuple[datetime, bool]] = {}  # the latest place in the area before the window
    for msisdn, cell, roaming, at in await repository.places_in_box(session, incident, end):
        if not inside(cell):
            continue
        if at >= incident.starts_at:
            if msisdn not in found or roaming:
                found[msisdn] = "roaming" if roaming else "located"
        else:
            before[msisdn] = (at, roaming)
    waiting = [m for m in before if m not in found]
    for start in range(0, len(waiting), CANDIDATE_BATCH):
        batch = waiting[start : start + CANDIDATE_BATCH]
        for msisdn, latest in await repository.last_seen_before(session, batch, incident.starts_at):
            at, roaming = before[msisdn]
            if latest == at:  # still where they were last seen: in the area when it began
                found[msisdn] = "roaming" if roaming else "located"
    return found


async def target(session: AsyncSession, incident: Incident, *, now: datetime, key: str, source: str) -> int:
    """Add everyone the incident concerns so far (in the area, and their contacts); return how many."""
    found = await people_in_area(session, incident, now)
    return await add_people(session, incident, found, now=now, key=key, source=source)


async def add_people(
    session: AsyncSession,
    incident: Incident,
    affected: Mapping[str, str],
    *,
    now: datetime,
    key: str,
    source: str,
) -> int:
    """Add affected subscribers (msisdn → via) and their closest contacts; protect credit, call round 1.

    Someone already listed as a contact who turns out to be in the area becomes affected. Returns
    how many people were added or became affected.
    """
    if not affected:
        return 0
    held = await repository.incident_people_among(session, incident.id, list(affected))
    subscribers = await repository.subscribers_by_msisdn(session, list(affected))
    changed = 0
    for msisdn, via in sorted(affected.items()):
        subscriber = subscribers.get(msisdn)
        if subscriber is None:
            continue
        person = held.get(msisdn)
        if person is not None and person.role == AFFECTED:
            continue
        if person is None:
            person = _person(incident, msisdn, AFFECTED, via, subscriber.language, key=key, now=now)
            session.add(person)
            held[msisdn] = person
            _place_round(session, incident, person, now=now, source=source)
        else:
            person.role, person.via, person.contact_of = AFFECTED, via, None
        _protect_credit(session, incident, person, now=now, source=source)
        changed += 1
        changed += await _add_contacts(session, incident, subscriber, held, now=now, key=key, source=source)
    await session.flush()
    return changed


async def _add_contacts(
    session: AsyncSession,
    incident: Incident,
    subscriber: Subscriber,
    held: dict[str, IncidentPerson],
    *,
    now: datetime,
    key: str,
    source: str,
) -> int:
    """List an affected subscriber's closest contacts not yet listed, and call them."""
    contacts = await repository.closest_contacts(session, subscriber.msisdn, incident.contacts_per_person)
    known = await repository.subscribers_by_msisdn(session, contacts)
    held.update(
        await repository.incident_people_among(session, incident.id, [n for n in contacts if n not in held])
    )
    added = 0
    for number in contacts:
        if number in held:
            continue
        # A contact who is not our subscriber is called in the affected person's language.
        language = known[number].language if number in known else subscriber.language
        person = _person(incident, number, CONTACT, "contact", language, key=key, now=now)
        person.contact_of = subscriber.msisdn
        session.add(person)
        held[number] = person
        _place_round(session, incident, person, now=now, source=source)
        added += 1
    return added


def _person(
    incident: Incident, msisdn: str, role: str, via: str, language: str, *, key: str, now: datetime
) -> IncidentPerson:
    return IncidentPerson(
        incident_id=incident.id,
        msisdn=msisdn,
        customer_ref=customer_ref(msisdn, key),
        role=role,
        via=via,
        language=language,
        outcome=CALLING,
        added_at=now,
    )


def _protect_credit(
    session: AsyncSession, incident: Incident, person: IncidentPerson, *, now: datetime, source: str
) -> None:
    """Stage the credit-protection command for an affected subscriber (once per incident)."""
    if person.credit_protected:
        return
    person.credit_protected = True
    publish_later(
        session,
        CreditProtectionRequestedV1(
            idempotency_key=f"{CALL_PREFIX}{incident.id}:{person.msisdn}:credit",
            incident_id=incident.id,
            incident_name=incident.name,
            msisdn=person.msisdn,
            customer_ref=person.customer_ref,
            credit_limit=incident.credit_limit,
            until=incident.ends_at,
            at=now,
        ),
        source=source,
        subject=incident.id,
    )


# --- call rounds ----------------------------------------------------------------------------------------


def _place_round(
    session: AsyncSession, incident: Incident, person: IncidentPerson, *, now: datetime, source: str
) -> None:
    """Stage the next round's call to a person."""
    person.rounds += 1
    person.outcome = CALLING
    person.next_round_at = None
    session.add(
        IncidentCall(incident_id=incident.id, msisdn=person.msisdn, round=person.rounds, placed_at=now)
    )
    content = incident.content
    language = person.language if person.language in content else next(iter(content))
    publish_later(
        session,
        SendRequestedV1(
            # One command per person and round: a retried transaction or a replayed loop calls once.
            idempotency_key=f"{CALL_PREFIX}{incident.id}:{person.msisdn}:r{person.rounds}",
            msisdn=person.msisdn,
            channel="agent_call" if incident.channel == "agent_call" else "voice_call",
            purpose="service",
            priority=1,
            text=content[language],
            language=language,
            campaign_id=f"{CALL_PREFIX}{incident.id}",
            # A round not placed within its gap gives way to the next one.
            expires_at=now + timedelta(seconds=max(incident.round_gap_s, 3600)),
        ),
        source=source,
        subject=incident.id,
    )


async def due_rounds(sessions: SessionFactory, *, now: datetime, source: str, batch: int = 500) -> int:
    """Place every due next round of active incidents; return how many."""
    async with transaction(sessions) as session:
        rows = await repository.due_incident_rounds(session, now, status=ACTIVE, limit=batch)
        for person, incident in rows:
            _place_round(session, incident, person, now=now, source=source)
    return len(rows)


async def on_call_result(
    session: AsyncSession,
    campaign_id: str,
    ref: str,
    result: str,
    *,
    disposition: str | None,
    now: datetime,
) -> bool:
    """Record what a round's call came to; plan the next round or settle the outcome. False: not ours."""
    if not campaign_id.startswith(CALL_PREFIX):
        return False
    incident = await repository.get_incident(session, campaign_id.removeprefix(CALL_PREFIX))
    if incident is None:
        return False
    person = await repository.incident_person_by_ref_for_update(session, incident.id, ref)
    if person is None:
        return False
    call = await repository.incident_call(session, incident.id, person.msisdn, person.rounds)
    if call is not None and call.result is None:
        call.result, call.result_at = result, now
    if person.outcome != CALLING:
        return True  # staff recorded an outcome meanwhile: theirs stands
    if result == "answered":
        settled = disposition if disposition in (SAFE, NEEDS_HELP) else ANSWERED
        _settle(person, settled, by="call", at=now, last_call=result)
        return True
    person.last_call = result
    if person.rounds < incident.rounds and result not in NO_RETRY and incident.status == ACTIVE:
        person.next_round_at = now + timedelta(seconds=incident.round_gap_s)
    else:
        _settle(person, UNREACHABLE, by="call", at=now, last_call=result)
    return True


def _settle(
    person: IncidentPerson, outcome: str, *, by: str, at: datetime, last_call: str | None = None
) -> None:
    person.outcome, person.outcome_by, person.outcome_at = outcome, by, at
    person.next_round_at = None
    if last_call is not None:
        person.last_call = last_call


async def retarget(sessions: SessionFactory, *, now: datetime, key: str, source: str) -> int:
    """Look again for everyone each open incident concerns; return how many joined.

    Catches who the real-time path cannot: a place reported late (from before the window, so
    someone was there when it began), or one applied while the incident was being declared.
    """
    async with transaction(sessions) as session:
        ids = [i.id for i in await active_incidents(session) if i.starts_at <= now]
    joined = 0
    for incident_id in ids:
        async with transaction(sessions) as session:
            incident = await repository.get_incident(session, incident_id, for_update=True)
            if incident is not None and incident.status == ACTIVE:
                joined += await target(session, incident, now=now, key=key, source=source)
    return joined


MAX_ROUND_PASSES = 100


async def run_forever(
    sessions: SessionFactory,
    *,
    source: str,
    key: str,
    interval_s: float,
    history: timedelta,
    contact_history: timedelta,
) -> None:
    """Place due rounds every ``interval_s``; every ``RETARGET_EVERY`` look for late arrivals, prune
    places older than ``history`` and call counts of pairs silent for ``contact_history``; until
    cancelled."""
    looked = datetime.min.replace(tzinfo=UTC)
    while True:
        stop_if_cancelled()
        try:
            now = utcnow()
            for _ in range(MAX_ROUND_PASSES):  # bounded: a round that cannot move on must not spin
                stop_if_cancelled()
                if await due_rounds(sessions, now=now, source=source) == 0:
                    break
            if now - looked >= RETARGET_EVERY:
                looked = now
                await retarget(sessions, now=now, key=key, source=source)
                async with transaction(sessions) as session:
                    await repository.prune_places(session, now - history)
                    await repository.prune_calls(session, now - contact_history)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("incident rounds failed; trying again in %.0fs", interval_s)
        await asyncio.sleep(interval_s)


# --- the incident's life ----------------------------------------------------------------------------


async def declare(
    session: AsyncSession,
    values: Mapping[str, Any],
    area: Area,
    *,
    by: str,
    now: datetime,
    key: str,
    source: str,
) -> Incident:
    """Declare an incident, add everyone it concerns so far, protect their credit and call round 1."""
    incident = Incident(
        id=str(uuid.uuid4()),
        status=ACTIVE,
        cells=area.cells,
        min_lat=area.min_lat,
        max_lat=area.max_lat,
        min_lng=area.min_lng,
        max_lng=area.max_lng,
        created_by=by,
        created_at=now,
        **values,
    )
    await repository.add(session, incident)
    await target(session, incident, now=now, key=key, source=source)
    return incident


async def get(session: AsyncSession, incident_id: str, *, for_update: bool = False) -> Incident:
    """Return an incident or raise NotFound."""
    incident = await repository.get_incident(session, incident_id, for_update=for_update)
    if incident is None:
        raise NotFound("incident", incident_id)
    return incident


async def active_incidents(session: AsyncSession) -> list[Incident]:
    """Return the active incidents."""
    return await repository.incidents_with_status(session, ACTIVE)


ACTIVE_IN_SESSION = "campaigns.active_incidents"


async def active_incidents_once(session: AsyncSession) -> list[Incident]:
    """Return the active incidents, read once per session: the feed consumer applies a batch of
    location updates in one transaction, and asks for every one of them."""
    cached: list[Incident] | None = session.info.get(ACTIVE_IN_SESSION)
    if cached is None:
        cached = session.info[ACTIVE_IN_SESSION] = await active_incidents(session)
    return cached


async def close(session: AsyncSession, incident: Incident, *, by: str, now: datetime) -> Incident:
    """Close an incident: no one joins and no further rounds are placed."""
    if incident.status == CLOSED:
        raise ProblemError(409, "incident-closed", f"incident {incident.id} is already closed")
    incident.status, incident.closed_by, incident.closed_at = CLOSED, by, now
    await repository.stop_incident_rounds(session, incident.id)
    return incident


async def record_outcome(
    session: AsyncSession,
    incident: Incident,
    msisdn: str,
    outcome: str,
    note: str | None,
    *,
    by: str,
    now: datetime,
) -> IncidentPerson:
    """Record what staff learnt of a person (safe, needs help, unreachable); no more rounds for them."""
    if incident.status == CLOSED:
        raise ProblemError(409, "incident-closed", f"incident {incident.id} is closed")
    person = await repository.incident_person_for_update(session, incident.id, msisdn)
    if person is None:
        raise NotFound("person of incident", msisdn)
    _settle(person, outcome, by=by, at=now)
    if note is not None:
        person.note = note
    return person


# --- the daily report --------------------------------------------------------------------------------


@dataclass
class Report:
    """An incident's numbers: per day in the operator's zone, and in all."""

    days: list[dict[str, Any]]
    people: int
    affected: int
    contacts: int
    credit_protected: int
    calls: int
    by_outcome: dict[str, int]
    unreachable_after_rounds: dict[str, int]


async def report(session: AsyncSession, incident: Incident, zone: ZoneInfo) -> Report:
    """Count an incident's people, calls and outcomes per day (the operator's calendar) and in all."""
    persons = await repository.all_incident_people(session, incident.id)
    calls = await repository.incident_call_times(session, incident.id)
    days: dict[date, Counter[str]] = defaultdict(Counter)
    for person in persons:
        days[person.added_at.astimezone(zone).date()]["added"] += 1
        if person.outcome != CALLING and person.outcome_at is not None:
            days[person.outcome_at.astimezone(zone).date()][person.outcome] += 1
    for placed_at in calls:
        days[placed_at.astimezone(zone).date()]["calls"] += 1
    keys = ("added", "calls", ANSWERED, SAFE, NEEDS_HELP, UNREACHABLE)
    return Report(
        days=[{"day": day, **{k: days[day][k] for k in keys}} for day in sorted(days)],
        people=len(persons),
        affected=sum(p.role == AFFECTED for p in persons),
        contacts=sum(p.role == CONTACT for p in persons),
        credit_protected=sum(p.credit_protected for p in persons),
        calls=len(calls),
        by_outcome=dict(Counter(p.outcome for p in persons)),
        unreachable_after_rounds={
            str(rounds): n
            for rounds, n in sorted(Counter(p.rounds for p in persons if p.outcome == UNREACHABLE).items())
        },
    )

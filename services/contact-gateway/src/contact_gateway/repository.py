"""Every query of the contact-gateway service lives here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import Row, Table, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from careloop_common.db import row_values, stage_insert, write_staged
from contact_gateway.models import (
    Communication,
    ContactRequest,
    EarlyReceipt,
    OptOut,
    Reply,
    Segment,
    Template,
    TimelineEntry,
)
from contact_gateway.policy import CAP_WINDOWS

# Statuses that count towards a customer's frequency caps: everything that was or will be sent.
COUNTED = ("accepted", "sending", "submitted", "delivered", "completed")
FINAL = ("delivered", "completed", "failed", "suppressed", "cancelled")


async def get(session: AsyncSession, request_id: str) -> ContactRequest | None:
    """Return one request."""
    return await session.get(ContactRequest, request_id)


async def by_idempotency_keys(
    session: AsyncSession, requested_by: str, keys: Iterable[str]
) -> dict[str, ContactRequest]:
    """Return the requests a caller already made with any of these keys, by key, in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    query = select(ContactRequest).where(
        col(ContactRequest.requested_by) == requested_by, col(ContactRequest.idempotency_key).in_(wanted)
    )
    return {row.idempotency_key: row for row in (await session.execute(query)).scalars()}


def add(session: AsyncSession, *rows: Any) -> None:
    """Stage new rows in the session's transaction."""
    session.add_all(rows)


async def insert_requests(session: AsyncSession, requests: Sequence[ContactRequest]) -> None:
    """Write new requests as plain rows, with the steps and events staged for them, now."""
    table = ContactRequest.__table__  # type: ignore[attr-defined]
    for request in requests:
        stage_insert(session, table, row_values(request))
    await write_staged(session)


def add_timeline_entry(session: AsyncSession, entry: dict[str, Any]) -> None:
    """Stage a timeline step (request_id, at, status, reason, detail) as a plain row (they are many)."""
    stage_insert(session, TIMELINE_TABLE, entry)


TIMELINE_TABLE: Table = TimelineEntry.__table__  # type: ignore[attr-defined]
PlainRow: TypeAlias = "Row[*tuple[Any, ...]]"  # a Core result row of several columns
REQUESTS: Table = ContactRequest.__table__  # type: ignore[attr-defined]
SEGMENTS: Table = Segment.__table__  # type: ignore[attr-defined]

# What sending a message and the events about it need of its request: a claim loads no more.
SENDING_COLUMNS = (
    "id",
    "msisdn",
    "text",
    "channel",
    "purpose",
    "customer_ref",
    "complaint_id",
    "campaign_id",
    "origin",
    "expires_at",
)


async def page(
    session: AsyncSession,
    *,
    msisdn: str | None,
    campaign_id: str | None,
    complaint_id: str | None,
    status: str | None,
    channel: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[ContactRequest], int]:
    """Return a page of requests (newest first) and how many match."""
    filters = []
    if msisdn:
        filters.append(col(ContactRequest.msisdn) == msisdn)
    if campaign_id:
        filters.append(col(ContactRequest.campaign_id) == campaign_id)
    if complaint_id:
        filters.append(col(ContactRequest.complaint_id) == complaint_id)
    if status:
        filters.append(col(ContactRequest.status) == status)
    if channel:
        filters.append(col(ContactRequest.channel) == channel)
    query = select(ContactRequest).where(*filters)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(
        query.order_by(col(ContactRequest.created_at).desc(), col(ContactRequest.id))
        .limit(limit)
        .offset(offset)
    )
    return rows.scalars().all(), total


async def timeline(session: AsyncSession, request_id: str) -> Sequence[TimelineEntry]:
    """Return a request's timeline, oldest first."""
    query = (
        select(TimelineEntry)
        .where(col(TimelineEntry.request_id) == request_id)
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    )
    return (await session.execute(query)).scalars().all()


async def opted_out_among(
    session: AsyncSession, keys: Iterable[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Return which (msisdn, channel, purpose) of many are opted out, in one query."""
    wanted = set(keys)
    if not wanted:
        return set()
    query = select(col(OptOut.msisdn), col(OptOut.channel), col(OptOut.purpose)).where(
        col(OptOut.opted_out), col(OptOut.msisdn).in_({k[0] for k in wanted})
    )
    return {(m, c, p) for m, c, p in (await session.execute(query)).all()} & wanted


async def opt_outs(session: AsyncSession, msisdn: str) -> Sequence[OptOut]:
    """Return a customer's recorded choices."""
    query = (
        select(OptOut).where(col(OptOut.msisdn) == msisdn).order_by(col(OptOut.channel), col(OptOut.purpose))
    )
    return (await session.execute(query)).scalars().all()


async def get_opt_out(session: AsyncSession, msisdn: str, channel: str, purpose: str) -> OptOut | None:
    """Return one recorded choice."""
    return await session.get(OptOut, (msisdn, channel, purpose))


async def recent_care_counts(
    session: AsyncSession, customers: Iterable[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], dict[str, int]]:
    """Count each (msisdn, channel)'s care contacts in every cap window (day, week, month), in one query."""
    wanted = set(customers)
    if not wanted:
        return {}
    since = {name: now - span for name, span in CAP_WINDOWS}
    created = col(ContactRequest.created_at)
    msisdn, channel = col(ContactRequest.msisdn), col(ContactRequest.channel)
    query = (
        select(msisdn, channel, *(func.count(case((created >= since[name], 1))) for name, _ in CAP_WINDOWS))
        .where(
            msisdn.in_({m for m, _ in wanted}),
            col(ContactRequest.purpose) == "care",
            col(ContactRequest.status).in_(COUNTED),
            created >= since["month"],
        )
        .group_by(msisdn, channel)
    )
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for row in (await session.execute(query)).all():
        key = (row[0], row[1])
        if key in wanted:
            counts[key] = {name: int(n) for (name, _), n in zip(CAP_WINDOWS, row[2:], strict=True)}
    return counts


def _skip_locked(query: Any, session: AsyncSession) -> Any:
    """Lock claimed rows where the database can (PostgreSQL): replicas then claim disjoint work."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


async def claim_due(
    session: AsyncSession, channel: str, now: datetime, limit: int, owner: str, lease_until: datetime
) -> Sequence[ContactRequest]:
    """Claim up to ``limit`` due requests of a channel, service first, then by priority and age."""
    query = (
        select(ContactRequest)
        .where(
            col(ContactRequest.channel) == channel,
            col(ContactRequest.status) == "accepted",
            col(ContactRequest.due_at) <= now,
        )
        .order_by(col(ContactRequest.rank), col(ContactRequest.due_at))
        .limit(limit)
    )
    rows = (await session.execute(_skip_locked(query, session))).scalars().all()
    for row in rows:
        row.status = "sending"
        row.lease_owner = owner
        row.lease_until = lease_until
        row.attempts += 1
        row.updated_at = now
    return rows


async def claim_due_messages(
    session: AsyncSession, now: datetime, limit: int, owner: str, lease_until: datetime
) -> Sequence[PlainRow]:
    """Claim up to ``limit`` due SMS like ``claim_due``, as plain rows of ``SENDING_COLUMNS``."""
    query = (
        select(*(REQUESTS.c[name] for name in SENDING_COLUMNS))
        .where(REQUESTS.c.channel == "sms", REQUESTS.c.status == "accepted", REQUESTS.c.due_at <= now)
        .order_by(REQUESTS.c.rank, REQUESTS.c.due_at)
        .limit(limit)
    )
    rows = (await session.execute(_skip_locked(query, session))).all()
    if rows:
        await session.execute(
            update(REQUESTS)
            .where(REQUESTS.c.id.in_([row.id for row in rows]))
            .values(
                status="sending",
                lease_owner=owner,
                lease_until=lease_until,
                attempts=REQUESTS.c.attempts + 1,
                updated_at=now,
            )
        )
    return rows


async def mark_submitted(session: AsyncSession, sent: Sequence[dict[str, Any]], now: datetime) -> None:
    """Set messages (id, encoding, segments, connector each) submitted, releasing their leases."""
    statement = (
        update(REQUESTS)
        .where(REQUESTS.c.id == bindparam("b_id"))
        .values(
            status="submitted",
            encoding=bindparam("b_encoding"),
            segments=bindparam("b_segments"),
            connector=bindparam("b_connector"),
            lease_owner=None,
            lease_until=None,
            submitted_at=now,
            updated_at=now,
        )
    )
    await session.execute(statement, [{f"b_{key}": value for key, value in row.items()} for row in sent])


def add_segment(
    session: AsyncSession, request_id: str, part: int, connector: str, smsc_message_id: str, now: datetime
) -> None:
    """Stage a part the SMSC took as a plain row."""
    stage_insert(
        session,
        SEGMENTS,
        {
            "request_id": request_id,
            "part": part,
            "connector": connector,
            "smsc_message_id": smsc_message_id,
            "state": "ENROUTE",
            "error": None,
            "submitted_at": now,
            "done_at": None,
        },
    )


async def segment_states(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], PlainRow]:
    """Return (request_id, part, state) of the parts that SMSC message ids (with their connector) name."""
    wanted = set(keys)
    if not wanted:
        return {}
    query = select(
        SEGMENTS.c.request_id,
        SEGMENTS.c.part,
        SEGMENTS.c.state,
        SEGMENTS.c.smsc_message_id,
        SEGMENTS.c.connector,
    ).where(SEGMENTS.c.smsc_message_id.in_({k[0] for k in wanted}))
    found = {(row.smsc_message_id, row.connector): row for row in await session.execute(query)}
    return {key: found[key] for key in wanted if key in found}


async def finish_segments(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record parts' final states (request_id, part, state, error, done_at each), once per part."""
    if not rows:
        return
    statement = (
        update(SEGMENTS)
        .where(
            SEGMENTS.c.request_id == bindparam("b_request_id"),
            SEGMENTS.c.part == bindparam("b_part"),
            SEGMENTS.c.state == "ENROUTE",
        )
        .values(state=bindparam("b_state"), error=bindparam("b_error"), done_at=bindparam("b_done_at"))
    )
    await session.execute(statement, [{f"b_{key}": value for key, value in row.items()} for row in rows])


async def settling(session: AsyncSession, request_ids: Iterable[str]) -> list[tuple[PlainRow, list[str]]]:
    """Return the submitted requests among these (``SENDING_COLUMNS``, segments) and their parts' states."""
    wanted = list(set(request_ids))
    if not wanted:
        return []
    requests = await session.execute(
        select(*(REQUESTS.c[name] for name in SENDING_COLUMNS), REQUESTS.c.segments).where(
            REQUESTS.c.id.in_(wanted), REQUESTS.c.status == "submitted"
        )
    )
    states: dict[str, list[str]] = {}
    for request_id, state in await session.execute(
        select(SEGMENTS.c.request_id, SEGMENTS.c.state).where(SEGMENTS.c.request_id.in_(wanted))
    ):
        states.setdefault(request_id, []).append(state)
    return [(row, states.get(row.id, [])) for row in requests]


async def mark_delivered(session: AsyncSession, request_ids: Sequence[str], now: datetime) -> None:
    """Set submitted messages delivered."""
    if request_ids:
        await session.execute(
            update(REQUESTS)
            .where(REQUESTS.c.id.in_(list(request_ids)), REQUESTS.c.status == "submitted")
            .values(status="delivered", completed_at=now, updated_at=now)
        )


async def claim_agent_call(
    session: AsyncSession, skills: Sequence[str], now: datetime, agent: str, lease_until: datetime
) -> ContactRequest | None:
    """Claim the next agent call this agent can take: due, unclaimed (or lapsed), skill matching."""
    skill = col(ContactRequest.skill)
    skill_ok = or_(skill.is_(None), skill.in_(list(skills))) if skills else skill.is_(None)
    waiting = and_(col(ContactRequest.status) == "accepted", col(ContactRequest.due_at) <= now)
    lapsed = and_(col(ContactRequest.status) == "sending", col(ContactRequest.lease_until) < now)
    query = (
        select(ContactRequest)
        .where(col(ContactRequest.channel) == "agent_call", or_(waiting, lapsed), skill_ok)
        .order_by(col(ContactRequest.rank), col(ContactRequest.due_at))
        .limit(1)
    )
    row = (await session.execute(_skip_locked(query, session))).scalars().first()
    if row is not None:
        row.status = "sending"
        row.lease_owner = agent
        row.lease_until = lease_until
        row.attempts += 1
        row.updated_at = now
    return row


async def lapsed_leases(
    session: AsyncSession, channels: Sequence[str], now: datetime
) -> Sequence[ContactRequest]:
    """Return requests whose dispatcher died holding them."""
    query = select(ContactRequest).where(
        col(ContactRequest.channel).in_(list(channels)),
        col(ContactRequest.status) == "sending",
        col(ContactRequest.lease_until) < now,
    )
    return (await session.execute(_skip_locked(query.limit(1000), session))).scalars().all()


async def expired_waiting(
    session: AsyncSession, now: datetime, limit: int = 1000
) -> Sequence[ContactRequest]:
    """Return requests still waiting whose expiry passed."""
    query = select(ContactRequest).where(
        col(ContactRequest.status) == "accepted", col(ContactRequest.expires_at) <= now
    )
    return (await session.execute(_skip_locked(query.limit(limit), session))).scalars().all()


async def requests_by_ids(session: AsyncSession, ids: Iterable[str]) -> dict[str, ContactRequest]:
    """Return requests by id, in one query."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(select(ContactRequest).where(col(ContactRequest.id).in_(wanted)))
    return {row.id: row for row in rows.scalars()}


async def segments_of(session: AsyncSession, request_ids: Iterable[str]) -> dict[str, list[Segment]]:
    """Return the parts already submitted for each request."""
    wanted = list(set(request_ids))
    out: dict[str, list[Segment]] = {rid: [] for rid in wanted}
    if not wanted:
        return out
    rows = await session.execute(select(Segment).where(col(Segment.request_id).in_(wanted)))
    for segment in rows.scalars():
        out[segment.request_id].append(segment)
    return out


async def segments_by_smsc_id(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Segment]:
    """Return the segments that SMSC message ids (with their connector) name."""
    wanted = set(keys)
    if not wanted:
        return {}
    query = select(Segment).where(col(Segment.smsc_message_id).in_({k[0] for k in wanted}))
    found = {(s.smsc_message_id, s.connector): s for s in (await session.execute(query)).scalars()}
    return {key: found[key] for key in wanted if key in found}


async def save_early_receipts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keep receipts that came before their submit_sm_resp (the first one per id wins)."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(EarlyReceipt).on_conflict_do_nothing()
    await session.execute(statement, list(rows))


async def early_receipts(
    session: AsyncSession, keys: Iterable[tuple[str, str]] | None = None, older_than: datetime | None = None
) -> Sequence[EarlyReceipt]:
    """Return early receipts for some (id, connector) keys, or all received before a moment."""
    query = select(EarlyReceipt)
    if keys is not None:
        wanted = set(keys)
        if not wanted:
            return []
        query = query.where(col(EarlyReceipt.smsc_message_id).in_({k[0] for k in wanted}))
        rows = (await session.execute(query)).scalars().all()
        return [r for r in rows if (r.smsc_message_id, r.connector) in wanted]
    if older_than is not None:
        query = query.where(col(EarlyReceipt.received_at) < older_than)
    return (await session.execute(query.limit(1000))).scalars().all()


async def last_message_to(session: AsyncSession, msisdn: str) -> ContactRequest | None:
    """Return the latest SMS sent to a customer (what a reply answers)."""
    query = (
        select(ContactRequest)
        .where(
            col(ContactRequest.msisdn) == msisdn,
            col(ContactRequest.channel) == "sms",
            col(ContactRequest.submitted_at).is_not(None),
        )
        .order_by(col(ContactRequest.submitted_at).desc())
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()


async def replies(
    session: AsyncSession, msisdn: str | None, limit: int, offset: int
) -> tuple[Sequence[Reply], int]:
    """Return a page of replies (newest first) and how many match."""
    query = select(Reply)
    if msisdn:
        query = query.where(col(Reply.msisdn) == msisdn)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(
        query.order_by(col(Reply.received_at).desc(), col(Reply.id)).limit(limit).offset(offset)
    )
    return rows.scalars().all(), total


async def stored_template(session: AsyncSession, template_id: str, language: str) -> Template | None:
    """Return a stored template."""
    return await session.get(Template, (template_id, language))


async def stored_templates(session: AsyncSession) -> Sequence[Template]:
    """Return every stored template."""
    query = select(Template).order_by(col(Template.id), col(Template.language))
    return (await session.execute(query)).scalars().all()


async def daily_counts(
    session: AsyncSession, since: datetime, until: datetime, campaign_id: str | None
) -> list[tuple[str, str, str | None, str, int]]:
    """Count requests per UTC day, channel, campaign and status."""
    created = col(ContactRequest.created_at)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    day = (
        func.to_char(func.timezone("UTC", created), "YYYY-MM-DD")
        if dialect == "postgresql"
        else func.substr(created, 1, 10)
    )
    query = (
        select(
            day.label("day"),
            col(ContactRequest.channel),
            col(ContactRequest.campaign_id),
            col(ContactRequest.status),
            func.count(),
        )
        .where(created >= since, created < until)
        .group_by(
            day, col(ContactRequest.channel), col(ContactRequest.campaign_id), col(ContactRequest.status)
        )
        .order_by(day)
    )
    if campaign_id:
        query = query.where(col(ContactRequest.campaign_id) == campaign_id)
    return [(str(d), c, cid, s, int(n)) for d, c, cid, s, n in (await session.execute(query)).all()]


async def delete_early_receipts_before(session: AsyncSession, moment: datetime) -> None:
    """Forget early receipts nothing matched for long (their message was never ours)."""
    await session.execute(delete(EarlyReceipt).where(col(EarlyReceipt.received_at) < moment))


async def release(
    session: AsyncSession, request_id: str, owner: str, now: datetime, back_in: timedelta
) -> bool:
    """Put a claimed request back in the queue (the holder gave it up); False if not held by owner."""
    result = await session.execute(
        update(ContactRequest)
        .where(
            col(ContactRequest.id) == request_id,
            col(ContactRequest.status) == "sending",
            col(ContactRequest.lease_owner) == owner,
        )
        .values(status="accepted", lease_owner=None, lease_until=None, due_at=now + back_in, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def get_communication(session: AsyncSession, communication_id: str) -> Communication | None:
    """Return one TMF681 communication message."""
    return await session.get(Communication, communication_id)


async def communications(
    session: AsyncSession, partner_id: str | None, limit: int, offset: int
) -> tuple[Sequence[Communication], int]:
    """Return a page of communication messages (newest first; a partner's own only) and the total."""
    query = select(Communication)
    if partner_id is not None:
        query = query.where(col(Communication.partner_id) == partner_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(
        query.order_by(col(Communication.created_at).desc()).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def receivers_of(session: AsyncSession, ids: Sequence[str]) -> dict[str, list[ContactRequest]]:
    """Return each communication's requests (one per receiver), oldest first."""
    out: dict[str, list[ContactRequest]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(ContactRequest)
            .where(col(ContactRequest.communication_id).in_(list(ids)))
            .order_by(col(ContactRequest.created_at))
        )
        for row in rows.scalars():
            out[row.communication_id or ""].append(row)
    return out

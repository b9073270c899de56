"""Domain rules of the contact gateway: intake under the contact policy, what each SMSC answer,
receipt, reply and call outcome does to a request, and the events that say so.

Domain code only flushes; the caller's transaction commits (the request's, a consumer's, or the
dispatcher's), so a state change and its event are written together (outbox).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.db import new_row, utcnow, write_staged
from careloop_common.errors import ProblemError
from careloop_common.events import EventContract
from careloop_common.events.contact import (
    CallCompletedV1,
    MessageAcceptedV1,
    MessageDeliveredV1,
    MessageFailedV1,
    MessageSubmittedV1,
    MessageSuppressedV1,
    OptOutChangedV1,
    ReplyReceivedV1,
)
from careloop_common.outbox import publish_later
from careloop_common.pseudonyms import customer_ref
from contact_gateway import policy, repository, templates
from contact_gateway.encoding import Receipt
from contact_gateway.models import ContactRequest, EarlyReceipt, OptOut, Reply, Segment
from contact_gateway.schemas import ContactCreate
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.smpp import SubmitOutcome

log = logging.getLogger(__name__)

# Receipt states that end a part's life, and the reason a failed message then carries.
RECEIPT_FAILURES = {
    "UNDELIV": "undeliverable",
    "EXPIRED": "expired",
    "REJECTD": "rejected",
    "DELETED": "deleted",
    "UNKNOWN": "unknown",
}


@dataclass(frozen=True)
class Rules:
    """The contact policy and identities this replica applies, read once from settings."""

    customer_key: str
    default_time_zone: str
    quiet: dict[str, policy.QuietHours | None]
    caps: dict[str, int]
    validity: timedelta
    max_attempts: int
    retry_base_s: float
    retry_max_s: float
    sender_id: str

    @classmethod
    def from_settings(cls, settings: ContactGatewaySettings) -> Rules:
        """Read the policy from settings (bad quiet hours fail here, at start)."""
        return cls(
            customer_key=settings.customer_ref_secret,
            default_time_zone=settings.default_time_zone,
            quiet={
                purpose: policy.QuietHours.parse(settings.quiet_hours.get(purpose, ""))
                for purpose in policy.PURPOSE_RANK
            },
            caps={
                "day": settings.care_cap_day,
                "week": settings.care_cap_week,
                "month": settings.care_cap_month,
            },
            validity=timedelta(hours=settings.default_validity_h),
            max_attempts=settings.max_attempts,
            retry_base_s=settings.retry_base_s,
            retry_max_s=settings.retry_max_s,
            sender_id=settings.sender_id,
        )

    def retry_delay(self, attempts: int) -> timedelta:
        """Return how long to wait before attempt ``attempts + 1``: doubling, capped."""
        return timedelta(seconds=min(self.retry_base_s * 2 ** max(attempts - 1, 0), self.retry_max_s))


def fingerprint(data: ContactCreate) -> str:
    """Hash what a request asks for, so a key reused for a different request is caught."""
    body = data.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------------------------------- intake


@dataclass(frozen=True)
class Intake:
    """One request to record, with the caller's idempotency key for it."""

    data: ContactCreate
    idempotency_key: str


async def request_contact(
    session: AsyncSession,
    data: ContactCreate,
    *,
    rules: Rules,
    requested_by: str,
    idempotency_key: str,
    origin: str | None = None,
    communication_id: str | None = None,
    now: datetime | None = None,
) -> tuple[ContactRequest, bool]:
    """Record a request and decide it under the contact policy; (request, created).

    The same key from the same caller returns the first request and sends nothing again.
    """
    [outcome] = await request_contacts(
        session,
        [Intake(data, idempotency_key)],
        rules=rules,
        requested_by=requested_by,
        origin=origin,
        communication_id=communication_id,
        now=now,
    )
    return outcome


async def request_contacts(
    session: AsyncSession,
    intakes: Sequence[Intake],
    *,
    rules: Rules,
    requested_by: str,
    origin: str | None = None,
    communication_id: str | None = None,
    now: datetime | None = None,
) -> list[tuple[ContactRequest, bool]]:
    """Record many requests and decide each under the contact policy; (request, created) each, in order.

    One query per rule serves the whole batch (a campaign wave of thousands), and a request earlier
    in the batch counts towards the caps of a later one for the same customer. A key seen before,
    in this batch or earlier, returns the first request and sends nothing again.
    """
    now = now or utcnow()
    known = await repository.by_idempotency_keys(session, requested_by, (i.idempotency_key for i in intakes))
    contents = _Contents(session)
    outcomes: list[tuple[ContactRequest, bool]] = []
    fresh: list[ContactRequest] = []
    for intake in intakes:
        print_ = fingerprint(intake.data)
        request = known.get(intake.idempotency_key)
        if request is not None:
            if request.fingerprint != print_:
                raise ProblemError(
                    422,
                    "idempotency-key-reused",
                    "this idempotency key was already used for a different request",
                )
            outcomes.append((request, False))
            continue
        request = await _new_request(intake, print_, contents, rules, requested_by, now)
        request.origin, request.communication_id = origin, communication_id
        known[intake.idempotency_key] = request
        fresh.append(request)
        outcomes.append((request, True))
    # Policy queries run before anything is staged, so autoflush cannot count this batch twice.
    refusals = await _Refusals.load(session, fresh, rules, now)
    for request in fresh:
        _decide(session, request, rules, refusals, now)
    await repository.insert_requests(session, fresh)
    return outcomes


async def _new_request(
    intake: Intake, print_: str, contents: _Contents, rules: Rules, requested_by: str, now: datetime
) -> ContactRequest:
    """Build a checked, undecided request from what the caller asked for."""
    data = intake.data
    time_zone = _checked_time_zone(data, rules)
    expires_at = _checked_window(data, rules, now)
    text = await contents.render(data)
    # Built as a plain row and inserted as one (see db.new_row): a campaign wave is thousands.
    return new_row(
        ContactRequest,
        id=str(uuid.uuid4()),
        requested_by=requested_by,
        idempotency_key=intake.idempotency_key,
        fingerprint=print_,
        msisdn=data.msisdn,
        customer_ref=customer_ref(data.msisdn, rules.customer_key),
        time_zone=time_zone,
        channel=data.channel.value,
        purpose=data.purpose.value,
        priority=data.priority,
        rank=policy.rank(data.purpose.value, data.priority),
        language=data.language,
        template_id=data.template_id,
        variables=dict(data.variables),
        text=text,
        not_before=data.not_before,
        expires_at=expires_at,
        complaint_id=data.complaint_id,
        campaign_id=data.campaign_id,
        status="accepted",
        due_at=now,
        rounds=data.rounds,
        round_spacing_s=data.round_spacing_s,
        skill=data.skill,
        created_at=now,
        updated_at=now,
    )


def _checked_time_zone(data: ContactCreate, rules: Rules) -> str:
    name = policy.time_zone_for(data.msisdn, data.time_zone, rules.default_time_zone)
    try:
        policy.zone(name)
    except ValueError as exc:
        raise ProblemError(422, "unknown-time-zone", str(exc), field="time_zone") from exc
    return name


def _checked_window(data: ContactCreate, rules: Rules, now: datetime) -> datetime:
    """Return the request's expiry, refusing windows that are empty or already over."""
    expires_at = data.expires_at or max(now, data.not_before or now) + rules.validity
    if data.not_before is not None and expires_at <= data.not_before:
        raise ProblemError(422, "rule-violated", "expires_at must be after not_before", field="expires_at")
    if expires_at <= now:
        raise ProblemError(422, "rule-violated", "expires_at is already past", field="expires_at")
    if data.channel.value == "sms" and data.rounds > 1:
        raise ProblemError(422, "rule-violated", "rounds apply to calls, not to SMS", field="rounds")
    return expires_at


class _Contents:
    """Renders requests' texts, reading each template once per batch."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._bodies: dict[tuple[str, str], str | None] = {}

    async def render(self, data: ContactCreate) -> str:
        """Return the text to send: the given text, or the template filled with the variables."""
        if (data.template_id is None) == (data.text is None):
            raise ProblemError(
                422, "rule-violated", "give either template_id (with variables) or text, not both"
            )
        if data.text is not None:
            return data.text
        assert data.template_id is not None
        body = await self._body(data.template_id, data.language)
        if body is None:
            raise ProblemError(
                422,
                "unknown-template",
                f"no template {data.template_id!r} in {data.language}",
                field="template_id",
            )
        try:
            return templates.render(body, data.variables)
        except templates.MissingVariables as exc:
            raise ProblemError(
                422, "missing-variables", str(exc), field="variables", missing=exc.names
            ) from exc

    async def _body(self, template_id: str, language: str) -> str | None:
        key = (template_id, language)
        if key not in self._bodies:
            self._bodies[key] = await template_body(self._session, template_id, language)
        return self._bodies[key]


async def template_body(session: AsyncSession, template_id: str, language: str) -> str | None:
    """Return a template's wording: a stored one, else the built-in one."""
    stored = await repository.stored_template(session, template_id, language)
    if stored is not None:
        return stored.body
    return templates.BUILT_IN.get(template_id, {}).get(language)


@dataclass
class _Refusals:
    """What the policy knows about a batch's customers: opt-outs and care contacts so far."""

    opted_out: set[tuple[str, str, str]]
    care_counts: dict[tuple[str, str], dict[str, int]]
    caps: dict[str, int]

    @classmethod
    async def load(
        cls, session: AsyncSession, requests: Sequence[ContactRequest], rules: Rules, now: datetime
    ) -> _Refusals:
        """Read the opt-outs and care counts of a batch's customers, one query each."""
        opted_out = await repository.opted_out_among(
            session, {(r.msisdn, r.channel, r.purpose) for r in requests}
        )
        care = {(r.msisdn, r.channel) for r in requests if r.purpose == "care"}
        return cls(opted_out, await repository.recent_care_counts(session, care, now), rules.caps)

    def reason(self, request: ContactRequest) -> str | None:
        """Return why the policy refuses a request outright, or None."""
        if (request.msisdn, request.channel, request.purpose) in self.opted_out:
            return "opted_out"
        if request.purpose == "care":
            cap = policy.exceeded_cap(self.care_counts.get((request.msisdn, request.channel), {}), self.caps)
            if cap is not None:
                return f"frequency_cap_{cap}"
        return None

    def count(self, request: ContactRequest) -> None:
        """Count an accepted care request towards its customer's caps in every window."""
        if request.purpose == "care":
            counts = self.care_counts.setdefault((request.msisdn, request.channel), {})
            for name, _ in policy.CAP_WINDOWS:
                counts[name] = counts.get(name, 0) + 1


def _decide(
    session: AsyncSession, request: ContactRequest, rules: Rules, refusals: _Refusals, now: datetime
) -> None:
    """Apply the contact policy: opt-out, frequency caps, then quiet hours and not-before."""
    reason = refusals.reason(request)
    if reason is None:
        due = _next_window(request, rules, max(now, request.not_before or now))
        if due >= request.expires_at:
            reason = "quiet_hours_until_expiry"
        else:
            request.due_at = due
            refusals.count(request)
            detail = (
                "waits for the customer's allowed hours"
                if due > max(now, request.not_before or now)
                else None
            )
            note(session, request, "accepted", at=now, detail=detail)
            publish(session, request, MessageAcceptedV1(**fact(request, now), due_at=due))
            return
    request.status = "suppressed"
    request.reason = reason
    request.completed_at = now
    note(session, request, "suppressed", reason, at=now)
    publish(session, request, MessageSuppressedV1(**fact(request, now), reason=reason))


def _next_window(request: ContactRequest, rules: Rules, moment: datetime) -> datetime:
    """Return the first allowed moment at or after ``moment`` in the customer's local hours."""
    quiet = rules.quiet.get(request.purpose)
    if quiet is None:
        return moment
    return quiet.next_allowed(moment, policy.zone(request.time_zone))


def note(
    session: AsyncSession,
    request: ContactRequest,
    status: str,
    reason: str | None = None,
    *,
    at: datetime,
    detail: str | None = None,
) -> None:
    """Set a request's status and add the step to its timeline."""
    request.status = status
    request.updated_at = at
    step(session, request.id, status, reason, at=at, detail=detail)


def step(
    session: AsyncSession,
    request_id: str,
    status: str,
    reason: str | None = None,
    *,
    at: datetime,
    detail: str | None = None,
) -> None:
    """Add a step to a request's timeline (its row's status is set by the caller)."""
    repository.add_timeline_entry(
        session,
        {
            "request_id": request_id,
            "at": at,
            "status": status,
            "reason": reason,
            "detail": detail and detail[:500],
        },
    )


class Fact(Protocol):
    """What every contact event says about its request: a ContactRequest, or the columns of one."""

    @property
    def id(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def customer_ref(self) -> str: ...
    @property
    def complaint_id(self) -> str | None: ...
    @property
    def campaign_id(self) -> str | None: ...
    @property
    def origin(self) -> str | None: ...


def fact(request: Fact, at: datetime) -> dict[str, object]:
    """Return the fields every contact event carries."""
    return {
        "request_id": request.id,
        "channel": request.channel,
        "purpose": request.purpose,
        "customer_ref": request.customer_ref,
        "complaint_id": request.complaint_id,
        "campaign_id": request.campaign_id,
        "origin": request.origin,
        "at": at,
    }


def publish(session: AsyncSession, request: Fact, payload: EventContract) -> None:
    """Stage an event about a request in the current transaction."""
    publish_later(session, payload, source=SOURCE, subject=request.id)


SOURCE = "/careloop/contact-gateway"


async def cancel(session: AsyncSession, request: ContactRequest, by: str) -> ContactRequest:
    """Cancel a request that has not gone out yet."""
    if request.status != "accepted":
        raise ProblemError(409, "conflict", f"a request that is {request.status} can no longer be cancelled")
    now = utcnow()
    request.completed_at = now
    request.reason = "cancelled"
    note(session, request, "cancelled", "cancelled", at=now, detail=f"by {by}")
    publish(session, request, MessageFailedV1(**fact(request, now), reason="cancelled"))
    await session.flush()
    return request


# ---------------------------------------------------------------------------------------- SMS


def expire(session: AsyncSession, request: ContactRequest, now: datetime) -> None:
    """Fail a request whose time ran out before it could go."""
    request.reason = "expired"
    request.completed_at = now
    request.lease_owner = request.lease_until = None
    note(session, request, "failed", "expired", at=now)
    publish(session, request, MessageFailedV1(**fact(request, now), reason="expired"))


def suppress_late(session: AsyncSession, request: ContactRequest, reason: str, now: datetime) -> None:
    """Suppress a waiting request because the policy changed (the customer opted out meanwhile)."""
    request.reason = reason
    request.completed_at = now
    request.lease_owner = request.lease_until = None
    note(session, request, "suppressed", reason, at=now)
    publish(session, request, MessageSuppressedV1(**fact(request, now), reason=reason))


@dataclass(frozen=True)
class Sent:
    """A message whose remaining parts the SMSC all took in this attempt."""

    request: Fact
    encoding: str
    parts: int
    submitted: Sequence[tuple[int, SubmitOutcome]]  # not empty

    @property
    def connector(self) -> str:
        """Return the SMSC that took the last part."""
        return self.submitted[-1][1].connector


async def record_sent(session: AsyncSession, sent: Sequence[Sent], now: datetime) -> None:
    """Record messages the SMSC took whole, with set-based writes: by far the most common answer.

    Same outcome as ``record_attempt`` without a failure, at a fraction of the cost: no ORM object
    is loaded or built for the requests, their parts, steps or events.
    """
    if not sent:
        return
    await repository.mark_submitted(
        session,
        [
            {"id": s.request.id, "encoding": s.encoding, "segments": s.parts, "connector": s.connector}
            for s in sent
        ],
        now,
    )
    keys: list[tuple[str, str]] = []
    for s in sent:
        for part, outcome in s.submitted:
            repository.add_segment(
                session, s.request.id, part, outcome.connector, outcome.message_id or "", now
            )
            keys.append((outcome.message_id or "", outcome.connector))
        detail = f"{s.parts} part(s), {s.encoding}, via {s.connector}"
        step(session, s.request.id, "submitted", at=now, detail=detail)
        publish(
            session,
            s.request,
            MessageSubmittedV1(
                **fact(s.request, now), segments=s.parts, encoding=s.encoding, connector=s.connector
            ),
        )
    early = await repository.early_receipts(session, keys=keys)
    if early:  # receipts that beat their submit_sm_resp: rare, so the ORM path is fine
        await write_staged(session)
        by_key = await repository.segments_by_smsc_id(
            session, {(r.smsc_message_id, r.connector) for r in early}
        )
        await _apply_early(session, early, by_key, now)


def record_attempt(
    session: AsyncSession,
    request: ContactRequest,
    *,
    parts: int,
    encoding: str,
    submitted: Sequence[tuple[int, SubmitOutcome]],
    failure: SubmitOutcome | None,
    rules: Rules,
    now: datetime,
) -> list[Segment]:
    """Record what the SMSC said to one attempt at a message; return the new segments.

    Parts the SMSC took are kept, so a retry sends only the rest (nothing twice).
    """
    request.encoding = encoding
    request.segments = parts
    request.lease_owner = request.lease_until = None
    segments = [
        Segment(
            request_id=request.id,
            part=part,
            connector=outcome.connector,
            smsc_message_id=outcome.message_id or "",
            state="ENROUTE",
            submitted_at=now,
        )
        for part, outcome in submitted
    ]
    repository.add(session, *segments)
    if failure is None:
        request.submitted_at = now
        request.connector = submitted[-1][1].connector if submitted else request.connector
        note(
            session,
            request,
            "submitted",
            at=now,
            detail=f"{parts} part(s), {encoding}, via {request.connector}",
        )
        publish(
            session,
            request,
            MessageSubmittedV1(
                **fact(request, now), segments=parts, encoding=encoding, connector=request.connector or ""
            ),
        )
    elif not failure.transient:
        _fail(session, request, "rejected", now, smpp_status=failure.status, detail=failure.error)
    elif now + rules.retry_delay(request.attempts) >= request.expires_at:
        _fail(session, request, "expired", now, smpp_status=failure.status, detail=failure.error)
    elif failure.status is None:
        # No SMSC answered (none bound, the bind dropped, no response): an outage, not a verdict
        # on this message, so it does not use up attempts; it waits for the SMSC, until expiry.
        requeue(session, request, now + rules.retry_delay(2), f"{failure.connector}: {failure.error}")
    elif request.attempts >= rules.max_attempts:
        _fail(session, request, "retries_exhausted", now, smpp_status=failure.status, detail=failure.error)
    else:
        request.due_at = now + rules.retry_delay(request.attempts)
        request.smpp_status = failure.status
        note(session, request, "accepted", "retry", at=now, detail=f"{failure.connector}: {failure.error}")
    return segments


def _fail(
    session: AsyncSession,
    request: ContactRequest,
    reason: str,
    now: datetime,
    *,
    smpp_status: int | None = None,
    detail: str | None = None,
) -> None:
    request.reason = reason
    request.smpp_status = smpp_status
    request.completed_at = now
    note(session, request, "failed", reason, at=now, detail=detail)
    publish(session, request, MessageFailedV1(**fact(request, now), reason=reason, smpp_status=smpp_status))


def requeue(session: AsyncSession, request: ContactRequest, due_at: datetime, detail: str) -> None:
    """Put a claimed request back in the queue without counting the attempt (an outage, a lapsed lease)."""
    request.lease_owner = request.lease_until = None
    request.due_at = due_at
    request.attempts = max(request.attempts - 1, 0)
    note(session, request, "accepted", "requeued", at=utcnow(), detail=detail)


async def apply_receipts(
    session: AsyncSession, receipts: Sequence[tuple[str, Receipt]], now: datetime
) -> None:
    """Apply delivery receipts; keep those whose submit_sm_resp is not recorded yet for later."""
    keys = {(r.message_id, connector): r for connector, r in receipts}
    segments = await repository.segment_states(session, keys)
    early = [
        {
            "smsc_message_id": message_id,
            "connector": connector,
            "state": receipt.state,
            "error": receipt.error,
            "done_at": receipt.done_at,
            "received_at": now,
        }
        for (message_id, connector), receipt in keys.items()
        if (message_id, connector) not in segments
    ]
    await repository.save_early_receipts(session, early)
    final = [
        {
            "request_id": segment.request_id,
            "part": segment.part,
            "state": keys[key].state,
            "error": keys[key].error,
            "done_at": keys[key].done_at or now,
        }
        for key, segment in segments.items()
        if _is_news(segment.state, keys[key].state)
    ]
    await repository.finish_segments(session, final)
    await settle(session, {row["request_id"] for row in final}, now)


async def match_early_receipts(session: AsyncSession, segments: Sequence[Segment], now: datetime) -> None:
    """Apply receipts that arrived before these segments were recorded."""
    if not segments:
        return
    by_key = {(s.smsc_message_id, s.connector): s for s in segments}
    await _apply_early(session, await repository.early_receipts(session, keys=by_key), by_key, now)


async def rematch_early_receipts(session: AsyncSession, older_than: datetime, now: datetime) -> None:
    """Match early receipts again (a receipt and its submit can race past each other)."""
    receipts = await repository.early_receipts(session, older_than=older_than)
    if receipts:
        by_key = await repository.segments_by_smsc_id(
            session, {(r.smsc_message_id, r.connector) for r in receipts}
        )
        await _apply_early(session, receipts, by_key, now)


async def _apply_early(
    session: AsyncSession,
    receipts: Sequence[EarlyReceipt],
    segments: dict[tuple[str, str], Segment],
    now: datetime,
) -> None:
    changed: set[str] = set()
    for receipt in receipts:
        segment = segments.get((receipt.smsc_message_id, receipt.connector))
        if segment is None:
            continue
        if _apply_to_segment(segment, receipt.state, receipt.error, receipt.done_at or now):
            changed.add(segment.request_id)
        await session.delete(receipt)
    await settle(session, changed, now)


def _is_news(current: str, reported: str) -> bool:
    """Say whether a receipt ends a part's life: False for an intermediate or repeated one."""
    return current == "ENROUTE" and reported not in ("ENROUTE", "ACCEPTD")


def _apply_to_segment(segment: Segment, state: str, error: str | None, done_at: datetime) -> bool:
    """Record a part's final state; False for an intermediate or repeated receipt."""
    if not _is_news(segment.state, state):
        return False
    segment.state = state
    segment.error = error
    segment.done_at = done_at
    return True


async def settle(session: AsyncSession, request_ids: set[str], now: datetime) -> None:
    """Move submitted messages whose parts all reached a final state to delivered or failed."""
    if not request_ids:
        return
    delivered, failed = [], {}
    for request, states in await repository.settling(session, request_ids):
        if len(states) < request.segments or "ENROUTE" in states:
            continue
        refused = [state for state in states if state != "DELIVRD"]
        if refused:
            failed[request.id] = refused[0]
        else:
            delivered.append(request)
    await repository.mark_delivered(session, [r.id for r in delivered], now)
    for request in delivered:
        step(session, request.id, "delivered", at=now)
        publish(session, request, MessageDeliveredV1(**fact(request, now)))
    # A part that failed is the exception: the ORM path records it like any other failure.
    for request_id, loaded in (await repository.requests_by_ids(session, failed)).items():
        loaded.completed_at = now
        reason = RECEIPT_FAILURES.get(failed[request_id], "undeliverable")
        _fail(session, loaded, reason, now, detail=f"receipt {failed[request_id]}")


# ------------------------------------------------------------------------------ replies and opt-outs


async def record_reply(
    session: AsyncSession,
    *,
    connector: str,
    msisdn: str,
    destination: str,
    text: str,
    rules: Rules,
    now: datetime,
) -> Reply:
    """Record a customer's SMS reply; STOP and START change their care opt-out on SMS."""
    previous = await repository.last_message_to(session, msisdn)
    word = policy.keyword(text)
    reply = Reply(
        id=str(uuid.uuid4()),
        msisdn=msisdn,
        destination=destination,
        text=text,
        keyword=word,
        in_reply_to=previous.id if previous else None,
        connector=connector,
        received_at=now,
    )
    repository.add(session, reply)
    publish_later(
        session,
        ReplyReceivedV1(
            reply_id=reply.id,
            customer_ref=customer_ref(msisdn, rules.customer_key),
            keyword=word,
            text=text,
            in_reply_to=reply.in_reply_to,
            complaint_id=previous.complaint_id if previous else None,
            campaign_id=previous.campaign_id if previous else None,
            received_at=now,
        ),
        source=SOURCE,
        subject=reply.id,
    )
    if word is not None:
        await set_opt_out(
            session, msisdn, "sms", "care", word == "STOP", source="reply", rules=rules, now=now
        )
    await session.flush()
    return reply


async def set_opt_out(
    session: AsyncSession,
    msisdn: str,
    channel: str,
    purpose: str,
    opted_out: bool,
    *,
    source: str,
    rules: Rules,
    now: datetime,
) -> OptOut:
    """Record a customer's choice; an event only when it changes."""
    row = await repository.get_opt_out(session, msisdn, channel, purpose)
    if row is not None and row.opted_out == opted_out:
        return row
    if row is None:
        row = OptOut(
            msisdn=msisdn,
            channel=channel,
            purpose=purpose,
            opted_out=opted_out,
            source=source,
            changed_at=now,
        )
        repository.add(session, row)
    else:
        row.opted_out, row.source, row.changed_at = opted_out, source, now
    publish_later(
        session,
        OptOutChangedV1(
            customer_ref=customer_ref(msisdn, rules.customer_key),
            channel=channel,
            purpose=purpose,
            opted_out=opted_out,
            source=source,
            at=now,
        ),
        source=SOURCE,
    )
    await session.flush()
    return row


# ---------------------------------------------------------------------------------------- calls


def start_round(session: AsyncSession, request: ContactRequest, by: str, now: datetime) -> None:
    """Note that a call round began (an agent claimed it, or the dialer placed it)."""
    request.round += 1
    note(session, request, "sending", at=now, detail=f"round {request.round} of {request.rounds} by {by}")


def record_call_outcome(
    session: AsyncSession,
    request: ContactRequest,
    outcome: str,
    *,
    rules: Rules,
    now: datetime,
    disposition: str | None = None,
    notes: str | None = None,
    detail: str | None = None,
    final: bool = False,
) -> None:
    """Record one round's outcome: answered ends the call; otherwise another round, or the end."""
    request.outcome = outcome
    request.disposition = disposition or request.disposition
    if notes:
        request.notes = notes
    request.lease_owner = request.lease_until = None
    final = final or outcome in ("answered", "wrong_number") or request.round >= request.rounds
    if not final:
        due = _next_window(request, rules, now + timedelta(seconds=request.round_spacing_s))
        if due < request.expires_at:
            request.due_at = due
            note(
                session,
                request,
                "accepted",
                outcome,
                at=now,
                detail=detail or f"round {request.round + 1} at {due:%Y-%m-%d %H:%M}Z",
            )
            return
    request.completed_at = now
    status = "completed" if outcome == "answered" else "failed"
    request.reason = None if outcome == "answered" else outcome
    note(session, request, status, outcome, at=now, detail=detail)
    publish(
        session,
        request,
        CallCompletedV1(
            **fact(request, now), outcome=outcome, rounds=request.round, disposition=request.disposition
        ),
    )

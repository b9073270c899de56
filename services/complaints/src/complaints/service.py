# ruff: noqa: RUF001, RUF003 - replies in Chinese use full-width punctuation and digits on purpose
"""Domain rules of the complaints service: intake and its instant answer, working a complaint, the
answers engineering publishes later, the scheduler's steps (SLA, dispatch, revisit) and revisit answers.

Lifecycle moves themselves (states, ownership, history, events) are ``lifecycle.py``; this module
decides when they happen and who may make them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.auth import Principal
from careloop_common.db import new_row, utcnow
from careloop_common.errors import ProblemError
from careloop_common.events.complaints import (
    AnswerAttachedV1,
    ComplaintAssignedV1,
    ComplaintFiledV1,
    FollowUpRequestedV1,
    RevisitCompletedV1,
    SlaBreachedV1,
    SlaWarningV1,
)
from careloop_common.events.contact import CallCompletedV1, ReplyReceivedV1
from careloop_common.events.coverage import PlanScheduledV1, WordingPublishedV1
from careloop_common.pseudonyms import customer_ref
from complaints import clocks, lifecycle, notices, repository
from complaints.answers import AreaAnswer, CoverageClient
from complaints.models import Complaint, HistoryEntry, RevisitAnswer
from complaints.schemas import (
    Category,
    ClockView,
    ComplaintCreate,
    CustomerView,
    QueueItem,
    TimelineStep,
)

# Crockford-style alphabet: no I, L, O, U, so a reference read over the phone is not misheard.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_PREFIX = "trk_"
SYSTEM = "system"
QUEUE_OWNER_PREFIX = "queue:"
SUPERVISE = "complaints:supervise"


def new_reference() -> str:
    """Return a short human reference for a complaint, e.g. ``CMP-7K3QX9T2``."""
    return "CMP-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def new_tracking_token() -> tuple[str, str]:
    """Return an unguessable tracking token for the customer and the hash we keep of it."""
    token = TRACKING_PREFIX + secrets.token_urlsafe(24)
    return token, tracking_hash(token)


def tracking_hash(token: str) -> str:
    """Return the stored form of a tracking token (the gateway passes the same hash as subject)."""
    return hashlib.sha256(token.encode()).hexdigest()


def tracking_hash_of(principal: Principal) -> str | None:
    """Return the tracking-token hash a portal customer's principal carries, if any."""
    if principal.kind != "customer" or not principal.subject.startswith("trk:"):
        return None
    return principal.subject.removeprefix("trk:")


# --- intake -----------------------------------------------------------------------------------------

# How far back a complaint's "when it happened" may reach, and how far ahead clocks may disagree.
OCCURRED_WINDOW = timedelta(days=5 * 366)
CLOCK_SKEW = timedelta(minutes=10)


async def instant_answer(client: CoverageClient | None, data: ComplaintCreate) -> AreaAnswer | None:
    """Ask coverage-map about a coverage complaint's place; None when there is no place to ask about."""
    if client is None or data.category != Category.coverage or data.lat is None or data.lng is None:
        return None
    return await client.answer_for(data.lat, data.lng, data.language.value)


def owner_at_intake(by: Principal, queue: str) -> str:
    """Staff who take a complaint own it (first contact); the portal, partners and systems queue it."""
    return by.subject if by.kind == "staff" else QUEUE_OWNER_PREFIX + queue


def check_occurred_at(occurred_at: datetime | None, now: datetime) -> None:
    """Refuse a "when it happened" in the future or from long ago (the schema cannot say "now")."""
    if occurred_at is None:
        return
    if occurred_at > now + CLOCK_SKEW or occurred_at < now - OCCURRED_WINDOW:
        raise ProblemError(
            422,
            "occurred-at-out-of-range",
            "occurred_at must be in the past, at most five years ago",
            field="occurred_at",
        )


async def file_complaint(
    session: AsyncSession,
    data: ComplaintCreate,
    by: Principal,
    source: str,
    customer_key: str,
    *,
    answer: AreaAnswer | None = None,
    now: datetime | None = None,
) -> tuple[Complaint, str]:
    """File a complaint with its row written now, so the caller can change it further in the same
    transaction (TMF621's severity and notes); ``stage_filing`` leaves the row to the commit.

    Returns the complaint and the customer's tracking token, which is not stored and cannot be
    shown again.
    """
    complaint, token = _draft(session, data, by, source, customer_key, answer=answer, now=now)
    await repository.add(session, complaint)
    return complaint, token


def stage_filing(
    session: AsyncSession,
    data: ComplaintCreate,
    by: Principal,
    source: str,
    customer_key: str,
    *,
    answer: AreaAnswer | None = None,
    now: datetime | None = None,
) -> tuple[Complaint, str]:
    """Stage a whole filing, the complaint's row included, for the session's commit (``GroupCommit``).

    Nothing touches the database before the commit, so concurrent filings can share one
    transaction; the complaint cannot be changed further in this session.
    """
    complaint, token = _draft(session, data, by, source, customer_key, answer=answer, now=now)
    repository.stage(session, complaint)
    return complaint, token


def _draft(
    session: AsyncSession,
    data: ComplaintCreate,
    by: Principal,
    source: str,
    customer_key: str,
    *,
    answer: AreaAnswer | None,
    now: datetime | None,
) -> tuple[Complaint, str]:
    """Build a complaint (owner, clocks) and stage its history, events, any follow-up and the receipt.

    ``answer`` is what coverage-map said of the place (``instant_answer``): published wording is
    attached at once; anything else sends engineering a follow-up. The complaint's own row is left
    to the caller.
    """
    now = now or utcnow()
    check_occurred_at(data.occurred_at, now)
    token, token_hash = new_tracking_token()
    region = region_of(data.msisdn)
    queue = lifecycle.queue_for(data.category, region, data.customer_class)
    fields = {**data.model_dump(mode="json"), "occurred_at": data.occurred_at}
    # Built as a plain row (db.new_row): the constructor's per-attribute instrumentation cost more
    # than the insert. Only the complaint's own fields are taken from the form.
    complaint = new_row(
        Complaint,
        id=str(uuid.uuid4()),
        reference=new_reference(),
        status="acknowledged",
        owner=owner_at_intake(by, queue),
        partner_id=by.partner_id,
        tracking_token_hash=token_hash,
        region=region,
        priority=lifecycle.priority_for(data.customer_class),
        queue=queue,
        created_at=now,
        updated_at=now,
        # Given, not defaulted: pydantic inspects a default_factory's signature on every call.
        sla_flags=[],
        pauses=[],
        **{name: value for name, value in fields.items() if name in COMPLAINT_FIELDS},
        follow_up=data.follow_up or _needs_follow_up(answer),
    )
    if answer is not None:
        _note_area(complaint, answer, now)
    clocks.refresh(complaint)
    lifecycle.record(
        session,
        complaint,
        "filed",
        actor=by.subject,
        at=now,
        to_value=complaint.channel,
        customer_visible=True,
    )
    lifecycle.announce(
        session,
        complaint,
        ComplaintFiledV1(
            complaint_id=complaint.id,
            reference=complaint.reference,
            category=complaint.category,
            channel=complaint.channel,
            filed_at=now,
            follow_up=complaint.follow_up,
            customer_ref=customer_ref(complaint.msisdn, customer_key),
            lat=complaint.lat,
            lng=complaint.lng,
            area_id=complaint.area_id,
        ),
        source,
    )
    lifecycle.assign(session, complaint, complaint.owner, by=by.subject, now=now, source=source, tell=False)
    if complaint.answer_state == "published":
        _announce_answer(session, complaint, now=now, source=source, before=None)
    if complaint.follow_up and complaint.lat is not None and complaint.lng is not None:
        _request_follow_up(session, complaint, now=now, source=source, customer_key=customer_key)
    notices.tell(session, complaint, "acknowledged", now=now, source=source)
    # Written by the caller once complete, so the row is inserted whole rather than inserted and updated.
    return complaint, token


COMPLAINT_FIELDS = frozenset(Complaint.model_fields) - {"follow_up"}


def _needs_follow_up(answer: AreaAnswer | None) -> bool:
    """Engineering must look when coverage-map had no published answer (or could not say)."""
    return answer is not None and answer.state != "published"


def _note_area(complaint: Complaint, answer: AreaAnswer, now: datetime) -> None:
    """Keep what coverage-map said of the complaint's area."""
    complaint.area_id = answer.area_id
    complaint.answer_state = answer.state
    if answer.state == "published" and answer.text:
        complaint.answer_text = answer.text[:2000]
        complaint.answer_version = answer.version
        complaint.answer_at = now


def _announce_answer(
    session: AsyncSession, complaint: Complaint, *, now: datetime, source: str, before: str | None
) -> None:
    """Record and announce that engineering's answer is now on the complaint."""
    lifecycle.record(
        session,
        complaint,
        "answer_attached",
        actor=SYSTEM,
        at=now,
        from_value=before,
        to_value="published",
        customer_visible=True,
    )
    lifecycle.announce(
        session,
        complaint,
        AnswerAttachedV1(
            **lifecycle.fact(complaint, now),
            area_id=complaint.area_id or "",
            answer_state="published",
            wording_version=complaint.answer_version,
            dispatch_at=complaint.dispatch_at,
        ),
        source,
    )


def _request_follow_up(
    session: AsyncSession, complaint: Complaint, *, now: datetime, source: str, customer_key: str
) -> None:
    """Ask engineering to investigate the complaint's place."""
    assert complaint.lat is not None
    assert complaint.lng is not None
    lifecycle.record(
        session,
        complaint,
        "follow_up_requested",
        actor=SYSTEM,
        at=now,
        to_value=complaint.answer_state,
        customer_visible=True,
    )
    lifecycle.announce(
        session,
        complaint,
        FollowUpRequestedV1(
            complaint_id=complaint.id,
            reference=complaint.reference,
            lat=complaint.lat,
            lng=complaint.lng,
            symptoms=complaint.symptoms,
            network=complaint.network,
            customer_class=complaint.customer_class,
            customer_ref=customer_ref(complaint.msisdn, customer_key),
            requested_at=now,
        ),
        source,
    )


# Country calling codes → the region whose calendar and queues serve the customer.
REGIONS_BY_CODE = {"852": "HK", "853": "HK", "86": "CN"}


def region_of(msisdn: str, default: str = "HK") -> str:
    """Return the region that serves a number: Hong Kong, mainland China, else the default."""
    for code, region in REGIONS_BY_CODE.items():
        if msisdn.startswith("+" + code):
            return region
    return default


# --- working a complaint ----------------------------------------------------------------------------


def may_work(principal: Principal, complaint: Complaint) -> bool:
    """Tell whether a caller may move or hand over a complaint: its owner, or a supervisor."""
    return principal.subject == complaint.owner or principal.has_scope(SUPERVISE)


def require_worker(principal: Principal, complaint: Complaint, action: str) -> None:
    """Refuse anyone but the owner or a supervisor (first-contact ownership)."""
    if not may_work(principal, complaint):
        raise ProblemError(
            403,
            "not-owner",
            f"only the owner or a supervisor may {action} this complaint; take it first if it is queued",
            owner=complaint.owner,
        )


def change_status(
    session: AsyncSession,
    complaint: Complaint,
    to: str,
    *,
    by: Principal,
    reason: str | None,
    revisit_after: timedelta,
    now: datetime,
    source: str,
) -> None:
    """Move a complaint as its owner or a supervisor; closing schedules its revisit ``revisit_after`` on."""
    require_worker(by, complaint, "change the status of")
    lifecycle.change_status(
        session,
        complaint,
        to,
        by=by.subject,
        now=now,
        source=source,
        reason=reason,
        revisit_due_at=now + revisit_after if to == "closed" else None,
    )


def transfer(
    session: AsyncSession,
    complaint: Complaint,
    to_owner: str,
    *,
    by: Principal,
    reason: str,
    queue: str | None,
    now: datetime,
    source: str,
) -> None:
    """Hand a complaint over, as its owner or a supervisor."""
    require_worker(by, complaint, "hand over")
    lifecycle.transfer(
        session, complaint, to_owner, by=by.subject, reason=reason, now=now, source=source, queue=queue
    )


def take(session: AsyncSession, complaint: Complaint, *, by: Principal, now: datetime, source: str) -> None:
    """Take a queued complaint: the taker owns it to the end, and the customer hears who has it."""
    if by.partner_id is not None:
        raise ProblemError(403, "not-staff", "partners file complaints; care staff take them")
    if complaint.status in lifecycle.ENDED:
        raise ProblemError(409, "complaint-ended", f"a {complaint.status} complaint cannot be taken")
    if not complaint.owner.startswith(QUEUE_OWNER_PREFIX):
        raise ProblemError(409, "already-owned", "this complaint already has an owner", owner=complaint.owner)
    lifecycle.assign(session, complaint, by.subject, by=by.subject, now=now, source=source, tell=True)


# --- answers engineering publishes later ------------------------------------------------------------

_FALLBACK_LANGUAGES = {
    "zh-Hant": ("zh-Hant", "zh-Hans", "en"),
    "zh-Hans": ("zh-Hans", "zh-Hant", "en"),
    "en": ("en", "zh-Hant", "zh-Hans"),
}


def wording_for(texts: dict[str, str], language: str) -> str | None:
    """Return the wording in the customer's language, else the closest one published."""
    for candidate in _FALLBACK_LANGUAGES.get(language, (language, "en")):
        if texts.get(candidate):
            return texts[candidate]
    return next((text for text in texts.values() if text), None)


async def attach_published_wording(
    session: AsyncSession, published: WordingPublishedV1, *, dispatch_days: int, now: datetime, source: str
) -> int:
    """Give every open follow-up complaint in the area the new wording; return how many got it.

    Each is told at once, and its owner gets it on the ``dispatch_days``-th working day after the
    assessment (the owner then replies to the customer and closes the case).
    """
    attached = 0
    for complaint in await repository.open_follow_ups_in_area(session, published.area_id):
        if (
            complaint.answer_state == "published"
            and (complaint.answer_version or 0) >= published.version_number
        ):
            continue  # already has this version or a newer one (events may arrive out of order)
        # A complaint already answered keeps its language: a newer wording in another one waits.
        text = (
            published.texts.get(complaint.language)
            if complaint.answer_state == "published"
            else wording_for(published.texts, complaint.language)
        )
        if not text:
            continue
        before = complaint.answer_state
        complaint.answer_state = "published"
        complaint.answer_text = text[:2000]
        complaint.answer_version = published.version_number
        complaint.answer_at = now
        if complaint.dispatched_at is None:
            calendar = clocks.calendar_of(complaint)
            complaint.dispatch_at = calendar.working_day_after(published.published_at, dispatch_days)
        _announce_answer(session, complaint, now=now, source=source, before=before)
        notices.tell(session, complaint, "answered", now=now, source=source, variables={"answer": text})
        attached += 1
    return attached


async def note_planned_fix(session: AsyncSession, plan: PlanScheduledV1, *, now: datetime) -> int:
    """Show the planned fix on the timeline of every open follow-up complaint in the area."""
    complaints = await repository.open_follow_ups_in_area(session, plan.area_id)
    for complaint in complaints:
        lifecycle.record(
            session,
            complaint,
            "plan_scheduled",
            actor="engineering",
            at=now,
            to_value=plan.target_date.isoformat(),
            reason=plan.action,
            customer_visible=True,
        )
    return len(complaints)


# --- the scheduler's steps (scheduler.py claims the rows) --------------------------------------------


def watch_sla(session: AsyncSession, complaint: Complaint, *, now: datetime, source: str) -> None:
    """Warn or breach each clock of a due complaint once; a breach escalates it."""
    raised = False
    for reading in clocks.read(complaint, now):
        state, name = reading.status.state, reading.name
        due = reading.status.due_at or now
        if state == "breached" and f"{name}:breached" not in complaint.sla_flags:
            _breach(session, complaint, name, due, now=now, source=source)
            raised = True
        elif state == "warning" and f"{name}:warning" not in complaint.sla_flags:
            _warn(session, complaint, name, due, now=now, source=source)
            raised = True
    clocks.refresh(complaint)
    if not raised and complaint.sla_check_at is not None and complaint.sla_check_at <= now:
        # Business-time rounding may put a check a hair before its state turns: look again soon
        # rather than claim the same row on every pass.
        complaint.sla_check_at = now + timedelta(minutes=1)


def _warn(
    session: AsyncSession,
    complaint: Complaint,
    clock: clocks.Clock,
    due: datetime,
    *,
    now: datetime,
    source: str,
) -> None:
    complaint.sla_flags = [*complaint.sla_flags, f"{clock}:warning"]
    lifecycle.record(
        session, complaint, "sla_warning", actor=SYSTEM, at=now, from_value=clock, to_value=due.isoformat()
    )
    lifecycle.announce(
        session,
        complaint,
        SlaWarningV1(**lifecycle.fact(complaint, now), clock=clock, due_at=due, owner=complaint.owner),
        source,
    )


def _breach(
    session: AsyncSession,
    complaint: Complaint,
    clock: clocks.Clock,
    due: datetime,
    *,
    now: datetime,
    source: str,
) -> None:
    complaint.sla_flags = [*complaint.sla_flags, f"{clock}:breached"]
    lifecycle.record(
        session, complaint, "sla_breached", actor=SYSTEM, at=now, from_value=clock, to_value=due.isoformat()
    )
    lifecycle.announce(
        session,
        complaint,
        SlaBreachedV1(
            **lifecycle.fact(complaint, now),
            clock=clock,
            due_at=due,
            owner=complaint.owner,
            region=complaint.region,
        ),
        source,
    )
    lifecycle.escalate(session, complaint, now=now, reason=f"{clock} deadline passed")


def dispatch_answer(session: AsyncSession, complaint: Complaint, *, now: datetime, source: str) -> None:
    """Send engineering's answer to the complaint's owner (the third working day has come)."""
    complaint.dispatched_at = now
    lifecycle.record(
        session,
        complaint,
        "dispatched",
        actor=SYSTEM,
        at=now,
        to_value=complaint.owner,
        customer_visible=True,
    )
    lifecycle.announce(
        session,
        complaint,
        ComplaintAssignedV1(
            **lifecycle.fact(complaint, now),
            owner=complaint.owner,
            queue=complaint.queue,
            priority=complaint.priority,
        ),
        source,
    )
    if complaint.status == "acknowledged":
        lifecycle.change_status(
            session,
            complaint,
            "inProgress",
            by=SYSTEM,
            now=now,
            source=source,
            reason="engineering's answer went to the owner",
        )
    notices.tell(session, complaint, "dispatched", now=now, source=source)


def send_revisit(session: AsyncSession, complaint: Complaint, *, now: datetime, source: str) -> None:
    """Ask the customer, some days after closing, how we did (SMS or a call, as they prefer)."""
    complaint.revisit_sent_at = now
    command = notices.tell(session, complaint, "revisit", now=now, source=source)
    lifecycle.record(
        session,
        complaint,
        "revisit_sent",
        actor=SYSTEM,
        at=now,
        to_value=command.channel,
        customer_visible=True,
    )


# --- revisit answers ---------------------------------------------------------------------------------

_YES = frozenset({"yes", "y", "ok", "satisfied", "滿意", "满意", "是", "好"})
_NO = frozenset(
    {"no", "n", "unsatisfied", "dissatisfied", "not satisfied", "不滿意", "不满意", "唔滿意", "否"}
)
_LEADING_SCORE = re.compile(r"^([1-5])(?![0-9])")

Verdict = tuple[bool | None, int | None]
"""(satisfied, score 1-5): either may be unknown, not both."""


def satisfied_from_score(score: int) -> bool | None:
    """Read a 1-5 score as satisfied (4, 5), not (1, 2) or neither (3)."""
    return True if score >= 4 else False if score <= 2 else None


def _normalised(text: str) -> str:
    # NFKC folds full-width digits and letters (１, ＹＥＳ) into the ones we match.
    return unicodedata.normalize("NFKC", text).strip().lower().strip(" .!?。！？")


def parse_reply(text: str) -> Verdict | None:
    """Read a survey reply: a score 1-5 (``5``, ``4 thanks``) or yes/no, 滿意/不滿意; None if neither."""
    said = _normalised(text)
    if said in _YES:
        return True, None
    if said in _NO:
        return False, None
    found = _LEADING_SCORE.match(said)
    if found:
        score = int(found.group(1))
        return satisfied_from_score(score), score
    return None


def parse_disposition(disposition: str) -> Verdict | None:
    """Read an agent's call disposition: ``satisfied:4``, ``unsatisfied:2``, ``satisfied`` or ``4``."""
    satisfied: bool | None = None
    score: int | None = None
    for part in _normalised(disposition).replace("_", " ").split(":"):
        part = part.strip()
        if part in _YES:
            satisfied = True
        elif part in _NO:
            satisfied = False
        elif re.fullmatch(r"[1-5]", part):
            score = int(part)
    if satisfied is None and score is None:
        return None
    if satisfied is None and score is not None:
        satisfied = satisfied_from_score(score)
    return satisfied, score


async def record_revisit(
    session: AsyncSession,
    complaint: Complaint,
    *,
    satisfied: bool | None,
    score: int | None,
    comment: str | None,
    channel: str,
    actor: str,
    now: datetime,
    source: str,
) -> RevisitAnswer:
    """Keep the customer's answer to the revisit (once), in the history and as an event."""
    if complaint.status != "closed":
        raise ProblemError(
            409, "not-closed", "a complaint is revisited after it is closed", current=complaint.status
        )
    if await repository.revisit_answer(session, complaint.id) is not None:
        raise ProblemError(409, "revisit-answered", "this complaint's revisit already has an answer")
    answer = await repository.add_revisit_answer(
        session,
        RevisitAnswer(
            complaint_id=complaint.id,
            satisfied=satisfied,
            score=score,
            comment=comment[:1000] if comment else None,
            channel=channel,
            answered_at=now,
        ),
    )
    verdict = {True: "satisfied", False: "unsatisfied", None: "no verdict"}[satisfied]
    lifecycle.record(
        session,
        complaint,
        "revisit_completed",
        actor=actor,
        at=now,
        to_value=f"{verdict}:{score}" if score else verdict,
        reason=comment,
    )
    lifecycle.announce(
        session,
        complaint,
        RevisitCompletedV1(
            **lifecycle.fact(complaint, now), satisfied=satisfied, score=score, channel=channel
        ),
        source,
    )
    return answer


async def _awaiting_revisit(session: AsyncSession, complaint_id: str | None) -> Complaint | None:
    """Return the complaint an answer is about, if its revisit was asked and is not answered yet."""
    if complaint_id is None:
        return None
    complaint = await repository.get(session, complaint_id, None, for_update=True)
    if complaint is None or complaint.status != "closed" or complaint.revisit_sent_at is None:
        return None
    if await repository.revisit_answer(session, complaint.id) is not None:
        return None
    return complaint


async def revisit_reply(session: AsyncSession, reply: ReplyReceivedV1, *, source: str) -> bool:
    """Take an SMS reply to the revisit survey as its answer; True if it was one."""
    if reply.keyword is not None:
        return False  # STOP, START: the contact gateway's business
    complaint = await _awaiting_revisit(session, reply.complaint_id)
    if complaint is None:
        return False
    verdict = parse_reply(reply.text)
    if verdict is None:
        # Not a score: keep what the customer wrote for the owner to read, and wait for an answer.
        lifecycle.record(
            session, complaint, "note", actor="customer", at=reply.received_at, reason=reply.text
        )
        return False
    await record_revisit(
        session,
        complaint,
        satisfied=verdict[0],
        score=verdict[1],
        comment=None,
        channel="sms",
        actor="customer",
        now=reply.received_at,
        source=source,
    )
    return True


async def revisit_call(session: AsyncSession, call: CallCompletedV1, *, source: str) -> bool:
    """Take the disposition of an answered revisit call as the answer; True if it was one."""
    complaint = await _awaiting_revisit(session, call.complaint_id)
    if complaint is None:
        return False
    verdict = parse_disposition(call.disposition or "") if call.outcome == "answered" else None
    if verdict is None:
        lifecycle.record(
            session,
            complaint,
            "note",
            actor=SYSTEM,
            at=call.at,
            reason=f"revisit call {call.outcome}, disposition {call.disposition or '-'}",
        )
        return False
    await record_revisit(
        session,
        complaint,
        satisfied=verdict[0],
        score=verdict[1],
        comment=None,
        channel="call",
        actor=SYSTEM,
        now=call.at,
        source=source,
    )
    return True


# --- views ---------------------------------------------------------------------------------------------


def queue_item(complaint: Complaint, now: datetime) -> QueueItem:
    """Show a complaint in an agent's queue with where each of its clocks stands."""
    return QueueItem(
        id=complaint.id,
        reference=complaint.reference,
        status=complaint.status,
        category=complaint.category,
        priority=complaint.priority,
        customer_class=complaint.customer_class,
        queue=complaint.queue,
        owner=complaint.owner,
        escalated=complaint.escalated,
        answer_state=complaint.answer_state,
        created_at=complaint.created_at,
        clocks=[
            ClockView(
                name=reading.name,
                state=reading.status.state,
                due_at=reading.status.due_at,
                remaining_s=int(reading.status.remaining.total_seconds()),
                paused=reading.status.paused,
            )
            for reading in clocks.read(complaint, now)
        ],
    )


# What a timeline step may show the customer; owners' names and staff notes stay inside.
_SHOWN_VALUES = frozenset(
    {"filed", "status_changed", "answer_attached", "follow_up_requested", "plan_scheduled"}
)


def customer_view(complaint: Complaint, history: Sequence[HistoryEntry] = ()) -> CustomerView:
    """Show a complaint as its customer may see it: the number masked, no staff fields, its steps."""
    return CustomerView(
        reference=complaint.reference,
        status=complaint.status,
        category=complaint.category,
        channel=complaint.channel,
        msisdn_masked=mask_msisdn(complaint.msisdn),
        symptoms=list(complaint.symptoms),
        address=complaint.address,
        created_at=complaint.created_at,
        updated_at=complaint.updated_at,
        answer_state=complaint.answer_state,
        answer_text=complaint.answer_text,
        expected_by=complaint.resolution_due,
        steps=[
            TimelineStep(
                at=step.at, kind=step.kind, value=step.to_value if step.kind in _SHOWN_VALUES else None
            )
            for step in history
            if step.customer_visible
        ],
    )


def mask_msisdn(msisdn: str) -> str:
    """Show a number as ``+852******67``: enough for the customer to recognise it."""
    return msisdn[:4] + "*" * max(0, len(msisdn) - 6) + msisdn[-2:]
